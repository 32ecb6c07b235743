//! The one place an `SdkConfig` is built, so every client in a function shares region,
//! credentials and (for local emulators) the endpoint override.

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_dynamodb::config::SharedHttpClient;
use aws_smithy_http_client::tls::rustls_provider::CryptoMode;
use aws_smithy_http_client::tls::{Provider, TlsContext, TrustStore};

/// Loads the SDK configuration from the environment (region, credentials chain, and also
/// `AWS_ENDPOINT_URL` which the SDK reads itself). `endpoint_url` overrides the endpoint of every
/// service, for moto or another AWS-compatible emulator; `None` leaves AWS's own endpoints.
pub async fn sdk_config(endpoint_url: Option<&str>) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(https_client());
    if let Some(url) = endpoint_url {
        loader = loader.endpoint_url(url);
    }
    loader.load().await
}

/// The SDK's HTTPS client (rustls on aws-lc, as the SDK's default), trusting the system's CA
/// bundle read from one file.
///
/// Why not the default: its trust store loads the native roots the way OpenSSL finds them, the
/// bundle file *and* every file of the certificate directory (about 300 on Debian), which was
/// most of a function's init time (measured with `scripts/coldstart-bench`). The bundle alone
/// holds the same roots. Where no bundle file is found, the native roots are loaded as before.
fn https_client() -> SharedHttpClient {
    let trust_store = match ca_bundle() {
        Some(pem) => TrustStore::empty()
            .with_native_roots(false)
            .with_pem_certificate(pem),
        None => TrustStore::default(),
    };
    let builder =
        aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::AwsLc));
    match TlsContext::builder().with_trust_store(trust_store).build() {
        Ok(context) => builder.tls_context(context).build_https(),
        Err(err) => {
            tracing::warn!(error = %err, "cannot use the CA bundle; loading the native roots");
            builder.build_https()
        }
    }
}

/// Where distributions keep the CA bundle: `SSL_CERT_FILE` when set, else Debian and Ubuntu's,
/// Amazon Linux and RHEL's (Lambda's `provided.al2023`), Alpine's.
const CA_BUNDLES: [&str; 3] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
];

fn ca_bundle() -> Option<Vec<u8>> {
    let configured = std::env::var_os("SSL_CERT_FILE").map(std::path::PathBuf::from);
    configured
        .into_iter()
        .chain(CA_BUNDLES.iter().map(std::path::PathBuf::from))
        .find_map(|path| std::fs::read(path).ok().filter(|pem| !pem.is_empty()))
}
