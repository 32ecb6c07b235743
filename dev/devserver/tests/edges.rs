//! The API's edges over HTTP, as a hostile or careless client meets them: every body documented
//! as an object refuses anything else and changes nothing, and every refusal the HTTP layer
//! itself produces (body too large, unknown route, wrong method, undecodable path or query,
//! unreadable headers) arrives in the documented shape: JSON-RPC on `/mcp`, the platform's
//! `{"error":{"type","message"}}` everywhere else.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use testkit::{PASSWORD, Reply, TestApp};

/// One POST to /mcp at `version`, as an MCP client sends it.
async fn mcp(app: &TestApp, token: &str, version: &str, body: Value) -> Reply {
    app.send(
        app.request(Method::POST, "/mcp", token)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", version)
            .json(&body),
    )
    .await
}

/// Sends a body over the size limit. The server answers 413 as soon as the limit is passed
/// and closes the connection while the client may still be writing the rest, which can
/// reset the connection before the client reads the answer: so it tries a few times, and
/// checks the answer it gets. Each attempt has a client of its own: the connection the
/// server closed must not go back to the shared pool, where the next request would meet it.
async fn send_oversized(app: &TestApp, path: &str, token: &str) -> Reply {
    let huge = vec![b' '; 10 * 1024 * 1024];
    for _ in 0..5 {
        let request = reqwest::Client::new()
            .post(app.url(path))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(huge.clone());
        match request.send().await {
            Ok(response) => return Reply::read(response).await,
            Err(err) => eprintln!("POST {path} with 10 MB: {err}; trying again"),
        }
    }
    panic!("POST {path} with 10 MB never got an answer");
}

/// The platform's error shape, with a JSON content type.
fn assert_platform_error(reply: &Reply, status: StatusCode, context: &str) {
    assert_eq!(reply.status, status, "{context}: {}", reply.text);
    assert!(
        reply.content_type().starts_with("application/json"),
        "{context}: content-type {:?}: {}",
        reply.content_type(),
        reply.text
    );
    assert!(
        reply.body["error"]["type"].is_string() && reply.body["error"]["message"].is_string(),
        "{context}: not the error shape: {}",
        reply.text
    );
}

/// A JSON-RPC 2.0 error response.
fn assert_json_rpc_error(reply: &Reply, status: StatusCode, context: &str) {
    assert_eq!(reply.status, status, "{context}: {}", reply.text);
    assert!(
        reply.content_type().starts_with("application/json"),
        "{context}: content-type {:?}",
        reply.content_type()
    );
    assert_eq!(reply.body["jsonrpc"], "2.0", "{context}: {}", reply.text);
    assert!(
        reply.body["error"]["code"].is_i64() && reply.body["error"]["message"].is_string(),
        "{context}: not a JSON-RPC error: {}",
        reply.text
    );
}

#[tokio::test]
async fn bodies_documented_as_objects_refuse_everything_else_and_change_nothing() {
    let platform = TestApp::spawn().await;
    let token = platform.owner("ada@example.com").await;

    // PATCH /v1/auth/me with ["Mallory"] once renamed the user.
    let reply = platform
        .send(
            platform
                .request(Method::PATCH, "/v1/auth/me", &token)
                .json(&json!(["Mallory"])),
        )
        .await;
    assert_platform_error(&reply, StatusCode::BAD_REQUEST, "PATCH /v1/auth/me [..]");
    let me = platform
        .send(platform.request(Method::GET, "/v1/auth/me", &token))
        .await;
    assert_eq!(me.body["user"]["name"], testkit::OWNER_NAME, "{}", me.text);

    // Every route of the table that takes a body (the OpenAPI document says which: actions such
    // as cancelling a run take none), with every kind of non-object.
    let document: Value =
        serde_json::from_str(http_api::openapi::DOCUMENT_JSON).expect("the OpenAPI document");
    let with_body = http_api::routes::route_table()
        .into_iter()
        .filter(|spec| matches!(spec.method.as_str(), "POST" | "PUT" | "PATCH"))
        .filter(|spec| {
            !document["paths"][spec.path.as_str()][spec.method.to_lowercase().as_str()]
                ["requestBody"]
                .is_null()
        })
        .filter(|spec| spec.path.starts_with("/v1/"))
        // Logout takes no body (and would end this test's session).
        .filter(|spec| spec.path != "/v1/auth/logout")
        // Inbound hooks verify a MAC over the raw bytes first: an unknown hook is 404 before
        // any body is read (their own tests cover bodies).
        .filter(|spec| !spec.path.starts_with("/v1/hooks/"));
    let mut checked = 0;
    for spec in with_body {
        let path = spec.path.replace('{', "x").replace('}', "");
        let method = Method::from_bytes(spec.method.as_bytes()).expect("method");
        for body in [
            json!(["Mallory"]),
            json!([]),
            json!("text"),
            json!(7),
            Value::Null,
        ] {
            let reply = platform
                .send(platform.request(method.clone(), &path, &token).json(&body))
                .await;
            let context = format!("{} {path} with {body}", spec.method);
            assert!(
                matches!(
                    reply.status,
                    StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY
                ),
                "{context}: {} {}",
                reply.status,
                reply.text
            );
            assert_platform_error(&reply, reply.status, &context);
            checked += 1;
        }
    }
    assert!(
        checked >= 40,
        "only {checked} cases: the route table shrank?"
    );

    // The sign-in bodies too: an array is not a login.
    let reply = platform
        .send(
            platform
                .request(Method::POST, "/v1/auth/login", None)
                .json(&json!(["ada@example.com", PASSWORD])),
        )
        .await;
    assert_platform_error(&reply, StatusCode::BAD_REQUEST, "login with an array");
    let keys = platform
        .send(platform.request(Method::GET, "/v1/api-keys", &token))
        .await;
    assert_eq!(keys.body["api_keys"], json!([]), "{}", keys.text);
}

#[tokio::test]
async fn refusals_made_by_the_http_layer_have_the_documented_shape() {
    let platform = TestApp::spawn().await;
    let token = platform.owner("grace@example.com").await;

    // A body over the limit: JSON-RPC on /mcp, the error shape elsewhere.
    let reply = send_oversized(&platform, "/mcp", &token).await;
    assert_json_rpc_error(&reply, StatusCode::PAYLOAD_TOO_LARGE, "POST /mcp 10 MB");
    for path in ["/v1/chat", "/v0/appSandboxDemoCRM/Contacts"] {
        let reply = send_oversized(&platform, path, &token).await;
        assert_platform_error(
            &reply,
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("POST {path} 10 MB"),
        );
    }

    // Methods a route does not have, and routes that do not exist.
    for (method, path) in [
        (Method::PUT, "/mcp"),
        (Method::GET, "/mcp"),
        (Method::DELETE, "/mcp"),
    ] {
        let reply = platform
            .send(platform.request(method.clone(), path, &token))
            .await;
        assert_json_rpc_error(
            &reply,
            StatusCode::METHOD_NOT_ALLOWED,
            &format!("{method} {path}"),
        );
    }
    let reply = platform
        .send(platform.request(Method::POST, "/mcp", None))
        .await;
    assert_json_rpc_error(
        &reply,
        StatusCode::UNAUTHORIZED,
        "POST /mcp without credentials",
    );
    for (method, path, status) in [
        (Method::PUT, "/v1/health", StatusCode::METHOD_NOT_ALLOWED),
        (
            Method::DELETE,
            "/v1/auth/me",
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (Method::GET, "/v1/nothing-here", StatusCode::NOT_FOUND),
        (Method::GET, "/", StatusCode::NOT_FOUND),
    ] {
        let reply = platform
            .send(platform.request(method.clone(), path, &token))
            .await;
        assert_platform_error(&reply, status, &format!("{method} {path}"));
    }

    // Paths and queries that do not decode.
    for (method, path) in [
        (Method::DELETE, "/v1/api-keys/%FF%FE"),
        (Method::GET, "/v1/chat/sessions/%C3%28"),
        (Method::GET, "/v0/appSandboxDemoCRM/%FF"),
        (Method::GET, "/v1/usage/summary?month=%FF"),
        (Method::GET, "/v1/usage/summary?month=2026-13"),
    ] {
        let reply = platform
            .send(platform.request(method.clone(), path, &token))
            .await;
        assert!(
            reply.status.is_client_error(),
            "{method} {path}: {} {}",
            reply.status,
            reply.text
        );
        assert_platform_error(&reply, reply.status, &format!("{method} {path}"));
    }

    // Headers: not JSON, an unreadable Authorization, a scheme we do not take.
    let reply = platform
        .send(
            platform
                .request(Method::PATCH, "/v1/auth/me", &token)
                .header("content-type", "text/plain")
                .body(r#"{"name":"Mallory"}"#),
        )
        .await;
    assert_platform_error(&reply, StatusCode::BAD_REQUEST, "text/plain body");
    let raw = reqwest::header::HeaderValue::from_bytes(b"Bearer \xff\xfe").expect("obs-text");
    let reply = platform
        .send(
            platform
                .request(Method::GET, "/v1/auth/me", None)
                .header("authorization", raw),
        )
        .await;
    assert_platform_error(&reply, StatusCode::UNAUTHORIZED, "obs-text Authorization");
    let reply = platform
        .send(
            platform
                .request(Method::GET, "/v1/auth/me", None)
                .header("authorization", "Basic YTpi"),
        )
        .await;
    assert_platform_error(&reply, StatusCode::UNAUTHORIZED, "Basic credentials");
}

#[tokio::test]
async fn ambiguous_headers_and_empty_write_bodies_are_refused_before_airtable() {
    let platform = TestApp::spawn().await;
    let token = platform.owner("linus@example.com").await;
    platform.connect_sandbox(&token).await;
    let before = platform.upstream_requests();

    // Two Idempotency-Keys once protected the write under the first only.
    let reply = platform
        .send(
            platform
                .request(Method::POST, "/v0/appSandboxDemoCRM/Contacts", &token)
                .header("idempotency-key", "k1")
                .header("idempotency-key", "k2")
                .json(&json!({"records": [{"fields": {"Name": "Twice keyed"}}]})),
        )
        .await;
    assert_platform_error(&reply, StatusCode::BAD_REQUEST, "two Idempotency-Keys");
    assert!(reply.text.contains("idempotency-key"), "{}", reply.text);

    // Two Hosts (RFC 9112 asks for 400), two Authorizations.
    for (name, first, second) in [
        ("host", "a.example", "b.example"),
        ("authorization", "Bearer x", "Bearer y"),
    ] {
        let reply = platform
            .send(
                platform
                    .http()
                    .get(platform.url("/v1/auth/me"))
                    .bearer_auth(&token)
                    .header(name, first)
                    .header(name, second),
            )
            .await;
        assert_platform_error(
            &reply,
            StatusCode::BAD_REQUEST,
            &format!("two {name} headers"),
        );
    }

    // A write without a body is refused here, in Airtable's shape, instead of costing a call.
    for (method, path) in [
        (Method::POST, "/v0/appSandboxDemoCRM/Contacts"),
        (Method::PATCH, "/v0/appSandboxDemoCRM/Contacts"),
        (
            Method::PUT,
            "/v0/appSandboxDemoCRM/Contacts/recCt000000000001",
        ),
        (Method::POST, "/v0/meta/bases/appSandboxDemoCRM/tables"),
    ] {
        let reply = platform
            .send(
                platform
                    .request(method.clone(), path, &token)
                    .header("content-type", "application/json"),
            )
            .await;
        assert_platform_error(
            &reply,
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!("empty {method} {path}"),
        );
        assert_eq!(reply.body["error"]["type"], "INVALID_REQUEST_UNKNOWN");
    }
    assert_eq!(
        platform.upstream_requests(),
        before,
        "nothing refused here may reach Airtable"
    );
}

#[tokio::test]
async fn mcp_batches_are_capped_and_each_message_counts_against_the_tenant_limit() {
    let platform = TestApp::builder().tenant_limit(8).spawn().await;
    let token = platform.owner("barbara@example.com").await;
    let list = |id: usize| json!({"jsonrpc": "2.0", "id": id, "method": "tools/list"});

    // Past the cap: refused whole.
    let reply = mcp(
        &platform,
        &token,
        "2025-03-26",
        Value::Array((0..21).map(list).collect()),
    )
    .await;
    assert_json_rpc_error(&reply, StatusCode::BAD_REQUEST, "a batch of 21");
    assert!(reply.text.contains("at most 20"), "{}", reply.text);

    // Within the cap, each message is a request: the refused batch counted 1 and this one 5,
    // so the next 5 take the tenant past 8.
    let reply = mcp(
        &platform,
        &token,
        "2025-03-26",
        Value::Array((0..5).map(list).collect()),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.body.as_array().map(Vec::len), Some(5));
    let reply = mcp(
        &platform,
        &token,
        "2025-03-26",
        Value::Array((0..5).map(list).collect()),
    )
    .await;
    assert_json_rpc_error(
        &reply,
        StatusCode::TOO_MANY_REQUESTS,
        "a batch past the limit",
    );
    assert_eq!(reply.body["error"]["data"]["type"], "TENANT_RATE_LIMITED");
}

#[tokio::test]
async fn mcp_prompts_take_only_ids_the_tools_would_take() {
    let platform = TestApp::spawn().await;
    let token = platform.owner("ada.l@example.com").await;
    for (base, table) in [
        ("meta", "Contacts"),
        ("appSandboxDemoCRM", ".."),
        ("appSandboxDemoCRM", ""),
    ] {
        let reply = mcp(&platform,
                &token,
                "2025-06-18",
                json!({"jsonrpc": "2.0", "id": 1, "method": "prompts/get",
                       "params": {"name": "analyze_table", "arguments": {"base_id": base, "table": table}}}),
            )
            .await;
        assert_eq!(
            reply.body["error"]["code"], -32602,
            "{base}/{table}: {}",
            reply.text
        );
    }
    let reply = mcp(&platform,
            &token,
            "2025-06-18",
            json!({"jsonrpc": "2.0", "id": 1, "method": "prompts/get",
                   "params": {"name": "analyze_table", "arguments": {"base_id": "appSandboxDemoCRM", "table": "Contacts"}}}),
        )
        .await;
    assert!(
        reply.body["result"]["messages"].is_array(),
        "{}",
        reply.text
    );
}
