//! The client's one error type, and its conversion to the API error our routes return.
//!
//! Airtable answers errors in two shapes, `{"error":{"type":…,"message":…}}` and the bare
//! `{"error":"NOT_FOUND"}`; both parse into [`AirtableError::Api`] so callers match on one thing.
//! A gateway in front of Airtable must pass Airtable's 4xx answers through unchanged (clients
//! such as pyairtable branch on the `type`), but must not blame itself for Airtable's 5xx: those
//! become our 502 `UPSTREAM_ERROR`.

use std::time::Duration;

use serde_json::Value;

/// Everything that can go wrong talking to Airtable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AirtableError {
    /// Airtable answered with an error status.
    #[error("Airtable answered {status} {error_type}: {message}")]
    Api {
        status: u16,
        /// Airtable's `type`, e.g. `INVALID_FILTER_BY_FORMULA`, or `NOT_FOUND` for the bare shape.
        error_type: String,
        /// Airtable's `message`; empty when it sent none.
        message: String,
        /// The `Retry-After` Airtable sent, if any (429 and 503 may carry one).
        retry_after: Option<Duration>,
    },
    /// Our own limiter (or an upstream lockout) means the call cannot go out within the caller's
    /// latency budget. Nothing was sent for the attempt that failed this way.
    #[error("rate limited by the Airtable gateway; retry after {retry_after:?}")]
    RateLimited { retry_after: Duration },
    /// The request failed on the wire. `sent` says whether it may have reached Airtable, which
    /// decides whether a create may be retried.
    #[error("network error talking to Airtable ({}): {message}", if *.timed_out { "timed out" } else { "failed" })]
    Network {
        message: String,
        timed_out: bool,
        sent: bool,
    },
    /// Airtable answered successfully but with a body we could not read.
    #[error("could not decode Airtable's answer (status {status}): {message}")]
    Decode { status: u16, message: String },
    /// The call was refused before sending: it could never succeed (e.g. an upsert record that
    /// lacks a merge field). Nothing was sent.
    #[error("invalid Airtable request: {0}")]
    InvalidRequest(String),
    /// The shared rate-limiter state could not be read or written. We fail closed: sending
    /// without the limiter could lock the whole base out for 30 s for every tenant using it.
    #[error("Airtable rate limiter unavailable: {0}")]
    Limiter(String),
    /// The client configuration is unusable (bad base URL, unbuildable HTTP client).
    #[error("invalid Airtable client configuration: {0}")]
    Config(String),
}

impl AirtableError {
    /// Builds the error for an error status from Airtable's body, whichever shape it has.
    pub fn from_response(status: u16, body: &[u8], retry_after: Option<Duration>) -> Self {
        let (error_type, message) = parse_error_body(body).unwrap_or_else(|| {
            (
                default_type_for_status(status).to_string(),
                String::from_utf8_lossy(body).chars().take(500).collect(),
            )
        });
        AirtableError::Api {
            status,
            error_type,
            message,
            retry_after,
        }
    }

    /// The HTTP status Airtable answered, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            AirtableError::Api { status, .. } | AirtableError::Decode { status, .. } => {
                Some(*status)
            }
            _ => None,
        }
    }

    /// Airtable's error `type`, if it answered with one.
    pub fn error_type(&self) -> Option<&str> {
        match self {
            AirtableError::Api { error_type, .. } => Some(error_type),
            _ => None,
        }
    }

    /// Whether this is Airtable's "not found" (either shape), so callers can branch without
    /// knowing which one Airtable chose.
    pub fn is_not_found(&self) -> bool {
        matches!(self, AirtableError::Api { status: 404, .. })
    }
}

/// Reads `{"error":{"type","message"}}` or `{"error":"TYPE"}`; `None` when the body is neither.
fn parse_error_body(body: &[u8]) -> Option<(String, String)> {
    let value: Value = serde_json::from_slice(body).ok()?;
    match value.get("error")? {
        Value::String(error_type) => Some((error_type.clone(), String::new())),
        Value::Object(error) => {
            let error_type = error.get("type").and_then(Value::as_str)?.to_string();
            let message = error
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            Some((error_type, message))
        }
        _ => None,
    }
}

/// Airtable's usual type for a status, for bodies that carry none (e.g. an HTML 502 page).
fn default_type_for_status(status: u16) -> &'static str {
    match status {
        401 => "AUTHENTICATION_REQUIRED",
        403 => "INVALID_PERMISSIONS",
        404 => "NOT_FOUND",
        413 => "REQUEST_TOO_LARGE",
        422 => "INVALID_REQUEST_UNKNOWN",
        429 => "RATE_LIMIT_REACHED",
        503 => "RETRIABLE_ERROR",
        500..=599 => "SERVER_ERROR",
        _ => "INVALID_REQUEST",
    }
}

/// An id or table reference that could not be parsed: nothing can be sent for it.
impl From<crate::ids::InvalidPath> for AirtableError {
    fn from(err: crate::ids::InvalidPath) -> Self {
        AirtableError::InvalidRequest(err.0)
    }
}

/// Whole seconds to put in a `Retry-After` header: rounded up, at least 1.
pub fn retry_after_seconds(after: Duration) -> u64 {
    let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
    secs.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_error_shapes() {
        let full = br#"{"error":{"type":"INVALID_FILTER_BY_FORMULA","message":"bad"}}"#;
        let err = AirtableError::from_response(422, full, None);
        assert_eq!(err.error_type(), Some("INVALID_FILTER_BY_FORMULA"));
        assert!(matches!(&err, AirtableError::Api { message, .. } if message == "bad"));

        let bare = br#"{"error":"NOT_FOUND"}"#;
        let err = AirtableError::from_response(404, bare, None);
        assert_eq!(err.error_type(), Some("NOT_FOUND"));
        assert!(err.is_not_found());

        let typed_only = br#"{"error":{"type":"NOT_FOUND"}}"#;
        let err = AirtableError::from_response(404, typed_only, None);
        assert!(matches!(&err, AirtableError::Api { message, .. } if message.is_empty()));

        let html = b"<html>Bad gateway</html>";
        let err = AirtableError::from_response(502, html, None);
        assert_eq!(err.error_type(), Some("SERVER_ERROR"));
    }
}
