//! Functions on the other triggers: SQS queues, EventBridge schedules and Step Functions tasks.
//! Each main hands over how to build its handler from the platform; the runner does the rest.

use std::sync::Arc;

use platform::Platform;
use triggers::{QueueConsumer, ScheduledJob, TaskHandler};

use crate::{Error, init};

/// Consumes an SQS queue on Lambda: partial batch failures, FIFO order held per group.
pub async fn run_queue_function(
    function: &'static str,
    consumer: impl FnOnce(Arc<Platform>) -> Arc<dyn QueueConsumer>,
) -> Result<(), Error> {
    let platform = init(function).await?;
    triggers::serve_sqs(consumer(platform)).await
}

/// Runs a job on each EventBridge scheduled event.
pub async fn run_schedule_function(
    function: &'static str,
    job: impl FnOnce(Arc<Platform>) -> Arc<dyn ScheduledJob>,
) -> Result<(), Error> {
    let platform = init(function).await?;
    triggers::serve_schedule(job(platform)).await
}

/// Runs Step Functions tasks: JSON in, JSON out, failures as named errors.
pub async fn run_task_function(
    function: &'static str,
    handler: impl FnOnce(Arc<Platform>) -> Arc<dyn TaskHandler>,
) -> Result<(), Error> {
    let platform = init(function).await?;
    triggers::serve_task(handler(platform)).await
}
