//! The state the sample requests need, prepared once on moto before any function starts: the
//! dev server runs on the AWS adapters against moto (it provisions the tables and queues, and
//! creates the token-signing secret on first use), starts the Airtable sandbox in-process, and
//! is driven over HTTP as a user would: register the owner the login event names, connect the
//! sandbox, mint an API key with every scope. The function binaries then share its tables,
//! queues and secrets (same prefixes) without provisioning anything themselves.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::process::{Child, Command};

/// The owner the login event signs in as (`events/api-auth-login.json`).
const EMAIL: &str = "ada@example.com";
const PASSWORD: &str = "correct horse battery staple";
/// The sandbox's demo token, as `events/api-connections-put.json` sends it.
const SANDBOX_TOKEN: &str = "patSandboxDemo001.demo-token-for-local-development-only";
const ALL_SCOPES: [&str; 9] = [
    "records:read",
    "records:write",
    "schema:read",
    "schema:write",
    "chat",
    "workflows",
    "sagas",
    "usage:read",
    "admin",
];
/// Each queue's variable and its name after the resource prefix, as the dev server provisions
/// them (`ports::QueueName::logical_name`).
const QUEUES: [(&str, &str); 4] = [
    ("QUEUE_RUNS_URL", "runs"),
    ("QUEUE_RUNS_DLQ_URL", "runs-dlq"),
    ("QUEUE_EVENTS_URL", "events.fifo"),
    ("QUEUE_EVENTS_DLQ_URL", "events-dlq.fifo"),
];
/// Provisioning tables and queues on moto takes a while on a busy machine.
const START_TIMEOUT: Duration = Duration::from_secs(180);

/// Where moto is and the names this run's resources carry.
#[derive(Debug, Clone)]
pub struct Resources {
    pub moto: String,
    pub resource_prefix: String,
    pub secrets_prefix: String,
}

impl Resources {
    /// Fresh names, so runs against one moto never share state.
    pub fn fresh(moto: &str) -> Self {
        let run = std::process::id();
        Self {
            moto: moto.trim_end_matches('/').to_string(),
            resource_prefix: format!("coldstart-{run}-"),
            secrets_prefix: format!("coldstart-{run}/"),
        }
    }

    /// What every process of this run needs to reach the AWS emulator at `endpoint`.
    fn aws_environment(&self, endpoint: &str) -> Vec<(String, String)> {
        [
            ("BACKEND", "aws"),
            ("AWS_ENDPOINT_URL", endpoint),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_SESSION_TOKEN", "test"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("RESOURCE_PREFIX", &self.resource_prefix),
            ("SECRETS_PREFIX", &self.secrets_prefix),
            // Limits stay on (their store calls are part of a request's cost) but out of reach
            // of the benchmark's hundreds of requests per minute.
            ("TENANT_REQUESTS_PER_MINUTE", "1000000"),
            ("CLIENT_AUTH_REQUESTS_PER_MINUTE", "1000000"),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect()
    }
}

/// The prepared platform: the dev server (stopped when dropped) and what the functions need.
pub struct Platform {
    _server: Child,
    _data: tempfile::TempDir,
    resources: Resources,
    sandbox_url: String,
    queue_urls: Vec<(String, String)>,
    /// An API key with every scope, for the events' `authorization` header.
    pub api_key: String,
}

impl Platform {
    /// Starts the dev server on moto and prepares the tenant. The server's output goes to
    /// `log`.
    pub async fn prepare(
        devserver: &Path,
        resources: Resources,
        log: &Path,
    ) -> Result<Self, String> {
        let data = tempfile::tempdir().map_err(|e| format!("cannot make a data dir: {e}"))?;
        let (port, sandbox_port) = (free_port()?, free_port()?);
        let output = std::fs::File::create(log)
            .map_err(|e| format!("cannot create {}: {e}", log.display()))?;
        let errors = output
            .try_clone()
            .map_err(|e| format!("cannot share {}: {e}", log.display()))?;
        let server = Command::new(devserver)
            .envs(resources.aws_environment(&resources.moto))
            .env("PORT", port.to_string())
            .env("SANDBOX_PORT", sandbox_port.to_string())
            .env("DATA_DIR", data.path())
            .env("RUST_LOG", "warn")
            .env_remove("AIRTABLE_API_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::from(output))
            .stderr(Stdio::from(errors))
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", devserver.display()))?;
        let api = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        wait_until_healthy(&http, &api, log).await?;

        let registered = call(
            http.post(format!("{api}/v1/auth/register"))
                .json(&json!({"email": EMAIL, "password": PASSWORD, "name": "Ada"})),
            "register the owner",
        )
        .await?;
        let access = field(&registered, "access_token")?;
        call(
            http.put(format!("{api}/v1/connections/airtable"))
                .bearer_auth(&access)
                .json(&json!({"token": SANDBOX_TOKEN})),
            "connect the Airtable sandbox",
        )
        .await?;
        let created = call(
            http.post(format!("{api}/v1/api-keys"))
                .bearer_auth(&access)
                .json(&json!({"name": "coldstart-bench", "scopes": ALL_SCOPES})),
            "mint an API key",
        )
        .await?;
        let api_key = field(&created, "key")?;
        let queue_urls = queue_urls(&http, &resources).await?;
        Ok(Self {
            _server: server,
            _data: data,
            resources,
            sandbox_url: format!("http://127.0.0.1:{sandbox_port}"),
            queue_urls,
            api_key,
        })
    }

    /// A function's variables: the AWS backend at `endpoint` (the counting proxy), with every
    /// resource named, so its init provisions nothing and looks nothing up.
    pub fn function_environment(&self, endpoint: &str) -> Vec<(String, String)> {
        let mut environment = self.resources.aws_environment(endpoint);
        environment.push(("AWS_PROVISION".to_string(), "false".to_string()));
        environment.push(("AIRTABLE_API_URL".to_string(), self.sandbox_url.clone()));
        environment.extend(self.queue_urls.iter().cloned());
        environment
    }
}

fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .map_err(|e| format!("no free port: {e}"))
}

async fn wait_until_healthy(http: &reqwest::Client, api: &str, log: &Path) -> Result<(), String> {
    let started = Instant::now();
    while started.elapsed() < START_TIMEOUT {
        let health = http.get(format!("{api}/v1/health")).send().await;
        if health.is_ok_and(|answer| answer.status().is_success()) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err(format!(
        "the dev server did not answer /v1/health within {START_TIMEOUT:?}; see {}",
        log.display()
    ))
}

/// Sends a setup request and answers its JSON, failing on anything but success.
async fn call(request: reqwest::RequestBuilder, what: &str) -> Result<Value, String> {
    let answer = request
        .send()
        .await
        .map_err(|e| format!("cannot {what}: {e}"))?;
    let status = answer.status();
    let body = answer.text().await.unwrap_or_default();
    if !status.is_success() {
        return Err(format!("cannot {what}: {status} {body}"));
    }
    serde_json::from_str(&body).map_err(|e| format!("cannot {what}: {e} in {body}"))
}

fn field(document: &Value, name: &str) -> Result<String, String> {
    document
        .get(name)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| format!("no {name:?} in {document}"))
}

/// The URLs of the queues the dev server provisioned, from moto's SQS (`GetQueueUrl`, JSON
/// protocol; moto checks no signature).
async fn queue_urls(
    http: &reqwest::Client,
    resources: &Resources,
) -> Result<Vec<(String, String)>, String> {
    let mut urls = Vec::new();
    for (variable, name) in QUEUES {
        let queue = format!("{}{name}", resources.resource_prefix);
        let answer = call(
            http.post(format!("{}/", resources.moto))
                .header("content-type", "application/x-amz-json-1.0")
                .header("x-amz-target", "AmazonSQS.GetQueueUrl")
                .header(
                    "authorization",
                    "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/sqs/aws4_request, \
                     SignedHeaders=host, Signature=0",
                )
                .json(&json!({"QueueName": queue})),
            &format!("find the queue {queue}"),
        )
        .await?;
        urls.push((variable.to_string(), field(&answer, "QueueUrl")?));
    }
    Ok(urls)
}
