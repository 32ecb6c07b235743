//! The composition root: reads which backend a process runs on (AWS or embedded) from the
//! environment, builds the adapters once, and hands them to the routers. Lambda mains and the dev
//! server both start here, so there is one way to assemble the platform.

mod adapters;
mod config;
mod lambda;

pub use adapters::{Adapters, build_adapters};
pub use config::{AIRTABLE_API_URL, AwsSettings, BackendConfig, BackendKind};
pub use lambda::run_http_function;

/// Builds the adapters and wraps them in the routers' shared state.
pub async fn app_state(config: &BackendConfig) -> Result<http_api::AppState, String> {
    let adapters = build_adapters(config).await?;
    Ok(http_api::AppState::new(
        adapters.store,
        adapters.queue,
        adapters.secrets,
        adapters.clock,
        std::sync::Arc::new(basics::RandomIds),
        config.airtable_api_url.clone(),
        config.platform.clone(),
    ))
}
