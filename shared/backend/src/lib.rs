//! The composition root: builds the process's [`Platform`] on the adapters its settings name,
//! once. Lambda functions call [`aws_platform`] only, so their binaries link the AWS adapters and
//! nothing else; the dev server calls [`build_platform`], which also knows the embedded adapters
//! (the `embedded` feature).

mod aws;
#[cfg(feature = "embedded")]
mod embedded;

use std::sync::Arc;

use basics::Clock;
use platform::{BackendKind, Platform, Ports, Settings};

pub use aws::aws_platform;
#[cfg(feature = "embedded")]
pub use embedded::{DATABASE_FILE, SECRETS_FILE, embedded_platform};

/// Builds the platform on whichever backend the settings name. Every port and service reads
/// `clock` (the system clock, or a controllable one in tests).
pub async fn build_platform(
    settings: &Settings,
    clock: Arc<dyn Clock>,
) -> Result<Arc<Platform>, String> {
    match settings.kind {
        BackendKind::Aws => aws_platform(settings, clock).await,
        #[cfg(feature = "embedded")]
        BackendKind::Embedded => embedded_platform(settings, clock),
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
