//! One module per HTTP function, named after the function.

pub mod auth;
pub mod chat;
pub mod connections;
pub mod health;
pub mod hooks;
pub mod mcp;
pub mod records;
pub mod sagas;
pub mod usage;
pub mod workflows;
