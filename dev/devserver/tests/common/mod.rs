//! Starting and stopping the `devserver` binary as a user runs it, with everything it prints
//! (stdout and stderr) captured, so tests can assert on its logs.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub fn devserver() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_devserver"));
    command
        .env_remove("BACKEND")
        .env_remove("PORT")
        .env_remove("SANDBOX_PORT")
        .env_remove("DATA_DIR")
        .env_remove("AIRTABLE_API_URL")
        .env_remove("TENANT_REQUESTS_PER_MINUTE")
        .env_remove("CLIENT_AUTH_REQUESTS_PER_MINUTE")
        .env("RUST_LOG", "warn");
    command
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A dev server on a fresh data directory and free ports, and where it listens. The directory
/// lives as long as this value; the server is killed when it is dropped.
pub struct Fresh {
    pub server: Server,
    pub data: tempfile::TempDir,
    /// The platform's base URL, `http://127.0.0.1:<port>`.
    pub url: String,
    /// The in-process Airtable sandbox's base URL.
    pub sandbox: String,
}

/// Starts `command` (from [`devserver`], configured as the test needs) on a fresh data
/// directory and free ports, and waits for its banner.
pub fn start_fresh(command: Command) -> Fresh {
    let data = tempfile::tempdir().expect("tempdir");
    let (port, sandbox_port) = (free_port(), free_port());
    let (server, _) = start_with(command, data.path(), port, sandbox_port);
    Fresh {
        server,
        data,
        url: format!("http://127.0.0.1:{port}"),
        sandbox: format!("http://127.0.0.1:{sandbox_port}"),
    }
}

/// Where `./scripts/test` runs moto (`MOTO_ENDPOINT`), for the runs on the AWS adapters; `None`
/// (the caller skips, saying `what` it skips) when it is not set, and a failure instead when
/// `REQUIRE_MOTO=1`, so CI can never skip them silently.
pub fn moto_endpoint(what: &str) -> Option<String> {
    match std::env::var("MOTO_ENDPOINT") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("REQUIRE_MOTO").as_deref() != Ok("1"),
                "REQUIRE_MOTO=1 but MOTO_ENDPOINT is not set"
            );
            eprintln!("MOTO_ENDPOINT is not set: skipping {what}");
            None
        }
    }
}

/// Points `command` at the AWS adapters on moto, with table, queue and secret names of its own
/// (`<label>-<n>-` and `<label>-<n>/`, `n` unique to the run); answers the secrets prefix.
pub fn on_moto(command: &mut Command, moto: &str, label: &str) -> String {
    let unique = free_port();
    let secrets_prefix = format!("{label}-{unique}/");
    command
        .env("BACKEND", "aws")
        .env("AWS_ENDPOINT_URL", moto)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("RESOURCE_PREFIX", format!("{label}-{unique}-"))
        .env("SECRETS_PREFIX", &secrets_prefix);
    secrets_prefix
}

/// How many requests reached the sandbox ("Airtable") at `sandbox` so far: what a test reads
/// to show that a refusal cost no upstream call.
pub async fn upstream_requests(http: &reqwest::Client, sandbox: &str) -> u64 {
    let counters: serde_json::Value = http
        .get(format!("{sandbox}/_sandbox/counters"))
        .send()
        .await
        .expect("the sandbox answers")
        .json()
        .await
        .expect("the counters as JSON");
    counters["totalRequests"].as_u64().expect("totalRequests")
}

/// A running server; killed if a test fails before stopping it, so no process outlives a test.
pub struct Server {
    child: Option<Child>,
    output: Arc<Mutex<String>>,
}

impl Server {
    /// Everything the server has printed so far, stdout and stderr.
    pub fn output(&self) -> String {
        self.output
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Copies a stream into the shared buffer line by line, forwarding each line to `lines`.
fn capture(
    stream: impl Read + Send + 'static,
    output: Arc<Mutex<String>>,
    lines: Option<mpsc::Sender<String>>,
) {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {
                    output
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push_str(&line);
                    if let Some(lines) = &lines {
                        let _ = lines.send(line);
                    }
                }
            }
        }
    });
}

/// Spawns the server and waits until its stdout has printed a line containing `until`; returns
/// the server and the stdout text up to then.
pub fn spawn(command: &mut Command, until: &str) -> (Server, String) {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn devserver");
    let output = Arc::new(Mutex::new(String::new()));
    let (sender, receiver) = mpsc::channel();
    capture(
        child.stdout.take().expect("stdout"),
        Arc::clone(&output),
        Some(sender),
    );
    capture(
        child.stderr.take().expect("stderr"),
        Arc::clone(&output),
        None,
    );
    let server = Server {
        child: Some(child),
        output,
    };
    let mut banner = String::new();
    while !banner.contains(until) {
        match receiver.recv_timeout(Duration::from_secs(60)) {
            Ok(line) => banner.push_str(&line),
            Err(_) => panic!(
                "devserver did not print {until:?}; it printed:\n{}",
                server.output()
            ),
        }
    }
    (server, banner)
}

/// Starts the server with its sandbox and returns the banner it prints.
pub fn start(data_dir: &Path, port: u16, sandbox_port: u16) -> (Server, String) {
    start_with(devserver(), data_dir, port, sandbox_port)
}

/// Like [`start`], on a command the caller has already configured (extra variables).
pub fn start_with(
    mut command: Command,
    data_dir: &Path,
    port: u16,
    sandbox_port: u16,
) -> (Server, String) {
    let (server, banner) = spawn(
        command
            .env("PORT", port.to_string())
            .env("SANDBOX_PORT", sandbox_port.to_string())
            .env("DATA_DIR", data_dir),
        "demo Airtable token",
    );
    assert!(
        banner.contains(&format!("http://127.0.0.1:{port}")),
        "{banner}"
    );
    (server, banner)
}

/// Sends SIGTERM and expects a clean exit within 5 s.
pub fn stop(mut server: Server) {
    let Some(mut child) = server.child.take() else {
        return;
    };
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
