//! MCP `tools/call` over HTTP against the dev server binary and its Airtable sandbox, with
//! arguments a caller should never get past the tool: ids that would steer the tenant's
//! Airtable token to another endpoint (`meta/whoami`, `meta/bases`) and values beyond a declared
//! limit. Each is refused as invalid arguments in the form the protocol revision asks for
//! (-32602 before 2025-11-25, an `isError` tool result from then on), and the sandbox sees no
//! request at all. The `/v0` gateway parses its path with the same types: a dot segment that a
//! raw HTTP client sends encoded is refused there too.

mod common;

use common::{Server, devserver, start_fresh};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const BASE: &str = "appSandboxDemoCRM";
const DEMO_TOKEN: &str = "patSandboxDemo001.demo-token-for-local-development-only";
const PASSWORD: &str = "correct horse battery staple";

struct Platform {
    _server: Server,
    _data: tempfile::TempDir,
    url: String,
    sandbox: String,
    http: reqwest::Client,
}

impl Platform {
    fn start() -> Self {
        let mut command = devserver();
        command
            .env("CLIENT_AUTH_REQUESTS_PER_MINUTE", "1000")
            .env("TENANT_REQUESTS_PER_MINUTE", "0");
        let fresh = start_fresh(command);
        Self {
            _server: fresh.server,
            _data: fresh.data,
            url: fresh.url,
            sandbox: fresh.sandbox,
            http: reqwest::Client::new(),
        }
    }

    async fn json(
        &self,
        method: Method,
        url: String,
        bearer: &str,
        body: Value,
    ) -> (StatusCode, Value) {
        let response = self
            .http
            .request(method, url)
            .bearer_auth(bearer)
            .json(&body)
            .send()
            .await
            .expect("answered");
        let status = response.status();
        let text = response.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// A key of a connected tenant with `scopes`.
    async fn connected_key(&self, scopes: &[&str]) -> String {
        let (status, body) = self
            .json(
                Method::POST,
                format!("{}/v1/auth/register", self.url),
                "",
                json!({"email": "mcp@example.com", "password": PASSWORD}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let access = body["access_token"].as_str().expect("access").to_string();
        let (status, body) = self
            .json(
                Method::PUT,
                format!("{}/v1/connections/airtable", self.url),
                &access,
                json!({"token": DEMO_TOKEN}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, body) = self
            .json(
                Method::POST,
                format!("{}/v1/api-keys", self.url),
                &access,
                json!({"name": "mcp", "scopes": scopes}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["key"].as_str().expect("key").to_string()
    }

    /// `tools/call` at an initialize-based protocol revision (stateless: no session needed).
    async fn call_tool(&self, key: &str, version: &str, name: &str, arguments: &Value) -> Value {
        let response = self
            .http
            .post(format!("{}/mcp", self.url))
            .bearer_auth(key)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", version)
            .json(&json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
                "params": {"name": name, "arguments": arguments}}))
            .send()
            .await
            .expect("answered");
        let text = response.text().await.expect("body");
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("JSON-RPC answer: {text}"))
    }

    async fn upstream_requests(&self) -> u64 {
        common::upstream_requests(&self.http, &self.sandbox).await
    }

    async fn reset_counters(&self) {
        self.http
            .delete(format!("{}/_sandbox/counters", self.sandbox))
            .send()
            .await
            .expect("reset counters");
    }
}

#[tokio::test]
async fn bad_tool_arguments_are_refused_in_each_revisions_form_and_never_reach_airtable() {
    let platform = Platform::start();
    let key = platform.connected_key(&["records:read"]).await;
    let cases = [
        (
            "get_record",
            json!({"base_id": "meta", "table": "whoami", "record_id": ".."}),
            "/base_id",
        ),
        (
            "list_records",
            json!({"base_id": "meta", "table": "bases"}),
            "/base_id",
        ),
        (
            "get_record",
            json!({"base_id": BASE, "table": "Contacts", "record_id": ".."}),
            "/record_id",
        ),
        (
            "list_records",
            json!({"base_id": BASE, "table": ".."}),
            "/table",
        ),
        (
            "search_records",
            json!({"base_id": BASE, "table": "Contacts", "query": "x".repeat(501)}),
            "/query: longer than 500 characters",
        ),
        (
            "list_records",
            json!({"base_id": BASE, "table": "Contacts", "max_records": 1001}),
            "/max_records: greater than the maximum of 1000",
        ),
    ];
    platform.reset_counters().await;
    for (name, arguments, named) in &cases {
        // Before 2025-11-25 invalid arguments are a protocol error.
        for version in ["2025-03-26", "2025-06-18"] {
            let answer = platform.call_tool(&key, version, name, arguments).await;
            assert_eq!(
                answer["error"]["code"], -32602,
                "{version} {name}: {answer}"
            );
            let message = answer["error"]["message"].as_str().unwrap_or_default();
            assert!(message.contains(named), "{version} {name}: {message}");
        }
        // From 2025-11-25 they are a tool execution error the model can read.
        let answer = platform
            .call_tool(&key, "2025-11-25", name, arguments)
            .await;
        assert_eq!(answer["result"]["isError"], true, "{name}: {answer}");
        let text = answer["result"]["content"][0]["text"]
            .as_str()
            .unwrap_or_default();
        assert!(text.contains(named), "{name}: {text}");
    }
    assert_eq!(
        platform.upstream_requests().await,
        0,
        "no refused call reached Airtable"
    );

    // The same key and tools work with good arguments: the refusals were the arguments'.
    let answer = platform
        .call_tool(
            &key,
            "2025-11-25",
            "get_record",
            &json!({"base_id": BASE, "table": "Contacts", "record_id": "recCt000000000001"}),
        )
        .await;
    assert_ne!(answer["result"]["isError"], true, "{answer}");
    assert_eq!(
        answer["result"]["structuredContent"]["id"],
        "recCt000000000001"
    );
    assert!(platform.upstream_requests().await > 0);
}

/// Sends `GET <path>` exactly as written (no client-side normalisation of `%2E%2E`, which a URL
/// library would resolve before sending) and returns the status code. The server is another
/// process, so blocking I/O here holds up nothing it needs.
fn raw_get(url: &str, path: &str, bearer: &str) -> u16 {
    use std::io::{Read, Write};
    let host = url.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(host).expect("connect");
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {bearer}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read");
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("an HTTP answer: {answer}"))
}

#[tokio::test]
async fn encoded_dot_segments_in_a_v0_path_are_refused_without_an_upstream_call() {
    let platform = Platform::start();
    let key = platform.connected_key(&["records:read"]).await;
    platform.reset_counters().await;
    for path in [
        format!("/v0/{BASE}/%2E%2E"),
        format!("/v0/{BASE}/%2e"),
        format!("/v0/{BASE}/%2E%2E/recCt000000000001"),
        format!("/v0/{BASE}/Contacts/%2E%2E"),
    ] {
        assert_eq!(raw_get(&platform.url, &path, &key), 404, "{path}");
    }
    assert_eq!(platform.upstream_requests().await, 0);
    // The same request with a real table goes through.
    let status = raw_get(&platform.url, &format!("/v0/{BASE}/Contacts"), &key);
    assert_eq!(status, 200);
}
