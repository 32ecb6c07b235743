//! What every Lambda main does, one runner per trigger: logging, settings (exiting with one line
//! if they are wrong), the platform built once at init on the AWS adapters, then the Lambda
//! runtime. Mains stay one line. Never call a runner in tests: the runtime panics outside Lambda;
//! tests drive the routers and handlers directly.

mod http;
mod workers;

use std::sync::Arc;

use basics::config::exit_on_error;
use basics::{Env, SystemClock};
use platform::{BackendKind, Platform, Settings};

pub use http::run_http_function;
pub use workers::{run_queue_function, run_schedule_function, run_task_function};

/// The error every runner returns to its main.
pub type Error = lambda_http::Error;

/// Reads the settings and builds the platform on the AWS adapters, as every function does at
/// init. A configuration error exits with one line; an unreachable dependency is an init error.
async fn init(function: &str) -> Result<Arc<Platform>, Error> {
    basics::telemetry::init();
    let settings = exit_on_error(Settings::from_env(&Env::process(), BackendKind::Aws));
    // The template deploys the state machines and names them in STATE_MACHINE_ARNS: a
    // function has none of its own to provision.
    let machines = backend::MachineDefinitions::none();
    match backend::aws_platform(&settings, Arc::new(SystemClock), &machines).await {
        Ok(platform) => {
            tracing::info!(function, "initialised");
            Ok(platform)
        }
        Err(err) => {
            tracing::error!(function, error = %err, "cannot build the platform");
            Err(err.into())
        }
    }
}
