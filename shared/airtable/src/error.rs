//! The client's one error type, and its conversion to the API error our routes return.
//!
//! Airtable answers errors in two shapes, `{"error":{"type":…,"message":…}}` and the bare
//! `{"error":"NOT_FOUND"}`; both parse into [`AirtableError::Api`] so callers match on one thing.
//! A gateway in front of Airtable must pass Airtable's 4xx answers through unchanged (clients
//! such as pyairtable branch on the `type`), but must not blame itself for Airtable's 5xx: those
//! become our 502 `UPSTREAM_ERROR`.

use std::time::Duration;

use basics::{ApiError, ErrorKind};
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
pub(crate) fn retry_after_seconds(after: Duration) -> u64 {
    let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
    secs.max(1)
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
                let kind = match status {
                    400 => ErrorKind::BadRequest,
                    401 => ErrorKind::Unauthenticated,
                    402 => ErrorKind::PaymentRequired,
                    403 => ErrorKind::Forbidden,
                    404 => ErrorKind::NotFound,
                    405 => ErrorKind::MethodNotAllowed,
                    409 => ErrorKind::Conflict,
                    413 => ErrorKind::PayloadTooLarge,
                    429 => ErrorKind::RateLimited,
                    _ => ErrorKind::Unprocessable,
                };
                let mut api = ApiError::new(kind, message).with_type(error_type);
                if status == 429 {
                    api = api.with_retry_after(retry_after.map(retry_after_seconds).unwrap_or(30));
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
                retry_after_seconds(retry_after),
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
