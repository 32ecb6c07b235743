//! What every HTTP Lambda main does: logging, configuration (exiting with one line if it is
//! wrong), state built once at init, then the Lambda runtime.

use basics::Env;
use basics::config::exit_on_error;

use crate::config::{BackendConfig, BackendKind};

/// Serves one function's routes on Lambda. Never call this in tests: the runtime panics outside
/// Lambda.
pub async fn run_http_function(
    function: http_api::FunctionRoutes,
) -> Result<(), lambda_http::Error> {
    basics::telemetry::init();
    let config = exit_on_error(BackendConfig::from_env(&Env::process(), BackendKind::Aws));
    let state = match crate::app_state(&config).await {
        Ok(state) => state,
        Err(err) => {
            tracing::error!(error = %err, "cannot build the adapters");
            return Err(err.into());
        }
    };
    tracing::info!(function = function.function, "initialised");
    lambda_http::run(http_api::function_router(function, state)).await
}
