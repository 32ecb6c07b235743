//! What can go wrong in the gateway, and how callers see it: Airtable's refusals pass through
//! as Airtable sent them (they are answers, not errors, see [`crate::Answer`]); what is left is
//! rendered in Airtable's error shape with types Airtable clients can branch on.

use airtable::AirtableError;
use basics::{ApiError, ErrorKind};
use connections::ConnectionError;
use ports::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("no Airtable connection")]
    NotConnected,
    /// Airtable answered 401 to the tenant's connected token: it was revoked or expired. Passing
    /// Airtable's 401 through would tell the caller that *its* key is wrong.
    #[error("Airtable refused the connected token")]
    ConnectedTokenRejected,
    #[error(transparent)]
    Connection(ConnectionError),
    #[error(transparent)]
    Airtable(#[from] AirtableError),
    #[error("Idempotency-Key reused with a different request")]
    IdempotencyKeyReused,
    #[error("a request with this Idempotency-Key is in progress")]
    IdempotencyKeyInUse,
    #[error("the first answer for this Idempotency-Key was not kept")]
    IdempotentAnswerNotKept,
    #[error("idempotency records unavailable: {0}")]
    IdempotencyStore(StoreError),
}

impl From<ConnectionError> for GatewayError {
    fn from(err: ConnectionError) -> Self {
        match err {
            ConnectionError::NotConnected => GatewayError::NotConnected,
            other => GatewayError::Connection(other),
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
