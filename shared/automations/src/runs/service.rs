//! The runs service: starting runs (the [`RunStarter`] every trigger uses) and the API's
//! queries and commands on them. Every call names the tenant, and every key it builds starts
//! with it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use basics::{Clock, IdGenerator};
use chrono::{DateTime, NaiveDate, Utc};
use ports::{Cursor, Queue, QueueName, TableStore};
use serde::Serialize;
use serde_json::Value;

use super::store::{COUNTED_STATUSES, DeadLetter, RunStore, counted_as};
use super::{RunView, send_run_message};
use crate::error::AutomationError;
use crate::model::{Run, RunId, RunMessage, RunStatus, RunTrigger, Workflow, WorkflowId};
use crate::seams::RunStarter;
use crate::settings::{AutomationSettings, DEFAULT_RUN_DEADLINE};

/// The longest stats window the API serves.
pub const MAX_STATS_DAYS: u32 = 90;

/// Receives from the dead-letter queue a redrive makes at most, looking for its run's messages.
const DLQ_SWEEP_ROUNDS: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunSettings {
    /// A run fails when it has not ended this long after it was created (or redriven).
    pub deadline: Duration,
}

impl Default for RunSettings {
    fn default() -> Self {
        Self {
            deadline: DEFAULT_RUN_DEADLINE,
        }
    }
}

impl From<&AutomationSettings> for RunSettings {
    fn from(settings: &AutomationSettings) -> Self {
        Self {
            deadline: settings.run_deadline,
        }
    }
}

/// Runs by status on one day (`GET /v1/workflows/stats`), every counted status present.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DayStats {
    pub date: NaiveDate,
    pub counts: BTreeMap<String, i64>,
}

#[derive(Debug, Clone)]
pub struct Runs {
    store: RunStore,
    queue: Arc<dyn Queue>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
    settings: RunSettings,
}

impl Runs {
    pub fn new(
        store: Arc<dyn TableStore>,
        queue: Arc<dyn Queue>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
        settings: RunSettings,
    ) -> Self {
        Self {
            store: RunStore::new(store),
            queue,
            clock,
            ids,
            settings,
        }
    }

    pub fn store(&self) -> &RunStore {
        &self.store
    }

    fn deadline_from(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now + chrono::Duration::from_std(self.settings.deadline)
            .unwrap_or_else(|_| chrono::Duration::hours(1))
    }

    async fn load(&self, tenant_id: &str, run_id: &RunId) -> Result<Run, AutomationError> {
        self.store
            .get(tenant_id, run_id)
            .await?
            .ok_or_else(|| AutomationError::NotFound(format!("run {run_id}")))
    }

    /// A run and its step records.
    pub async fn get(&self, tenant_id: &str, run_id: &RunId) -> Result<RunView, AutomationError> {
        let run = self.load(tenant_id, run_id).await?;
        let steps = self.store.steps(tenant_id, run_id).await?;
        Ok(RunView { run, steps })
    }

    /// One page of a workflow's runs, newest first, and the cursor of the next page.
    pub async fn list_for_workflow(
        &self,
        tenant_id: &str,
        workflow_id: &WorkflowId,
        limit: u32,
        cursor: Option<String>,
    ) -> Result<(Vec<Run>, Option<String>), AutomationError> {
        let given = cursor.is_some();
        let (runs, next) = self
            .store
            .list_for_workflow(
                tenant_id,
                workflow_id,
                limit.clamp(1, 100),
                cursor.map(Cursor),
            )
            .await
            .map_err(|err| match err {
                // A made-up or mangled offset is the caller's mistake, not ours.
                ports::StoreError::InvalidItem(_) if given => AutomationError::invalid(
                    "/offset",
                    "not an offset this API gave (pass the last page's `offset` as it is)",
                ),
                other => other.into(),
            })?;
        Ok((runs, next.map(|c| c.0)))
    }

    /// Cancels a run: at once when no worker holds it (queued, waiting, dead-lettered), else by
    /// asking the worker to stop before its next step. A finished run cannot be cancelled.
    pub async fn cancel(&self, tenant_id: &str, run_id: &RunId) -> Result<Run, AutomationError> {
        for _ in 0..5 {
            let mut run = self.load(tenant_id, run_id).await?;
            if run.status.is_final() {
                return Err(AutomationError::Conflict(format!(
                    "run {run_id} has already ended ({})",
                    run.status.as_str()
                )));
            }
            let now = self.clock.now();
            let previous = run.version;
            run.version += 1;
            let mut extra = Vec::new();
            let counted = match run.status {
                RunStatus::Running => {
                    if run.cancel_requested {
                        return Ok(run);
                    }
                    run.cancel_requested = true;
                    None
                }
                RunStatus::Queued | RunStatus::Waiting | RunStatus::DeadLetter => {
                    if run.status == RunStatus::DeadLetter {
                        extra.push(self.store.clear_dead_letter_op(tenant_id, run_id));
                    }
                    run.cancel_requested = true;
                    run.status = RunStatus::Cancelled;
                    run.finished_at = Some(now);
                    run.wake_at = None;
                    counted_as(RunStatus::Cancelled)
                }
                RunStatus::Succeeded | RunStatus::Failed | RunStatus::Cancelled => None,
            };
            if self.store.save(&run, previous, counted, now, extra).await? {
                return Ok(run);
            }
        }
        Err(AutomationError::Conflict(format!(
            "run {run_id} is changing; try again"
        )))
    }

    /// Runs by status for each of the last `days` days (today included), oldest first, with
    /// days without runs as zeros.
    pub async fn stats(
        &self,
        tenant_id: &str,
        days: u32,
    ) -> Result<Vec<DayStats>, AutomationError> {
        let days = days.clamp(1, MAX_STATS_DAYS);
        let today = self.clock.now().date_naive();
        let first = today - chrono::Duration::days(i64::from(days) - 1);
        let stored: BTreeMap<NaiveDate, ports::Item> = self
            .store
            .stats(tenant_id, first, today)
            .await?
            .into_iter()
            .collect();
        Ok(first
            .iter_days()
            .take(days as usize)
            .map(|date| {
                let item = stored.get(&date);
                let counts = COUNTED_STATUSES
                    .iter()
                    .map(|status| {
                        let n = item
                            .and_then(|i| i.get(*status))
                            .and_then(Value::as_i64)
                            .unwrap_or(0);
                        (status.to_string(), n)
                    })
                    .collect();
                DayStats { date, counts }
            })
            .collect())
    }

    pub async fn dead_letters(&self, tenant_id: &str) -> Result<Vec<DeadLetter>, AutomationError> {
        Ok(self.store.dead_letters(tenant_id).await?)
    }

    /// Puts a dead-lettered run back on the runs queue with a fresh deadline; it resumes after
    /// its last completed step. Its copies in the dead-letter queue are removed as far as a
    /// short sweep finds them (best effort: a copy left there is never consumed).
    pub async fn redrive(&self, tenant_id: &str, run_id: &RunId) -> Result<Run, AutomationError> {
        let mut run = self.load(tenant_id, run_id).await?;
        let previous_state = run.clone();
        if run.status != RunStatus::DeadLetter {
            return Err(AutomationError::Conflict(format!(
                "run {run_id} is not a dead letter ({})",
                run.status.as_str()
            )));
        }
        let now = self.clock.now();
        let previous = run.version;
        run.version += 1;
        run.status = RunStatus::Queued;
        run.error = None;
        run.finished_at = None;
        run.deadline = self.deadline_from(now);
        let clear = vec![self.store.clear_dead_letter_op(tenant_id, run_id)];
        if !self.store.save(&run, previous, None, now, clear).await? {
            return Err(AutomationError::Conflict(format!(
                "run {run_id} changed during the redrive; try again"
            )));
        }
        if let Err(err) =
            send_run_message(self.queue.as_ref(), tenant_id, run_id, Duration::ZERO).await
        {
            // Not queued after all: back to a dead letter, so it is listed and can be redriven
            // again, instead of a run queued with no message.
            self.undo_redrive(run, previous_state).await;
            return Err(err.into());
        }
        self.sweep_dead_letter_queue(tenant_id, run_id).await;
        Ok(run)
    }

    /// Puts a redriven run back as the dead letter it was, with its marker (best effort: the
    /// caller gets the queue's error either way).
    async fn undo_redrive(&self, redriven: Run, mut before: Run) {
        let now = self.clock.now();
        before.version = redriven.version + 1;
        let marker = match self.store.dead_letter_op(
            &before.tenant_id,
            &DeadLetter {
                run_id: before.id.clone(),
                workflow_id: before.workflow_id.clone(),
                error: before.error.clone().unwrap_or_default(),
                dead_lettered_at: now,
            },
        ) {
            Ok(marker) => marker,
            Err(err) => {
                tracing::warn!(run_id = %before.id, error = %err, "a failed redrive could not be undone");
                return;
            }
        };
        match self
            .store
            .save(&before, redriven.version, None, now, vec![marker])
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(run_id = %before.id, "a failed redrive could not be undone: the run changed")
            }
            Err(err) => {
                tracing::warn!(run_id = %before.id, error = %err, "a failed redrive could not be undone")
            }
        }
    }

    /// Fails a run that could not be enqueued (best effort: the caller gets the queue's error).
    async fn abandon(&self, mut run: Run, err: &ports::QueueError) {
        let now = self.clock.now();
        let previous = run.version;
        run.version += 1;
        run.status = RunStatus::Failed;
        run.finished_at = Some(now);
        run.error = Some(format!("the run could not be enqueued: {err}"));
        if let Err(err) = self
            .store
            .save(&run, previous, counted_as(RunStatus::Failed), now, vec![])
            .await
        {
            tracing::error!(error = %err, run_id = %run.id, "a run that could not be enqueued stays queued");
        }
    }

    async fn sweep_dead_letter_queue(&self, tenant_id: &str, run_id: &RunId) {
        for _ in 0..DLQ_SWEEP_ROUNDS {
            let messages = match self
                .queue
                .receive(
                    QueueName::RunsDlq,
                    10,
                    Duration::from_secs(30),
                    Duration::ZERO,
                )
                .await
            {
                Ok(messages) if !messages.is_empty() => messages,
                Ok(_) => return,
                Err(err) => {
                    tracing::warn!(error = %err, "could not sweep the runs dead-letter queue");
                    return;
                }
            };
            let mut found = false;
            for message in messages {
                let ours = serde_json::from_str::<RunMessage>(&message.body)
                    .is_ok_and(|m| m.tenant_id == tenant_id && m.run_id == *run_id);
                let done = if ours {
                    found = true;
                    self.queue
                        .delete(QueueName::RunsDlq, &message.receipt)
                        .await
                } else {
                    self.queue
                        .change_visibility(QueueName::RunsDlq, &message.receipt, Duration::ZERO)
                        .await
                };
                if let Err(err) = done {
                    tracing::warn!(error = %err, "could not tidy a dead-letter queue message");
                }
            }
            if found {
                return;
            }
        }
    }
}

#[async_trait]
impl RunStarter for Runs {
    async fn start(
        &self,
        workflow: &Workflow,
        trigger: RunTrigger,
        input: Value,
        dedup_key: Option<String>,
    ) -> Result<RunId, AutomationError> {
        if json_size(&input) > MAX_TRIGGER_DATA_BYTES {
            return Err(AutomationError::invalid(
                "/input",
                format!("the input is larger than {MAX_TRIGGER_DATA_BYTES} bytes of JSON"),
            ));
        }
        let trigger = bounded(trigger);
        let now = self.clock.now();
        let run = Run {
            id: RunId::generate(self.ids.as_ref()),
            tenant_id: workflow.tenant_id.clone(),
            workflow_id: workflow.id.clone(),
            workflow_version: workflow.version,
            steps_snapshot: workflow.spec.steps.clone(),
            status: RunStatus::Queued,
            trigger,
            input,
            next_step: 0,
            created_at: now,
            started_at: None,
            finished_at: None,
            deadline: self.deadline_from(now),
            wake_at: None,
            error: None,
            cancel_requested: false,
            version: 1,
        };
        let tenant_id = workflow.tenant_id.as_str();
        match self.store.create(&run, dedup_key.as_deref(), now).await? {
            None => {
                if let Err(err) =
                    send_run_message(self.queue.as_ref(), tenant_id, &run.id, Duration::ZERO).await
                {
                    // With a dedup key the caller's retry re-sends for the queued run; without
                    // one nothing would, so the run is ended rather than left queued forever.
                    if dedup_key.is_none() {
                        self.abandon(run, &err).await;
                    }
                    return Err(err.into());
                }
                tracing::info!(tenant_id, run_id = %run.id, workflow_id = %workflow.id, "run started");
                Ok(run.id)
            }
            Some(existing) => {
                // A crash between the put and the send would leave a queued run without a
                // message; sending again is safe (the worker tolerates duplicates).
                if let Some(found) = self.store.get(tenant_id, &existing).await?
                    && found.status == RunStatus::Queued
                {
                    send_run_message(self.queue.as_ref(), tenant_id, &existing, Duration::ZERO)
                        .await?;
                }
                Ok(existing)
            }
        }
    }
}

/// The most JSON a run keeps of its trigger's data and of its input: with the workflow's
/// snapshot (at most 64 KiB) a run stays well inside one DynamoDB item (400 KB).
pub const MAX_TRIGGER_DATA_BYTES: usize = 128 * 1024;

fn json_size(value: &Value) -> usize {
    serde_json::to_string(value).map_or(usize::MAX, |text| text.len())
}

/// A trigger whose data is too large to keep (a record with huge cells) keeps its small
/// top-level values (ids, kind, times) and says what it left out, so the run still starts
/// instead of failing the whole batch of events it came with.
fn bounded(mut trigger: RunTrigger) -> RunTrigger {
    if json_size(&trigger.data) <= MAX_TRIGGER_DATA_BYTES {
        return trigger;
    }
    let mut kept = serde_json::Map::new();
    let mut omitted = Vec::new();
    if let Value::Object(data) = &trigger.data {
        for (key, value) in data {
            if json_size(value) <= 1024 {
                kept.insert(key.clone(), value.clone());
            } else {
                omitted.push(Value::String(key.clone()));
            }
        }
    }
    kept.insert("omitted".into(), Value::Array(omitted));
    kept.insert(
        "omitted_reason".into(),
        Value::String(format!(
            "the trigger's data was larger than {MAX_TRIGGER_DATA_BYTES} bytes"
        )),
    );
    trigger.data = Value::Object(kept);
    trigger
}

#[cfg(test)]
mod bounds {
    use serde_json::json;

    use super::*;

    #[test]
    fn oversized_trigger_data_keeps_its_small_values() {
        let big = "x".repeat(MAX_TRIGGER_DATA_BYTES);
        let trigger = RunTrigger {
            kind: "record_created".into(),
            data: json!({"record_id": "recA", "fields": {"Notes": big}}),
        };
        let bounded = bounded(trigger);
        assert_eq!(bounded.data["record_id"], "recA");
        assert!(bounded.data.get("fields").is_none());
        assert_eq!(bounded.data["omitted"], json!(["fields"]));
        let small = RunTrigger {
            kind: "manual".into(),
            data: json!({"a": 1}),
        };
        assert_eq!(bounded_data(small.clone()), small.data);
    }

    fn bounded_data(trigger: RunTrigger) -> Value {
        bounded(trigger).data
    }
}
