//! Every HTTP function's axum router, built in one place so that the Lambda binaries and the dev
//! server serve exactly the same code, plus the route table both are checked against.
//!
//! A function module (e.g. [`functions::health`]) exposes `routes() -> FunctionRoutes`. A Lambda
//! main turns its one function into a router; the dev server merges them all.

pub mod error;
pub mod fallback;
pub mod functions;
pub mod json;
pub mod middleware;
pub mod openapi;
pub mod principal;
pub mod routes;
pub mod scope_check;
pub mod state;

#[cfg(test)]
mod testing;

pub use error::{ApiError, ErrorKind};
pub use principal::Caller;
pub use routes::{Access, FunctionRoutes, RouteSpec};
pub use scope_check::Needs;
pub use state::AppState;

/// Every HTTP function of the platform, in the order of DESIGN.md's function table.
pub fn all_functions() -> Vec<FunctionRoutes> {
    vec![
        functions::auth::routes(),
        functions::connections::routes(),
        functions::records::routes(),
        functions::chat::routes(),
        functions::mcp::routes(),
        functions::usage::routes(),
        functions::health::routes(),
        functions::workflows::routes(),
        functions::hooks::routes(),
        functions::sagas::routes(),
    ]
}

/// One router serving every function, as the dev server runs them.
pub fn platform_router(state: AppState) -> axum::Router {
    let merged = all_functions()
        .into_iter()
        .fold(axum::Router::new(), |router, function| {
            router.merge(function.into_router(&state))
        });
    middleware::with_platform_layers(merged, state)
}

/// The router of one function, as its Lambda binary serves it.
pub fn function_router(function: FunctionRoutes, state: AppState) -> axum::Router {
    middleware::with_platform_layers(function.into_router(&state), state)
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use crate::routes::{Access, route_table};
    use crate::testing::embedded_state;

    /// Every route in the table is served: none falls through to the 404/405 fallbacks, and
    /// every non-public route answers 401 without credentials.
    #[tokio::test]
    async fn every_declared_route_is_served_and_guarded() {
        let router = crate::platform_router(embedded_state());
        for spec in route_table() {
            let path = spec.path.replace(['{', '}'], "");
            let request = Request::builder()
                .method(spec.method.as_str())
                .uri(&path)
                .body(Body::empty())
                .expect("request");
            let response = router.clone().oneshot(request).await.expect("response");
            let status = response.status();
            let bytes = response
                .into_body()
                .collect()
                .await
                .expect("body")
                .to_bytes();
            let body = String::from_utf8_lossy(&bytes);
            assert!(
                !body.contains("No route for") && status != StatusCode::METHOD_NOT_ALLOWED,
                "{} {} is declared but not served: {status} {body}",
                spec.method,
                spec.path
            );
            if spec.access == Access::Authenticated {
                assert_eq!(
                    status,
                    StatusCode::UNAUTHORIZED,
                    "{} {} must need credentials: {body}",
                    spec.method,
                    spec.path
                );
            }
        }
    }
}
