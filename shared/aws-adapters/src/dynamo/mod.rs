//! The table store on DynamoDB.
//!
//! - `convert`: JSON values <-> attribute values,
//! - `expressions`: conditions, updates and key conditions as DynamoDB expressions,
//! - `cursor`: `LastEvaluatedKey` <-> the port's opaque cursor,
//! - `errors`: SDK errors -> [`ports::StoreError`],
//! - `store`: [`DynamoStore`] itself.

mod convert;
mod cursor;
mod errors;
mod expressions;
mod store;

pub use store::DynamoStore;

#[cfg(test)]
mod contract;
