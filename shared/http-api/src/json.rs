//! A JSON body extractor whose rejections use the platform's error shape (400 for bad JSON or
//! fields, 415 handled as 400, 413 for oversized bodies).

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use basics::{ApiError, ErrorKind};
use serde::de::DeserializeOwned;

/// Like `axum::Json`, but bad input becomes `{"error":{"type":"INVALID_REQUEST",...}}`.
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(rejection_to_error(rejection)),
        }
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
