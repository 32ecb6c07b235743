//! Writes that reach Airtable outside `/v0` (MCP `tools/call`, a chat turn's tool calls) make
//! the gateway's cached reads they affect stale exactly as a `/v0` write does: a cached `/v0`
//! list (a `HIT`) followed by such a write is a `MISS` that shows the change, and a schema
//! change through a tool makes the cached base schema a `MISS` too. Against the dev server
//! binary, its Airtable sandbox and, for chat, a scripted fake LLM.

use fake_llm::{FakeLlm, Provider, Rule, Turn};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use testkit::{DEMO_BASE_ID as BASE, Reply, TestApp};

const ALL_SCOPES: [&str; 4] = [
    "records:read",
    "records:write",
    "schema:read",
    "schema:write",
];
/// Contacts sorted by name: a record named "Aaa…" comes first.
const CONTACTS: &str = "/v0/appSandboxDemoCRM/Contacts?pageSize=3&sort%5B0%5D%5Bfield%5D=Name";
const SCHEMA: &str = "/v0/meta/bases/appSandboxDemoCRM/tables";

/// A connected tenant's owner access token and an API key with every scope. The read cache
/// keeps its default TTL (30 s): far longer than these tests, so only an invalidation can turn
/// a HIT into a MISS here.
async fn connected(app: &TestApp) -> (String, String) {
    app.connected_key("cache@example.com", &ALL_SCOPES).await
}

/// A `/v0` GET that must succeed.
async fn read(app: &TestApp, key: &str, path: &str) -> Reply {
    app.get(path, key).await.expect(StatusCode::OK)
}

/// Reads `path` twice: the second answer must come from the cache.
async fn cached(app: &TestApp, key: &str, path: &str) -> Reply {
    read(app, key, path).await;
    let again = read(app, key, path).await;
    assert_eq!(again.header("x-cache"), Some("HIT"), "{path}");
    again
}

/// MCP `tools/call`; the tool must succeed. Returns its structured result.
async fn tool(app: &TestApp, key: &str, name: &str, arguments: Value) -> Value {
    let answer = app
        .send(
            app.request(Method::POST, "/mcp", key)
                .header("accept", "application/json, text/event-stream")
                .header("mcp-protocol-version", "2025-06-18")
                .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                    "params": {"name": name, "arguments": arguments}})),
        )
        .await
        .body;
    assert!(
        answer["result"].is_object() && answer["result"]["isError"] != true,
        "{name}: {answer}"
    );
    answer["result"]["structuredContent"].clone()
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
    let platform = TestApp::spawn().await;
    let (_, key) = connected(&platform).await;

    // create_records: the cached list misses and starts with the new contact.
    cached(&platform, &key, CONTACTS).await;
    let created = tool(
        &platform,
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
    let after = read(&platform, &key, CONTACTS).await;
    assert_eq!(
        after.header("x-cache"),
        Some("MISS"),
        "after create_records"
    );
    assert_eq!(
        first_contact(&after),
        (id.clone(), "Aaa Created By Mcp".into())
    );

    // update_records, with the base schema cached too (the table's every name is bumped).
    cached(&platform, &key, SCHEMA).await;
    cached(&platform, &key, CONTACTS).await;
    tool(
        &platform,
        &key,
        "update_records",
        json!({"base_id": BASE, "table": "Contacts",
                "records": [{"id": id, "fields": {"Name": "Aaa Updated By Mcp"}}]}),
    )
    .await;
    let after = read(&platform, &key, CONTACTS).await;
    assert_eq!(
        after.header("x-cache"),
        Some("MISS"),
        "after update_records"
    );
    assert_eq!(
        first_contact(&after),
        (id.clone(), "Aaa Updated By Mcp".into())
    );
    // The same table read by its id was cached before the write and misses too.
    let by_id = "/v0/appSandboxDemoCRM/tblContacts000000?pageSize=3&sort%5B0%5D%5Bfield%5D=Name";
    cached(&platform, &key, by_id).await;
    tool(
        &platform,
        &key,
        "update_records",
        json!({"base_id": BASE, "table": "Contacts",
                "records": [{"id": id, "fields": {"Name": "Aaa Renamed Again"}}]}),
    )
    .await;
    let after = read(&platform, &key, by_id).await;
    assert_eq!(after.header("x-cache"), Some("MISS"), "the table by id");
    assert_eq!(
        first_contact(&after),
        (id.clone(), "Aaa Renamed Again".into())
    );

    // delete_records: the list misses and no longer holds the record.
    cached(&platform, &key, CONTACTS).await;
    tool(
        &platform,
        &key,
        "delete_records",
        json!({"base_id": BASE, "table": "Contacts", "record_ids": [id]}),
    )
    .await;
    let after = read(&platform, &key, CONTACTS).await;
    assert_eq!(
        after.header("x-cache"),
        Some("MISS"),
        "after delete_records"
    );
    assert_ne!(first_contact(&after).0, id);
    assert!(!after.text.contains(&id), "{}", after.text);

    // A read changes nothing: a read-only tool call leaves the cache alone.
    cached(&platform, &key, CONTACTS).await;
    tool(
        &platform,
        &key,
        "list_records",
        json!({"base_id": BASE, "table": "Contacts", "max_records": 2}),
    )
    .await;
    let still = read(&platform, &key, CONTACTS).await;
    assert_eq!(
        still.header("x-cache"),
        Some("HIT"),
        "a tool's read invalidates nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mcp_schema_write_makes_the_cached_base_schema_and_record_reads_miss() {
    let platform = TestApp::spawn().await;
    let (_, key) = connected(&platform).await;

    // The cached schema misses and lists the new field; record reads miss too (a schema change
    // can change every record's shape).
    cached(&platform, &key, SCHEMA).await;
    cached(&platform, &key, CONTACTS).await;
    tool(&platform,
            &key,
            "create_field",
            json!({"base_id": BASE, "table": "Contacts", "name": "Mcp Notes", "type": "singleLineText"}),
        )
        .await;
    let schema = read(&platform, &key, SCHEMA).await;
    assert_eq!(schema.header("x-cache"), Some("MISS"), "after create_field");
    assert!(
        field_names(&schema.body, "Contacts").contains(&"Mcp Notes".to_string()),
        "{}",
        schema.text
    );
    let records = read(&platform, &key, CONTACTS).await;
    assert_eq!(
        records.header("x-cache"),
        Some("MISS"),
        "records after a schema write"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_turns_write_tool_makes_the_cached_v0_read_miss_and_show_the_change() {
    let platform = TestApp::builder()
        .fake_llm(FakeLlm::builder())
        .spawn()
        .await;
    let llm = platform.llm();
    llm.add_rule(Rule::answer_tool_results("Done: {tool_result}"));
    llm.push_turn(
        Provider::Gemini,
        Turn::tool_call(
            "create_records",
            json!({"base_id": BASE, "table": "Contacts",
                "records": [{"fields": {"Name": "Aaa Created By Chat"}}]}),
        ),
    );
    let (access, key) = connected(&platform).await;

    cached(&platform, &key, CONTACTS).await;
    let turn = platform
        .call(
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

    let after = read(&platform, &key, CONTACTS).await;
    assert_eq!(
        after.header("x-cache"),
        Some("MISS"),
        "after the chat's write"
    );
    assert_eq!(first_contact(&after).1, "Aaa Created By Chat");
}
