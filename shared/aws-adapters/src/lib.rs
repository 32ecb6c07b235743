//! AWS adapters: the production side of every port, through the official SDK.
//!
//! - [`DynamoStore`]: [`ports::TableStore`] on DynamoDB,
//! - [`SqsQueue`]: [`ports::Queue`] on SQS,
//! - [`SecretsManagerSecrets`]: [`ports::Secrets`] on Secrets Manager,
//! - [`StepFunctions`]: [`ports::StateMachines`] on Step Functions,
//! - [`provision`]: creates the same resources on a local emulator (moto) for tests and
//!   `cargo lambda watch`; in AWS the SAM template owns them.
//!
//! Each adapter passes the port's contract suite against moto (see `src/moto.rs`). No adapter
//! panics or logs a secret; SDK failures become the port's `Unavailable` variant with the SDK's
//! full error context, so the log says why.

mod config;
mod dynamo;
pub mod provision;
mod secrets_manager;
mod sqs;
mod step_functions;

#[cfg(any(test, feature = "testing"))]
mod moto;
#[cfg(feature = "testing")]
pub mod testing;

pub use config::sdk_config;
pub use dynamo::DynamoStore;
pub use secrets_manager::SecretsManagerSecrets;
pub use sqs::SqsQueue;
pub use step_functions::StepFunctions;
