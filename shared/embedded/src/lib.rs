//! Embedded adapters, the local default: a table store and a queue in one SQLite file, and
//! secrets from the environment plus a local file, and the state-machine port as a local runner
//! of the same ASL files ([`LocalStateMachines`]). They pass the same contract suites as the AWS
//! adapters, so the dev server behaves like the deployed platform.
//!
//! The table store's layout and why it stays fast under churn are explained in the `database`
//! module; expired items are deleted by an [`ExpirySweeper`] the composition root starts.

mod database;
mod expiry_sweeper;
mod file_secrets;
mod local_state_machines;
mod sqlite_queue;
mod sqlite_store;

pub use database::Database;
pub use expiry_sweeper::ExpirySweeper;
pub use file_secrets::FileSecrets;
pub use local_state_machines::{
    ClockTimer, FUNCTION_NOT_FOUND, LAMBDA_INVOKE, LocalStateMachines, MAX_INPUT_BYTES,
    local_function_arn,
};
pub use sqlite_queue::SqliteQueue;
pub use sqlite_store::SqliteStore;
