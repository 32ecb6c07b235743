//! The automations' one error type. The HTTP layer maps each variant to a status
//! (`http-api`'s `from_domain`); workers map them to retry or give up.

use ports::{QueueError, StoreError};

/// One problem in a workflow or a request, with the JSON path of the offending field
/// (`/steps/2/fields/Stage`, `/trigger/cron`), as `POST /v1/workflows/validate` reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

impl Problem {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AutomationError {
    /// The workflow or request is invalid; nothing was saved or started.
    #[error("invalid workflow: {}", join(.0))]
    Invalid(Vec<Problem>),
    #[error("{0} not found")]
    NotFound(String),
    /// A concurrent change won (version mismatch), or the state forbids it (e.g. cancelling a
    /// finished run).
    #[error("{0}")]
    Conflict(String),
    /// The tenant has no Airtable connection, or Airtable refused the tenant's token.
    #[error("{0}")]
    NotConnected(String),
    /// A signature or MAC did not verify.
    #[error("{0}")]
    Unauthorized(String),
    /// Airtable answered an error (its message, never a secret).
    #[error("Airtable: {0}")]
    Airtable(String),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("queue: {0}")]
    Queue(#[from] QueueError),
}

fn join(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(Problem::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl AutomationError {
    /// One problem at one path.
    pub fn invalid(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid(vec![Problem::new(path, message)])
    }
}
