//! Ports: the traits through which domain code reaches storage, queues, secrets and state
//! machines. Each port has a production adapter (AWS) and an embedded adapter (SQLite, files),
//! and both must pass the same contract suite in [`contract`].
//!
//! No AWS type appears here.

pub mod queue;
pub mod secrets;
pub mod state_machines;
pub mod table_store;
pub mod typed;

#[cfg(feature = "contract")]
pub mod contract;
#[cfg(feature = "testing")]
pub mod failing_store;

pub use queue::{Message, Queue, QueueError, QueueName, SendOptions};
pub use secrets::{CachedSecrets, SecretError, Secrets};
pub use state_machines::{
    Execution, ExecutionStatus, MachineName, StartedExecution, StateMachineError, StateMachines,
};
pub use table_store::{
    Condition, Cursor, Index, Item, Key, Page, Query, SortKeyCondition, StoreError, Table,
    TableStore, TransactOp, Update,
};
pub use typed::{from_item, to_item};
