//! HTTP functions: API Gateway HTTP API (payload v2) events through one function's axum router.

use crate::{Error, init};

/// Serves one function's routes on Lambda.
pub async fn run_http_function(function: http_api::FunctionRoutes) -> Result<(), Error> {
    let platform = init(function.function).await?;
    let state = http_api::AppState::new(platform);
    lambda_http::run(http_api::function_router(function, state)).await
}
