//! Requests shaped as airtable.js (npm `airtable` 0.12.2) sends them, over HTTP against the dev
//! server and its sandbox: creates, batch updates and batch replaces go to
//! `/v0/{base}/{table}/` with a trailing slash (and an empty `?`), every call carries
//! `Content-Type: application/json` (GETs and DELETEs too), `x-api-version` and
//! `x-airtable-application-id`. Airtable serves the slashed path as the plain one, so the
//! gateway must too; each write is checked against the sandbox's stored state.

mod common;

use common::{Server, devserver, start_fresh};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const BASE: &str = "appSandboxDemoCRM";
const DEMO_TOKEN: &str = "patSandboxDemo001.demo-token-for-local-development-only";
const PASSWORD: &str = "correct horse battery staple";
const TABLE: &str = "Slashed%20Paths";

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

    /// A call with the headers airtable.js sends on every request.
    async fn airtable_js(
        &self,
        method: Method,
        path: &str,
        key: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(key)
            .header("content-type", "application/json")
            .header("x-api-version", "0.1.0")
            .header("x-airtable-application-id", BASE)
            .header("user-agent", "Airtable.js/0.12.2");
        if let Some(body) = body {
            request = request.body(body.to_string());
        }
        let response = request.send().await.expect("request is answered");
        let status = response.status();
        let text = response.text().await.expect("body");
        let body =
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("{status}: not JSON: {text}"));
        (status, body)
    }

    /// A call straight to the sandbox with the demo token.
    async fn straight(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.sandbox))
            .bearer_auth(DEMO_TOKEN);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("sandbox answers");
        assert!(response.status().is_success(), "{}", response.status());
        response.json().await.expect("sandbox JSON")
    }

    /// The table's records as the sandbox stores them: id → fields.
    async fn stored(&self) -> std::collections::BTreeMap<String, Value> {
        let page = self
            .straight(Method::GET, &format!("/v0/{BASE}/{TABLE}"), None)
            .await;
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

    /// A connected tenant's key with the record scopes.
    async fn key(&self) -> String {
        let registered: Value = self
            .http
            .post(format!("{}/v1/auth/register", self.url))
            .json(&json!({"email": "slash@example.com", "password": PASSWORD}))
            .send()
            .await
            .expect("register")
            .json()
            .await
            .expect("register body");
        let access = registered["access_token"].as_str().expect("access token");
        let connected = self
            .http
            .put(format!("{}/v1/connections/airtable", self.url))
            .bearer_auth(access)
            .json(&json!({"token": DEMO_TOKEN}))
            .send()
            .await
            .expect("connect");
        assert_eq!(connected.status(), StatusCode::OK);
        let key: Value = self
            .http
            .post(format!("{}/v1/api-keys", self.url))
            .bearer_auth(access)
            .json(&json!({"name": "airtable.js", "scopes": ["records:read", "records:write"]}))
            .send()
            .await
            .expect("api key")
            .json()
            .await
            .expect("api key body");
        key["key"].as_str().expect("key").to_string()
    }
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
    let platform = Platform::start();
    platform
        .http
        .post(format!("{}/_sandbox/rate-limits", platform.sandbox))
        .json(&json!({"enabled": false}))
        .send()
        .await
        .expect("sandbox admin");
    platform
        .straight(
            Method::POST,
            &format!("/v0/meta/bases/{BASE}/tables"),
            Some(json!({"name": "Slashed Paths", "fields": [
                {"name": "Name", "type": "singleLineText"},
                {"name": "N", "type": "number", "options": {"precision": 0}},
            ]})),
        )
        .await;
    let key = platform.key().await;
    let slashed = format!("/v0/{BASE}/{TABLE}/?");

    // table.create({...}): one record, Airtable's single-record body.
    let (status, one) = platform
        .airtable_js(
            Method::POST,
            &slashed,
            &key,
            Some(json!({"fields": {"Name": "one", "N": 1}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{one}");
    let one_id = one["id"].as_str().expect("created id").to_string();

    // table.create([...]): many.
    let (status, many) = platform
        .airtable_js(
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
    let stored = platform.stored().await;
    assert_eq!(stored.len(), 3);
    assert_eq!(stored[&one_id], json!({"Name": "one", "N": 1}));
    assert_eq!(stored[&many_ids[1]], json!({"Name": "three", "N": 3}));

    // table.update([...]): PATCH many, other fields kept.
    let (status, patched) = platform
        .airtable_js(
            Method::PATCH,
            &slashed,
            &key,
            Some(json!({"records": [{"id": one_id, "fields": {"N": 10}}]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(
        platform.stored().await[&one_id],
        json!({"Name": "one", "N": 10})
    );

    // table.replace([...]): PUT many, unnamed fields cleared.
    let (status, replaced) = platform
        .airtable_js(
            Method::PUT,
            &slashed,
            &key,
            Some(json!({"records": [{"id": many_ids[0], "fields": {"Name": "two again"}}]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    assert_eq!(
        platform.stored().await[&many_ids[0]],
        json!({"Name": "two again"})
    );

    // The deprecated table.list() reads `/{table}/` too; the answer is the sandbox's.
    let (status, listed) = platform
        .airtable_js(Method::GET, &format!("{slashed}pageSize=100"), &key, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert_eq!(
        listed,
        platform
            .straight(
                Method::GET,
                &format!("/v0/{BASE}/{TABLE}?pageSize=100"),
                None
            )
            .await
    );

    // A record path with a trailing slash is the record.
    let (status, found) = platform
        .airtable_js(
            Method::GET,
            &format!("/v0/{BASE}/{TABLE}/{one_id}/"),
            &key,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["fields"], json!({"Name": "one", "N": 10}));

    // table.destroy([...]) sends no slash, and `records[]` in the query; kept working.
    let (status, deleted) = platform
        .airtable_js(
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
        platform.stored().await.into_keys().collect::<Vec<_>>(),
        vec![one_id]
    );

    // Only one slash is dropped: an empty table segment is still no route.
    let (status, error) = platform
        .airtable_js(
            Method::POST,
            &format!("/v0/{BASE}//"),
            &key,
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{error}");
    assert!(error["error"]["message"].is_string(), "{error}");
}
