//! Embedded adapters, the local default: a table store and a queue in one SQLite file, and
//! secrets from the environment plus a local file. They pass the same contract suites as the AWS
//! adapters, so the dev server behaves like the deployed platform.
//!
//! The table store's layout and why it stays fast under churn are explained in the `database`
//! module; expired items are deleted by an [`ExpirySweeper`] the composition root starts.

mod database;
mod expiry_sweeper;
mod file_secrets;
mod sqlite_queue;
mod sqlite_store;

pub use database::Database;
pub use expiry_sweeper::ExpirySweeper;
pub use file_secrets::FileSecrets;
pub use sqlite_queue::SqliteQueue;
pub use sqlite_store::SqliteStore;
