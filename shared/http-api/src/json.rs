//! A JSON body extractor whose rejections use the platform's error shape (400 for bad JSON or
//! fields, 415 handled as 400, 413 for oversized bodies).
//!
//! Every body the API documents is a JSON object, and only an object is accepted: serde maps a
//! sequence onto a struct positionally, so without this check `["Mallory"]` would be read as
//! `{"name": "Mallory"}` (and `[]` as a struct whose fields are all optional).

use crate::{ApiError, ErrorKind};
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Like `axum::Json`, but only a JSON object is accepted, and bad input becomes
/// `{"error":{"type":"INVALID_REQUEST",...}}`.
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let value = match axum::Json::<Value>::from_request(req, state).await {
            Ok(axum::Json(value)) => value,
            Err(rejection) => return Err(rejection_to_error(rejection)),
        };
        parse_object(value).map(ApiJson)
    }
}

/// A body that must be a JSON object, as `T`.
pub fn parse_object<T: DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    if !value.is_object() {
        return Err(ApiError::bad_request(format!(
            "The body must be a JSON object, not {}",
            json_kind(&value)
        )));
    }
    serde_json::from_value(value)
        .map_err(|err| ApiError::bad_request(format!("The body has a bad field: {err}")))
}

/// `an array`, `a string`, …: what a JSON value is, for messages.
pub fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn rejection_to_error(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => {
            ApiError::bad_request("Send the body as JSON with Content-Type: application/json")
        }
        JsonRejection::JsonSyntaxError(err) => {
            ApiError::bad_request(format!("The body is not valid JSON: {}", err.body_text()))
        }
        JsonRejection::JsonDataError(err) => {
            ApiError::bad_request(format!("The body has a bad field: {}", err.body_text()))
        }
        JsonRejection::BytesRejection(_) => ApiError::new(
            ErrorKind::PayloadTooLarge,
            "The body is too large or could not be read",
        ),
        other => ApiError::bad_request(other.body_text()),
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use axum::response::IntoResponse;
    use http_body_util::BodyExt;
    use serde::Deserialize;
    use serde_json::Value;

    use super::*;

    #[derive(Debug, Deserialize)]
    struct Signup {
        #[allow(dead_code)]
        email: String,
    }

    async fn extract(content_type: Option<&str>, body: &str) -> Result<ApiJson<Signup>, ApiError> {
        let mut request = Request::builder().method("POST").uri("/");
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let request = request.body(Body::from(body.to_string())).expect("request");
        ApiJson::<Signup>::from_request(request, &()).await
    }

    async fn rendered(err: ApiError) -> (StatusCode, Value) {
        let response = err.into_response();
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    #[tokio::test]
    async fn good_json_is_extracted() {
        assert!(
            extract(Some("application/json"), r#"{"email":"a@b.c"}"#)
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn bad_input_gets_a_400_in_the_error_shape() {
        for (content_type, body) in [
            (Some("application/json"), "{not json"),
            (Some("application/json"), r#"{"email": 5}"#),
            (None, r#"{"email":"a@b.c"}"#),
            // Sequences are not objects, though serde would map them onto the struct.
            (Some("application/json"), r#"["a@b.c"]"#),
            (Some("application/json"), "[]"),
            (Some("application/json"), r#""a@b.c""#),
            (Some("application/json"), "null"),
            (Some("application/json"), "5"),
        ] {
            let err = extract(content_type, body)
                .await
                .err()
                .unwrap_or_else(|| panic!("{body} must be refused"));
            let (status, json) = rendered(err).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
            assert_eq!(json["error"]["type"], "INVALID_REQUEST", "{body}");
            assert!(
                json["error"]["message"]
                    .as_str()
                    .is_some_and(|m| !m.is_empty())
            );
        }
    }
}
