//! The layers every function's router gets, in one place.

pub mod authenticate;
pub mod client_limit;
mod error_shape;
mod request_id;
mod single_headers;
mod trailing_slash;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use tower::Layer;

use crate::AppState;

pub use request_id::REQUEST_ID_HEADER;

/// Lambda's synchronous payload limit; API Gateway's 10 MB never reaches a function.
const MAX_BODY_BYTES: usize = 6 * 1024 * 1024;

/// Adds fallbacks in the error shape, the body limit, the refusal of repeated single-valued
/// headers (see [`single_headers`]), the error-shape guarantee (see [`error_shape`]) and the
/// request-id span to a router, and serves `/v0/…/` as `/v0/…` (see
/// [`trailing_slash`]).
pub fn with_platform_layers(router: Router<AppState>, state: AppState) -> Router {
    let routed = router
        .fallback(crate::fallback::not_found)
        .method_not_allowed_fallback(crate::fallback::method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(
            single_headers::refuse_repeated_headers,
        ))
        .layer(axum::middleware::from_fn(error_shape::ensure_error_shape))
        .layer(axum::middleware::from_fn(request_id::trace_request))
        .with_state(state);
    // A router's own layers run after routing, too late to change the path it routes on; the
    // rewrite wraps the whole router instead, and an outer router hands it every request.
    let rewritten =
        axum::middleware::map_request(trailing_slash::drop_trailing_slash).layer(routed);
    Router::new().fallback_service(rewritten)
}
