//! Runs: creating them once per dedup key and enqueueing them ([`Runs`] is the
//! [`crate::RunStarter`]), and what the API asks of them (a run with its steps, a workflow's
//! runs, cancel, stats per day, dead letters and their redrive). [`store`] holds the keys.

pub mod service;
pub mod store;

use std::time::Duration;

use ports::{Queue, QueueError, QueueName, SendOptions};

use crate::model::{Run, RunId, RunMessage, StepRecord};

pub use service::{DayStats, MAX_TRIGGER_DATA_BYTES, RunSettings, Runs};
pub use store::{DeadLetter, RunStore};

/// A run with its step records, as `GET /v1/runs/{id}` shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RunView {
    #[serde(flatten)]
    pub run: Run,
    pub steps: Vec<StepRecord>,
}

/// Sends the message that makes the worker advance a run, after `delay` (at most 15 minutes).
pub async fn send_run_message(
    queue: &dyn Queue,
    tenant_id: &str,
    run_id: &RunId,
    delay: Duration,
) -> Result<(), QueueError> {
    let body = serde_json::to_string(&RunMessage {
        tenant_id: tenant_id.to_string(),
        run_id: run_id.clone(),
    })
    .map_err(|err| QueueError::Invalid(err.to_string()))?;
    queue
        .send(
            QueueName::Runs,
            &body,
            SendOptions::delayed(delay.min(ports::queue::MAX_DELAY)),
        )
        .await
        .map(|_| ())
}
