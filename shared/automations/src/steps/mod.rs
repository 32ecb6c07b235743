//! What each step type does once its parameters are rendered. The executor owns the order,
//! the checkpoints and the control flow (`condition`, `delay`); the modules here own the effects
//! and say whether a failure is worth retrying ([`StepError`]).

pub mod airtable;
pub mod condition;
pub mod http;
pub mod llm;

use serde_json::Value;

use crate::model::{RunId, WorkflowId};

pub use airtable::AirtableSteps;
pub use http::HttpSteps;
pub use llm::LlmSteps;

/// Why a step did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StepError {
    /// May succeed later (a 429, a 5xx, a network failure, our rate-limit wait running out):
    /// the run's message comes back with backoff, up to the queue's receive limit.
    #[error("{0}")]
    Transient(String),
    /// May succeed, but not before this long (a write still in progress elsewhere, a
    /// `Retry-After`): the message stays hidden at least that long.
    #[error("{0}")]
    Later(String, std::time::Duration),
    /// Cannot succeed as written (a refusal, a bad parameter, the budget): the run fails.
    #[error("{0}")]
    Permanent(String),
}

impl StepError {
    pub fn is_transient(&self) -> bool {
        matches!(self, StepError::Transient(_) | StepError::Later(..))
    }
}

/// Who a step runs for, and the key its side effect is deduplicated by.
#[derive(Debug, Clone)]
pub struct StepScope<'a> {
    pub tenant_id: &'a str,
    pub workflow_id: &'a WorkflowId,
    pub run_id: &'a RunId,
    pub index: usize,
}

impl StepScope<'_> {
    /// `run:<id>:step:<index>`: the same on every delivery of the run, so a repeated write is
    /// recognised downstream (the gateway's idempotency records, an `http` receiver).
    pub fn idempotency_key(&self) -> String {
        format!("run:{}:step:{}", self.run_id, self.index)
    }
}

/// A step's output: what later templates read as `steps.<id>.output`.
pub type StepOutput = Value;

/// The services steps with effects use. A missing one makes its steps fail permanently with a
/// clear message (a deployment or test without, say, a model catalog).
#[derive(Debug, Clone, Default)]
pub struct StepServices {
    pub airtable: Option<AirtableSteps>,
    pub llm: Option<LlmSteps>,
    pub http: Option<HttpSteps>,
}

pub(crate) fn not_configured(kind: &str) -> StepError {
    StepError::Permanent(format!("{kind} steps are not available in this deployment"))
}
