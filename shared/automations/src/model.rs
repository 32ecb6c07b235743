//! The automations' data: what a user saves ([`WorkflowSpec`]), what is stored ([`Workflow`]),
//! what a run is ([`Run`], one [`StepRecord`] per step) and what travels on the queues
//! ([`RunMessage`], [`EventMessage`]). Shapes here are the API's JSON shapes (snake_case, a
//! `type` tag on triggers and steps), so handlers serialise them as they are.
//!
//! Values inside steps (`fields`, `url`, `prompt`, ...) are templates rendered against the run's
//! context (`trigger`, `input`, `steps.<id>.output`); see `template`.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A workflow's id: `wfl_` and 20 alphanumerics.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WorkflowId(String);

/// A run's id: `run_` and 20 alphanumerics.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RunId(String);

macro_rules! prefixed_id {
    ($name:ident, $prefix:literal) => {
        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// A new id from the platform's generator.
            pub fn generate(ids: &dyn basics::IdGenerator) -> Self {
                Self(ids.new_id($prefix))
            }

            /// Parses an id from a path or a message: the prefix, an underscore, then 1 to 64
            /// ASCII alphanumerics.
            pub fn parse(raw: &str) -> Result<Self, String> {
                let rest = raw
                    .strip_prefix(concat!($prefix, "_"))
                    .filter(|rest| {
                        !rest.is_empty()
                            && rest.len() <= 64
                            && rest.bytes().all(|b| b.is_ascii_alphanumeric())
                    })
                    .ok_or_else(|| format!("{raw:?} is not a {} id", $prefix))?;
                Ok(Self(format!(concat!($prefix, "_{}"), rest)))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

prefixed_id!(WorkflowId, "wfl");
prefixed_id!(RunId, "run");

/// What a user sends to create or replace a workflow (`POST`/`PUT /v1/workflows`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkflowSpec {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    pub trigger: Trigger,
    pub steps: Vec<Step>,
}

fn enabled_by_default() -> bool {
    true
}

/// A stored workflow: the spec plus what the platform keeps about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Workflow {
    pub id: WorkflowId,
    pub tenant_id: String,
    #[serde(flatten)]
    pub spec: WorkflowSpec,
    /// Bumped on every change; updates are conditional on it.
    pub version: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What starts a workflow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Trigger {
    /// `POST /v1/workflows/{id}/runs {input}` only.
    Manual,
    /// A 5-field cron expression (ranges, steps, month and day names) in an IANA time zone.
    Schedule {
        cron: String,
        #[serde(default = "utc")]
        timezone: String,
    },
    /// A record created in a table (Airtable webhook on the base).
    RecordCreated { base: String, table: String },
    /// A record updated in a table; with `fields`, only when one of them changed.
    RecordUpdated {
        base: String,
        table: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        fields: Vec<String>,
    },
    /// A record deleted from a table.
    RecordDeleted { base: String, table: String },
    /// `POST /v1/hooks/workflows/{id}`, signed with the workflow's secret.
    Webhook,
}

fn utc() -> String {
    "UTC".to_string()
}

impl Trigger {
    /// The record change this trigger listens for, with its base and table.
    pub fn record_change(&self) -> Option<(RecordChange, &str, &str)> {
        match self {
            Trigger::RecordCreated { base, table } => Some((RecordChange::Created, base, table)),
            Trigger::RecordUpdated { base, table, .. } => {
                Some((RecordChange::Updated, base, table))
            }
            Trigger::RecordDeleted { base, table } => Some((RecordChange::Deleted, base, table)),
            Trigger::Manual | Trigger::Schedule { .. } | Trigger::Webhook => None,
        }
    }

    /// The trigger's name in runs and stats: `manual`, `schedule`, `record_created`, ...
    pub fn kind(&self) -> &'static str {
        match self {
            Trigger::Manual => "manual",
            Trigger::Schedule { .. } => "schedule",
            Trigger::RecordCreated { .. } => "record_created",
            Trigger::RecordUpdated { .. } => "record_updated",
            Trigger::RecordDeleted { .. } => "record_deleted",
            Trigger::Webhook => "webhook",
        }
    }
}

/// The kind of change to a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordChange {
    Created,
    Updated,
    Deleted,
}

/// One step: an id unique in the workflow (what later templates call it by), and what it does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub id: String,
    #[serde(flatten)]
    pub kind: StepKind,
}

/// What a step does. String values are templates unless said otherwise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum StepKind {
    /// Lists records (`filter` is an Airtable formula, templated values escaped by the engine).
    #[serde(rename = "airtable.list")]
    AirtableList {
        base: String,
        table: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        filter: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        view: Option<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        fields: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_records: Option<u32>,
    },
    #[serde(rename = "airtable.get")]
    AirtableGet {
        base: String,
        table: String,
        record: String,
    },
    #[serde(rename = "airtable.create")]
    AirtableCreate {
        base: String,
        table: String,
        fields: BTreeMap<String, Value>,
        #[serde(default)]
        typecast: bool,
    },
    #[serde(rename = "airtable.update")]
    AirtableUpdate {
        base: String,
        table: String,
        record: String,
        fields: BTreeMap<String, Value>,
        #[serde(default)]
        typecast: bool,
    },
    /// Creates or updates the record whose `merge_on` fields match (Airtable's upsert).
    #[serde(rename = "airtable.upsert")]
    AirtableUpsert {
        base: String,
        table: String,
        merge_on: Vec<String>,
        fields: BTreeMap<String, Value>,
        #[serde(default)]
        typecast: bool,
    },
    #[serde(rename = "airtable.delete")]
    AirtableDelete {
        base: String,
        table: String,
        record: String,
    },
    /// A prompt to a model of the chat catalog; counted in usage, refused by the budget.
    #[serde(rename = "llm")]
    Llm {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        model: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        system: Option<String>,
        prompt: String,
    },
    /// An outbound request through the address guard; `sign` adds
    /// `X-PyAirtable-Signature`/`X-PyAirtable-Timestamp` with the workflow's secret.
    #[serde(rename = "http")]
    Http {
        #[serde(default = "post")]
        method: String,
        url: String,
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        headers: BTreeMap<String, String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        body: Option<Value>,
        #[serde(default)]
        sign: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timeout_seconds: Option<u32>,
    },
    /// Goes on when `when` holds; otherwise jumps to the later step `otherwise` (or ends the run
    /// successfully when `otherwise` is absent).
    #[serde(rename = "condition")]
    Condition {
        when: Condition,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        otherwise: Option<String>,
    },
    /// Waits: up to 15 minutes by the queue's delay, longer by re-enqueueing.
    #[serde(rename = "delay")]
    Delay { seconds: u64 },
    /// Computes values; its output is the rendered `values`.
    #[serde(rename = "set")]
    Set { values: BTreeMap<String, Value> },
}

fn post() -> String {
    "POST".to_string()
}

impl StepKind {
    /// The step's `type` as written in JSON.
    pub fn type_name(&self) -> &'static str {
        match self {
            StepKind::AirtableList { .. } => "airtable.list",
            StepKind::AirtableGet { .. } => "airtable.get",
            StepKind::AirtableCreate { .. } => "airtable.create",
            StepKind::AirtableUpdate { .. } => "airtable.update",
            StepKind::AirtableUpsert { .. } => "airtable.upsert",
            StepKind::AirtableDelete { .. } => "airtable.delete",
            StepKind::Llm { .. } => "llm",
            StepKind::Http { .. } => "http",
            StepKind::Condition { .. } => "condition",
            StepKind::Delay { .. } => "delay",
            StepKind::Set { .. } => "set",
        }
    }

    /// Whether the step changes something outside the run (so it must happen at most once).
    pub fn has_side_effects(&self) -> bool {
        matches!(
            self,
            StepKind::AirtableCreate { .. }
                | StepKind::AirtableUpdate { .. }
                | StepKind::AirtableUpsert { .. }
                | StepKind::AirtableDelete { .. }
                | StepKind::Llm { .. }
                | StepKind::Http { .. }
        )
    }
}

/// A condition: comparisons combined with `all`/`any`/`not`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Condition {
    All { all: Vec<Condition> },
    Any { any: Vec<Condition> },
    Not { not: Box<Condition> },
    Compare(Comparison),
}

/// `left op right`; both sides are templates (or literal JSON values).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Comparison {
    pub left: Value,
    pub op: ConditionOp,
    #[serde(default)]
    pub right: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConditionOp {
    Equals,
    NotEquals,
    GreaterThan,
    GreaterThanOrEqual,
    LessThan,
    LessThanOrEqual,
    Contains,
    NotContains,
    IsEmpty,
    IsNotEmpty,
}

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Enqueued, no step started.
    Queued,
    Running,
    /// Sleeping in a `delay` step (the message is delayed on the queue).
    Waiting,
    Succeeded,
    Failed,
    Cancelled,
    /// The runs queue gave up on it (its message is in the dead-letter queue); redrivable.
    DeadLetter,
}

impl RunStatus {
    pub fn is_final(self) -> bool {
        matches!(
            self,
            RunStatus::Succeeded | RunStatus::Failed | RunStatus::Cancelled
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::Running => "running",
            RunStatus::Waiting => "waiting",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
            RunStatus::DeadLetter => "dead_letter",
        }
    }
}

/// What started a run: the trigger's kind and its data (`trigger` in templates).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunTrigger {
    /// [`Trigger::kind`].
    pub kind: String,
    /// Manual: `{}`; schedule: `{"fire_time"}`; record: a [`RecordEvent`]; webhook: `{"body",
    /// "headers"}`.
    pub data: Value,
}

/// One record change, as record triggers and templates see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordEvent {
    pub change: RecordChange,
    pub base_id: String,
    pub table_id: String,
    pub record_id: String,
    /// The record's cells by field name after the change (empty for a deletion).
    pub fields: serde_json::Map<String, Value>,
    /// Updates: the names of the fields that changed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changed_fields: Vec<String>,
    /// Updates: the changed cells' previous values by field name, when Airtable sent them.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub previous: serde_json::Map<String, Value>,
    /// Airtable's base transaction number of the change.
    pub transaction: u64,
    pub timestamp: DateTime<Utc>,
}

/// A run as stored (without its steps, which are stored one item each).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub id: RunId,
    pub tenant_id: String,
    pub workflow_id: WorkflowId,
    /// The workflow as it was when the run was created: edits do not change a run under way.
    pub workflow_version: u64,
    pub steps_snapshot: Vec<Step>,
    pub status: RunStatus,
    pub trigger: RunTrigger,
    /// `input` in templates (manual runs' body, `{}` otherwise).
    pub input: Value,
    /// Index of the next step to execute.
    pub next_step: usize,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    /// The run fails when it is not finished by then.
    pub deadline: DateTime<Utc>,
    /// A delay step in progress sleeps until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wake_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Set by `POST /v1/runs/{id}/cancel`; the worker stops before the next step.
    #[serde(default)]
    pub cancel_requested: bool,
    /// Bumped on every change; updates are conditional on it.
    pub version: u64,
}

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// Started (its side effect may or may not have happened); not yet checkpointed.
    Running,
    Succeeded,
    Failed,
    /// Skipped by a condition.
    Skipped,
}

/// One executed step: the checkpoint a redelivered run resumes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    pub index: usize,
    pub step_id: String,
    #[serde(rename = "type")]
    pub step_type: String,
    pub status: StepStatus,
    /// The step's parameters after templating.
    #[serde(default)]
    pub input: Value,
    #[serde(default)]
    pub output: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub attempts: u32,
    pub started_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
}

/// The runs queue's message: which run to advance. Data stays in the runs table (SQS carries
/// ids, not data).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunMessage {
    pub tenant_id: String,
    pub run_id: RunId,
}

/// The events queue's message (FIFO, one group per base): an Airtable ping for one of our
/// webhooks, whose payloads the events worker fetches with the stored cursor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventMessage {
    pub tenant_id: String,
    /// Our id of the webhook registration (the `{hook}` of the notification URL).
    pub hook_id: String,
    pub base_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_workflow_spec_reads_its_documented_json() {
        let spec: WorkflowSpec = serde_json::from_value(json!({
            "name": "Won deals",
            "trigger": {"type": "record_updated", "base": "appAAAAAAAAAAAAAA", "table": "Deals", "fields": ["Status"]},
            "steps": [
                {"id": "won", "type": "condition", "when": {"left": "{{ trigger.fields.Status }}", "op": "equals", "right": "Won"}},
                {"id": "task", "type": "airtable.create", "base": "appAAAAAAAAAAAAAA", "table": "Tasks", "fields": {"Name": "Onboard {{ trigger.fields.Name }}"}},
                {"id": "notify", "type": "http", "url": "https://example.com/hook", "body": {"deal": "{{ trigger.record_id }}"}, "sign": true},
                {"id": "wait", "type": "delay", "seconds": 60},
                {"id": "vals", "type": "set", "values": {"x": 1}}
            ]
        }))
        .expect("spec");
        assert!(spec.enabled);
        assert_eq!(spec.steps.len(), 5);
        assert_eq!(spec.steps[1].kind.type_name(), "airtable.create");
        assert!(matches!(spec.steps[0].kind, StepKind::Condition { .. }));
        let back = serde_json::to_value(&spec).expect("json");
        assert_eq!(back["steps"][2]["method"], "POST");
        assert_eq!(back["trigger"]["type"], "record_updated");
    }

    #[test]
    fn unknown_step_types_and_fields_are_refused() {
        let unknown = serde_json::from_value::<Step>(json!({"id": "x", "type": "ftp", "url": "x"}));
        assert!(unknown.is_err());
        let extra = serde_json::from_value::<Step>(
            json!({"id": "x", "type": "delay", "seconds": 1, "minutes": 2}),
        );
        assert!(extra.is_err());
    }

    #[test]
    fn ids_parse_with_their_prefix_only() {
        assert!(WorkflowId::parse("wfl_abc123").is_ok());
        assert!(WorkflowId::parse("run_abc123").is_err());
        assert!(WorkflowId::parse("wfl_").is_err());
        assert!(RunId::parse("run_../x").is_err());
    }
}
