//! The saga-step task: one action per state of a saga machine, dispatched by the saga's type
//! (one module per type; the chunk and compensation actions are shared).
//!
//! Input: `{"action", "tenant", "saga", "index"?, "error"?, "cause"?}`: keys only, the data is
//! in the table store. Every action is idempotent by (saga, action, index): its step record,
//! written when it succeeds, holds its answer, and a task invoked again (a Lambda retry, a
//! runner restarted mid-state) answers that without redoing the effect. Forward actions check
//! the saga's cancel flag first and fail `Platform.Cancelled`, which the machine's Catch turns
//! into compensation.

pub mod chunks;
pub mod compensation;
pub mod connect_base;
pub mod table_sync;
pub mod transaction;

use std::sync::Arc;

use async_trait::async_trait;
use automations::service::Automations;
use basics::Clock;
use serde::Deserialize;
use serde_json::Value;
use triggers::task::parse_input;
use triggers::{TaskError, TaskHandler};

use crate::access::AirtableAccess;
use crate::model::{ErrorInfo, SagaRecord, SagaType, StepEntry, StepKind, StepStatus};
use crate::store::{SagaStore, StepRecord};

/// The task's input, as the machines' Payloads write it.
#[derive(Debug, Clone, Deserialize)]
pub struct TaskInput {
    pub action: String,
    pub tenant: String,
    pub saga: String,
    #[serde(default)]
    pub index: Option<u32>,
    /// For `plan_undo` and `mark_failed`: the failure being compensated.
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub cause: Option<String>,
}

/// The actions the machines name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Begin,
    Diff,
    Capture,
    Apply,
    Commit,
    PlanUndo,
    Undo,
    MarkCompensated,
    MarkFailed,
    SnapshotSchema,
    RegisterWebhooks,
    InitialSnapshot,
    RecordConnection,
}

impl Action {
    pub const ALL: [Action; 13] = [
        Action::Begin,
        Action::Diff,
        Action::Capture,
        Action::Apply,
        Action::Commit,
        Action::PlanUndo,
        Action::Undo,
        Action::MarkCompensated,
        Action::MarkFailed,
        Action::SnapshotSchema,
        Action::RegisterWebhooks,
        Action::InitialSnapshot,
        Action::RecordConnection,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Begin => "begin",
            Action::Diff => "diff",
            Action::Capture => "capture",
            Action::Apply => "apply",
            Action::Commit => "commit",
            Action::PlanUndo => "plan_undo",
            Action::Undo => "undo",
            Action::MarkCompensated => "mark_compensated",
            Action::MarkFailed => "mark_failed",
            Action::SnapshotSchema => "snapshot_schema",
            Action::RegisterWebhooks => "register_webhooks",
            Action::InitialSnapshot => "initial_snapshot",
            Action::RecordConnection => "record_connection",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == name)
    }

    pub fn kind(self) -> StepKind {
        match self {
            Action::PlanUndo | Action::Undo | Action::MarkCompensated | Action::MarkFailed => {
                StepKind::Compensation
            }
            Action::Begin
            | Action::Diff
            | Action::Capture
            | Action::Apply
            | Action::Commit
            | Action::SnapshotSchema
            | Action::RegisterWebhooks
            | Action::InitialSnapshot
            | Action::RecordConnection => StepKind::Step,
        }
    }

    /// Whether the action works on one chunk (`index` required).
    pub fn takes_index(self) -> bool {
        matches!(self, Action::Capture | Action::Apply | Action::Undo)
    }
}

/// What an action did: the task's answer (a small cursor for the machine) and a summary for
/// the step history.
#[derive(Debug, Clone, PartialEq)]
pub struct Done {
    pub answer: Value,
    pub summary: Option<Value>,
}

impl Done {
    pub fn new(answer: Value, summary: Value) -> Self {
        Self {
            answer,
            summary: Some(summary),
        }
    }
}

/// What an action runs with.
pub struct StepContext<'a> {
    pub store: &'a SagaStore,
    pub access: &'a AirtableAccess,
    pub clock: &'a dyn Clock,
    pub automations: &'a Automations,
    pub saga: &'a SagaRecord,
    pub task: &'a TaskInput,
}

impl StepContext<'_> {
    pub fn tenant(&self) -> &str {
        &self.saga.tenant_id
    }

    pub fn saga_id(&self) -> &str {
        &self.saga.id
    }

    /// The chunk index, for the actions that take one.
    pub fn index(&self) -> Result<u32, TaskError> {
        self.task
            .index
            .ok_or_else(|| TaskError::invalid_input("this action needs the chunk's index"))
    }

    /// The idempotency key of one of this saga's writes: `saga:<id>:<what>`.
    pub fn write_key(&self, what: &str) -> String {
        format!("saga:{}:{what}", self.saga.id)
    }
}

/// The saga-step handler.
#[derive(Debug)]
pub struct StepHandler {
    store: SagaStore,
    access: AirtableAccess,
    clock: Arc<dyn Clock>,
    automations: Arc<Automations>,
}

impl StepHandler {
    pub fn new(
        store: SagaStore,
        access: AirtableAccess,
        clock: Arc<dyn Clock>,
        automations: Arc<Automations>,
    ) -> Self {
        Self {
            store,
            access,
            clock,
            automations,
        }
    }

    async fn record(&self, tenant: &str, saga: &str, record: &StepRecord) -> Result<(), TaskError> {
        self.store
            .put_step(tenant, saga, record)
            .await
            .map_err(TaskError::from)
    }
}

#[async_trait]
impl TaskHandler for StepHandler {
    async fn run(&self, input: Value) -> Result<Value, TaskError> {
        let task: TaskInput = parse_input(input)?;
        let action = Action::parse(&task.action)
            .ok_or_else(|| TaskError::invalid_input(format!("unknown action {:?}", task.action)))?;
        let index =
            if action.takes_index() {
                Some(task.index.ok_or_else(|| {
                    TaskError::invalid_input("this action needs the chunk's index")
                })?)
            } else {
                None
            };
        let saga = self
            .store
            .get(&task.tenant, &task.saga)
            .await?
            .ok_or_else(|| TaskError::not_found(format!("no saga {}", task.saga)))?;
        let (tenant, saga_id) = (saga.tenant_id.as_str(), saga.id.as_str());
        let previous = self
            .store
            .step(tenant, saga_id, action.kind(), action.as_str(), index)
            .await?;
        if let Some(done) = &previous
            && done.entry.status == StepStatus::Succeeded
        {
            return Ok(done.answer.clone().unwrap_or(Value::Null));
        }
        let now = self.clock.now();
        let seq = match &previous {
            Some(record) => record.seq,
            None => self.store.next_seq(tenant, saga_id).await?,
        };
        let mut record = StepRecord {
            entry: StepEntry {
                name: action.as_str().to_string(),
                index,
                kind: action.kind(),
                status: StepStatus::Running,
                started_at: previous.as_ref().map_or(now, |r| r.entry.started_at),
                finished_at: None,
                attempts: previous.as_ref().map_or(0, |r| r.entry.attempts) + 1,
                result: None,
                error: None,
            },
            seq,
            answer: None,
        };
        let outcome = if action.kind() == StepKind::Step && saga.cancel_requested {
            Err(TaskError::cancelled("the saga was cancelled"))
        } else {
            self.record(tenant, saga_id, &record).await?;
            let context = StepContext {
                store: &self.store,
                access: &self.access,
                clock: self.clock.as_ref(),
                automations: self.automations.as_ref(),
                saga: &saga,
                task: &task,
            };
            dispatch(&context, action).await
        };
        record.entry.finished_at = Some(self.clock.now());
        match outcome {
            Ok(done) => {
                record.entry.status = StepStatus::Succeeded;
                record.entry.result = done.summary;
                record.answer = Some(done.answer.clone());
                self.record(tenant, saga_id, &record).await?;
                Ok(done.answer)
            }
            Err(err) => {
                record.entry.status = StepStatus::Failed;
                record.entry.error = Some(ErrorInfo::new(err.name.as_str(), err.message.clone()));
                if let Err(store_err) = self.record(tenant, saga_id, &record).await {
                    tracing::warn!(error = %store_err, "could not record a failed saga step");
                }
                Err(err)
            }
        }
    }
}

/// Runs the action the saga's type defines for it.
async fn dispatch(context: &StepContext<'_>, action: Action) -> Result<Done, TaskError> {
    match context.saga.saga_type {
        SagaType::Transaction => transaction::run(context, action).await,
        SagaType::TableSync => table_sync::run(context, action).await,
        SagaType::ConnectBase => connect_base::run(context, action).await,
    }
}

/// An action the saga's type does not have.
pub fn not_an_action_of(context: &StepContext<'_>, action: Action) -> TaskError {
    TaskError::invalid_input(format!(
        "{} is not an action of a {} saga",
        action.as_str(),
        context.saga.saga_type
    ))
}
