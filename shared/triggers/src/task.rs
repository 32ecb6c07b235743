//! Step Functions tasks (`arn:aws:states:::lambda:invoke`): JSON in, JSON out, and failures as
//! named errors a state machine can match.
//!
//! When a Lambda function invoked by a Task state fails, Step Functions takes the function
//! error's `errorType` as the state's `Error` (and `errorMessage` as its `Cause`), which is what
//! `Retry[].ErrorEquals` and `Catch[].ErrorEquals` match. `lambda_runtime` posts a handler's
//! error to the Runtime API as the JSON of a [`Diagnostic`] (`{"errorType", "errorMessage"}`,
//! see `EventErrorRequest` in lambda_runtime 1.5's `requests.rs`); its own conversions name the
//! Rust type (`alloc::boxed::Box<dyn core::error::Error>`), which no state machine could match.
//! So [`TaskError`] converts into a `Diagnostic` whose `errorType` is one of the closed set of
//! [`TaskErrorName`]s, and [`RETRYABLE_ERRORS`] is the list a `Retry` names.
//!
//! Besides ours, a Task should also retry the service's own transient errors
//! (`Lambda.ServiceException`, `Lambda.AWSLambdaException`, `Lambda.SdkClientException`,
//! `Lambda.TooManyRequestsException`), which Step Functions raises before our code runs.

use std::fmt;
#[cfg(feature = "lambda")]
use std::sync::Arc;

use async_trait::async_trait;
#[cfg(feature = "lambda")]
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The names a task can fail with: the `Error` a state machine's `Retry`/`Catch` matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TaskErrorName {
    /// A rate limit said "later" (Airtable's 429, DynamoDB throttling). Retryable.
    Throttled,
    /// A dependency is down or unreachable. Retryable.
    Unavailable,
    /// The step ran out of time before finishing. Retryable.
    Timeout,
    /// The input is wrong; retrying the same input fails the same way.
    InvalidInput,
    /// Something the step needs does not exist.
    NotFound,
    /// The state is not what the step expects (a condition failed, a duplicate exists).
    Conflict,
    /// Any other failure; not retried, so the saga compensates.
    Failed,
    /// Someone asked for the work to stop (a saga's cancel flag); not retried, so the saga
    /// compensates, and its outcome says it was cancelled rather than failed.
    Cancelled,
}

/// The `ErrorEquals` of a Task's `Retry`: the names of the failures worth retrying.
pub const RETRYABLE_ERRORS: [&str; 3] = [
    "Platform.Throttled",
    "Platform.Unavailable",
    "Platform.Timeout",
];

impl TaskErrorName {
    pub const ALL: [TaskErrorName; 8] = [
        TaskErrorName::Throttled,
        TaskErrorName::Unavailable,
        TaskErrorName::Timeout,
        TaskErrorName::InvalidInput,
        TaskErrorName::NotFound,
        TaskErrorName::Conflict,
        TaskErrorName::Failed,
        TaskErrorName::Cancelled,
    ];

    /// The name as a state machine sees it: `Platform.Throttled`, ….
    pub fn as_str(self) -> &'static str {
        match self {
            TaskErrorName::Throttled => "Platform.Throttled",
            TaskErrorName::Unavailable => "Platform.Unavailable",
            TaskErrorName::Timeout => "Platform.Timeout",
            TaskErrorName::InvalidInput => "Platform.InvalidInput",
            TaskErrorName::NotFound => "Platform.NotFound",
            TaskErrorName::Conflict => "Platform.Conflict",
            TaskErrorName::Failed => "Platform.Failed",
            TaskErrorName::Cancelled => "Platform.Cancelled",
        }
    }

    /// Whether the same input may succeed later.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            TaskErrorName::Throttled | TaskErrorName::Unavailable | TaskErrorName::Timeout
        )
    }

    /// The name from its string form (e.g. the `Error` of a failed execution).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|known| known.as_str() == name)
    }
}

impl fmt::Display for TaskErrorName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A task's failure: a name from the closed set, and a message for the execution's `Cause`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name}: {message}")]
pub struct TaskError {
    pub name: TaskErrorName,
    pub message: String,
}

impl TaskError {
    pub fn new(name: TaskErrorName, message: impl Into<String>) -> Self {
        Self {
            name,
            message: message.into(),
        }
    }

    pub fn throttled(message: impl Into<String>) -> Self {
        Self::new(TaskErrorName::Throttled, message)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(TaskErrorName::Unavailable, message)
    }

    pub fn timeout(message: impl Into<String>) -> Self {
        Self::new(TaskErrorName::Timeout, message)
    }

    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(TaskErrorName::InvalidInput, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(TaskErrorName::NotFound, message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(TaskErrorName::Conflict, message)
    }

    pub fn failed(message: impl Into<String>) -> Self {
        Self::new(TaskErrorName::Failed, message)
    }

    pub fn cancelled(message: impl Into<String>) -> Self {
        Self::new(TaskErrorName::Cancelled, message)
    }

    pub fn is_retryable(&self) -> bool {
        self.name.is_retryable()
    }
}

/// What `lambda_runtime` posts to the Runtime API, so `errorType` is the name.
#[cfg(feature = "lambda")]
impl From<TaskError> for Diagnostic {
    fn from(err: TaskError) -> Self {
        Diagnostic {
            error_type: err.name.as_str().to_string(),
            error_message: err.message,
        }
    }
}

impl From<ports::StoreError> for TaskError {
    fn from(err: ports::StoreError) -> Self {
        use ports::StoreError;
        let name = match &err {
            StoreError::ConditionFailed | StoreError::TransactionCanceled { .. } => {
                TaskErrorName::Conflict
            }
            StoreError::InvalidItem(_) => TaskErrorName::InvalidInput,
            StoreError::Unavailable(_) => TaskErrorName::Unavailable,
        };
        Self::new(name, err.to_string())
    }
}

impl From<ports::QueueError> for TaskError {
    fn from(err: ports::QueueError) -> Self {
        use ports::QueueError;
        let name = match &err {
            QueueError::Invalid(_) => TaskErrorName::InvalidInput,
            QueueError::InvalidReceipt => TaskErrorName::Failed,
            QueueError::Unavailable(_) => TaskErrorName::Unavailable,
        };
        Self::new(name, err.to_string())
    }
}

impl From<ports::StateMachineError> for TaskError {
    fn from(err: ports::StateMachineError) -> Self {
        use ports::StateMachineError;
        let name = match &err {
            StateMachineError::ExecutionNotFound(_) => TaskErrorName::NotFound,
            StateMachineError::AlreadyExists(_) => TaskErrorName::Conflict,
            StateMachineError::Invalid(_) => TaskErrorName::InvalidInput,
            StateMachineError::Unavailable(_) => TaskErrorName::Unavailable,
            // A machine the code names but the deployment lacks: retrying will not deploy it.
            StateMachineError::UnknownMachine(_) => TaskErrorName::Failed,
        };
        Self::new(name, err.to_string())
    }
}

impl From<ports::SecretError> for TaskError {
    fn from(err: ports::SecretError) -> Self {
        use ports::SecretError;
        let name = match &err {
            SecretError::InvalidName(_) => TaskErrorName::InvalidInput,
            SecretError::Unavailable(_) => TaskErrorName::Unavailable,
        };
        Self::new(name, err.to_string())
    }
}

/// The task input as `T`; input that does not fit is `Platform.InvalidInput` (not retried).
pub fn parse_input<T: DeserializeOwned>(input: Value) -> Result<T, TaskError> {
    serde_json::from_value(input)
        .map_err(|err| TaskError::invalid_input(format!("the task input does not fit: {err}")))
}

/// One kind of Step Functions task. It holds what it needs (built from the platform once per
/// process); the same value serves Lambda and the local state-machine runner.
#[async_trait]
pub trait TaskHandler: Send + Sync + 'static {
    async fn run(&self, input: Value) -> Result<Value, TaskError>;
}

/// Runs `handler` as a Step Functions task function until the runtime stops.
#[cfg(feature = "lambda")]
pub async fn serve_task(handler: Arc<dyn TaskHandler>) -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let handler = Arc::clone(&handler);
        async move { run_task(handler.as_ref(), event.payload).await }
    }))
    .await
}

/// Runs one task, logging a failure with its name (the runtime logs only the Diagnostic).
pub async fn run_task(handler: &dyn TaskHandler, input: Value) -> Result<Value, TaskError> {
    handler.run(input).await.inspect_err(|err| {
        tracing::warn!(error_name = %err.name, retryable = err.is_retryable(), message = %err.message, "task failed");
    })
}

#[cfg(all(test, feature = "lambda"))]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    use super::*;

    const SAGA_STEP: &str = include_str!("../../../events/task-saga-step.json");

    /// The saga-step input (`{"action", "tenant", "saga", "index"?}`), as the machines send it.
    #[derive(Deserialize)]
    struct StepInput {
        action: String,
        saga: String,
        index: Option<u32>,
    }

    /// Completes known actions; an action named `missing-table` fails as `Platform.NotFound`.
    struct SagaStep;

    #[async_trait]
    impl TaskHandler for SagaStep {
        async fn run(&self, input: Value) -> Result<Value, TaskError> {
            let input: StepInput = parse_input(input)?;
            if input.action == "missing-table" {
                return Err(TaskError::not_found("table Tasks does not exist"));
            }
            Ok(
                json!({"saga": input.saga, "action": input.action, "index": input.index, "done": true}),
            )
        }
    }

    fn sample() -> Value {
        serde_json::from_str(SAGA_STEP).expect("the sample task input is JSON")
    }

    /// The body `lambda_runtime` posts to `/runtime/invocation/{id}/error`.
    fn runtime_error_body(err: TaskError) -> Value {
        serde_json::to_value(Diagnostic::from(err)).expect("a Diagnostic serializes")
    }

    #[tokio::test]
    async fn a_task_turns_its_json_input_into_json_output() {
        let output = run_task(&SagaStep, sample())
            .await
            .expect("the step succeeds");
        assert_eq!(
            output,
            json!({"saga": "sag_Demo0000000000000001", "action": "apply", "index": 2, "done": true})
        );
    }

    #[tokio::test]
    async fn a_failure_reaches_step_functions_with_its_name_as_error_type() {
        let mut input = sample();
        input["action"] = "missing-table".into();
        let err = run_task(&SagaStep, input)
            .await
            .expect_err("the step fails");
        assert!(!err.is_retryable());
        assert_eq!(
            runtime_error_body(err),
            json!({"errorType": "Platform.NotFound", "errorMessage": "table Tasks does not exist"})
        );
    }

    #[tokio::test]
    async fn input_that_does_not_fit_is_invalid_input() {
        let err = run_task(&SagaStep, json!({"saga": 7}))
            .await
            .expect_err("bad input");
        assert_eq!(
            runtime_error_body(err)["errorType"],
            "Platform.InvalidInput"
        );
    }

    #[test]
    fn the_retryable_list_is_exactly_the_retryable_names() {
        let retryable: Vec<&str> = TaskErrorName::ALL
            .into_iter()
            .filter(|name| name.is_retryable())
            .map(TaskErrorName::as_str)
            .collect();
        assert_eq!(retryable, RETRYABLE_ERRORS);
        for name in TaskErrorName::ALL {
            assert_eq!(TaskErrorName::parse(name.as_str()), Some(name));
            assert!(name.as_str().starts_with("Platform."));
        }
        assert_eq!(TaskErrorName::parse("States.ALL"), None);
        // A cancel is compensated, never retried.
        assert_eq!(
            TaskError::cancelled("stop").name.as_str(),
            "Platform.Cancelled"
        );
        assert!(!TaskErrorName::Cancelled.is_retryable());
    }

    #[test]
    fn port_errors_map_to_names_by_whether_retrying_can_help() {
        let cases: [(TaskError, TaskErrorName); 5] = [
            (
                ports::StoreError::Unavailable("throttled".into()).into(),
                TaskErrorName::Unavailable,
            ),
            (
                ports::StoreError::ConditionFailed.into(),
                TaskErrorName::Conflict,
            ),
            (
                ports::QueueError::Invalid("too big".into()).into(),
                TaskErrorName::InvalidInput,
            ),
            (
                ports::StateMachineError::ExecutionNotFound("x".into()).into(),
                TaskErrorName::NotFound,
            ),
            (
                ports::SecretError::Unavailable("down".into()).into(),
                TaskErrorName::Unavailable,
            ),
        ];
        for (err, name) in cases {
            assert_eq!(err.name, name, "{err}");
        }
    }
}
