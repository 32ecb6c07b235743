//! Advances a run one step at a time from `run.next_step`, checkpointing each step in the runs
//! table, so a redelivered message resumes after the last completed step.
//!
//! Per step: stop if a cancel was requested or the deadline passed; render the parameters (a
//! render error fails the run); write the step record as Running (attempts + 1) before the
//! effect; run it; then, in one transaction, write the record Succeeded and move
//! `run.next_step` on, conditional on `run.version` (a concurrent duplicate delivery loses and
//! stops). A step whose record is Succeeded is never run again, and a step run again after a
//! crash reuses the parameters recorded the first time (so its idempotency key still matches
//! the same request, even when a template reads `now`).

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use basics::Clock;
use chrono::{DateTime, Utc};
use ports::{Queue, TableStore, TransactOp};
use serde_json::{Map, Value, json};

use crate::error::AutomationError;
use crate::model::{Run, RunId, RunStatus, Step, StepKind, StepRecord, StepStatus};
use crate::runs::send_run_message;
use crate::runs::store::{DeadLetter, RunStore, counted_as};
use crate::steps::{StepError, StepScope, StepServices, condition, not_configured};
use crate::template;

/// Told when a step's side effect has happened and before its checkpoint is written: the
/// window a crash test aims at.
pub trait StepObserver: Send + Sync + Debug {
    fn effect_done(&self, run_id: &RunId, step_index: usize);
}

/// How often a checkpoint is retried when a concurrent change (a cancel request) bumped the
/// run's version in between.
const CHECKPOINT_ATTEMPTS: usize = 5;

/// Races to concurrent changes one delivery may lose before it gives the run back to the queue.
const MAX_LOST_RACES: usize = 20;

/// The most JSON bytes a step record keeps of its input and of its output: both fit one
/// DynamoDB item (400 KB) with room to spare.
pub const MAX_RECORDED_BYTES: usize = 160 * 1024;

/// The JSON size of a value, when it is more than a step record keeps.
fn oversized(value: &Value) -> Option<usize> {
    let size = serde_json::to_string(value).map_or(usize::MAX, |text| text.len());
    (size > MAX_RECORDED_BYTES).then_some(size)
}

/// Step records written in the checkpoint's own transaction (DynamoDB takes 100 operations);
/// more skipped steps are written before it.
const SKIPPED_IN_TRANSACTION: usize = 50;

/// What an advance of a run came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Advance {
    /// The run has ended (now or before), or is a dead letter waiting for a redrive: the
    /// message is handled.
    Ended(RunStatus),
    /// The run sleeps in a delay step; a delayed message wakes it.
    Waiting,
    /// There is no such run (deleted): drop the message.
    Gone,
    /// Another delivery of the run moved it on first: this one stops.
    Superseded,
    /// This delivery used its time budget; a new message (sent) carries the run on, so a long
    /// workflow never runs into the function's timeout or the queue's receive limit.
    Continued,
    /// A step failed in a way that may pass: the message should come back later (not before
    /// `after` when the step said so).
    Retry {
        reason: String,
        after: Option<Duration>,
    },
}

#[derive(Debug, Clone)]
pub struct Executor {
    store: RunStore,
    queue: Arc<dyn Queue>,
    clock: Arc<dyn Clock>,
    steps: StepServices,
    observer: Option<Arc<dyn StepObserver>>,
    budget: Option<Duration>,
}

/// What a step's run came to, before it is checkpointed.
enum Done {
    /// Succeeded with this output; the run goes on at `next`.
    Next { output: Value, next: usize },
    /// A delay step put the run to sleep.
    Sleeping,
}

impl Executor {
    pub fn new(
        store: Arc<dyn TableStore>,
        queue: Arc<dyn Queue>,
        clock: Arc<dyn Clock>,
        steps: StepServices,
    ) -> Self {
        Self {
            store: RunStore::new(store),
            queue,
            clock,
            steps,
            observer: None,
            budget: None,
        }
    }

    /// Starts no new step once this much time has passed in one delivery: the run goes on in a
    /// fresh message instead. Without a budget a long run could outlast the function's timeout,
    /// and a delivery cut off by the timeout counts toward the queue's receive limit.
    pub fn with_time_budget(mut self, budget: Duration) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Adds the observer told of each side effect before its checkpoint (crash tests).
    pub fn with_observer(mut self, observer: Arc<dyn StepObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Advances the run as far as it goes now.
    pub async fn advance(
        &self,
        tenant_id: &str,
        run_id: &RunId,
    ) -> Result<Advance, AutomationError> {
        // Each pass runs a step or loses a race to a concurrent change; a run that keeps
        // changing under this delivery is left to a later one.
        let mut passes = 0usize;
        let delivered = std::time::Instant::now();
        let mut stepped = false;
        loop {
            let Some(run) = self.store.get(tenant_id, run_id).await? else {
                return Ok(Advance::Gone);
            };
            passes += 1;
            if passes > 2 * run.steps_snapshot.len() + MAX_LOST_RACES {
                return Ok(Advance::Retry {
                    reason: "the run kept changing during this delivery".into(),
                    after: None,
                });
            }
            if run.status.is_final() || run.status == RunStatus::DeadLetter {
                return Ok(Advance::Ended(run.status));
            }
            let now = self.clock.now();
            if run.cancel_requested {
                match self.finish(run, RunStatus::Cancelled, None, vec![]).await? {
                    Some(ended) => return Ok(ended),
                    None => continue,
                }
            }
            if now >= run.deadline {
                let error = format!(
                    "deadline: the run did not end by {}",
                    run.deadline.to_rfc3339()
                );
                match self
                    .finish(run, RunStatus::Failed, Some(error), vec![])
                    .await?
                {
                    Some(ended) => return Ok(ended),
                    None => continue,
                }
            }
            if run.next_step >= run.steps_snapshot.len() {
                match self.finish(run, RunStatus::Succeeded, None, vec![]).await? {
                    Some(ended) => return Ok(ended),
                    None => continue,
                }
            }
            if run.status == RunStatus::Waiting {
                match self.wake(run, now).await? {
                    Some(advance) => return Ok(advance),
                    None => continue,
                }
            }
            let run = if run.status == RunStatus::Queued {
                let mut started = run.clone();
                started.status = RunStatus::Running;
                started.started_at.get_or_insert(now);
                started.version += 1;
                if !self
                    .store
                    .save(&started, run.version, None, now, vec![])
                    .await?
                {
                    // Another delivery started it (or a cancel ended it): that one carries it
                    // on, and this one must not run the same step beside it.
                    return Ok(Advance::Superseded);
                }
                started
            } else {
                run
            };
            if stepped
                && self
                    .budget
                    .is_some_and(|budget| delivered.elapsed() >= budget)
            {
                send_run_message(self.queue.as_ref(), tenant_id, run_id, Duration::ZERO).await?;
                return Ok(Advance::Continued);
            }
            stepped = true;
            if let Some(advance) = self.step(run).await? {
                return Ok(advance);
            }
        }
    }

    /// Marks a run the queue is giving up on as a dead letter, with a marker the API lists.
    pub async fn dead_letter(
        &self,
        tenant_id: &str,
        run_id: &RunId,
        reason: &str,
    ) -> Result<(), AutomationError> {
        for _ in 0..CHECKPOINT_ATTEMPTS {
            let Some(mut run) = self.store.get(tenant_id, run_id).await? else {
                return Ok(());
            };
            if run.status.is_final() || run.status == RunStatus::DeadLetter {
                return Ok(());
            }
            let now = self.clock.now();
            let previous = run.version;
            run.version += 1;
            run.status = RunStatus::DeadLetter;
            run.error = Some(reason.to_string());
            let marker = self.store.dead_letter_op(
                tenant_id,
                &DeadLetter {
                    run_id: run.id.clone(),
                    workflow_id: run.workflow_id.clone(),
                    error: reason.to_string(),
                    dead_lettered_at: now,
                },
            )?;
            if self
                .store
                .save(
                    &run,
                    previous,
                    counted_as(RunStatus::DeadLetter),
                    now,
                    vec![marker],
                )
                .await?
            {
                tracing::warn!(tenant_id, %run_id, reason, "run dead-lettered");
                return Ok(());
            }
        }
        Err(AutomationError::Conflict(format!(
            "run {run_id} kept changing while being dead-lettered"
        )))
    }

    /// Ends the run with `status`; `None` when a concurrent change won (the caller re-reads).
    async fn finish(
        &self,
        mut run: Run,
        status: RunStatus,
        error: Option<String>,
        extra: Vec<TransactOp>,
    ) -> Result<Option<Advance>, AutomationError> {
        let now = self.clock.now();
        let previous = run.version;
        run.version += 1;
        run.status = status;
        run.error = error;
        run.wake_at = None;
        run.finished_at = Some(now);
        if self
            .store
            .save(&run, previous, counted_as(status), now, extra)
            .await?
        {
            tracing::info!(tenant_id = run.tenant_id, run_id = %run.id, status = status.as_str(), "run ended");
            Ok(Some(Advance::Ended(status)))
        } else {
            Ok(None)
        }
    }

    /// A waiting run's message arrived: early, it is sent again for the rest of the wait;
    /// on time, the delay step is checkpointed as done and the run goes on.
    async fn wake(&self, run: Run, now: DateTime<Utc>) -> Result<Option<Advance>, AutomationError> {
        let wake_at = run.wake_at.unwrap_or(now);
        if now < wake_at {
            let rest = (wake_at - now).to_std().unwrap_or(Duration::ZERO);
            send_run_message(self.queue.as_ref(), &run.tenant_id, &run.id, rest).await?;
            return Ok(Some(Advance::Waiting));
        }
        let index = run.next_step;
        let record = self.store.get_step(&run.tenant_id, &run.id, index).await?;
        let mut record = record.unwrap_or_else(|| {
            self.new_record(index, &run.steps_snapshot[index], Value::Null, now)
        });
        let output = json!({"woke_at": now.to_rfc3339(), "wake_at": wake_at.to_rfc3339()});
        let mut awake = run;
        awake.status = RunStatus::Running;
        awake.wake_at = None;
        self.succeed(&mut record, output, now);
        match self.checkpoint(awake, record, index + 1, vec![]).await? {
            true => Ok(None),
            false => Ok(Some(Advance::Superseded)),
        }
    }

    fn new_record(
        &self,
        index: usize,
        step: &Step,
        input: Value,
        now: DateTime<Utc>,
    ) -> StepRecord {
        StepRecord {
            index,
            step_id: step.id.clone(),
            step_type: step.kind.type_name().to_string(),
            status: StepStatus::Running,
            input,
            output: Value::Null,
            error: None,
            attempts: 0,
            started_at: now,
            finished_at: None,
            duration_ms: None,
        }
    }

    fn succeed(&self, record: &mut StepRecord, output: Value, now: DateTime<Utc>) {
        record.status = StepStatus::Succeeded;
        record.output = output;
        record.error = None;
        record.finished_at = Some(now);
        record.duration_ms = Some(
            (now - record.started_at)
                .num_milliseconds()
                .max(0)
                .unsigned_abs(),
        );
    }

    /// Writes the step record and moves the run to `next` in one transaction, retrying while
    /// only the run's version moved (a cancel request); `false` when another delivery moved the
    /// run on first.
    async fn checkpoint(
        &self,
        mut run: Run,
        record: StepRecord,
        next: usize,
        extra: Vec<StepRecord>,
    ) -> Result<bool, AutomationError> {
        let index = record.index;
        let (in_transaction, before): (Vec<_>, Vec<_>) = extra
            .into_iter()
            .enumerate()
            .partition(|(i, _)| *i < SKIPPED_IN_TRANSACTION);
        for (_, skipped) in before {
            self.store
                .put_step(&run.tenant_id, &run.id, &skipped)
                .await?;
        }
        for _ in 0..CHECKPOINT_ATTEMPTS {
            let now = self.clock.now();
            let previous = run.version;
            let mut moved = run.clone();
            moved.version += 1;
            moved.next_step = next;
            let mut ops = vec![self.store.step_op(&run.tenant_id, &run.id, &record)?];
            for (_, skipped) in &in_transaction {
                ops.push(self.store.step_op(&run.tenant_id, &run.id, skipped)?);
            }
            if self.store.save(&moved, previous, None, now, ops).await? {
                return Ok(true);
            }
            let Some(fresh) = self.store.get(&run.tenant_id, &run.id).await? else {
                return Ok(false);
            };
            // Moved on, ended or dead-lettered by someone else: this delivery has lost.
            if fresh.next_step != index
                || fresh.status.is_final()
                || fresh.status == RunStatus::DeadLetter
            {
                return Ok(false);
            }
            // Only the version moved (a cancel request, say): keep this run's changes on it.
            run.version = fresh.version;
            run.cancel_requested = fresh.cancel_requested;
        }
        Ok(false)
    }

    /// The template context: trigger, input, earlier steps' outputs, the run, now.
    async fn context(&self, run: &Run, now: DateTime<Utc>) -> Result<Value, AutomationError> {
        let mut steps = Map::new();
        for record in self.store.steps(&run.tenant_id, &run.id).await? {
            if record.status == StepStatus::Succeeded {
                steps.insert(record.step_id, json!({"output": record.output}));
            }
        }
        Ok(json!({
            "trigger": run.trigger.data,
            "input": run.input,
            "steps": steps,
            "run": {"id": run.id, "workflow_id": run.workflow_id},
            "now": now.to_rfc3339(),
        }))
    }

    /// Runs the run's next step. `None` when the run goes on (the caller loops).
    async fn step(&self, run: Run) -> Result<Option<Advance>, AutomationError> {
        let index = run.next_step;
        let step = run.steps_snapshot[index].clone();
        let now = self.clock.now();
        let existing = self.store.get_step(&run.tenant_id, &run.id, index).await?;
        if let Some(done) = existing
            .as_ref()
            .filter(|r| r.status == StepStatus::Succeeded)
        {
            // Checkpointed before (the run's move was lost): never run it again.
            let moved = self
                .checkpoint(run, done.clone(), index + 1, vec![])
                .await?;
            return Ok((!moved).then_some(Advance::Superseded));
        }
        // A step started before reuses its recorded parameters: the same request again.
        let recorded = existing
            .as_ref()
            .filter(|r| !r.input.is_null())
            .map(|r| r.input.clone());
        let input = match recorded {
            Some(input) => input,
            None => {
                let context = self.context(&run, now).await?;
                match render(&step.kind, &context) {
                    Ok(input) => input,
                    Err(message) => {
                        let mut record = existing
                            .unwrap_or_else(|| self.new_record(index, &step, Value::Null, now));
                        return self.fail(run, &mut record, message).await;
                    }
                }
            }
        };
        let mut record =
            existing.unwrap_or_else(|| self.new_record(index, &step, Value::Null, now));
        record.input = input.clone();
        record.attempts += 1;
        record.status = StepStatus::Running;
        record.started_at = now;
        if let Some(size) = oversized(&record.input) {
            record.input = json!({"omitted_bytes": size});
            let message = format!(
                "its rendered parameters are {size} bytes; the limit is {MAX_RECORDED_BYTES}"
            );
            return self.fail(run, &mut record, message).await;
        }
        let kind: StepKind = match serde_json::from_value(with_type(&step.kind, input)) {
            Ok(kind) => kind,
            Err(err) => {
                return self
                    .fail(
                        run,
                        &mut record,
                        format!("its rendered parameters are invalid: {err}"),
                    )
                    .await;
            }
        };
        self.store
            .put_step(&run.tenant_id, &run.id, &record)
            .await?;
        let scope = StepScope {
            tenant_id: &run.tenant_id,
            workflow_id: &run.workflow_id,
            run_id: &run.id,
            index,
        };
        let done = match self.perform(&run, &scope, &kind, &mut record).await {
            Ok(done) => done,
            Err(StepError::Permanent(message)) => {
                return self.fail(run, &mut record, message).await;
            }
            Err(StepError::Transient(message)) => {
                return self.retry(&run, &mut record, message, None).await;
            }
            Err(StepError::Later(message, after)) => {
                return self.retry(&run, &mut record, message, Some(after)).await;
            }
        };
        match done {
            Done::Sleeping => Ok(Some(Advance::Waiting)),
            Done::Next { output, next } => {
                if let Some(size) = oversized(&output) {
                    let message = format!(
                        "its output is {size} bytes, more than a checkpoint keeps \
                         ({MAX_RECORDED_BYTES}); ask for fewer records or fields"
                    );
                    return self.fail(run, &mut record, message).await;
                }
                if kind.has_side_effects()
                    && let Some(observer) = &self.observer
                {
                    observer.effect_done(&run.id, index);
                }
                let now = self.clock.now();
                let skipped: Vec<StepRecord> = (index + 1..next)
                    .map(|i| {
                        let mut r = self.new_record(i, &run.steps_snapshot[i], Value::Null, now);
                        r.status = StepStatus::Skipped;
                        r.finished_at = Some(now);
                        r
                    })
                    .collect();
                self.succeed(&mut record, output, now);
                let moved = self.checkpoint(run, record, next, skipped).await?;
                Ok((!moved).then_some(Advance::Superseded))
            }
        }
    }

    /// Does what the rendered step says.
    async fn perform(
        &self,
        run: &Run,
        scope: &StepScope<'_>,
        kind: &StepKind,
        record: &mut StepRecord,
    ) -> Result<Done, StepError> {
        let index = scope.index;
        let output = match kind {
            StepKind::AirtableList { .. }
            | StepKind::AirtableGet { .. }
            | StepKind::AirtableCreate { .. }
            | StepKind::AirtableUpdate { .. }
            | StepKind::AirtableUpsert { .. }
            | StepKind::AirtableDelete { .. } => match &self.steps.airtable {
                Some(airtable) => airtable.run(scope, kind).await?,
                None => return Err(not_configured("Airtable")),
            },
            StepKind::Llm { .. } => match &self.steps.llm {
                Some(llm) => llm.run(scope, kind).await?,
                None => return Err(not_configured("llm")),
            },
            StepKind::Http { .. } => match &self.steps.http {
                Some(http) => http.run(scope, kind).await?,
                None => return Err(not_configured("http")),
            },
            StepKind::Set { values } => json!(values),
            StepKind::Condition { when, otherwise } => {
                if condition::holds(when) {
                    json!({"result": true})
                } else {
                    let next = match otherwise {
                        None => run.steps_snapshot.len(),
                        Some(target) => run
                            .steps_snapshot
                            .iter()
                            .enumerate()
                            .skip(index + 1)
                            .find(|(_, s)| s.id == *target)
                            .map(|(i, _)| i)
                            .ok_or_else(|| {
                                StepError::Permanent(format!(
                                    "otherwise names {target:?}, which is not a later step"
                                ))
                            })?,
                    };
                    return Ok(Done::Next {
                        output: json!({"result": false}),
                        next,
                    });
                }
            }
            StepKind::Delay { seconds } => return self.sleep(run, *seconds, record).await,
        };
        Ok(Done::Next {
            output,
            next: index + 1,
        })
    }

    /// A delay step: the run waits (status Waiting, `wake_at`) and its message comes back after
    /// the queue's delay, re-sent in 15-minute hops for longer waits.
    async fn sleep(
        &self,
        run: &Run,
        seconds: u64,
        record: &mut StepRecord,
    ) -> Result<Done, StepError> {
        let now = self.clock.now();
        if seconds == 0 {
            return Ok(Done::Next {
                output: json!({"woke_at": now.to_rfc3339(), "wake_at": now.to_rfc3339()}),
                next: run.next_step + 1,
            });
        }
        let wait = Duration::from_secs(seconds);
        let wake_at = now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX);
        // The wake-up time goes in the output: the input stays the step's parameters, which a
        // retry reads back.
        record.output = json!({"wake_at": wake_at.to_rfc3339()});
        let store_error = |e: ports::StoreError| StepError::Transient(format!("store: {e}"));
        self.store
            .put_step(&run.tenant_id, &run.id, record)
            .await
            .map_err(store_error)?;
        let mut waiting = run.clone();
        waiting.version += 1;
        waiting.status = RunStatus::Waiting;
        waiting.wake_at = Some(wake_at);
        // Time asleep does not count against the deadline, which bounds a run's working time:
        // a workflow that waits a day is not failed for it.
        waiting.deadline = run.deadline + chrono::Duration::from_std(wait).unwrap_or_default();
        // Waiting first, then the message: a crash in between leaves this delivery unhandled,
        // and its redelivery finds the run waiting and sends the wake-up message then.
        if !self
            .store
            .save(&waiting, run.version, None, now, vec![])
            .await
            .map_err(store_error)?
        {
            return Err(StepError::Transient(
                "the run changed while going to sleep".into(),
            ));
        }
        send_run_message(self.queue.as_ref(), &run.tenant_id, &run.id, wait)
            .await
            .map_err(|e| StepError::Transient(format!("queue: {e}")))?;
        Ok(Done::Sleeping)
    }

    /// Records a failure that may pass on the step (still Running) and asks for a retry.
    async fn retry(
        &self,
        run: &Run,
        record: &mut StepRecord,
        message: String,
        after: Option<Duration>,
    ) -> Result<Option<Advance>, AutomationError> {
        record.error = Some(message.clone());
        self.store.put_step(&run.tenant_id, &run.id, record).await?;
        tracing::info!(run_id = %run.id, index = record.index, error = message, "step failed; will retry");
        Ok(Some(Advance::Retry {
            reason: format!("step {}: {message}", record.step_id),
            after,
        }))
    }

    /// Fails the step and the run with `message`, in one transaction.
    async fn fail(
        &self,
        run: Run,
        record: &mut StepRecord,
        message: String,
    ) -> Result<Option<Advance>, AutomationError> {
        let now = self.clock.now();
        record.status = StepStatus::Failed;
        record.error = Some(message.clone());
        record.finished_at = Some(now);
        record.duration_ms = Some(
            (now - record.started_at)
                .num_milliseconds()
                .max(0)
                .unsigned_abs(),
        );
        let error = format!("step {}: {message}", record.step_id);
        let op = self.store.step_op(&run.tenant_id, &run.id, record)?;
        match self
            .finish(run, RunStatus::Failed, Some(error), vec![op])
            .await?
        {
            Some(ended) => Ok(Some(ended)),
            None => Ok(None),
        }
    }
}

/// The step's parameters rendered against the context, without its `type` tag.
fn render(kind: &StepKind, context: &Value) -> Result<Value, String> {
    let Value::Object(mut params) =
        serde_json::to_value(kind).map_err(|e| format!("its parameters do not serialise: {e}"))?
    else {
        return Err("its parameters are not an object".into());
    };
    params.remove("type");
    template::render_value(&Value::Object(params), context)
        .map_err(|e| format!("a template failed: {e}"))
}

/// Rendered parameters with the step's `type` tag back, to read as a [`StepKind`].
fn with_type(kind: &StepKind, input: Value) -> Value {
    let mut params = match input {
        Value::Object(params) => params,
        _ => Map::new(),
    };
    params.insert("type".into(), Value::String(kind.type_name().to_string()));
    Value::Object(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_render_without_their_tag_and_read_back_as_the_step() {
        let kind: StepKind = serde_json::from_value(json!({
            "type": "airtable.update", "base": "appA", "table": "Deals",
            "record": "{{ trigger.record_id }}", "fields": {"Amount": "{{ input.amount }}", "Note": "for {{ input.who }}"}
        }))
        .expect("kind");
        let context =
            json!({"trigger": {"record_id": "rec1"}, "input": {"amount": 5, "who": "Ada"}});
        let input = render(&kind, &context).expect("render");
        assert!(input.get("type").is_none());
        assert_eq!(input["record"], "rec1");
        assert_eq!(input["fields"], json!({"Amount": 5, "Note": "for Ada"}));
        let back: StepKind = serde_json::from_value(with_type(&kind, input)).expect("back");
        assert!(matches!(back, StepKind::AirtableUpdate { ref record, .. } if record == "rec1"));
    }

    #[test]
    fn a_rendered_value_of_the_wrong_type_does_not_read_back() {
        let kind: StepKind =
            serde_json::from_value(json!({"type": "http", "url": "{{ input.url }}"}))
                .expect("kind");
        let input = render(&kind, &json!({"input": {"url": 42}})).expect("render");
        assert!(serde_json::from_value::<StepKind>(with_type(&kind, input)).is_err());
    }
}
