//! The one place an `SdkConfig` is built, so every client in a function shares region,
//! credentials and (for local emulators) the endpoint override.

use aws_config::{BehaviorVersion, SdkConfig};

/// Loads the SDK configuration from the environment (region, credentials chain, and also
/// `AWS_ENDPOINT_URL` which the SDK reads itself). `endpoint_url` overrides the endpoint of every
/// service, for moto or another AWS-compatible emulator; `None` leaves AWS's own endpoints.
pub async fn sdk_config(endpoint_url: Option<&str>) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(url) = endpoint_url {
        loader = loader.endpoint_url(url);
    }
    loader.load().await
}
