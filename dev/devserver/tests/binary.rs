//! The `devserver` binary as a user runs it: configuration errors, start, health, the in-process
//! Airtable sandbox, clean shutdown, and a restart on the same data directory.

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};
use testkit::process::{Server, free_port, on_moto, spawn};

/// The binary under test, without the caller's platform variables.
fn devserver() -> Command {
    testkit::process::devserver(env!("CARGO_BIN_EXE_devserver"))
}

/// Starts the binary with its sandbox on `data_dir` and the given ports; answers its banner.
fn start(data_dir: &Path, port: u16, sandbox_port: u16) -> (Server, String) {
    testkit::process::start(devserver(), data_dir, port, sandbox_port)
}

async fn health(port: u16) -> (u16, Value) {
    let response = reqwest::get(format!("http://127.0.0.1:{port}/v1/health"))
        .await
        .expect("GET /v1/health");
    let status = response.status().as_u16();
    (status, response.json().await.expect("json body"))
}

#[test]
fn a_bad_port_exits_non_zero_with_one_line_naming_it() {
    let output = devserver().env("PORT", "abc").output().expect("run");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "exactly one line: {stderr:?}");
    assert!(lines[0].contains("PORT"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_bad_backend_exits_non_zero_naming_it() {
    let output = devserver().env("BACKEND", "oracle").output().expect("run");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("BACKEND"));
}

#[tokio::test]
async fn serves_health_stops_cleanly_and_restarts_on_the_same_data() {
    let data = tempfile::tempdir().expect("tempdir");
    let (port, sandbox_port) = (free_port(), free_port());
    let (server, banner) = start(data.path(), port, sandbox_port);
    let (status, body) = health(port).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["checks"], json!({"store": "ok", "queue": "ok"}));

    // The banner's demo token works against the in-process sandbox right away.
    let token = banner
        .lines()
        .find_map(|l| l.trim().strip_prefix("demo Airtable token: "))
        .unwrap_or_else(|| panic!("the banner prints the demo token: {banner:?}"))
        .to_string();
    let sandbox = format!("http://127.0.0.1:{sandbox_port}");
    let created = reqwest::Client::new()
        .post(format!("{sandbox}/v0/appSandboxDemoCRM/Companies"))
        .bearer_auth(&token)
        .json(&json!({"fields": {"Name": "Survives Restarts Ltd"}}))
        .send()
        .await
        .expect("create a record in the sandbox");
    assert_eq!(created.status().as_u16(), 200);
    let record: Value = created.json().await.expect("record");
    let record_id = record["id"].as_str().expect("record id").to_string();
    server.stop();

    assert!(
        data.path().join("platform.sqlite").exists(),
        "the data lives under DATA_DIR"
    );
    let (server, _) = start(data.path(), port, sandbox_port);
    let (status, _) = health(port).await;
    assert_eq!(status, 200);
    let fetched = reqwest::Client::new()
        .get(format!(
            "{sandbox}/v0/appSandboxDemoCRM/Companies/{record_id}"
        ))
        .bearer_auth(&token)
        .send()
        .await
        .expect("get the record after a restart");
    assert_eq!(
        fetched.status().as_u16(),
        200,
        "sandbox data survives a restart"
    );
    server.stop();
}

#[test]
fn an_airtable_url_replaces_the_sandbox() {
    let data = tempfile::tempdir().expect("tempdir");
    let (server, banner) = spawn(
        devserver()
            .env("PORT", free_port().to_string())
            .env("DATA_DIR", data.path())
            .env("AIRTABLE_API_URL", "https://api.airtable.com"),
        "Airtable at",
    );
    assert!(
        banner.contains("Airtable at https://api.airtable.com"),
        "{banner}"
    );
    assert!(!banner.contains("sandbox"), "{banner}");
    server.stop();
}

/// `BACKEND=aws` switches to the AWS adapters: against moto (which `./scripts/test` starts and
/// names in `MOTO_ENDPOINT`), the dev server provisions its tables and queues and is healthy.
#[tokio::test]
async fn backend_aws_runs_on_moto() {
    let Some(moto) = testkit::moto_endpoint("the BACKEND=aws run") else {
        return;
    };
    let data = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let mut command = devserver();
    on_moto(&mut command, &moto, "devserver");
    let (server, banner) = spawn(
        command
            .env("PORT", port.to_string())
            .env("SANDBOX_PORT", free_port().to_string())
            .env("DATA_DIR", data.path()),
        "demo Airtable token",
    );
    assert!(banner.contains(&format!("aws at {moto}")), "{banner}");
    let (status, body) = health(port).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["checks"], json!({"store": "ok", "queue": "ok"}));
    assert!(
        !data.path().join("platform.sqlite").exists(),
        "the AWS backend must not touch the embedded store"
    );
    server.stop();
}
