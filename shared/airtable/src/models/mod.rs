//! Airtable's JSON shapes as Rust types. Every model tolerates keys it does not know (Airtable
//! adds fields and field types over time and clients must not break when it does); schema models
//! keep unknown keys in `extra` so a gateway can pass them through.

pub mod records;
pub mod schema;
pub mod webhooks;
