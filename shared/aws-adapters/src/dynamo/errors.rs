//! SDK errors -> [`StoreError`]. Conditional-check failures are the port's `ConditionFailed`;
//! DynamoDB's `ValidationException` means the request itself was malformed (an attribute of the
//! wrong type for a counter, an oversize item), which the port calls `InvalidItem`; anything
//! else is the backend's problem and carries the SDK's whole error chain for the log.

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use ports::StoreError;

pub fn store_error<E, R>(operation: &str, err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    match err.code() {
        Some("ConditionalCheckFailedException") => StoreError::ConditionFailed,
        Some("ValidationException") => StoreError::InvalidItem(format!(
            "{operation}: {}",
            err.message().unwrap_or("DynamoDB refused the request")
        )),
        _ => unavailable(operation, &err),
    }
}

fn unavailable<E, R>(operation: &str, err: &SdkError<E, R>) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    StoreError::Unavailable(format!(
        "DynamoDB {operation}: {}",
        DisplayErrorContext(err)
    ))
}

/// A stored item this adapter cannot read back (written by something else).
pub fn unreadable(detail: String) -> StoreError {
    StoreError::Unavailable(format!("a stored item is not readable: {detail}"))
}
