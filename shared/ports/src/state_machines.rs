//! The state-machine port: start, describe and stop executions of the saga state machines.
//! Production uses Step Functions; the local runner of the same ASL files plugs in here too.

use std::collections::BTreeMap;
use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;

/// A logical state machine name, e.g. `transaction` or `bulk-import`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MachineName(pub String);

impl MachineName {
    pub fn new(name: impl Into<String>) -> Self {
        Self(name.into())
    }
}

impl fmt::Display for MachineName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The outcome of a start.
#[derive(Debug, Clone, PartialEq)]
pub struct StartedExecution {
    /// The execution's id (an ARN on AWS).
    pub execution_id: String,
    pub started_at: DateTime<Utc>,
    /// True when an execution of that name with the same input already existed and was returned
    /// instead of starting a second one.
    pub already_existed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutionStatus {
    Running,
    Succeeded,
    Failed,
    TimedOut,
    Aborted,
}

impl ExecutionStatus {
    pub fn is_terminal(self) -> bool {
        !matches!(self, ExecutionStatus::Running)
    }
}

/// What describe returns.
#[derive(Debug, Clone, PartialEq)]
pub struct Execution {
    pub execution_id: String,
    pub name: String,
    pub status: ExecutionStatus,
    pub input: Value,
    pub output: Option<Value>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub started_at: DateTime<Utc>,
    pub stopped_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateMachineError {
    #[error("unknown state machine {0:?}")]
    UnknownMachine(String),
    #[error("no execution {0:?}")]
    ExecutionNotFound(String),
    /// An execution of this name exists with a different input.
    #[error("an execution named {0:?} already exists with another input")]
    AlreadyExists(String),
    #[error("invalid state machine request: {0}")]
    Invalid(String),
    #[error("state machines unavailable: {0}")]
    Unavailable(String),
}

/// Checks an execution name as Step Functions does (1-80 characters, no spaces or wildcards).
pub fn validate_execution_name(name: &str) -> Result<(), StateMachineError> {
    let ok = !name.is_empty()
        && name.len() <= 80
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(StateMachineError::Invalid(format!(
            "execution name {name:?} must be 1-80 letters, digits, - or _"
        )))
    }
}

/// Replaces every `${Name}` in `text` by `substitutions[Name]`, as CloudFormation does with a
/// state machine's `DefinitionSubstitutions`. A placeholder with no value is an error: the
/// machine would otherwise run with a literal `${...}` where an ARN belongs.
pub fn substitute_definition(
    text: &str,
    substitutions: &BTreeMap<String, String>,
) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err("an unterminated ${ placeholder".to_string());
        };
        let name = &after[..end];
        let value = substitutions
            .get(name)
            .ok_or_else(|| format!("no substitution for ${{{name}}}"))?;
        out.push_str(value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The state-machine port.
#[async_trait]
pub trait StateMachines: Send + Sync + fmt::Debug {
    /// Starts an execution named `execution_name`. Starting the same name with the same input
    /// again returns the existing execution (so a retried request does not start a second);
    /// the same name with another input is [`StateMachineError::AlreadyExists`].
    async fn start(
        &self,
        machine: &MachineName,
        execution_name: &str,
        input: Value,
    ) -> Result<StartedExecution, StateMachineError>;

    async fn describe(&self, execution_id: &str) -> Result<Execution, StateMachineError>;

    /// Stops a running execution (it ends `Aborted`); stopping a finished one changes nothing.
    async fn stop(
        &self,
        execution_id: &str,
        error: Option<&str>,
        cause: Option<&str>,
    ) -> Result<(), StateMachineError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn placeholders_are_replaced_and_the_rest_kept() {
        let text = r#"{"a": "${Fn}", "b": "x${Fn}y", "c": "{}"}"#;
        assert_eq!(
            substitute_definition(text, &subs(&[("Fn", "arn:1")])).expect("substituted"),
            r#"{"a": "arn:1", "b": "xarn:1y", "c": "{}"}"#
        );
    }

    #[test]
    fn a_placeholder_without_a_value_is_an_error_naming_it() {
        let err = substitute_definition(r#"{"a": "${Missing}"}"#, &subs(&[])).expect_err("missing");
        assert!(err.contains("${Missing}"), "{err}");
        assert!(substitute_definition(r#"{"a": "${open"}"#, &subs(&[])).is_err());
    }
}
