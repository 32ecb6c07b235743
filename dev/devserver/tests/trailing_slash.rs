//! Requests shaped as airtable.js (npm `airtable` 0.12.2) sends them, over HTTP against the dev
//! server and its sandbox: creates, batch updates and batch replaces go to
//! `/v0/{base}/{table}/` with a trailing slash (and an empty `?`), every call carries
//! `Content-Type: application/json` (GETs and DELETEs too), `x-api-version` and
//! `x-airtable-application-id`. Airtable serves the slashed path as the plain one, so the
//! gateway must too; each write is checked against the sandbox's stored state.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use testkit::{DEMO_BASE_ID as BASE, TestApp};

const TABLE: &str = "Slashed%20Paths";

/// A call with the headers airtable.js sends on every request.
async fn airtable_js(
    app: &TestApp,
    method: Method,
    path: &str,
    key: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = app
        .request(method, path, key)
        .header("content-type", "application/json")
        .header("x-api-version", "0.1.0")
        .header("x-airtable-application-id", BASE)
        .header("user-agent", "Airtable.js/0.12.2");
    if let Some(body) = body {
        request = request.body(body.to_string());
    }
    let reply = app.send(request).await;
    assert!(
        !reply.body.is_null(),
        "{}: not JSON: {}",
        reply.status,
        reply.text
    );
    (reply.status, reply.body)
}

/// A call straight to the sandbox that must succeed; its JSON.
async fn straight(app: &TestApp, method: Method, path: &str, body: Option<Value>) -> Value {
    let reply = app.straight(method, path, body).await;
    assert!(reply.status.is_success(), "{}", reply.status);
    reply.body
}

/// The table's records as the sandbox stores them: id → fields.
async fn stored_records(app: &TestApp) -> std::collections::BTreeMap<String, Value> {
    let page = straight(app, Method::GET, &format!("/v0/{BASE}/{TABLE}"), None).await;
    page["records"]
        .as_array()
        .expect("records")
        .iter()
        .map(|r| {
            (
                r["id"].as_str().expect("id").to_string(),
                r["fields"].clone(),
            )
        })
        .collect()
}

fn ids(body: &Value) -> Vec<String> {
    body["records"]
        .as_array()
        .expect("records")
        .iter()
        .map(|r| r["id"].as_str().expect("id").to_string())
        .collect()
}

#[tokio::test]
async fn airtable_js_paths_with_a_trailing_slash_reach_airtable() {
    let platform = TestApp::builder()
        .without_sandbox_rate_limits()
        .spawn()
        .await;
    straight(
        &platform,
        Method::POST,
        &format!("/v0/meta/bases/{BASE}/tables"),
        Some(json!({"name": "Slashed Paths", "fields": [
            {"name": "Name", "type": "singleLineText"},
            {"name": "N", "type": "number", "options": {"precision": 0}},
        ]})),
    )
    .await;
    let (_, key) = platform
        .connected_key("slash@example.com", &["records:read", "records:write"])
        .await;
    let slashed = format!("/v0/{BASE}/{TABLE}/?");

    // table.create({...}): one record, Airtable's single-record body.
    let (status, one) = airtable_js(
        &platform,
        Method::POST,
        &slashed,
        &key,
        Some(json!({"fields": {"Name": "one", "N": 1}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{one}");
    let one_id = one["id"].as_str().expect("created id").to_string();

    // table.create([...]): many.
    let (status, many) = airtable_js(
        &platform,
        Method::POST,
        &slashed,
        &key,
        Some(json!({"records": [
            {"fields": {"Name": "two", "N": 2}},
            {"fields": {"Name": "three", "N": 3}},
        ]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{many}");
    let many_ids = ids(&many);
    let stored = stored_records(&platform).await;
    assert_eq!(stored.len(), 3);
    assert_eq!(stored[&one_id], json!({"Name": "one", "N": 1}));
    assert_eq!(stored[&many_ids[1]], json!({"Name": "three", "N": 3}));

    // table.update([...]): PATCH many, other fields kept.
    let (status, patched) = airtable_js(
        &platform,
        Method::PATCH,
        &slashed,
        &key,
        Some(json!({"records": [{"id": one_id, "fields": {"N": 10}}]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(
        stored_records(&platform).await[&one_id],
        json!({"Name": "one", "N": 10})
    );

    // table.replace([...]): PUT many, unnamed fields cleared.
    let (status, replaced) = airtable_js(
        &platform,
        Method::PUT,
        &slashed,
        &key,
        Some(json!({"records": [{"id": many_ids[0], "fields": {"Name": "two again"}}]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    assert_eq!(
        stored_records(&platform).await[&many_ids[0]],
        json!({"Name": "two again"})
    );

    // The deprecated table.list() reads `/{table}/` too; the answer is the sandbox's.
    let (status, listed) = airtable_js(
        &platform,
        Method::GET,
        &format!("{slashed}pageSize=100"),
        &key,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert_eq!(
        listed,
        straight(
            &platform,
            Method::GET,
            &format!("/v0/{BASE}/{TABLE}?pageSize=100"),
            None
        )
        .await
    );

    // A record path with a trailing slash is the record.
    let (status, found) = airtable_js(
        &platform,
        Method::GET,
        &format!("/v0/{BASE}/{TABLE}/{one_id}/"),
        &key,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["fields"], json!({"Name": "one", "N": 10}));

    // table.destroy([...]) sends no slash, and `records[]` in the query; kept working.
    let (status, deleted) = airtable_js(
        &platform,
        Method::DELETE,
        &format!(
            "/v0/{BASE}/{TABLE}?records%5B%5D={}&records%5B%5D={}",
            many_ids[0], many_ids[1]
        ),
        &key,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{deleted}");
    assert_eq!(
        stored_records(&platform)
            .await
            .into_keys()
            .collect::<Vec<_>>(),
        vec![one_id]
    );

    // Only one slash is dropped: an empty table segment is still no route.
    let (status, error) = airtable_js(
        &platform,
        Method::POST,
        &format!("/v0/{BASE}//"),
        &key,
        Some(json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{error}");
    assert!(error["error"]["message"].is_string(), "{error}");
}
