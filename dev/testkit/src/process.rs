//! The `devserver` binary as a user runs it, for the few tests about the binary itself (what it
//! prints, how it reads its environment, how it stops on a signal): started with everything it
//! prints (stdout and stderr) captured, killed if a test fails before stopping it. Every other
//! test runs the platform in-process ([`crate::TestApp`]).

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The variables of the caller's environment that would point the server elsewhere or limit it.
const PLATFORM_VARIABLES: [&str; 7] = [
    "BACKEND",
    "PORT",
    "SANDBOX_PORT",
    "DATA_DIR",
    "AIRTABLE_API_URL",
    "TENANT_REQUESTS_PER_MINUTE",
    "CLIENT_AUTH_REQUESTS_PER_MINUTE",
];

/// A command for the binary at `path` (`env!("CARGO_BIN_EXE_devserver")` in the devserver's
/// tests) without the caller's platform variables, logging warnings only.
pub fn devserver(path: &str) -> Command {
    let mut command = Command::new(path);
    for variable in PLATFORM_VARIABLES {
        command.env_remove(variable);
    }
    command.env("RUST_LOG", "warn");
    command
}

/// A port free right now on 127.0.0.1, for a binary that must be told its port in advance.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Points `command` at the AWS adapters on moto, with table, queue and secret names of its own
/// (`<label>-<n>-` and `<label>-<n>/`); answers the secrets prefix.
pub fn on_moto(command: &mut Command, moto: &str, label: &str) -> String {
    let label = crate::moto::unique_label(label);
    let secrets_prefix = format!("{label}/");
    command
        .env("BACKEND", "aws")
        .env("AWS_ENDPOINT_URL", moto)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("RESOURCE_PREFIX", format!("{label}-"))
        .env("SECRETS_PREFIX", &secrets_prefix);
    secrets_prefix
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

    /// Sends SIGTERM and expects a clean exit (status 0) within 5 s.
    pub fn stop(mut self) {
        let Some(mut child) = self.child.take() else {
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
}

impl Server {
    /// Kills the server with SIGKILL (`kill -9`): no shutdown, no draining, no flushing; what
    /// it had not written is lost, as in a crash.
    pub fn kill_hard(mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = child.id().to_string();
            let status = Command::new("kill")
                .args(["-9", &pid])
                .status()
                .expect("kill -9");
            assert!(status.success(), "kill -9 {pid}");
            let status = child.wait().expect("wait");
            assert!(
                !status.success(),
                "a killed server does not exit cleanly: {status}"
            );
        }
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

/// Starts `command` with its sandbox on `data_dir` and the given ports, waits for its banner
/// (which names the platform's URL) and returns it.
pub fn start(
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

/// A call to a spawned server with an optional JSON body: the status, and the JSON answer
/// (`Null` when it is not JSON).
pub async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    bearer: &str,
    body: Option<serde_json::Value>,
) -> (reqwest::StatusCode, serde_json::Value) {
    let mut request = http.request(method, url).bearer_auth(bearer);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("an answer");
    let status = response.status();
    let body = response.json().await.unwrap_or(serde_json::Value::Null);
    (status, body)
}

/// Registers an owner on the spawned server at `api` and connects the sandbox's demo token as
/// the tenant's Airtable (asserting both); answers the access token.
pub async fn connected_owner(http: &reqwest::Client, api: &str) -> String {
    let (status, registered) = call(
        http,
        reqwest::Method::POST,
        format!("{api}/v1/auth/register"),
        "",
        Some(serde_json::json!({
            "email": "owner@example.com",
            "password": crate::PASSWORD,
            "name": crate::OWNER_NAME
        })),
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{registered}");
    let access = registered["access_token"]
        .as_str()
        .expect("an access token")
        .to_string();
    let (status, body) = call(
        http,
        reqwest::Method::PUT,
        format!("{api}/v1/connections/airtable"),
        &access,
        Some(serde_json::json!({"token": crate::DEMO_TOKEN})),
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    access
}
