//! The sagas' one error type, for the API's calls. The HTTP layer maps each variant to a status
//! and an error type (`INVALID_SAGA_INPUT`, `TOO_MANY_OPERATIONS`, `SAGA_FINISHED`, …); the
//! saga-step task has its own failures ([`triggers::TaskError`]).

use ports::{StateMachineError, StoreError};

/// One problem in a saga's input, with the JSON pointer of the offending value
/// (`/operations/3/op`): the automations' problem type, so both APIs report alike.
pub use automations::Problem;

/// The most operations one transaction may hold.
pub const MAX_OPERATIONS: usize = 1000;

#[derive(Debug, thiserror::Error)]
pub enum SagaError {
    /// 422 `INVALID_SAGA_INPUT`, with `error.problems`.
    #[error("invalid saga input: {}", join(problems))]
    InvalidInput { problems: Vec<Problem> },
    /// 422 `TOO_MANY_OPERATIONS`.
    #[error("a transaction holds at most {limit} operations; this one has {given}")]
    TooManyOperations { limit: usize, given: usize },
    /// 422: the type is none of `GET /v1/sagas/types`.
    #[error("unknown saga type {0:?}")]
    UnknownType(String),
    /// 404.
    #[error("saga {0} not found")]
    NotFound(String),
    /// 409 `SAGA_FINISHED`: a cancel of a saga that has ended.
    #[error("saga {id} has already finished ({status})")]
    Finished { id: String, status: String },
    /// 409: the idempotency key already started a saga with another type or input.
    #[error("the idempotency key already started saga {0} with another input")]
    IdempotencyConflict(String),
    /// 503: the store or the state machines are unavailable (details in the log).
    #[error("sagas unavailable: {0}")]
    Unavailable(String),
}

fn join(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(Problem::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl SagaError {
    /// One problem at one path.
    pub fn invalid(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self::InvalidInput {
            problems: vec![Problem::new(path, message)],
        }
    }
}

impl From<StoreError> for SagaError {
    fn from(err: StoreError) -> Self {
        SagaError::Unavailable(format!("store: {err}"))
    }
}

impl From<StateMachineError> for SagaError {
    fn from(err: StateMachineError) -> Self {
        SagaError::Unavailable(format!("state machines: {err}"))
    }
}
