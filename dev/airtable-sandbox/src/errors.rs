//! Airtable's error envelopes. Clients key off `error.type`, so the sandbox reproduces the exact
//! type strings and messages Airtable sends (see reference/airtable-api.md §5).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// One error response: a status plus either `{"error":{"type","message"?}}` or the bare
/// `{"error":"NOT_FOUND"}` form Airtable uses for unknown paths.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    pub kind: String,
    pub message: Option<String>,
    pub bare: bool,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, kind: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            kind: kind.to_string(),
            message: Some(message.into()),
            bare: false,
        }
    }

    fn without_message(status: StatusCode, kind: &str) -> Self {
        Self {
            status,
            kind: kind.to_string(),
            message: None,
            bare: false,
        }
    }

    pub fn unprocessable(kind: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, kind, message)
    }

    pub fn authentication_required() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "AUTHENTICATION_REQUIRED",
            "Authentication required",
        )
    }

    pub fn model_not_found() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND",
            "Invalid permissions, or the requested model was not found. Check that both your user and your token have the required permissions, and that the model names and/or ids are correct.",
        )
    }

    pub fn invalid_permissions(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "INVALID_PERMISSIONS", message)
    }

    /// The bare `{"error":"NOT_FOUND"}` body, for paths that name no endpoint.
    pub fn route_not_found() -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            kind: "NOT_FOUND".into(),
            message: None,
            bare: true,
        }
    }

    /// `{"error":{"type":"NOT_FOUND"}}` without a message, for unknown records.
    pub fn not_found() -> Self {
        Self::without_message(StatusCode::NOT_FOUND, "NOT_FOUND")
    }

    pub fn rate_limited() -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "RATE_LIMIT_REACHED",
            "Rate limit exceeded. Please try again later",
        )
    }

    pub fn invalid_request() -> Self {
        Self::unprocessable(
            "INVALID_REQUEST_UNKNOWN",
            "Invalid request: parameter validation failed. Check your request data.",
        )
    }

    pub fn invalid_body() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST_BODY",
            "Could not parse request body",
        )
    }

    pub fn missing_field(name: &str) -> Self {
        Self::unprocessable(
            "INVALID_REQUEST_MISSING_FIELDS",
            format!("Could not find field \"{name}\" in the request body"),
        )
    }

    pub fn unknown_field(name: &str) -> Self {
        Self::unprocessable(
            "UNKNOWN_FIELD_NAME",
            format!("Unknown field name: \"{name}\""),
        )
    }

    pub fn invalid_value(field: &str) -> Self {
        Self::unprocessable(
            "INVALID_VALUE_FOR_COLUMN",
            format!("Field \"{field}\" cannot accept the provided value"),
        )
    }

    pub fn cannot_parse(value: &str, field: &str) -> Self {
        Self::unprocessable(
            "INVALID_VALUE_FOR_COLUMN",
            format!("Cannot parse value \"{value}\" for field {field}"),
        )
    }

    pub fn computed_field(field: &str) -> Self {
        Self::unprocessable(
            "INVALID_VALUE_FOR_COLUMN",
            format!("Field \"{field}\" cannot accept a value because the field is computed"),
        )
    }

    pub fn row_does_not_exist(id: &str) -> Self {
        Self::unprocessable(
            "ROW_DOES_NOT_EXIST",
            format!("Record ID {id} does not exist in this table"),
        )
    }

    pub fn invalid_records(message: impl Into<String>) -> Self {
        Self::unprocessable("INVALID_RECORDS", message)
    }

    pub fn invalid_filter(detail: &str) -> Self {
        Self::unprocessable(
            "INVALID_FILTER_BY_FORMULA",
            format!("The formula for filtering records is invalid: {detail}"),
        )
    }

    pub fn iterator_not_available() -> Self {
        Self::without_message(
            StatusCode::UNPROCESSABLE_ENTITY,
            "LIST_RECORDS_ITERATOR_NOT_AVAILABLE",
        )
    }

    /// A status injected by the fault scripts, with the body Airtable sends for that status.
    pub fn injected(status: StatusCode) -> Self {
        match status.as_u16() {
            429 => Self::rate_limited(),
            503 => Self::new(
                status,
                "RETRIABLE_ERROR",
                "Server encountered an error while processing your request, and it is safe to retry the request",
            ),
            502 => Self::new(status, "BAD_GATEWAY", "Bad gateway: servers are restarting"),
            _ => Self::new(status, "SERVER_ERROR", "Server error"),
        }
    }

    pub fn body(&self) -> Value {
        if self.bare {
            return json!({ "error": self.kind });
        }
        match &self.message {
            Some(m) => json!({ "error": { "type": self.kind, "message": m } }),
            None => json!({ "error": { "type": self.kind } }),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body())).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes() {
        assert_eq!(
            ApiError::route_not_found().body(),
            json!({"error":"NOT_FOUND"})
        );
        assert_eq!(
            ApiError::not_found().body(),
            json!({"error":{"type":"NOT_FOUND"}})
        );
        assert_eq!(
            ApiError::rate_limited().body()["error"]["message"],
            "Rate limit exceeded. Please try again later"
        );
    }
}
