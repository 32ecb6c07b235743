//! The one API error type. Every error any route returns renders as
//! `{"error":{"type":…,"message":…}}` with the matching status, the shape Airtable uses, so
//! clients parse one format across `/v0` and `/v1`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

mod from_domain;

/// The kinds of failure a caller can act on; each maps to one status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// 400: the request is malformed (bad JSON, bad parameter).
    BadRequest,
    /// 401: no or invalid credentials.
    Unauthenticated,
    /// 402: the tenant's budget is exhausted.
    PaymentRequired,
    /// 403: authenticated, but not allowed.
    Forbidden,
    /// 404: no such thing, or not yours.
    NotFound,
    /// 405: the route exists but not with this method.
    MethodNotAllowed,
    /// 409: conflicts with the current state.
    Conflict,
    /// 413: the body is too large.
    PayloadTooLarge,
    /// 422: well-formed but semantically invalid.
    Unprocessable,
    /// 429: slow down; carries `Retry-After`.
    RateLimited,
    /// 500: our fault; the message is generic, details go to the log.
    Internal,
    /// 502: an upstream (Airtable, an LLM provider) failed.
    BadGateway,
    /// 503: a dependency is unavailable.
    Unavailable,
    /// 504: an upstream did not answer in time.
    GatewayTimeout,
}

impl ErrorKind {
    pub fn status(self) -> StatusCode {
        match self {
            ErrorKind::BadRequest => StatusCode::BAD_REQUEST,
            ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
            ErrorKind::PaymentRequired => StatusCode::PAYMENT_REQUIRED,
            ErrorKind::Forbidden => StatusCode::FORBIDDEN,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorKind::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorKind::BadGateway => StatusCode::BAD_GATEWAY,
            ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::GatewayTimeout => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    /// The kind a bare status code stands for, so that a response some framework layer produced
    /// (a body-size or path rejection) can be told in the platform's terms. Statuses the
    /// platform never chooses on purpose fall back to the nearest class.
    pub fn from_status(status: StatusCode) -> Self {
        match status.as_u16() {
            401 => ErrorKind::Unauthenticated,
            402 => ErrorKind::PaymentRequired,
            403 => ErrorKind::Forbidden,
            404 => ErrorKind::NotFound,
            405 => ErrorKind::MethodNotAllowed,
            409 => ErrorKind::Conflict,
            413 => ErrorKind::PayloadTooLarge,
            422 => ErrorKind::Unprocessable,
            429 => ErrorKind::RateLimited,
            502 => ErrorKind::BadGateway,
            503 => ErrorKind::Unavailable,
            504 => ErrorKind::GatewayTimeout,
            500..=599 => ErrorKind::Internal,
            _ => ErrorKind::BadRequest,
        }
    }

    /// The default `type` string for this kind.
    pub fn default_type(self) -> &'static str {
        match self {
            ErrorKind::BadRequest => "INVALID_REQUEST",
            ErrorKind::Unauthenticated => "AUTHENTICATION_REQUIRED",
            ErrorKind::PaymentRequired => "BUDGET_EXCEEDED",
            ErrorKind::Forbidden => "FORBIDDEN",
            ErrorKind::NotFound => "NOT_FOUND",
            ErrorKind::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            ErrorKind::Conflict => "CONFLICT",
            ErrorKind::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            ErrorKind::Unprocessable => "INVALID_REQUEST_UNKNOWN",
            ErrorKind::RateLimited => "RATE_LIMITED",
            ErrorKind::Internal => "INTERNAL_ERROR",
            ErrorKind::BadGateway => "UPSTREAM_ERROR",
            ErrorKind::Unavailable => "SERVICE_UNAVAILABLE",
            ErrorKind::GatewayTimeout => "UPSTREAM_TIMEOUT",
        }
    }
}

/// An error on its way to the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error_type}: {message}")]
pub struct ApiError {
    pub kind: ErrorKind,
    /// The machine-readable `type`, e.g. `NOT_FOUND` or Airtable's `INVALID_FILTER_BY_FORMULA`.
    pub error_type: String,
    /// A human-readable message; never contains a secret.
    pub message: String,
    /// Seconds, for 429 and 503 answers.
    pub retry_after: Option<u64>,
    /// The `WWW-Authenticate` challenge, for 401 answers.
    pub www_authenticate: Option<String>,
    /// Each problem of an invalid document with the JSON path of its field
    /// (`[{"path": "/steps/2/fields/Stage", "message": "..."}]`), as `error.problems`.
    /// Boxed: errors travel in every `Result` of every handler, and stay small.
    pub problems: Option<Box<serde_json::Value>>,
}

impl ApiError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            error_type: kind.default_type().to_string(),
            message: message.into(),
            retry_after: None,
            www_authenticate: None,
            problems: None,
        }
    }

    /// Overrides the `type` string (e.g. Airtable's specific error types).
    pub fn with_type(mut self, error_type: impl Into<String>) -> Self {
        self.error_type = error_type.into();
        self
    }

    /// Adds `error.problems`: what is wrong where, for a document refused as a whole.
    pub fn with_problems(mut self, problems: serde_json::Value) -> Self {
        self.problems = Some(Box::new(problems));
        self
    }

    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadRequest, message)
    }

    pub fn unauthenticated(message: impl Into<String>) -> Self {
        let mut err = Self::new(ErrorKind::Unauthenticated, message);
        err.www_authenticate = Some("Bearer".to_string());
        err
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Forbidden, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, message)
    }

    pub fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unprocessable, message)
    }

    pub fn rate_limited(message: impl Into<String>, retry_after_seconds: u64) -> Self {
        Self::new(ErrorKind::RateLimited, message).with_retry_after(retry_after_seconds.max(1))
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unavailable, message)
    }

    /// An internal failure: the detail is logged, the caller gets a generic message.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(
            ErrorKind::Internal,
            "Something went wrong on our side; it has been logged",
        )
    }

    pub fn status(&self) -> StatusCode {
        self.kind.status()
    }

    /// The JSON body: `{"error":{"type","message"}}`, with `problems` when there are some.
    pub fn body(&self) -> serde_json::Value {
        let mut body = json!({"error": {"type": self.error_type, "message": self.message}});
        if let Some(problems) = &self.problems {
            body["error"]["problems"] = problems.as_ref().clone();
        }
        body
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status(), axum::Json(self.body())).into_response();
        let headers = response.headers_mut();
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if let Some(challenge) = self
            .www_authenticate
            .as_deref()
            .and_then(|c| HeaderValue::from_str(c).ok())
        {
            headers.insert(header::WWW_AUTHENTICATE, challenge);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn renders_the_error_shape_with_status_and_headers() {
        let response = ApiError::rate_limited("Slow down", 7).into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "7");
        let bytes = response.into_body().collect().await.map(|b| b.to_bytes());
        let body: serde_json::Value =
            serde_json::from_slice(&bytes.unwrap_or_default()).unwrap_or_default();
        assert_eq!(
            body,
            json!({"error": {"type": "RATE_LIMITED", "message": "Slow down"}})
        );
    }

    #[test]
    fn unauthenticated_carries_a_challenge() {
        let response = ApiError::unauthenticated("Missing bearer token").into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "Bearer");
    }

    #[test]
    fn internal_errors_hide_the_detail() {
        let err = ApiError::internal("db password=hunter2 rejected");
        assert!(!err.message.contains("hunter2"));
        assert_eq!(err.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
