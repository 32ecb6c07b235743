//! The server core end to end at the JSON level, with a fake backend: both protocol eras,
//! the error codes and HTTP statuses of each, and the transport rules.

use std::collections::BTreeMap;

use async_trait::async_trait;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use mcp::{
    CallError, HttpReply, McpBackend, PromptArgument, PromptDescriptor, PromptMessage,
    PromptMessages, ResourceContents, ResourceDescriptor, Role, ServerInfo, ToolAnnotations,
    ToolDescriptor, ToolResult, handle_post,
};
use serde_json::{Value, json};

struct FakeBackend;

#[async_trait]
impl McpBackend for FakeBackend {
    async fn list_tools(&self) -> Vec<ToolDescriptor> {
        vec![
            ToolDescriptor {
                name: "echo".into(),
                title: Some("Echo".into()),
                description: "Returns its arguments".into(),
                input_schema: json!({"type": "object", "properties": {"text": {"type": "string"}}}),
                output_schema: Some(json!({"type": "object"})),
                annotations: Some(ToolAnnotations {
                    read_only_hint: Some(true),
                    open_world_hint: Some(false),
                    ..ToolAnnotations::default()
                }),
            },
            ToolDescriptor {
                name: "count".into(),
                title: None,
                description: "Needs an integer n".into(),
                input_schema: json!({"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}),
                output_schema: None,
                annotations: None,
            },
        ]
    }

    async fn call_tool(&self, name: &str, arguments: Value) -> Result<ToolResult, CallError> {
        match name {
            "echo" => Ok(ToolResult::structured(arguments)),
            "count" => match arguments.get("n").and_then(Value::as_i64) {
                Some(n) => Ok(ToolResult::text(format!("counted to {n}"))),
                None => Err(CallError::InvalidArguments("n must be an integer".into())),
            },
            "fail" => Ok(ToolResult::error("Airtable said: NOT_FOUND")),
            "boom" => Err(CallError::Internal("store unavailable".into())),
            _ => Err(CallError::NotFound),
        }
    }

    async fn list_prompts(&self) -> Vec<PromptDescriptor> {
        vec![PromptDescriptor {
            name: "analysis".into(),
            title: Some("Analyse a table".into()),
            description: Some("Analyses one table".into()),
            arguments: vec![PromptArgument {
                name: "table".into(),
                title: Some("Table".into()),
                description: Some("Table name".into()),
                required: true,
            }],
        }]
    }

    async fn get_prompt(
        &self,
        name: &str,
        arguments: BTreeMap<String, String>,
    ) -> Result<PromptMessages, CallError> {
        if name != "analysis" {
            return Err(CallError::NotFound);
        }
        let Some(table) = arguments.get("table") else {
            return Err(CallError::InvalidArguments("table is required".into()));
        };
        Ok(PromptMessages {
            description: Some("Analysis".into()),
            messages: vec![PromptMessage {
                role: Role::User,
                text: format!("Analyse {table}"),
            }],
        })
    }

    async fn list_resources(&self) -> Result<Vec<ResourceDescriptor>, String> {
        Ok(vec![ResourceDescriptor {
            uri: "airtable://bases/appDemo/schema".into(),
            name: "appDemo schema".into(),
            title: Some("Demo base".into()),
            description: None,
            mime_type: Some("application/json".into()),
        }])
    }

    async fn read_resource(&self, uri: &str) -> Result<ResourceContents, CallError> {
        if uri == "airtable://bases/appDemo/schema" {
            Ok(ResourceContents {
                uri: uri.into(),
                mime_type: Some("application/json".into()),
                text: r#"{"tables":[]}"#.into(),
            })
        } else {
            Err(CallError::NotFound)
        }
    }
}

struct BrokenListing;

#[async_trait]
impl McpBackend for BrokenListing {
    async fn list_tools(&self) -> Vec<ToolDescriptor> {
        Vec::new()
    }
    async fn call_tool(&self, _: &str, _: Value) -> Result<ToolResult, CallError> {
        Err(CallError::NotFound)
    }
    async fn list_prompts(&self) -> Vec<PromptDescriptor> {
        Vec::new()
    }
    async fn get_prompt(
        &self,
        _: &str,
        _: BTreeMap<String, String>,
    ) -> Result<PromptMessages, CallError> {
        Err(CallError::NotFound)
    }
    async fn list_resources(&self) -> Result<Vec<ResourceDescriptor>, String> {
        Err("Airtable is unreachable".into())
    }
    async fn read_resource(&self, _: &str) -> Result<ResourceContents, CallError> {
        Err(CallError::NotFound)
    }
}

fn server() -> ServerInfo {
    ServerInfo {
        title: Some("PyAirtable MCP".into()),
        instructions: Some("Use the tools to read and change Airtable records.".into()),
        cache_ttl_ms: 60_000,
        ..ServerInfo::new("pyairtable-mcp", "0.1.0")
    }
}

/// The headers every MCP client sends, plus `extra`.
fn headers(extra: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    map.insert(
        "accept",
        HeaderValue::from_static("application/json, text/event-stream"),
    );
    map.insert("content-type", HeaderValue::from_static("application/json"));
    for (name, value) in extra {
        map.append(
            HeaderName::from_bytes(name.as_bytes()).expect("header name"),
            HeaderValue::from_str(value).expect("header value"),
        );
    }
    map
}

async fn post_with(backend: &dyn McpBackend, headers: &HeaderMap, body: &Value) -> HttpReply {
    handle_post(headers, body.to_string().as_bytes(), backend, &server()).await
}

async fn post(headers: &HeaderMap, body: &Value) -> HttpReply {
    post_with(&FakeBackend, headers, body).await
}

fn json_of(reply: &HttpReply) -> Value {
    assert_eq!(
        reply.headers.get("content-type").map(|v| v.as_bytes()),
        Some(&b"application/json"[..])
    );
    reply.body_json().expect("a JSON body")
}

fn assert_no_session(reply: &HttpReply) {
    assert!(
        reply.headers.get("mcp-session-id").is_none(),
        "no session id is ever minted"
    );
}

/// A 2025-era request at `version` (header set, no `_meta`).
fn legacy_headers(version: &str) -> HeaderMap {
    headers(&[("mcp-protocol-version", version)])
}

fn meta() -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "test-client", "version": "1.0"},
        "io.modelcontextprotocol/clientCapabilities": {},
    })
}

/// A 2026-07-28 request: `_meta` in the params, headers mirroring the body.
fn modern(id: i64, method: &str, mut params: Value) -> (HeaderMap, Value) {
    params["_meta"] = meta();
    let mut extra = vec![
        ("mcp-protocol-version", "2026-07-28".to_owned()),
        ("mcp-method", method.to_owned()),
    ];
    if let Some(name) = params
        .get("name")
        .or_else(|| params.get("uri"))
        .and_then(Value::as_str)
    {
        extra.push(("mcp-name", name.to_owned()));
    }
    let extra: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
    (
        headers(&extra),
        json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}),
    )
}

fn error_code(body: &Value) -> i64 {
    body["error"]["code"].as_i64().expect("an error code")
}

#[tokio::test]
async fn legacy_initialize_then_tools_flow() {
    // initialize: no version header, as the Python SDK sends it.
    let reply = post(
        &headers(&[]),
        &json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "py", "version": "2"}}}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_no_session(&reply);
    let body = json_of(&reply);
    assert_eq!(body["id"], 0);
    let result = &body["result"];
    assert_eq!(result["protocolVersion"], "2025-11-25");
    assert_eq!(
        result["serverInfo"],
        json!({"name": "pyairtable-mcp", "title": "PyAirtable MCP", "version": "0.1.0"})
    );
    assert_eq!(
        result["capabilities"]["tools"],
        json!({"listChanged": false})
    );
    assert!(result["capabilities"]["prompts"].is_object());
    assert!(result["capabilities"]["resources"].is_object());
    assert_eq!(
        result["instructions"],
        "Use the tools to read and change Airtable records."
    );
    assert!(
        result.get("resultType").is_none(),
        "2025 results carry no 2026 fields"
    );

    let reply = post(
        &legacy_headers("2025-11-25"),
        &json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    assert!(reply.body.is_empty());

    let reply = post(
        &legacy_headers("2025-11-25"),
        &json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    let body = json_of(&reply);
    let tools = body["result"]["tools"].as_array().expect("tools");
    assert_eq!(tools.len(), 2);
    assert_eq!(tools[0]["name"], "echo");
    assert_eq!(tools[0]["title"], "Echo");
    assert_eq!(tools[0]["inputSchema"]["type"], "object");
    assert_eq!(tools[0]["outputSchema"], json!({"type": "object"}));
    assert_eq!(
        tools[0]["annotations"],
        json!({"readOnlyHint": true, "openWorldHint": false})
    );
    assert!(body["result"].get("ttlMs").is_none());

    let reply = post(
        &legacy_headers("2025-11-25"),
        &json!({"jsonrpc": "2.0", "id": "call-1", "method": "tools/call",
                "params": {"name": "echo", "arguments": {"text": "hi"}}}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_no_session(&reply);
    let body = json_of(&reply);
    assert_eq!(body["id"], "call-1");
    assert_eq!(
        body["result"],
        json!({"content": [{"type": "text", "text": "{\"text\":\"hi\"}"}], "structuredContent": {"text": "hi"}, "isError": false})
    );

    let reply = post(
        &legacy_headers("2025-11-25"),
        &json!({"jsonrpc": "2.0", "id": 2, "method": "ping"}),
    )
    .await;
    assert_eq!(
        json_of(&reply),
        json!({"jsonrpc": "2.0", "id": 2, "result": {}})
    );
}

#[tokio::test]
async fn initialize_negotiates_among_the_initialize_based_versions() {
    for (asked, answered) in [
        ("2025-03-26", "2025-03-26"),
        ("2025-06-18", "2025-06-18"),
        ("2025-11-25", "2025-11-25"),
        ("2024-11-05", "2025-11-25"),
        ("2026-07-28", "2025-11-25"),
        ("2099-01-01", "2025-11-25"),
    ] {
        let reply = post(
            &headers(&[]),
            &json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": asked, "capabilities": {}}}),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{asked}");
        assert_eq!(
            json_of(&reply)["result"]["protocolVersion"],
            answered,
            "{asked}"
        );
    }
    // 2025-03-26 knows no Implementation.title.
    let reply = post(
        &headers(&[]),
        &json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-03-26"}}),
    )
    .await;
    assert!(
        json_of(&reply)["result"]["serverInfo"]
            .get("title")
            .is_none()
    );

    let reply = post(
        &headers(&[]),
        &json!({"jsonrpc": "2.0", "id": 9, "method": "initialize", "params": {}}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    let body = json_of(&reply);
    assert_eq!(body["id"], 9);
    assert_eq!(error_code(&body), -32602);
}

#[tokio::test]
async fn modern_discover_then_tools_flow() {
    let (hdrs, body) = modern(1, "server/discover", json!({}));
    let reply = post(&hdrs, &body).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_no_session(&reply);
    let result = json_of(&reply)["result"].clone();
    assert_eq!(
        result["supportedVersions"],
        json!(["2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26"])
    );
    assert_eq!(
        result["capabilities"]["tools"],
        json!({"listChanged": false})
    );
    assert_eq!(result["resultType"], "complete");
    assert_eq!(result["ttlMs"], 60_000);
    assert_eq!(result["cacheScope"], "private");
    assert_eq!(
        result["_meta"]["io.modelcontextprotocol/serverInfo"],
        json!({"name": "pyairtable-mcp", "title": "PyAirtable MCP", "version": "0.1.0"})
    );
    assert_eq!(
        result["instructions"],
        "Use the tools to read and change Airtable records."
    );

    let (hdrs, body) = modern(2, "tools/list", json!({}));
    let reply = post(&hdrs, &body).await;
    assert_eq!(reply.status, StatusCode::OK);
    let result = json_of(&reply)["result"].clone();
    assert_eq!(result["tools"].as_array().map(Vec::len), Some(2));
    assert_eq!(result["resultType"], "complete");
    assert_eq!(result["ttlMs"], 60_000);
    assert_eq!(result["cacheScope"], "private");

    let (hdrs, body) = modern(
        3,
        "tools/call",
        json!({"name": "echo", "arguments": {"text": "hé"}}),
    );
    let reply = post(&hdrs, &body).await;
    assert_eq!(reply.status, StatusCode::OK);
    let result = json_of(&reply)["result"].clone();
    assert_eq!(result["structuredContent"], json!({"text": "hé"}));
    assert_eq!(result["isError"], false);
    assert_eq!(result["resultType"], "complete");
    assert!(result.get("ttlMs").is_none(), "tools/call is not cacheable");
    assert!(result["_meta"]["io.modelcontextprotocol/serverInfo"].is_object());
}

#[tokio::test]
async fn modern_header_mismatches_are_400_with_32020() {
    type Change = fn(&mut HeaderMap);
    let cases: Vec<(&str, Change)> = vec![
        ("version header differs from _meta", |h| {
            h.insert(
                "mcp-protocol-version",
                HeaderValue::from_static("2025-11-25"),
            );
        }),
        ("version header missing", |h| {
            h.remove("mcp-protocol-version");
        }),
        ("method header differs", |h| {
            h.insert("mcp-method", HeaderValue::from_static("tools/list"));
        }),
        ("method header missing", |h| {
            h.remove("mcp-method");
        }),
        ("name header differs", |h| {
            h.insert("mcp-name", HeaderValue::from_static("count"));
        }),
        ("name header missing", |h| {
            h.remove("mcp-name");
        }),
        ("name header badly encoded", |h| {
            h.insert("mcp-name", HeaderValue::from_static("=?base64?***?="));
        }),
        ("method header sent twice", |h| {
            h.append("mcp-method", HeaderValue::from_static("tools/call"));
        }),
    ];
    for (case, change) in cases {
        let (mut hdrs, body) = modern(5, "tools/call", json!({"name": "echo", "arguments": {}}));
        change(&mut hdrs);
        let reply = post(&hdrs, &body).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{case}");
        let body = json_of(&reply);
        assert_eq!(error_code(&body), -32020, "{case}: {body}");
        assert_eq!(body["id"], 5, "{case}");
    }

    // The base64 sentinel form of Mcp-Name is decoded before comparing.
    let (mut hdrs, body) = modern(
        6,
        "resources/read",
        json!({"uri": "airtable://bases/appDemo/schema"}),
    );
    hdrs.insert(
        "mcp-name",
        HeaderValue::from_static("=?base64?YWlydGFibGU6Ly9iYXNlcy9hcHBEZW1vL3NjaGVtYQ==?="),
    );
    let reply = post(&hdrs, &body).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body_json());

    // A prompts/get name is checked too.
    let (mut hdrs, body) = modern(
        7,
        "prompts/get",
        json!({"name": "analysis", "arguments": {"table": "Tasks"}}),
    );
    hdrs.insert("mcp-name", HeaderValue::from_static("summary"));
    assert_eq!(error_code(&json_of(&post(&hdrs, &body).await)), -32020);
}

#[tokio::test]
async fn modern_version_and_meta_errors() {
    // Header and _meta agree on a version this server does not speak: -32022 naming ours.
    let (mut hdrs, mut body) = modern(1, "tools/list", json!({}));
    hdrs.insert(
        "mcp-protocol-version",
        HeaderValue::from_static("2099-01-01"),
    );
    body["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"] = json!("2099-01-01");
    let reply = post(&hdrs, &body).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let body = json_of(&reply);
    assert_eq!(error_code(&body), -32022);
    assert_eq!(body["error"]["data"]["requested"], "2099-01-01");
    assert_eq!(body["error"]["data"]["supported"][0], "2026-07-28");

    // A modern envelope without the version header is a header error, whatever it names.
    let (mut hdrs, mut body) = modern(2, "tools/list", json!({}));
    hdrs.remove("mcp-protocol-version");
    body["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"] = json!("2025-11-25");
    let reply = post(&hdrs, &body).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&json_of(&reply)), -32020);

    // An unknown header against a 2026 envelope: the contradiction is reported first.
    let (mut hdrs, body) = modern(3, "tools/list", json!({}));
    hdrs.insert(
        "mcp-protocol-version",
        HeaderValue::from_static("2099-01-01"),
    );
    assert_eq!(error_code(&json_of(&post(&hdrs, &body).await)), -32020);

    // A 2025 request that also carries a consistent envelope is served as that revision.
    let (mut hdrs, mut body) = modern(3, "tools/list", json!({}));
    hdrs.insert(
        "mcp-protocol-version",
        HeaderValue::from_static("2025-11-25"),
    );
    body["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"] = json!("2025-11-25");
    let reply = post(&hdrs, &body).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(json_of(&reply)["result"].get("resultType").is_none());

    // 2026 header without _meta: the required per-request fields are missing.
    let reply = post(
        &headers(&[
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", "tools/list"),
        ]),
        &json!({"jsonrpc": "2.0", "id": 3, "method": "tools/list"}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&json_of(&reply)), -32602);

    let (hdrs, mut body) = modern(4, "tools/list", json!({}));
    body["params"]["_meta"]
        .as_object_mut()
        .expect("meta")
        .remove("io.modelcontextprotocol/clientCapabilities");
    let reply = post(&hdrs, &body).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let body = json_of(&reply);
    assert_eq!(error_code(&body), -32602);
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("clientCapabilities"))
    );
}

#[tokio::test]
async fn unknown_methods_are_32601_with_the_era_status() {
    let reply = post(
        &legacy_headers("2025-11-25"),
        &json!({"jsonrpc": "2.0", "id": 1, "method": "tools/destroy"}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(error_code(&json_of(&reply)), -32601);

    let (hdrs, body) = modern(2, "tools/destroy", json!({}));
    let reply = post(&hdrs, &body).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let body = json_of(&reply);
    assert_eq!(error_code(&body), -32601);
    assert_eq!(body["id"], 2);

    // Era-specific methods: ping and initialize are gone in 2026, discover is 2026 only.
    let (hdrs, body) = modern(3, "ping", json!({}));
    assert_eq!(post(&hdrs, &body).await.status, StatusCode::NOT_FOUND);
    let reply = post(
        &legacy_headers("2025-06-18"),
        &json!({"jsonrpc": "2.0", "id": 4, "method": "server/discover"}),
    )
    .await;
    assert_eq!(error_code(&json_of(&reply)), -32601);
    let (hdrs, body) = modern(5, "subscriptions/listen", json!({"notifications": {}}));
    assert_eq!(post(&hdrs, &body).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn unknown_tools_and_malformed_calls_are_32602() {
    for version in ["2025-03-26", "2025-06-18", "2025-11-25"] {
        let reply = post(
            &legacy_headers(version),
            &json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "nope", "arguments": {}}}),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK);
        let body = json_of(&reply);
        assert_eq!(error_code(&body), -32602, "{version}");
        assert_eq!(body["error"]["message"], "Unknown tool: nope");
    }
    let (hdrs, body) = modern(1, "tools/call", json!({"name": "nope"}));
    let reply = post(&hdrs, &body).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&json_of(&reply)), -32602);

    for params in [
        json!({"arguments": {}}),
        json!({"name": 5}),
        json!({"name": "echo", "arguments": [1, 2]}),
    ] {
        let reply = post(
            &legacy_headers("2025-11-25"),
            &json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}),
        )
        .await;
        assert_eq!(error_code(&json_of(&reply)), -32602, "{params}");
    }
    // A cursor this server never issued.
    let reply = post(
        &legacy_headers("2025-11-25"),
        &json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"cursor": "abc"}}),
    )
    .await;
    assert_eq!(error_code(&json_of(&reply)), -32602);
}

#[tokio::test]
async fn invalid_tool_arguments_follow_each_revision() {
    let call = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "count", "arguments": {"n": "x"}}});
    for version in ["2025-03-26", "2025-06-18"] {
        let body = json_of(&post(&legacy_headers(version), &call).await);
        assert_eq!(error_code(&body), -32602, "{version}");
    }
    let body = json_of(&post(&legacy_headers("2025-11-25"), &call).await);
    assert_eq!(body["result"]["isError"], true);
    assert_eq!(body["result"]["content"][0]["text"], "n must be an integer");

    let (hdrs, body) = modern(
        1,
        "tools/call",
        json!({"name": "count", "arguments": {"n": "x"}}),
    );
    let reply = post(&hdrs, &body).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(json_of(&reply)["result"]["isError"], true);
}

#[tokio::test]
async fn a_failing_tool_is_an_error_result_not_a_protocol_error() {
    let reply = post(
        &legacy_headers("2025-06-18"),
        &json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "fail"}}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    let body = json_of(&reply);
    assert!(body.get("error").is_none());
    assert_eq!(
        body["result"],
        json!({"content": [{"type": "text", "text": "Airtable said: NOT_FOUND"}], "isError": true})
    );

    let (hdrs, body) = modern(2, "tools/call", json!({"name": "fail"}));
    let reply = post(&hdrs, &body).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(json_of(&reply)["result"]["isError"], true);
}

#[tokio::test]
async fn backend_faults_are_32603() {
    let call =
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "boom"}});
    let reply = post(&legacy_headers("2025-11-25"), &call).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(error_code(&json_of(&reply)), -32603);

    let (hdrs, body) = modern(2, "resources/list", json!({}));
    let reply = post_with(&BrokenListing, &hdrs, &body).await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    let body = json_of(&reply);
    assert_eq!(error_code(&body), -32603);
    assert_eq!(body["id"], 2);
}

#[tokio::test]
async fn parse_errors_and_invalid_requests() {
    let reply = handle_post(
        &headers(&[]),
        b"{\"jsonrpc\": \"2.0\", \"id\": 1,",
        &FakeBackend,
        &server(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let body = json_of(&reply);
    assert_eq!(error_code(&body), -32700);
    assert!(body.get("id").is_some_and(Value::is_null), "id: null");

    let reply = handle_post(&headers(&[]), b"\xff\xfe", &FakeBackend, &server()).await;
    assert_eq!(error_code(&json_of(&reply)), -32700);

    for (invalid, id) in [
        (
            json!({"jsonrpc": "1.0", "id": 4, "method": "ping"}),
            json!(4),
        ),
        (json!({"id": 5, "method": "ping"}), json!(5)),
        (json!({"jsonrpc": "2.0", "id": 6, "method": 42}), json!(6)),
        (
            json!({"jsonrpc": "2.0", "id": null, "method": "ping"}),
            Value::Null,
        ),
        (
            json!({"jsonrpc": "2.0", "id": {"x": 1}, "method": "ping"}),
            Value::Null,
        ),
        (json!("ping"), Value::Null),
        (json!(17), Value::Null),
    ] {
        let reply = post(&legacy_headers("2025-11-25"), &invalid).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{invalid}");
        let body = json_of(&reply);
        assert_eq!(error_code(&body), -32600, "{invalid}");
        assert_eq!(body["id"], id, "{invalid}");
    }

    // params must be an object
    let reply = post(
        &legacy_headers("2025-11-25"),
        &json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": [1]}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&json_of(&reply)), -32602);
}

#[tokio::test]
async fn notifications_and_client_responses() {
    for hdrs in [
        headers(&[]),
        legacy_headers("2025-06-18"),
        legacy_headers("2026-07-28"),
    ] {
        let reply = post(&hdrs, &json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1}})).await;
        assert_eq!(reply.status, StatusCode::ACCEPTED);
        assert!(reply.body.is_empty());
        assert!(reply.headers.get("content-type").is_none());
    }
    // 2025: a client's answer to a server request is accepted; 2026: clients must not send those.
    let response = json!({"jsonrpc": "2.0", "id": "srv-1", "result": {}});
    assert_eq!(
        post(&legacy_headers("2025-11-25"), &response).await.status,
        StatusCode::ACCEPTED
    );
    let reply = post(&legacy_headers("2026-07-28"), &response).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&json_of(&reply)), -32600);
    // A notification with an unsupported version header is refused.
    let reply = post(
        &legacy_headers("1900-01-01"),
        &json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&json_of(&reply)), -32022);
}

#[tokio::test]
async fn legacy_version_header_rules() {
    // Unsupported or malformed MCP-Protocol-Version: 400.
    let reply = post(
        &legacy_headers("1900-01-01"),
        &json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let body = json_of(&reply);
    assert_eq!(error_code(&body), -32022);
    assert_eq!(body["id"], 1);
    assert_eq!(body["error"]["data"]["requested"], "1900-01-01");

    let twice = headers(&[
        ("mcp-protocol-version", "2025-06-18"),
        ("mcp-protocol-version", "2025-11-25"),
    ]);
    let reply = post(
        &twice,
        &json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);

    // No header: 2025-03-26, whose tools have no title, outputSchema or structuredContent.
    let reply = post(
        &headers(&[]),
        &json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    let tool = json_of(&reply)["result"]["tools"][0].clone();
    assert!(
        tool.get("title").is_none() && tool.get("outputSchema").is_none(),
        "{tool}"
    );
    assert_eq!(tool["annotations"]["readOnlyHint"], true);
    let reply = post(
        &headers(&[]),
        &json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "echo", "arguments": {"a": 1}}}),
    )
    .await;
    let result = json_of(&reply)["result"].clone();
    assert!(result.get("structuredContent").is_none());
    assert_eq!(result["content"][0]["text"], "{\"a\":1}");

    // A client-sent Mcp-Session-Id is ignored and never echoed.
    let with_session = headers(&[
        ("mcp-protocol-version", "2025-11-25"),
        ("mcp-session-id", "abc123"),
    ]);
    let reply = post(
        &with_session,
        &json!({"jsonrpc": "2.0", "id": 3, "method": "tools/list"}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_no_session(&reply);
}

#[tokio::test]
async fn batches_only_at_2025_03_26() {
    let batch = json!([
        {"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "echo", "arguments": {}}},
        {"jsonrpc": "2.0", "id": 3, "method": "nope"},
        {"jsonrpc": "2.0", "id": 4, "method": "initialize", "params": {"protocolVersion": "2025-03-26"}},
        42,
    ]);
    for hdrs in [headers(&[]), legacy_headers("2025-03-26")] {
        let reply = post(&hdrs, &batch).await;
        assert_eq!(reply.status, StatusCode::OK);
        let body = json_of(&reply);
        let responses = body.as_array().expect("a batch answer");
        assert_eq!(
            responses.len(),
            5,
            "one per request, none for the notification: {body}"
        );
        assert_eq!(responses[0]["id"], 1);
        assert!(responses[0]["result"]["tools"].is_array());
        assert_eq!(responses[1]["result"]["isError"], false);
        assert_eq!(error_code(&responses[2]), -32601);
        assert_eq!(error_code(&responses[3]), -32600);
        assert_eq!(responses[3]["id"], 4);
        assert_eq!(error_code(&responses[4]), -32600);
        assert!(responses[4]["id"].is_null());
    }

    let only_notifications = json!([{"jsonrpc": "2.0", "method": "notifications/initialized"}]);
    assert_eq!(
        post(&headers(&[]), &only_notifications).await.status,
        StatusCode::ACCEPTED
    );

    let reply = post(&headers(&[]), &json!([])).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&json_of(&reply)), -32600);

    for version in ["2025-06-18", "2025-11-25", "2026-07-28"] {
        let reply = post(&legacy_headers(version), &batch).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{version}");
        let body = json_of(&reply);
        assert_eq!(error_code(&body), -32600, "{version}");
        assert!(body["id"].is_null());
    }
}

#[tokio::test]
async fn prompts_round_trip_in_both_eras() {
    let reply = post(
        &legacy_headers("2025-11-25"),
        &json!({"jsonrpc": "2.0", "id": 1, "method": "prompts/list"}),
    )
    .await;
    let prompts = json_of(&reply)["result"]["prompts"].clone();
    assert_eq!(prompts[0]["name"], "analysis");
    assert_eq!(
        prompts[0]["arguments"][0],
        json!({"name": "table", "title": "Table", "description": "Table name", "required": true})
    );

    let reply = post(
        &headers(&[]),
        &json!({"jsonrpc": "2.0", "id": 1, "method": "prompts/list"}),
    )
    .await;
    let prompts = json_of(&reply)["result"]["prompts"].clone();
    assert!(prompts[0].get("title").is_none() && prompts[0]["arguments"][0].get("title").is_none());

    let reply = post(
        &legacy_headers("2025-11-25"),
        &json!({"jsonrpc": "2.0", "id": 2, "method": "prompts/get", "params": {"name": "analysis", "arguments": {"table": "Tasks"}}}),
    )
    .await;
    assert_eq!(
        json_of(&reply)["result"],
        json!({"description": "Analysis", "messages": [{"role": "user", "content": {"type": "text", "text": "Analyse Tasks"}}]})
    );

    for (params, code) in [
        (json!({"name": "nope"}), -32602),
        (json!({"name": "analysis"}), -32602),
        (
            json!({"name": "analysis", "arguments": {"table": 3}}),
            -32602,
        ),
    ] {
        let reply = post(
            &legacy_headers("2025-11-25"),
            &json!({"jsonrpc": "2.0", "id": 3, "method": "prompts/get", "params": params}),
        )
        .await;
        assert_eq!(error_code(&json_of(&reply)), code, "{params}");
    }

    let (hdrs, body) = modern(4, "prompts/list", json!({}));
    let result = json_of(&post(&hdrs, &body).await)["result"].clone();
    assert_eq!(result["prompts"][0]["name"], "analysis");
    assert_eq!(result["cacheScope"], "private");
    let (hdrs, body) = modern(
        5,
        "prompts/get",
        json!({"name": "analysis", "arguments": {"table": "Tasks"}}),
    );
    let result = json_of(&post(&hdrs, &body).await)["result"].clone();
    assert_eq!(result["messages"][0]["content"]["text"], "Analyse Tasks");
    assert_eq!(result["resultType"], "complete");
    assert!(result.get("ttlMs").is_none());
}

#[tokio::test]
async fn resources_round_trip_in_both_eras() {
    let reply = post(
        &legacy_headers("2025-06-18"),
        &json!({"jsonrpc": "2.0", "id": 1, "method": "resources/list"}),
    )
    .await;
    assert_eq!(
        json_of(&reply)["result"]["resources"],
        json!([{"uri": "airtable://bases/appDemo/schema", "name": "appDemo schema", "title": "Demo base", "mimeType": "application/json"}])
    );
    let reply = post(
        &legacy_headers("2025-06-18"),
        &json!({"jsonrpc": "2.0", "id": 2, "method": "resources/read", "params": {"uri": "airtable://bases/appDemo/schema"}}),
    )
    .await;
    assert_eq!(
        json_of(&reply)["result"],
        json!({"contents": [{"uri": "airtable://bases/appDemo/schema", "mimeType": "application/json", "text": "{\"tables\":[]}"}]})
    );
    let reply = post(
        &legacy_headers("2025-06-18"),
        &json!({"jsonrpc": "2.0", "id": 3, "method": "resources/templates/list"}),
    )
    .await;
    assert_eq!(json_of(&reply)["result"], json!({"resourceTemplates": []}));

    // Not found: -32002 up to 2025-11-25, -32602 from 2026-07-28.
    let missing = json!({"jsonrpc": "2.0", "id": 4, "method": "resources/read", "params": {"uri": "airtable://bases/appNope/schema"}});
    let body = json_of(&post(&legacy_headers("2025-11-25"), &missing).await);
    assert_eq!(error_code(&body), -32002);
    assert_eq!(
        body["error"]["data"]["uri"],
        "airtable://bases/appNope/schema"
    );
    let (hdrs, body) = modern(
        5,
        "resources/read",
        json!({"uri": "airtable://bases/appNope/schema"}),
    );
    let reply = post(&hdrs, &body).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&json_of(&reply)), -32602);

    let (hdrs, body) = modern(
        6,
        "resources/read",
        json!({"uri": "airtable://bases/appDemo/schema"}),
    );
    let result = json_of(&post(&hdrs, &body).await)["result"].clone();
    assert_eq!(result["contents"][0]["text"], "{\"tables\":[]}");
    assert_eq!(result["ttlMs"], 60_000);
    assert_eq!(result["cacheScope"], "private");
}

#[tokio::test]
async fn accept_and_content_type() {
    let request = json!({"jsonrpc": "2.0", "id": 1, "method": "ping"});
    let mut sse_only = legacy_headers("2025-11-25");
    sse_only.insert("accept", HeaderValue::from_static("text/event-stream"));
    let reply = post(&sse_only, &request).await;
    assert_eq!(reply.status, StatusCode::NOT_ACCEPTABLE);

    let mut no_accept = legacy_headers("2025-11-25");
    no_accept.remove("accept");
    assert_eq!(post(&no_accept, &request).await.status, StatusCode::OK);

    let mut form = legacy_headers("2025-11-25");
    form.insert(
        "content-type",
        HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    assert_eq!(
        post(&form, &request).await.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
}

#[tokio::test]
async fn get_and_delete_are_405_and_origins_are_checked() {
    for reply in [
        mcp::handle_get(),
        mcp::handle_delete(),
        mcp::method_not_allowed(),
    ] {
        assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(
            reply.headers.get("allow").map(|v| v.as_bytes()),
            Some(&b"POST"[..])
        );
    }
    let allowed = vec!["https://dashboard.example.com".to_owned()];
    let from_browser = headers(&[("origin", "https://evil.example")]);
    let origin = mcp::origin_header(&from_browser).expect("one origin");
    let reply = mcp::check_origin(origin, &allowed)
        .expect_err("foreign origin")
        .reply();
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let from_dashboard = headers(&[("origin", "https://dashboard.example.com")]);
    assert!(
        mcp::check_origin(
            mcp::origin_header(&from_dashboard).expect("one origin"),
            &allowed
        )
        .is_ok()
    );
    assert!(mcp::check_origin(mcp::origin_header(&headers(&[])).expect("none"), &allowed).is_ok());
}
