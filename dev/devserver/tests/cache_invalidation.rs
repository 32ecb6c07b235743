//! Writes that reach Airtable outside `/v0` (MCP `tools/call`, a chat turn's tool calls) make
//! the gateway's cached reads they affect stale exactly as a `/v0` write does: a cached `/v0`
//! list (a `HIT`) followed by such a write is a `MISS` that shows the change, and a schema
//! change through a tool makes the cached base schema a `MISS` too. Against the dev server
//! binary, its Airtable sandbox and, for chat, a scripted fake LLM.

mod common;

use common::{Server, devserver, start_fresh};
use fake_llm::{
    DEFAULT_GEMINI_KEY, DEFAULT_OPENAI_KEY, FakeLlm, FakeLlmHandle, Provider, Rule, Turn,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const BASE: &str = "appSandboxDemoCRM";
const DEMO_TOKEN: &str = "patSandboxDemo001.demo-token-for-local-development-only";
const PASSWORD: &str = "correct horse battery staple";
const ALL_SCOPES: [&str; 4] = [
    "records:read",
    "records:write",
    "schema:read",
    "schema:write",
];
/// Contacts sorted by name: a record named "Aaa…" comes first.
const CONTACTS: &str = "/v0/appSandboxDemoCRM/Contacts?pageSize=3&sort%5B0%5D%5Bfield%5D=Name";
const SCHEMA: &str = "/v0/meta/bases/appSandboxDemoCRM/tables";

struct Platform {
    _server: Server,
    _data: tempfile::TempDir,
    url: String,
    http: reqwest::Client,
    /// Kept alive for chat tests; the server talks to it.
    _llm: Option<FakeLlmHandle>,
}

struct Reply {
    status: StatusCode,
    cache: Option<String>,
    text: String,
    body: Value,
}

impl Platform {
    async fn start(llm: Option<FakeLlmHandle>) -> Self {
        let mut command = devserver();
        command
            .env("CLIENT_AUTH_REQUESTS_PER_MINUTE", "1000")
            .env("TENANT_REQUESTS_PER_MINUTE", "0")
            // The cache's TTL is the default (30 s): far longer than these tests, so only an
            // invalidation can turn a HIT into a MISS here.
            .env_remove("RECORDS_CACHE_TTL_SECONDS");
        if let Some(llm) = &llm {
            command
                .env_remove("CHAT_MODEL")
                .env_remove("SECRET_LLM_GEMINI_API_KEY")
                .env_remove("SECRET_LLM_OPENAI_API_KEY")
                .env("GEMINI_BASE_URL", llm.gemini_base_url())
                .env("OPENAI_BASE_URL", llm.openai_base_url())
                .env("GEMINI_API_KEY", DEFAULT_GEMINI_KEY)
                .env("OPENAI_API_KEY", DEFAULT_OPENAI_KEY);
        }
        let fresh = tokio::task::block_in_place(|| start_fresh(command));
        Self {
            _server: fresh.server,
            _data: fresh.data,
            url: fresh.url,
            http: reqwest::Client::new(),
            _llm: llm,
        }
    }

    async fn send(&self, method: Method, path: &str, bearer: &str, body: Option<Value>) -> Reply {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(bearer);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("answered");
        let status = response.status();
        let cache = response
            .headers()
            .get("x-cache")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let text = response.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            cache,
            text,
            body,
        }
    }

    /// A connected tenant's owner access token and an API key with every scope.
    async fn connected(&self) -> (String, String) {
        let registered = self
            .send(
                Method::POST,
                "/v1/auth/register",
                "",
                Some(json!({"email": "cache@example.com", "password": PASSWORD})),
            )
            .await;
        assert_eq!(
            registered.status,
            StatusCode::CREATED,
            "{}",
            registered.text
        );
        let access = registered.body["access_token"]
            .as_str()
            .expect("access")
            .to_string();
        let connected = self
            .send(
                Method::PUT,
                "/v1/connections/airtable",
                &access,
                Some(json!({"token": DEMO_TOKEN})),
            )
            .await;
        assert_eq!(connected.status, StatusCode::OK, "{}", connected.text);
        let created = self
            .send(
                Method::POST,
                "/v1/api-keys",
                &access,
                Some(json!({"name": "cache", "scopes": ALL_SCOPES})),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
        let key = created.body["key"].as_str().expect("key").to_string();
        (access, key)
    }

    /// A `/v0` GET that must succeed.
    async fn read(&self, key: &str, path: &str) -> Reply {
        let reply = self.send(Method::GET, path, key, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.text);
        reply
    }

    /// Reads `path` twice: the second answer must come from the cache.
    async fn cached(&self, key: &str, path: &str) -> Reply {
        self.read(key, path).await;
        let again = self.read(key, path).await;
        assert_eq!(again.cache.as_deref(), Some("HIT"), "{path}");
        again
    }

    /// MCP `tools/call`; the tool must succeed. Returns its structured result.
    async fn tool(&self, key: &str, name: &str, arguments: Value) -> Value {
        let response = self
            .http
            .post(format!("{}/mcp", self.url))
            .bearer_auth(key)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-06-18")
            .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                "params": {"name": name, "arguments": arguments}}))
            .send()
            .await
            .expect("answered");
        let text = response.text().await.expect("body");
        let answer: Value =
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("JSON-RPC answer: {text}"));
        assert!(
            answer["result"].is_object() && answer["result"]["isError"] != true,
            "{name}: {answer}"
        );
        answer["result"]["structuredContent"].clone()
    }
}

/// The first contact's id and name in a sorted list answer.
fn first_contact(reply: &Reply) -> (String, String) {
    let first = &reply.body["records"][0];
    (
        first["id"].as_str().unwrap_or_default().to_string(),
        first["fields"]["Name"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

fn field_names(schema: &Value, table: &str) -> Vec<String> {
    schema["tables"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| t["name"] == table)
        .flat_map(|t| t["fields"].as_array().into_iter().flatten())
        .filter_map(|f| f["name"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_record_writes_make_cached_v0_reads_miss_and_show_the_change() {
    let platform = Platform::start(None).await;
    let (_, key) = platform.connected().await;

    // create_records: the cached list misses and starts with the new contact.
    platform.cached(&key, CONTACTS).await;
    let created = platform
        .tool(
            &key,
            "create_records",
            json!({"base_id": BASE, "table": "Contacts",
                "records": [{"fields": {"Name": "Aaa Created By Mcp"}}]}),
        )
        .await;
    let id = created["records"][0]["id"]
        .as_str()
        .expect("the new record's id")
        .to_string();
    let after = platform.read(&key, CONTACTS).await;
    assert_eq!(after.cache.as_deref(), Some("MISS"), "after create_records");
    assert_eq!(
        first_contact(&after),
        (id.clone(), "Aaa Created By Mcp".into())
    );

    // update_records, with the base schema cached too (the table's every name is bumped).
    platform.cached(&key, SCHEMA).await;
    platform.cached(&key, CONTACTS).await;
    platform
        .tool(
            &key,
            "update_records",
            json!({"base_id": BASE, "table": "Contacts",
                "records": [{"id": id, "fields": {"Name": "Aaa Updated By Mcp"}}]}),
        )
        .await;
    let after = platform.read(&key, CONTACTS).await;
    assert_eq!(after.cache.as_deref(), Some("MISS"), "after update_records");
    assert_eq!(
        first_contact(&after),
        (id.clone(), "Aaa Updated By Mcp".into())
    );
    // The same table read by its id was cached before the write and misses too.
    let by_id = "/v0/appSandboxDemoCRM/tblContacts000000?pageSize=3&sort%5B0%5D%5Bfield%5D=Name";
    platform.cached(&key, by_id).await;
    platform
        .tool(
            &key,
            "update_records",
            json!({"base_id": BASE, "table": "Contacts",
                "records": [{"id": id, "fields": {"Name": "Aaa Renamed Again"}}]}),
        )
        .await;
    let after = platform.read(&key, by_id).await;
    assert_eq!(after.cache.as_deref(), Some("MISS"), "the table by id");
    assert_eq!(
        first_contact(&after),
        (id.clone(), "Aaa Renamed Again".into())
    );

    // delete_records: the list misses and no longer holds the record.
    platform.cached(&key, CONTACTS).await;
    platform
        .tool(
            &key,
            "delete_records",
            json!({"base_id": BASE, "table": "Contacts", "record_ids": [id]}),
        )
        .await;
    let after = platform.read(&key, CONTACTS).await;
    assert_eq!(after.cache.as_deref(), Some("MISS"), "after delete_records");
    assert_ne!(first_contact(&after).0, id);
    assert!(!after.text.contains(&id), "{}", after.text);

    // A read changes nothing: a read-only tool call leaves the cache alone.
    platform.cached(&key, CONTACTS).await;
    platform
        .tool(
            &key,
            "list_records",
            json!({"base_id": BASE, "table": "Contacts", "max_records": 2}),
        )
        .await;
    let still = platform.read(&key, CONTACTS).await;
    assert_eq!(
        still.cache.as_deref(),
        Some("HIT"),
        "a tool's read invalidates nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mcp_schema_write_makes_the_cached_base_schema_and_record_reads_miss() {
    let platform = Platform::start(None).await;
    let (_, key) = platform.connected().await;

    // The cached schema misses and lists the new field; record reads miss too (a schema change
    // can change every record's shape).
    platform.cached(&key, SCHEMA).await;
    platform.cached(&key, CONTACTS).await;
    platform
        .tool(
            &key,
            "create_field",
            json!({"base_id": BASE, "table": "Contacts", "name": "Mcp Notes", "type": "singleLineText"}),
        )
        .await;
    let schema = platform.read(&key, SCHEMA).await;
    assert_eq!(schema.cache.as_deref(), Some("MISS"), "after create_field");
    assert!(
        field_names(&schema.body, "Contacts").contains(&"Mcp Notes".to_string()),
        "{}",
        schema.text
    );
    let records = platform.read(&key, CONTACTS).await;
    assert_eq!(
        records.cache.as_deref(),
        Some("MISS"),
        "records after a schema write"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_turns_write_tool_makes_the_cached_v0_read_miss_and_show_the_change() {
    let llm = FakeLlm::builder()
        .start("127.0.0.1:0".parse().expect("address"))
        .await
        .expect("fake LLM starts");
    llm.add_rule(Rule::answer_tool_results("Done: {tool_result}"));
    llm.push_turn(
        Provider::Gemini,
        Turn::tool_call(
            "create_records",
            json!({"base_id": BASE, "table": "Contacts",
                "records": [{"fields": {"Name": "Aaa Created By Chat"}}]}),
        ),
    );
    let platform = Platform::start(Some(llm)).await;
    let (access, key) = platform.connected().await;

    platform.cached(&key, CONTACTS).await;
    let turn = platform
        .send(
            Method::POST,
            "/v1/chat",
            &access,
            Some(
                json!({"message": "Add a contact named Aaa Created By Chat", "base_id": BASE,
                "model": "gemini-2.5-flash", "allow_writes": true}),
            ),
        )
        .await;
    assert_eq!(turn.status, StatusCode::OK, "{}", turn.text);
    assert_eq!(turn.body["tool_calls"][0]["ok"], true, "{}", turn.text);

    let after = platform.read(&key, CONTACTS).await;
    assert_eq!(
        after.cache.as_deref(),
        Some("MISS"),
        "after the chat's write"
    );
    assert_eq!(first_contact(&after).1, "Aaa Created By Chat");
}
