//! What can go wrong in the gateway, and how callers see it: Airtable's refusals pass through
//! as Airtable sent them (they are answers, not errors, see [`crate::Answer`]); what is left is
//! rendered in Airtable's error shape with types Airtable clients can branch on.

use airtable::AirtableError;
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
