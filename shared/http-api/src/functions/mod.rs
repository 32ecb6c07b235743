//! One module per HTTP function, named after the function.

pub mod health;
