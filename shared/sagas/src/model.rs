//! What the API and the store see of a saga: its type and status, the request that starts one,
//! the views the HTTP layer serves as they are (snake_case JSON), and the stored record.

use std::fmt;

use chrono::{DateTime, Utc};
use ports::MachineName;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The kinds of saga, each run by the state machine of the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SagaType {
    Transaction,
    TableSync,
    ConnectBase,
}

impl SagaType {
    pub const ALL: [SagaType; 3] = [
        SagaType::Transaction,
        SagaType::TableSync,
        SagaType::ConnectBase,
    ];

    /// `transaction`, `table-sync`, `connect-base`: also the machine's name.
    pub fn as_str(self) -> &'static str {
        match self {
            SagaType::Transaction => "transaction",
            SagaType::TableSync => "table-sync",
            SagaType::ConnectBase => "connect-base",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// The state machine that runs this type.
    pub fn machine(self) -> MachineName {
        MachineName::new(self.as_str())
    }
}

impl fmt::Display for SagaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a saga is. `failed` means the compensation itself failed, or the execution died: the
/// base may hold part of the saga's changes and needs a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SagaStatus {
    Running,
    Succeeded,
    Compensating,
    Compensated,
    Cancelled,
    Failed,
}

impl SagaStatus {
    pub const ALL: [SagaStatus; 6] = [
        SagaStatus::Running,
        SagaStatus::Succeeded,
        SagaStatus::Compensating,
        SagaStatus::Compensated,
        SagaStatus::Cancelled,
        SagaStatus::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SagaStatus::Running => "running",
            SagaStatus::Succeeded => "succeeded",
            SagaStatus::Compensating => "compensating",
            SagaStatus::Compensated => "compensated",
            SagaStatus::Cancelled => "cancelled",
            SagaStatus::Failed => "failed",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Whether the saga has ended (a cancel is then refused).
    pub fn is_finished(self) -> bool {
        !matches!(self, SagaStatus::Running | SagaStatus::Compensating)
    }
}

impl fmt::Display for SagaStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The body of `POST /v1/sagas`. The type stays a string here so that an unknown one is a
/// saga error (422 naming it) rather than a body that does not parse.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StartSaga {
    #[serde(rename = "type")]
    pub saga_type: String,
    pub input: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

/// The 202 answer to a start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Started {
    pub id: String,
    #[serde(rename = "type")]
    pub saga_type: SagaType,
    pub status: SagaStatus,
    pub created_at: DateTime<Utc>,
}

/// A saga in a list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SagaSummary {
    pub id: String,
    #[serde(rename = "type")]
    pub saga_type: SagaType,
    pub status: SagaStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The operations a transaction or a table-sync plans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operations: Option<usize>,
}

/// One page of `GET /v1/sagas`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SagaPage {
    pub sagas: Vec<SagaSummary>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<String>,
}

/// The query of `GET /v1/sagas` (`?type=&status=&page_size=&offset=`). Type and status stay
/// strings so that a wrong one is reported with its path.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SagaFilter {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub saga_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// 1 to 100; 20 when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_size: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<String>,
}

/// The default and the largest page of `GET /v1/sagas`.
pub const DEFAULT_PAGE_SIZE: u32 = 20;
pub const MAX_PAGE_SIZE: u32 = 100;

/// A failure as the state machine names it: `Platform.Failed`, `Saga.Compensated`, ….
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorInfo {
    pub error: String,
    pub cause: String,
}

impl ErrorInfo {
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        Self {
            error: error.into(),
            cause: cause.into(),
        }
    }
}

/// Whether a step record is a forward step or part of the compensation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    Step,
    Compensation,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Running,
    Succeeded,
    Failed,
}

/// One action the saga ran, as `GET /v1/sagas/{id}` lists them, in the order they ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepEntry {
    /// The action: `begin`, `capture`, `apply`, `undo`, ….
    pub name: String,
    /// The chunk, for the actions that work on one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
    pub kind: StepKind,
    pub status: StepStatus,
    pub started_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    /// How many times the task ran (retries included).
    pub attempts: u32,
    /// A small summary of what it did (counts and ids, never record data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorInfo>,
}

/// A saga with its input, outcome and step history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SagaDetail {
    #[serde(flatten)]
    pub summary: SagaSummary,
    pub input: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorInfo>,
    pub cancel_requested: bool,
    pub steps: Vec<StepEntry>,
}

/// A saga type as `GET /v1/sagas/types` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SagaTypeInfo {
    #[serde(rename = "type")]
    pub saga_type: SagaType,
    pub description: String,
    pub input_schema: Value,
}

/// The stored saga: what the API shows plus what the steps need (the execution id, the
/// fingerprint an idempotency key is checked against, the plan's size).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SagaRecord {
    pub tenant_id: String,
    pub id: String,
    #[serde(rename = "type")]
    pub saga_type: SagaType,
    pub status: SagaStatus,
    pub input: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorInfo>,
    #[serde(default)]
    pub cancel_requested: bool,
    /// The execution's id (an ARN on Step Functions), once started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_id: Option<String>,
    /// sha256 of the canonical type and input, for a repeated idempotency key.
    pub fingerprint: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operations: Option<usize>,
    /// The chunks the plan holds (known at start for a transaction, after `diff` for a sync).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunks: Option<u32>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl SagaRecord {
    pub fn summary(&self) -> SagaSummary {
        SagaSummary {
            id: self.id.clone(),
            saga_type: self.saga_type,
            status: self.status,
            created_at: self.created_at,
            updated_at: self.updated_at,
            operations: self.operations,
        }
    }

    pub fn started(&self) -> Started {
        Started {
            id: self.id.clone(),
            saga_type: self.saga_type,
            status: self.status,
            created_at: self.created_at,
        }
    }

    pub fn detail(&self, steps: Vec<StepEntry>) -> SagaDetail {
        SagaDetail {
            summary: self.summary(),
            input: self.input.clone(),
            output: self.output.clone(),
            error: self.error.clone(),
            cancel_requested: self.cancel_requested,
            steps,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn names_round_trip_and_match_the_machines() {
        for t in SagaType::ALL {
            assert_eq!(SagaType::parse(t.as_str()), Some(t));
            assert_eq!(serde_json::to_value(t).ok(), Some(json!(t.as_str())));
            assert_eq!(t.machine().0, t.as_str());
        }
        for s in SagaStatus::ALL {
            assert_eq!(SagaStatus::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).ok(), Some(json!(s.as_str())));
        }
        assert!(!SagaStatus::Running.is_finished());
        assert!(!SagaStatus::Compensating.is_finished());
        assert!(SagaStatus::Compensated.is_finished());
    }
}
