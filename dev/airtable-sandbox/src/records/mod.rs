//! The records API: parameters, cell conversion, reads, writes, and the formula bridge.

pub mod cells;
pub mod formulas;
pub mod list;
pub mod query;
pub mod write;
