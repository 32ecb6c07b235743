//! The platform running in this process, with the fixtures it talks to, for as long as a test
//! holds it.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use airtable_sandbox::SandboxHandle;
use devserver::Running;
use fake_llm::FakeLlmHandle;
use platform::Platform;
use reqwest::Method;
use serde_json::Value;
use tokio::sync::oneshot;

use crate::builder::{MotoNames, TestAppBuilder};
use crate::logs;
use crate::reply::{Bearer, Reply};

/// A running platform on `127.0.0.1:<free port>` with its own data directory, Airtable sandbox
/// and, when asked, fake LLM. Dropping it stops the server; its task ends with the test's
/// runtime at the latest.
pub struct TestApp {
    address: SocketAddr,
    http: reqwest::Client,
    data: tempfile::TempDir,
    sandbox: SandboxHandle,
    llm: Option<FakeLlmHandle>,
    moto_names: Option<MotoNames>,
    logs_from: Option<usize>,
    stop: Option<oneshot::Sender<()>>,
    platform: Arc<Platform>,
    running: Option<Running>,
}

impl TestApp {
    /// The platform with the kit's defaults (see [`TestAppBuilder`]).
    pub async fn spawn() -> Self {
        Self::builder().spawn().await
    }

    pub fn builder() -> TestAppBuilder {
        TestAppBuilder::default()
    }

    pub(crate) async fn start(mut options: TestAppBuilder) -> Self {
        if options.has_llm() {
            refuse_process_model_keys();
        }
        let logs_from = options
            .captures_logs()
            .then(logs::install)
            .filter(|installed| *installed)
            .map(|_| logs::mark());
        let data = tempfile::tempdir().expect("a temporary DATA_DIR");
        write_secrets(data.path(), &options.model_secrets());
        let sandbox = options
            .take_sandbox()
            .start(loopback())
            .await
            .expect("the Airtable sandbox starts");
        let llm = match options.take_llm() {
            Some(llm) => Some(llm.start(loopback()).await.expect("the fake LLM starts")),
            None => None,
        };
        let endpoints = llm
            .as_ref()
            .map(|llm| (llm.gemini_base_url(), llm.openai_base_url()));
        let (config, moto_names) = options.config(data.path(), sandbox.url(), endpoints);
        let (stop, stopped) = oneshot::channel::<()>();
        let running = devserver::start_with(&config, options.take_start_options(), async move {
            let _ = stopped.await;
        })
        .await
        .unwrap_or_else(|err| panic!("the platform starts: {err}"));
        Self {
            address: running.address,
            http: reqwest::Client::new(),
            data,
            sandbox,
            llm,
            moto_names,
            logs_from,
            stop: Some(stop),
            platform: Arc::clone(&running.platform),
            running: Some(running),
        }
    }

    /// `http://127.0.0.1:<port>`, the platform's base URL.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The platform's URL of `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// A client shared by the app's helpers; clone it for concurrent requests.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The platform's `DATA_DIR` (empty on moto).
    pub fn data_dir(&self) -> &Path {
        self.data.path()
    }

    /// The Airtable sandbox the platform calls as Airtable: its data, faults and counters.
    pub fn sandbox(&self) -> &SandboxHandle {
        &self.sandbox
    }

    /// The sandbox's base URL, for calls straight to "Airtable".
    pub fn sandbox_url(&self) -> String {
        self.sandbox.url()
    }

    /// The fake LLM; panics when the app was built without [`TestAppBuilder::fake_llm`].
    pub fn llm(&self) -> &FakeLlmHandle {
        self.llm
            .as_ref()
            .expect("this app has no fake LLM: build it with .fake_llm(...)")
    }

    /// On moto, the prefix of every secret's name in Secrets Manager.
    pub fn secrets_prefix(&self) -> &str {
        &self.moto_names().secrets
    }

    /// On moto, the prefix of every table's and queue's name (`<prefix>runs`, say): what a
    /// test names a queue's ARN with, as Lambda's SQS events do.
    pub fn resource_prefix(&self) -> &str {
        &self.moto_names().resources
    }

    fn moto_names(&self) -> &MotoNames {
        self.moto_names
            .as_ref()
            .expect("resources have a prefix only on moto: build the app with .on_moto(...)")
    }

    /// What the platform logged since this app started; panics unless built with
    /// [`TestAppBuilder::capture_logs`] (and nothing else in the test binary set a subscriber).
    pub fn logs(&self) -> String {
        let from = self
            .logs_from
            .expect("logs are captured only for an app built with .capture_logs()");
        logs::since(from)
    }

    /// A request to the platform as `bearer`, to add headers or a body to.
    pub fn request(
        &self,
        method: Method,
        path: &str,
        bearer: impl Bearer,
    ) -> reqwest::RequestBuilder {
        let request = self.http.request(method, self.url(path));
        match bearer.token() {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// Sends `request` and reads the whole answer. Panics when there is none.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        Reply::read(request.send().await.expect("the request is answered")).await
    }

    /// A call to the platform with an optional JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        bearer: impl Bearer,
        body: Option<Value>,
    ) -> Reply {
        let mut request = self.request(method, path, bearer);
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.send(request).await
    }

    pub async fn get(&self, path: &str, bearer: impl Bearer) -> Reply {
        self.call(Method::GET, path, bearer, None).await
    }

    pub async fn post(&self, path: &str, bearer: impl Bearer, body: Value) -> Reply {
        self.call(Method::POST, path, bearer, Some(body)).await
    }

    /// The same call straight to the sandbox with its demo token (every scope, every base).
    pub async fn straight(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.sandbox.url()))
            .bearer_auth(crate::DEMO_TOKEN);
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.send(request).await
    }

    /// One of the sandbox's admin endpoints (`/_sandbox/...`: faults, rate limits, tokens,
    /// reset); its JSON answer (`Null` when there is none). Panics when it fails.
    pub async fn sandbox_admin(&self, method: Method, path: &str, body: Value) -> Value {
        let reply = self
            .send(
                self.http
                    .request(method, format!("{}{path}", self.sandbox.url()))
                    .json(&body),
            )
            .await;
        assert!(reply.status.is_success(), "{path}: {}", reply.text);
        reply.body
    }

    /// How many records the demo base's `table` holds in the sandbox, read straight (every
    /// page): what a test compares to show a write happened once, or not at all.
    pub async fn sandbox_record_count(&self, table: &str) -> usize {
        let mut total = 0;
        let mut offset: Option<String> = None;
        loop {
            let mut path = format!("/v0/{}/{table}?pageSize=100", crate::DEMO_BASE_ID);
            if let Some(offset) = &offset {
                path.push_str(&format!("&offset={offset}"));
            }
            let page = self.straight(Method::GET, &path, None).await;
            assert!(page.status.is_success(), "{path}: {}", page.text);
            total += page.body["records"].as_array().map_or(0, Vec::len);
            match page.body["offset"].as_str() {
                Some(next) => offset = Some(next.to_string()),
                None => return total,
            }
        }
    }

    /// How many requests reached the sandbox ("Airtable") so far: what a test reads to show
    /// that a refusal or a cache hit cost no upstream call.
    pub fn upstream_requests(&self) -> u64 {
        self.sandbox.counters().total_requests
    }

    /// Starts counting upstream requests from zero.
    pub fn reset_upstream_requests(&self) {
        self.sandbox.reset_counters();
    }

    /// The platform the server and its workers share: its ports, to send a queue message or
    /// read the store as a handler would.
    pub fn platform(&self) -> &Arc<Platform> {
        &self.platform
    }

    /// Stops the server and waits until it has: requests in flight answered, the workers
    /// drained (started messages finished, the rest back in their queue).
    pub async fn shutdown(mut self) {
        self.stop();
        if let Some(running) = self.running.take() {
            running
                .wait()
                .await
                .unwrap_or_else(|err| panic!("the platform stops cleanly: {err}"));
        }
    }

    /// Stops the server: it stops accepting and finishes the requests in flight.
    pub fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.stop();
    }
}

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// The embedded secrets read the process environment before their file, so a developer's own
/// `GEMINI_API_KEY` would quietly replace the fake LLM's keys and fail the chat tests far from
/// the cause. Say so at once instead.
fn refuse_process_model_keys() {
    for variable in [
        "GEMINI_API_KEY",
        "OPENAI_API_KEY",
        "SECRET_LLM_GEMINI_API_KEY",
        "SECRET_LLM_OPENAI_API_KEY",
    ] {
        let set = std::env::var(variable).is_ok_and(|v| !v.trim().is_empty());
        assert!(
            !set,
            "{variable} is set in the test's environment; the in-process platform would use it \
             instead of the test's keys: unset it for the tests"
        );
    }
}

/// Stores `secrets` in the embedded backend's secrets file under `data_dir` before start.
fn write_secrets(data_dir: &Path, secrets: &[(&str, &str)]) {
    if secrets.is_empty() {
        return;
    }
    let map: serde_json::Map<String, Value> = secrets
        .iter()
        .map(|(name, value)| (name.to_string(), Value::from(*value)))
        .collect();
    std::fs::write(data_dir.join(SECRETS_FILE), Value::Object(map).to_string())
        .expect("write the secrets file");
}

/// The embedded backend's secrets file under `DATA_DIR` (`backend`'s `SECRETS_FILE`, which it
/// does not export).
const SECRETS_FILE: &str = "secrets.json";
