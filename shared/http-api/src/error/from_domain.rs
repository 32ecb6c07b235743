//! How each domain and port error is told to an HTTP caller. The conversions live here, in the
//! HTTP crate, so that the domain crates know nothing of HTTP: a queue consumer or a saga step
//! uses the same domain errors and maps them to its own trigger's failures instead.

use accounts::AccountError;
use airtable::AirtableError;
use automations::AutomationError;
use connections::ConnectionError;
use gateway::GatewayError;
use ports::{QueueError, SecretError, StateMachineError, StoreError};
use sagas::SagaError;

use super::{ApiError, ErrorKind};

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::ConditionFailed | StoreError::TransactionCanceled { .. } => {
                ApiError::conflict("The resource was changed concurrently; try again")
            }
            StoreError::InvalidItem(detail) | StoreError::Unavailable(detail) => {
                ApiError::internal(detail)
            }
        }
    }
}

impl From<QueueError> for ApiError {
    fn from(err: QueueError) -> Self {
        ApiError::internal(err)
    }
}

impl From<SecretError> for ApiError {
    fn from(err: SecretError) -> Self {
        ApiError::internal(err)
    }
}

impl From<StateMachineError> for ApiError {
    fn from(err: StateMachineError) -> Self {
        match err {
            StateMachineError::ExecutionNotFound(_) => ApiError::not_found("No such execution"),
            StateMachineError::AlreadyExists(name) => ApiError::conflict(format!(
                "An execution named {name:?} already exists with another input"
            )),
            other => ApiError::internal(other),
        }
    }
}

impl From<AccountError> for ApiError {
    fn from(err: AccountError) -> Self {
        let message = err.to_string();
        match err {
            AccountError::Invalid(_) => ApiError::bad_request(message),
            AccountError::EmailTaken => ApiError::conflict(message).with_type("EMAIL_TAKEN"),
            AccountError::BadCredentials => {
                ApiError::unauthenticated(message).with_type("INVALID_CREDENTIALS")
            }
            AccountError::Locked { retry_after } => {
                ApiError::rate_limited(message, retry_after).with_type("ACCOUNT_LOCKED")
            }
            AccountError::Unauthenticated(_) => ApiError::unauthenticated(message),
            AccountError::Forbidden(_) => ApiError::forbidden(message),
            AccountError::NotFound(_) => ApiError::not_found(message),
            AccountError::Store(err) => err.into(),
            AccountError::Secrets(err) => err.into(),
            AccountError::Internal(detail) => ApiError::internal(detail),
        }
    }
}

impl From<AirtableError> for ApiError {
    fn from(err: AirtableError) -> Self {
        match err {
            AirtableError::Api {
                status,
                error_type,
                message,
                retry_after,
            } if (400..500).contains(&status) => {
                // Airtable's own status, except that a 4xx we have no kind for is told as 422
                // (the request was understood and refused) rather than as a malformed one.
                let kind =
                    match axum::http::StatusCode::from_u16(status).map(ErrorKind::from_status) {
                        Ok(ErrorKind::BadRequest) if status != 400 => ErrorKind::Unprocessable,
                        Ok(kind) => kind,
                        Err(_) => ErrorKind::Unprocessable,
                    };
                let mut api = ApiError::new(kind, message).with_type(error_type);
                if status == 429 {
                    api = api.with_retry_after(
                        retry_after
                            .map(airtable::error::retry_after_seconds)
                            .unwrap_or(30),
                    );
                }
                api
            }
            AirtableError::Api {
                status, error_type, ..
            } => {
                tracing::warn!(status, %error_type, "Airtable failed upstream");
                ApiError::new(
                    ErrorKind::BadGateway,
                    format!("Airtable failed ({status} {error_type}); try again"),
                )
            }
            AirtableError::RateLimited { retry_after } => ApiError::rate_limited(
                "Too many requests to this Airtable base right now; retry after the given delay",
                airtable::error::retry_after_seconds(retry_after),
            ),
            AirtableError::Network { timed_out, .. } if timed_out => {
                ApiError::new(ErrorKind::GatewayTimeout, "Airtable did not answer in time")
            }
            AirtableError::Network { message, .. } => {
                tracing::warn!(%message, "network error talking to Airtable");
                ApiError::new(ErrorKind::BadGateway, "Could not reach Airtable; try again")
            }
            AirtableError::Decode { status, message } => {
                tracing::warn!(status, %message, "undecodable Airtable answer");
                ApiError::new(
                    ErrorKind::BadGateway,
                    "Airtable sent an answer we could not read",
                )
            }
            AirtableError::InvalidRequest(message) => ApiError::unprocessable(message),
            AirtableError::Limiter(detail) => {
                tracing::error!(%detail, "Airtable rate limiter unavailable");
                ApiError::unavailable("The Airtable rate limiter is unavailable; try again")
            }
            AirtableError::Config(detail) => ApiError::internal(detail),
        }
    }
}

impl From<ConnectionError> for ApiError {
    fn from(err: ConnectionError) -> Self {
        let message = err.to_string();
        match err {
            ConnectionError::Invalid(_) => ApiError::bad_request(message),
            ConnectionError::Refused(_) => {
                ApiError::unprocessable(message).with_type("AIRTABLE_TOKEN_REJECTED")
            }
            ConnectionError::NotConnected => {
                ApiError::not_found(message).with_type("NOT_CONNECTED")
            }
            ConnectionError::Airtable(err) => err.into(),
            ConnectionError::Store(err) => err.into(),
            ConnectionError::Secrets(err) => err.into(),
        }
    }
}

impl From<GatewayError> for ApiError {
    fn from(err: GatewayError) -> Self {
        match err {
            GatewayError::NotConnected => ApiError::new(
                ErrorKind::Conflict,
                "This account has no Airtable connection yet. An admin connects one with PUT /v1/connections/airtable and a body {\"token\": \"<Airtable personal access token>\"}.",
            )
            .with_type("AIRTABLE_NOT_CONNECTED"),
            GatewayError::ConnectedTokenRejected => ApiError::new(
                ErrorKind::Conflict,
                "Airtable refused this account's connected token (revoked or expired). An admin reconnects with PUT /v1/connections/airtable and a new token.",
            )
            .with_type("AIRTABLE_TOKEN_REJECTED"),
            GatewayError::Connection(err) => err.into(),
            // Airtable's own type, so clients that retry Airtable's 429 retry ours.
            GatewayError::Airtable(AirtableError::RateLimited { retry_after }) => {
                ApiError::rate_limited(
                    "Rate limit exceeded. Airtable's limit for this base cannot serve the request within the gateway's latency budget; retry after the given delay",
                    retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0),
                )
                .with_type("RATE_LIMIT_REACHED")
            }
            GatewayError::Airtable(err) => err.into(),
            GatewayError::IdempotencyKeyReused => ApiError::unprocessable(
                "This Idempotency-Key was already used with a different request; use a new key for a new request",
            )
            .with_type("IDEMPOTENCY_KEY_REUSED"),
            GatewayError::IdempotencyKeyInUse => ApiError::conflict(
                "A request with this Idempotency-Key is still in progress; retry shortly",
            )
            .with_type("IDEMPOTENCY_KEY_IN_USE")
            .with_retry_after(1),
            GatewayError::IdempotentAnswerNotKept => ApiError::conflict(
                "The first request with this Idempotency-Key succeeded, but its answer was too large to keep; read the records to see its result",
            )
            .with_type("IDEMPOTENCY_ANSWER_NOT_KEPT"),
            GatewayError::IdempotencyStore(err) => {
                tracing::error!(error = %err, "idempotency records unavailable");
                ApiError::unavailable(
                    "Idempotent writes are unavailable right now; nothing was written. Retry shortly",
                )
            }
        }
    }
}

impl From<AutomationError> for ApiError {
    fn from(err: AutomationError) -> Self {
        match err {
            AutomationError::Invalid(problems) => {
                let message = match problems.as_slice() {
                    [only] => format!("The workflow is invalid: {only}"),
                    _ => format!(
                        "The workflow is invalid: {} problems (see error.problems)",
                        problems.len()
                    ),
                };
                ApiError::unprocessable(message)
                    .with_type("INVALID_WORKFLOW")
                    .with_problems(serde_json::to_value(&problems).unwrap_or_default())
            }
            AutomationError::NotFound(what) => ApiError::not_found(format!("No such {what}")),
            AutomationError::Conflict(message) => ApiError::conflict(message),
            AutomationError::NotConnected(message) => {
                ApiError::conflict(message).with_type("AIRTABLE_NOT_CONNECTED")
            }
            AutomationError::Unauthorized(message) => {
                ApiError::new(ErrorKind::Unauthenticated, message).with_type("INVALID_SIGNATURE")
            }
            AutomationError::Airtable(message) => {
                ApiError::new(ErrorKind::BadGateway, format!("Airtable: {message}"))
            }
            AutomationError::Store(err) => err.into(),
            AutomationError::Queue(err) => err.into(),
        }
    }
}

impl From<SagaError> for ApiError {
    fn from(err: SagaError) -> Self {
        let message = err.to_string();
        match err {
            SagaError::InvalidInput { problems } => {
                let message = match problems.as_slice() {
                    [only] => format!("The saga's input is invalid: {only}"),
                    _ => format!(
                        "The saga's input is invalid: {} problems (see error.problems)",
                        problems.len()
                    ),
                };
                ApiError::unprocessable(message)
                    .with_type("INVALID_SAGA_INPUT")
                    .with_problems(serde_json::to_value(&problems).unwrap_or_default())
            }
            SagaError::TooManyOperations { .. } => {
                ApiError::unprocessable(format!("{message}; split it into several transactions"))
                    .with_type("TOO_MANY_OPERATIONS")
                    .with_problems(serde_json::json!([{"path": "/operations", "message": message}]))
            }
            SagaError::UnknownType(_) => {
                ApiError::unprocessable(format!("{message}; GET /v1/sagas/types lists the types"))
                    .with_type("UNKNOWN_SAGA_TYPE")
            }
            SagaError::NotFound(_) => ApiError::not_found("No such saga"),
            SagaError::Finished { .. } => ApiError::conflict(message).with_type("SAGA_FINISHED"),
            SagaError::IdempotencyConflict(_) => ApiError::conflict(format!(
                "{message}; use a new idempotency_key for a new saga"
            ))
            .with_type("IDEMPOTENCY_KEY_REUSED"),
            SagaError::Unavailable(detail) => {
                tracing::error!(%detail, "sagas unavailable");
                ApiError::unavailable("Sagas are unavailable right now; retry shortly")
                    .with_retry_after(1)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn four_hundreds_pass_through_and_five_hundreds_become_upstream_errors() {
        let api: ApiError = AirtableError::from_response(
            422,
            br#"{"error":{"type":"UNKNOWN_FIELD_NAME","message":"Unknown field name: \"x\""}}"#,
            None,
        )
        .into();
        assert_eq!(api.status().as_u16(), 422);
        assert_eq!(api.error_type, "UNKNOWN_FIELD_NAME");

        let api: ApiError = AirtableError::from_response(
            403,
            br#"{"error":{"type":"INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND","message":"m"}}"#,
            None,
        )
        .into();
        assert_eq!(api.status().as_u16(), 403);
        assert_eq!(api.error_type, "INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND");

        let api: ApiError = AirtableError::from_response(503, b"{}", None).into();
        assert_eq!(api.status().as_u16(), 502);
        assert_eq!(api.error_type, "UPSTREAM_ERROR");
    }

    #[test]
    fn rate_limited_becomes_our_429_with_retry_after() {
        let api: ApiError = AirtableError::RateLimited {
            retry_after: Duration::from_millis(2_100),
        }
        .into();
        assert_eq!(api.status().as_u16(), 429);
        assert_eq!(api.error_type, "RATE_LIMITED");
        assert_eq!(api.retry_after, Some(3));
    }
}
