//! The layers every function's router gets, in one place.

pub mod authenticate;
pub mod client_limit;
mod error_shape;
mod request_id;

use axum::Router;
use axum::extract::DefaultBodyLimit;

use crate::AppState;

pub use request_id::REQUEST_ID_HEADER;

/// Lambda's synchronous payload limit; API Gateway's 10 MB never reaches a function.
const MAX_BODY_BYTES: usize = 6 * 1024 * 1024;

/// Adds fallbacks in the error shape, the body limit, the error-shape guarantee (see
/// [`error_shape`]) and the request-id span to a router.
pub fn with_platform_layers(router: Router<AppState>, state: AppState) -> Router {
    router
        .fallback(crate::fallback::not_found)
        .method_not_allowed_fallback(crate::fallback::method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(error_shape::ensure_error_shape))
        .layer(axum::middleware::from_fn(request_id::trace_request))
        .with_state(state)
}
