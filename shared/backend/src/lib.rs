//! The composition root: builds the process's [`Platform`] on the adapters its settings name,
//! once. Lambda functions call [`aws_platform`] only, so their binaries link the AWS adapters and
//! nothing else; the dev server calls [`build_platform`], which also knows the embedded adapters
//! (the `embedded` feature).

mod aws;
#[cfg(feature = "embedded")]
mod embedded;
mod machines;

use std::sync::Arc;

use basics::Clock;
use platform::{BackendKind, Platform, Ports, Settings};

#[cfg(feature = "embedded")]
pub use ::embedded::LocalStateMachines;
pub use aws::{PROVISIONED_FUNCTION_ARN_PREFIX, aws_platform};
#[cfg(feature = "embedded")]
pub use embedded::{DATABASE_FILE, SECRETS_FILE, embedded_platform};
pub use machines::{MachineDefinitions, PlatformTask, platform_task};

/// What [`build_platform`] made.
pub struct BuiltPlatform {
    pub platform: Arc<Platform>,
    /// On the embedded backend, the local runner behind `platform.state_machines`: the caller
    /// registers its task functions, then resumes the executions a previous run left running.
    #[cfg(feature = "embedded")]
    pub local_state_machines: Option<Arc<LocalStateMachines>>,
}

/// Builds the platform on whichever backend the settings name, running `machines`. Every port
/// and service reads `clock` (the system clock, or a controllable one in tests).
pub async fn build_platform(
    settings: &Settings,
    clock: Arc<dyn Clock>,
    machines: &MachineDefinitions,
) -> Result<BuiltPlatform, String> {
    match settings.kind {
        BackendKind::Aws => Ok(BuiltPlatform {
            platform: aws_platform(settings, clock, machines).await?,
            #[cfg(feature = "embedded")]
            local_state_machines: None,
        }),
        #[cfg(feature = "embedded")]
        BackendKind::Embedded => embedded_platform(settings, clock, machines),
        #[cfg(not(feature = "embedded"))]
        BackendKind::Embedded => Err(
            "BACKEND=embedded: this binary is built without the embedded backend (SQLite); use BACKEND=aws"
                .to_string(),
        ),
    }
}

/// The platform over built ports, with the settings' Airtable origin and platform settings.
fn assemble(ports: Ports, settings: &Settings) -> Arc<Platform> {
    Arc::new(Platform::new(
        ports,
        settings.airtable_api_url.clone(),
        settings.platform.clone(),
    ))
}
