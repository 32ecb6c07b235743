//! A runner per non-HTTP trigger, each as thin to use as the HTTP runner:
//!
//! - [`sqs`]: SQS batches, with failures reported per message (`batchItemFailures`) and FIFO
//!   order held per message group;
//! - [`schedule`]: EventBridge scheduled events, one tick per minute;
//! - [`task`]: Step Functions tasks, JSON in and out, failures as named errors that `Retry` and
//!   `Catch` match.
//!
//! Handlers are trait objects ([`QueueConsumer`], [`ScheduledJob`], [`TaskHandler`]) that hold
//! what they need; the crate knows nothing of HTTP or of how the platform is built, so a Lambda
//! binary that uses it links neither. The same handlers run in the dev server through the
//! in-process workers in [`local`], over the queue and clock ports. [`sources`] declares which
//! queue, schedule or state machine invokes which function; a test holds `infra/template.yaml`
//! to it.

pub mod local;
mod message;
pub mod schedule;
pub mod sources;
pub mod sqs;
mod stop;
pub mod task;

pub use message::{InboundMessage, JobFailure, MalformedRecord};
#[cfg(feature = "lambda")]
pub use schedule::serve_schedule;
pub use schedule::{ScheduledJob, ScheduledTick};
#[cfg(feature = "lambda")]
pub use sqs::serve_sqs;
pub use sqs::{BatchOutcome, Disposition, QueueConsumer, process_batch};
#[cfg(feature = "lambda")]
pub use task::serve_task;
pub use task::{RETRYABLE_ERRORS, TaskError, TaskErrorName, TaskHandler};
