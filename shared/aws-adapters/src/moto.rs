//! The one test helper for running the contract suites against moto's server.
//!
//! `MOTO_ENDPOINT` (e.g. `http://127.0.0.1:5123`) says where moto listens. When it is set at
//! build time, `build.rs` turns on `cfg(moto)` and each adapter's contract cases are compiled;
//! when it is not, only [`contract_suites_need_moto`] runs: it prints a note, or fails when
//! `REQUIRE_MOTO=1` (the project's test script sets it, so a missing moto can never pass as
//! green).
//!
//! Clients get a fixed region and static credentials, so no AWS configuration is needed.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;

#[cfg(test)]
const ENDPOINT_VAR: &str = "MOTO_ENDPOINT";

/// moto's base URL, without a trailing slash.
#[cfg(test)]
pub fn endpoint() -> String {
    match std::env::var(ENDPOINT_VAR) {
        Ok(url) if !url.trim().is_empty() => url.trim().trim_end_matches('/').to_string(),
        _ => panic!(
            "{ENDPOINT_VAR} is not set: start moto (`moto_server -p 5123`) and set \
             {ENDPOINT_VAR}=http://127.0.0.1:5123"
        ),
    }
}

/// An SDK configuration that talks to moto as region us-east-1 with test credentials.
#[cfg(test)]
pub async fn sdk_config() -> SdkConfig {
    sdk_config_for(&endpoint()).await
}

/// The same, for moto at `endpoint`.
pub async fn sdk_config_for(endpoint: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "moto"))
        .endpoint_url(endpoint)
        .load()
        .await
}

/// A name prefix unique to one case, short enough for SQS's 80-character queue names
/// (`<prefix>events-dlq.fifo`).
#[cfg(test)]
pub fn unique_name(case: &str) -> String {
    let short: String = case.chars().take(40).collect();
    format!("{}-", ports::contract::unique_prefix(&short))
}

/// Switches on moto's Step Functions interpreter (off by default: executions would stay
/// RUNNING forever). A tiny blocking HTTP/1.1 POST: it runs once per case and needs no client.
#[cfg(test)]
pub fn enable_step_functions_execution() {
    use std::io::{Read, Write};

    let endpoint = endpoint();
    let authority = endpoint
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("{ENDPOINT_VAR} must be an http:// URL, not {endpoint}"));
    let authority = authority.split('/').next().unwrap_or(authority);
    let body = r#"{"stepfunctions":{"execute_state_machine":true}}"#;
    let request = format!(
        "POST /moto-api/config HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = std::net::TcpStream::connect(authority)
        .unwrap_or_else(|e| panic!("cannot reach moto at {endpoint}: {e}"));
    stream
        .write_all(request.as_bytes())
        .expect("send the moto config request");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .expect("read moto's answer");
    let status = response.lines().next().unwrap_or_default();
    assert!(
        status.contains(" 200 ") || status.contains(" 201 "),
        "moto refused the Step Functions config: {status}"
    );
}

#[cfg(not(moto))]
#[test]
fn contract_suites_need_moto() {
    if std::env::var("REQUIRE_MOTO").as_deref() == Ok("1") {
        panic!(
            "REQUIRE_MOTO=1 but {ENDPOINT_VAR} is not set, so the AWS adapters' contract suites \
             were not compiled: start moto (`moto_server -p 5123`) and set \
             {ENDPOINT_VAR}=http://127.0.0.1:5123"
        );
    }
    eprintln!(
        "note: {ENDPOINT_VAR} is not set; the AWS adapters' contract suites against moto were \
         skipped (set it, e.g. {ENDPOINT_VAR}=http://127.0.0.1:5123, to run them)"
    );
}
