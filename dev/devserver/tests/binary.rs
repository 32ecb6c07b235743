//! The `devserver` binary as a user runs it: configuration errors, start, health, clean
//! shutdown, and a restart on the same data directory.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn devserver() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_devserver"));
    command
        .env_remove("BACKEND")
        .env_remove("PORT")
        .env_remove("DATA_DIR")
        .env("RUST_LOG", "warn");
    command
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Starts the server and waits for the line announcing its URL.
fn start(data_dir: &std::path::Path, port: u16) -> (Child, String) {
    let mut child = devserver()
        .env("PORT", port.to_string())
        .env("DATA_DIR", data_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn devserver");
    let stdout = child.stdout.take().expect("stdout");
    let mut reader = BufReader::new(stdout);
    let mut first = String::new();
    reader.read_line(&mut first).expect("read");
    // Keep draining what the server prints, as a terminal would.
    std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
    assert!(
        first.contains(&format!("http://127.0.0.1:{port}")),
        "{first}"
    );
    (child, first)
}

fn stop(mut child: Child) {
    let pid = child.id().to_string();
    let status = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(status.success());
    for _ in 0..100 {
        if let Some(status) = child.try_wait().expect("wait") {
            assert!(status.success(), "a clean shutdown exits 0, got {status}");
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("devserver did not stop within 5 s of SIGTERM");
}

async fn health(port: u16) -> (u16, serde_json::Value) {
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
    let port = free_port();
    let (child, _) = start(data.path(), port);
    let (status, body) = health(port).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["checks"],
        serde_json::json!({"store": "ok", "queue": "ok"})
    );
    stop(child);
    let database = data.path().join("platform.sqlite");
    assert!(database.exists(), "the data lives under DATA_DIR");
    let (child, _) = start(data.path(), port);
    let (status, _) = health(port).await;
    assert_eq!(status, 200);
    stop(child);
}
