//! The two kinds of error: a definition this interpreter refuses to load, and a named runtime
//! error (`States.Runtime`, a task's own error, ...) that Retry and Catch match by name.

use serde::{Deserialize, Serialize};

/// A definition that cannot be run: it names the state and the field, so a machine author
/// knows where to look without reading the interpreter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.describe())]
pub struct DefinitionError {
    /// The state, when the problem is inside one (branch states are named by their own name).
    pub state: Option<String>,
    /// The field of that state (or of the machine), when one is to blame.
    pub field: Option<String>,
    pub message: String,
}

impl DefinitionError {
    pub fn machine(field: Option<&str>, message: impl Into<String>) -> Self {
        Self {
            state: None,
            field: field.map(str::to_string),
            message: message.into(),
        }
    }

    pub fn at(state: &str, field: Option<&str>, message: impl Into<String>) -> Self {
        Self {
            state: Some(state.to_string()),
            field: field.map(str::to_string),
            message: message.into(),
        }
    }

    fn describe(&self) -> String {
        match (&self.state, &self.field) {
            (Some(state), Some(field)) => {
                format!("state '{state}', field {field}: {}", self.message)
            }
            (Some(state), None) => format!("state '{state}': {}", self.message),
            (None, Some(field)) => format!("field {field}: {}", self.message),
            (None, None) => self.message.clone(),
        }
    }
}

/// The error names the States language defines (the ones this interpreter raises or matches).
pub mod names {
    pub const ALL: &str = "States.ALL";
    pub const TASK_FAILED: &str = "States.TaskFailed";
    pub const TIMEOUT: &str = "States.Timeout";
    pub const RUNTIME: &str = "States.Runtime";
    pub const NO_CHOICE_MATCHED: &str = "States.NoChoiceMatched";
    pub const INTRINSIC_FAILURE: &str = "States.IntrinsicFailure";
    pub const PARAMETER_PATH_FAILURE: &str = "States.ParameterPathFailure";
    pub const RESULT_PATH_MATCH_FAILURE: &str = "States.ResultPathMatchFailure";
    pub const ITEM_READER_FAILED: &str = "States.ItemReaderFailed";
    pub const BRANCH_FAILED: &str = "States.BranchFailed";
    pub const PERMISSIONS: &str = "States.Permissions";
    pub const HEARTBEAT_TIMEOUT: &str = "States.HeartbeatTimeout";
    pub const DATA_LIMIT_EXCEEDED: &str = "States.DataLimitExceeded";
}

/// A named error raised while running: what a Catch receives as `{"Error", "Cause"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{error}: {cause}")]
pub struct StatesError {
    #[serde(rename = "Error")]
    pub error: String,
    #[serde(rename = "Cause")]
    pub cause: String,
}

impl StatesError {
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        Self {
            error: error.into(),
            cause: cause.into(),
        }
    }

    pub fn runtime(cause: impl Into<String>) -> Self {
        Self::new(names::RUNTIME, cause)
    }

    pub fn intrinsic(cause: impl Into<String>) -> Self {
        Self::new(names::INTRINSIC_FAILURE, cause)
    }

    /// AWS: "A retry or catch on States.ALL won't catch States.Runtime errors" and the data
    /// limit is terminal too; both end the execution whatever the Retry and Catch fields say.
    pub fn is_terminal(&self) -> bool {
        self.error == names::RUNTIME || self.error == names::DATA_LIMIT_EXCEEDED
    }

    /// Whether an `ErrorEquals` list matches this error.
    pub fn matches(&self, error_equals: &[String]) -> bool {
        if self.is_terminal() {
            return false;
        }
        error_equals.iter().any(|name| {
            name == &self.error
                || name == names::ALL
                || (name == names::TASK_FAILED && self.error != names::TIMEOUT)
        })
    }

    /// The value a Catch writes at its ResultPath.
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::json!({"Error": self.error, "Cause": self.cause})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(names: &[&str]) -> Vec<String> {
        names.iter().map(|name| name.to_string()).collect()
    }

    #[test]
    fn error_equals_matching() {
        let custom = StatesError::new("CustomError", "x");
        assert!(custom.matches(&list(&["CustomError"])));
        assert!(custom.matches(&list(&["States.ALL"])));
        assert!(custom.matches(&list(&["States.TaskFailed"])));
        assert!(!custom.matches(&list(&["Other"])));
        let timeout = StatesError::new(names::TIMEOUT, "x");
        assert!(!timeout.matches(&list(&["States.TaskFailed"])));
        assert!(timeout.matches(&list(&["States.ALL"])));
        let runtime = StatesError::runtime("bad path");
        assert!(!runtime.matches(&list(&["States.ALL", "States.Runtime"])));
    }
}
