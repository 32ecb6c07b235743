//! One module per HTTP function, named after the function.

pub mod auth;
pub mod connections;
pub mod health;
pub mod records;
pub mod usage;
