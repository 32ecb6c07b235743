//! MCP `tools/call` over HTTP against the dev server binary and its Airtable sandbox, with
//! arguments a caller should never get past the tool: ids that would steer the tenant's
//! Airtable token to another endpoint (`meta/whoami`, `meta/bases`) and values beyond a declared
//! limit. Each is refused as invalid arguments in the form the protocol revision asks for
//! (-32602 before 2025-11-25, an `isError` tool result from then on), and the sandbox sees no
//! request at all. The `/v0` gateway parses its path with the same types: a dot segment that a
//! raw HTTP client sends encoded is refused there too.

use serde_json::{Value, json};
use testkit::{DEMO_BASE_ID as BASE, TestApp};

/// `tools/call` at an initialize-based protocol revision (stateless: no session needed).
async fn call_tool(
    app: &TestApp,
    key: &str,
    version: &str,
    name: &str,
    arguments: &Value,
) -> Value {
    let reply = app
        .send(
            app.request(reqwest::Method::POST, "/mcp", key)
                .header("accept", "application/json, text/event-stream")
                .header("mcp-protocol-version", version)
                .json(&json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
                    "params": {"name": name, "arguments": arguments}})),
        )
        .await;
    assert!(reply.body.is_object(), "JSON-RPC answer: {}", reply.text);
    reply.body
}

#[tokio::test]
async fn bad_tool_arguments_are_refused_in_each_revisions_form_and_never_reach_airtable() {
    let platform = TestApp::spawn().await;
    let (_, key) = platform
        .connected_key("mcp@example.com", &["records:read"])
        .await;
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
    platform.reset_upstream_requests();
    for (name, arguments, named) in &cases {
        // Before 2025-11-25 invalid arguments are a protocol error.
        for version in ["2025-03-26", "2025-06-18"] {
            let answer = call_tool(&platform, &key, version, name, arguments).await;
            assert_eq!(
                answer["error"]["code"], -32602,
                "{version} {name}: {answer}"
            );
            let message = answer["error"]["message"].as_str().unwrap_or_default();
            assert!(message.contains(named), "{version} {name}: {message}");
        }
        // From 2025-11-25 they are a tool execution error the model can read.
        let answer = call_tool(&platform, &key, "2025-11-25", name, arguments).await;
        assert_eq!(answer["result"]["isError"], true, "{name}: {answer}");
        let text = answer["result"]["content"][0]["text"]
            .as_str()
            .unwrap_or_default();
        assert!(text.contains(named), "{name}: {text}");
    }
    assert_eq!(
        platform.upstream_requests(),
        0,
        "no refused call reached Airtable"
    );

    // The same key and tools work with good arguments: the refusals were the arguments'.
    let answer = call_tool(
        &platform,
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
    assert!(platform.upstream_requests() > 0);
}

/// Sends `GET <path>` exactly as written (no client-side normalisation of `%2E%2E`, which a URL
/// library would resolve before sending) and returns the status code. The server runs on this
/// test's runtime, so the blocking I/O runs on a thread of its own.
async fn raw_get(app: &TestApp, path: &str, bearer: &str) -> u16 {
    let (host, path, bearer) = (app.address(), path.to_string(), bearer.to_string());
    tokio::task::spawn_blocking(move || raw_get_blocking(host, &path, &bearer))
        .await
        .expect("the raw request ran")
}

fn raw_get_blocking(host: std::net::SocketAddr, path: &str, bearer: &str) -> u16 {
    use std::io::{Read, Write};
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
    let platform = TestApp::spawn().await;
    let (_, key) = platform
        .connected_key("mcp@example.com", &["records:read"])
        .await;
    platform.reset_upstream_requests();
    for path in [
        format!("/v0/{BASE}/%2E%2E"),
        format!("/v0/{BASE}/%2e"),
        format!("/v0/{BASE}/%2E%2E/recCt000000000001"),
        format!("/v0/{BASE}/Contacts/%2E%2E"),
    ] {
        assert_eq!(raw_get(&platform, &path, &key).await, 404, "{path}");
    }
    assert_eq!(platform.upstream_requests(), 0);
    // The same request with a real table goes through.
    let status = raw_get(&platform, &format!("/v0/{BASE}/Contacts"), &key).await;
    assert_eq!(status, 200);
}
