//! The dev server's in-process stand-ins for Lambda's event sources, on the embedded adapters:
//! a consumer loop per queue with SQS's visibility timeout, receive count and redrive (which the
//! queue port implements), and a scheduler that ticks each minute of the clock port. Both drain
//! on shutdown: nothing started is cut short, nothing unhandled is deleted.
//!
//! The local state-machine runner, when it comes, belongs here too: it calls
//! [`crate::TaskHandler`]s as Step Functions would.

mod queue_worker;
mod scheduler;

pub use queue_worker::{QueueWorker, VISIBILITY_TIMEOUT, WorkerSettings};
pub use scheduler::{MAX_CATCH_UP, Scheduler, SchedulerSettings};
