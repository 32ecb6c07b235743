//! Answers for requests no route takes, in the platform's error shape rather than axum's empty
//! bodies.

use crate::{ApiError, ErrorKind};
use axum::http::{Method, Uri};

pub async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::not_found(format!("No route for {method} {}", uri.path()))
}

pub async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        ErrorKind::MethodNotAllowed,
        format!("{} does not accept {method}", uri.path()),
    )
}
