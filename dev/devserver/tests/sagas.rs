//! Sagas end to end on the dev server as a user runs them: started over HTTP, run by the local
//! state-machine runner from the same ASL files Step Functions runs, each step a saga-step
//! action through the rate-limited gateway, against the Airtable sandbox. The central check:
//! for each saga type, a fault at every one of its Airtable requests in turn leaves the base
//! exactly as it was before the saga (every table, every record, by value).

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use testkit::{BaseContents, DEMO_BASE_ID, TestApp};

const SCOPES: &[&str] = &["sagas", "records:read", "records:write", "schema:read"];
const TERMINAL: [&str; 4] = ["succeeded", "compensated", "cancelled", "failed"];

async fn app() -> TestApp {
    TestApp::builder()
        .without_sandbox_rate_limits()
        .without_gateway_pacing()
        .spawn()
        .await
}

/// Polls `GET /v1/sagas/{id}` until the saga has ended; its detail.
async fn finished(app: &TestApp, key: &str, id: &str) -> Value {
    let started = Instant::now();
    loop {
        let reply = app.get(&format!("/v1/sagas/{id}"), key).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        if TERMINAL.contains(&reply.body["status"].as_str().unwrap_or_default()) {
            return reply.body;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "saga {id} still running after 60 s: {}",
            reply.text
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn start(app: &TestApp, key: &str, kind: &str, input: Value) -> String {
    let reply = app
        .post("/v1/sagas", key, json!({"type": kind, "input": input}))
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text);
    reply.str("/id")
}

/// Ids of the first records of a demo table, read straight from the sandbox.
async fn record_ids(app: &TestApp, table: &str) -> Vec<String> {
    let page = app
        .straight(Method::GET, &format!("/v0/{DEMO_BASE_ID}/{table}"), None)
        .await;
    page.body["records"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["id"].as_str().map(str::to_string))
        .collect()
}

async fn first_field(app: &TestApp, table: &str, field: &str) -> Value {
    let page = app
        .straight(Method::GET, &format!("/v0/{DEMO_BASE_ID}/{table}"), None)
        .await;
    page.body["records"][0]["fields"][field].clone()
}

/// A transaction touching three tables with every kind of operation.
async fn mixed_transaction(app: &TestApp) -> Value {
    let contacts = record_ids(app, "Contacts").await;
    let deals = record_ids(app, "Deals").await;
    let company = first_field(app, "Companies", "Name").await;
    json!({
        "base": DEMO_BASE_ID,
        "operations": [
            {"op": "create", "table": "Contacts", "fields": {"Name": "Saga Person", "Title": "Tester"}},
            {"op": "create", "table": "Contacts", "fields": {"Name": "Saga Person 2"}},
            {"op": "update", "table": "Contacts", "id": contacts[0], "fields": {"Title": "Chief Saga Officer"}},
            {"op": "upsert", "table": "Companies", "merge_on": ["Name"], "fields": {"Name": company, "Employees": 4242}},
            {"op": "upsert", "table": "Companies", "merge_on": ["Name"], "fields": {"Name": "Upserted Co", "Employees": 7}},
            {"op": "delete", "table": "Deals", "id": deals[0]},
            {"op": "create", "table": "Deals", "fields": {"Name": "Saga deal", "Amount": 1000}}
        ]
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_transaction_applies_every_operation_and_records_its_steps() {
    let app = app().await;
    let (_, key) = app.connected_key("tx@example.com", SCOPES).await;
    let input = mixed_transaction(&app).await;
    let before = app.sandbox_base_contents(DEMO_BASE_ID).await;
    let deleted = input["operations"][5]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();

    let id = start(&app, &key, "transaction", input).await;
    let saga = finished(&app, &key, &id).await;
    assert_eq!(saga["status"], "succeeded", "{saga}");
    assert_eq!(saga["type"], "transaction");
    let steps = saga["steps"].as_array().cloned().unwrap_or_default();
    assert!(
        steps
            .iter()
            .all(|s| s["kind"] == "step" && s["status"] == "succeeded"),
        "no compensation on success: {saga}"
    );

    let after = app.sandbox_base_contents(DEMO_BASE_ID).await;
    assert_ne!(before, after);
    let names = |contents: &BaseContents, table: &str| -> Vec<String> {
        contents[table]
            .iter()
            .filter_map(|r| r["Name"].as_str().map(str::to_string))
            .collect()
    };
    assert!(names(&after, "Contacts").contains(&"Saga Person".to_string()));
    assert!(names(&after, "Companies").contains(&"Upserted Co".to_string()));
    assert!(
        after["Companies"].iter().any(|c| c["Employees"] == 4242),
        "the upsert updated the existing company"
    );
    assert_eq!(
        after["Companies"].len(),
        before["Companies"].len() + 1,
        "one upsert created, the other updated"
    );
    let gone = app
        .straight(
            Method::GET,
            &format!("/v0/{DEMO_BASE_ID}/Deals/{deleted}"),
            None,
        )
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
}

/// Runs `input` once to count its Airtable requests R, then for every k in 1..=R on a fresh
/// base makes the k-th request fail and checks the base is back to its first state.
async fn every_fault_is_undone(kind: &str, input_for: impl AsyncFn(&TestApp) -> Value) {
    let app = app().await;
    let (_, key) = app.connected_key("faults@example.com", SCOPES).await;
    let input = input_for(&app).await;
    let pristine = app.sandbox_base_contents(DEMO_BASE_ID).await;

    // A first run warms the gateway's cache of the schema the start checks (steps read
    // fresh), so that every later run sends the same requests, all from its steps.
    let id = start(&app, &key, kind, input.clone()).await;
    assert_eq!(finished(&app, &key, &id).await["status"], "succeeded");
    app.sandbox_admin(Method::POST, "/_sandbox/reset", json!({}))
        .await;
    app.reset_upstream_requests();
    let id = start(&app, &key, kind, input.clone()).await;
    let saga = finished(&app, &key, &id).await;
    assert_eq!(saga["status"], "succeeded", "{saga}");
    let requests = app.upstream_requests();
    assert!(requests >= 2, "{kind} made {requests} Airtable requests");
    // Past the last one, a fault is never reached: the control case.
    let control = requests + 1;

    for k in 1..=control {
        app.sandbox_admin(Method::POST, "/_sandbox/reset", json!({}))
            .await;
        assert_eq!(app.sandbox_base_contents(DEMO_BASE_ID).await, pristine);
        let mut script: Vec<Value> = vec![json!("ok"); (k - 1) as usize];
        script.push(json!(422));
        app.sandbox_admin(
            Method::POST,
            "/_sandbox/faults",
            json!({"route": "*", "sequence": script}),
        )
        .await;
        let id = start(&app, &key, kind, input.clone()).await;
        let saga = finished(&app, &key, &id).await;
        if k == control {
            assert_eq!(saga["status"], "succeeded", "{kind}: {saga}");
            app.sandbox_admin(Method::DELETE, "/_sandbox/faults", json!({}))
                .await;
            continue;
        }
        assert_eq!(
            saga["status"], "compensated",
            "{kind}: a fault at request {k} of {requests}: {saga}"
        );
        assert_eq!(
            app.sandbox_base_contents(DEMO_BASE_ID).await,
            pristine,
            "{kind}: a fault at request {k} of {requests} left the base changed: {saga}"
        );
        app.sandbox_admin(Method::DELETE, "/_sandbox/faults", json!({}))
            .await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_transaction_failing_at_any_request_leaves_the_base_as_it_was() {
    every_fault_is_undone("transaction", mixed_transaction).await;
}

async fn sync_input(_: &TestApp) -> Value {
    json!({
        "source": {"base": DEMO_BASE_ID, "table": "Companies"},
        "target": {"base": DEMO_BASE_ID, "table": "Contacts"},
        "key_field": "Name",
        "fields": ["Name"],
        "dry_run": false,
        "delete_missing": true
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_table_sync_failing_at_any_request_leaves_the_base_as_it_was() {
    every_fault_is_undone("table-sync", sync_input).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_table_sync_dry_run_reports_and_changes_nothing_then_applies() {
    let app = app().await;
    let (_, key) = app.connected_key("sync@example.com", SCOPES).await;
    let before = app.sandbox_base_contents(DEMO_BASE_ID).await;
    let mut input = sync_input(&app).await;
    input["dry_run"] = json!(true);
    let id = start(&app, &key, "table-sync", input.clone()).await;
    let saga = finished(&app, &key, &id).await;
    assert_eq!(saga["status"], "succeeded", "{saga}");
    let companies = before["Companies"].len() as u64;
    let contacts = before["Contacts"].len() as u64;
    assert_eq!(saga["output"]["creates"], companies, "{saga}");
    assert_eq!(saga["output"]["deletes"], contacts, "{saga}");
    assert_eq!(app.sandbox_base_contents(DEMO_BASE_ID).await, before);

    input["dry_run"] = json!(false);
    let id = start(&app, &key, "table-sync", input).await;
    let saga = finished(&app, &key, &id).await;
    assert_eq!(saga["status"], "succeeded", "{saga}");
    let after = app.sandbox_base_contents(DEMO_BASE_ID).await;
    let mut target: Vec<Value> = after["Contacts"]
        .iter()
        .map(|r| r["Name"].clone())
        .collect();
    let mut source: Vec<Value> = after["Companies"]
        .iter()
        .map(|r| r["Name"].clone())
        .collect();
    target.sort_by_key(Value::to_string);
    source.sort_by_key(Value::to_string);
    assert_eq!(target, source, "the target holds exactly the source's keys");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_is_refused_with_its_path_and_nothing_runs() {
    let app = app().await;
    let (_, key) = app.connected_key("bad@example.com", SCOPES).await;
    let before = app.upstream_requests();

    let reply = app
        .post(
            "/v1/sagas",
            &key,
            json!({"type": "transaction", "input": {"base": DEMO_BASE_ID, "operations": [
                {"op": "create", "table": "Contacts", "fields": {"Name": "ok"}},
                {"op": "explode", "table": "Contacts"}
            ]}}),
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.text
    );
    assert!(
        reply.text.contains("/operations/1"),
        "the problem names its path: {}",
        reply.text
    );

    let many: Vec<Value> = (0..1001)
        .map(|i| json!({"op": "create", "table": "Contacts", "fields": {"Name": format!("n{i}")}}))
        .collect();
    let reply = app
        .post(
            "/v1/sagas",
            &key,
            json!({"type": "transaction", "input": {"base": DEMO_BASE_ID, "operations": many}}),
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.text
    );
    assert!(
        reply.text.contains("1000"),
        "the limit is named: {}",
        reply.text
    );

    let reply = app
        .post("/v1/sagas", &key, json!({"type": "nope", "input": {}}))
        .await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.text
    );

    let listed = app.get("/v1/sagas", &key).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    assert_eq!(listed.body["sagas"], json!([]), "nothing was started");
    assert_eq!(app.upstream_requests(), before, "nothing reached Airtable");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cancelled_saga_is_compensated_and_a_finished_one_cannot_be_cancelled() {
    let app = app().await;
    let (_, key) = app.connected_key("cancel@example.com", SCOPES).await;
    let before = app.sandbox_base_contents(DEMO_BASE_ID).await;
    // Slow Airtable down so the saga is still running when the cancel arrives.
    app.sandbox_admin(
        Method::POST,
        "/_sandbox/faults",
        json!({"route": "*", "delayMs": 150}),
    )
    .await;
    let operations: Vec<Value> = (0..100)
        .map(|i| json!({"op": "create", "table": "Contacts", "fields": {"Name": format!("c{i}")}}))
        .collect();
    let id = start(
        &app,
        &key,
        "transaction",
        json!({"base": DEMO_BASE_ID, "operations": operations}),
    )
    .await;
    // Wait for the first chunk to be written.
    let started = Instant::now();
    while app.sandbox_record_count("Contacts").await == before["Contacts"].len() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no write began"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let cancelled = app
        .post(&format!("/v1/sagas/{id}/cancel"), &key, json!({}))
        .await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.text);
    assert_eq!(cancelled.body["cancel_requested"], true);
    let saga = finished(&app, &key, &id).await;
    assert_eq!(saga["status"], "cancelled", "{saga}");
    assert!(
        saga["steps"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|s| s["kind"] == "compensation"),
        "compensations are in the history: {saga}"
    );
    app.sandbox_admin(Method::DELETE, "/_sandbox/faults", json!({}))
        .await;
    assert_eq!(app.sandbox_base_contents(DEMO_BASE_ID).await, before);

    let again = app
        .post(&format!("/v1/sagas/{id}/cancel"), &key, json!({}))
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text);
}

#[tokio::test(flavor = "multi_thread")]
async fn sagas_are_listed_per_tenant_with_filters_and_types_are_described() {
    let app = app().await;
    let (_, key) = app.connected_key("list@example.com", SCOPES).await;
    let (_, other) = app.connected_key("other@example.com", SCOPES).await;
    let id = start(
        &app,
        &key,
        "transaction",
        json!({"base": DEMO_BASE_ID, "operations": [
            {"op": "create", "table": "Contacts", "fields": {"Name": "Listed"}}
        ]}),
    )
    .await;
    finished(&app, &key, &id).await;

    let mine = app
        .get("/v1/sagas?type=transaction&status=succeeded", &key)
        .await;
    assert_eq!(mine.status, StatusCode::OK, "{}", mine.text);
    assert_eq!(mine.body["sagas"][0]["id"], id.as_str(), "{}", mine.text);
    let none = app.get("/v1/sagas?status=compensated", &key).await;
    assert_eq!(none.body["sagas"], json!([]), "{}", none.text);
    let theirs = app.get("/v1/sagas", &other).await;
    assert_eq!(theirs.body["sagas"], json!([]), "{}", theirs.text);
    let hidden = app.get(&format!("/v1/sagas/{id}"), &other).await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND, "{}", hidden.text);

    let types = app.get("/v1/sagas/types", &key).await;
    assert_eq!(types.status, StatusCode::OK, "{}", types.text);
    let names: Vec<&str> = types.body["types"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["type"].as_str())
        .collect();
    assert_eq!(
        names,
        ["transaction", "table-sync", "connect-base"],
        "{}",
        types.text
    );
    assert!(types.body["types"][0]["input_schema"].is_object());
}

async fn field(app: &TestApp, key: &str, table: &str, record: &str, name: &str) -> Value {
    let reply = app
        .get(&format!("/v0/{DEMO_BASE_ID}/{table}/{record}"), key)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.body["fields"][name].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_chunk_airtable_refuses_is_compensated_and_a_finished_saga_cannot_be_cancelled() {
    let app = app().await;
    let (_, key) = app.connected_key("refused@example.com", SCOPES).await;
    let contacts_before = app.sandbox_record_count("Contacts").await;
    // The second update names a record that does not exist: Airtable refuses that chunk, and
    // the compensation deletes the contact the first chunk created and restores the deal.
    let stage_before = field(&app, &key, "Deals", "recDl000000000001", "Stage").await;
    let id = start(
        &app,
        &key,
        "transaction",
        json!({"base": DEMO_BASE_ID, "operations": [
            {"op": "create", "table": "Contacts", "fields": {"Name": "Temporary"}},
            {"op": "update", "table": "Deals", "id": "recDl000000000001", "fields": {"Stage": "Lost"}},
            {"op": "update", "table": "Companies", "id": "recDl0000000000ZZ", "fields": {"Name": "Won"}},
        ]}),
    )
    .await;
    let saga = finished(&app, &key, &id).await;
    assert_eq!(saga["status"], "compensated", "{saga}");
    let undone = saga["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["kind"] == "compensation" && s["name"] == "undo")
        .count();
    assert_eq!(undone, 2, "both applied chunks were undone: {saga}");
    assert_eq!(app.sandbox_record_count("Contacts").await, contacts_before);
    assert_eq!(
        field(&app, &key, "Deals", "recDl000000000001", "Stage").await,
        stage_before
    );

    let reply = app
        .post(&format!("/v1/sagas/{id}/cancel"), &key, json!({}))
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{}", reply.text);
    assert_eq!(reply.body["error"]["type"], "SAGA_FINISHED");
}

async fn webhooks(app: &TestApp) -> Vec<Value> {
    let reply = app
        .straight(
            Method::GET,
            &format!("/v0/bases/{DEMO_BASE_ID}/webhooks"),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.body["webhooks"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_base_connection_that_fails_removes_its_webhooks_and_a_second_one_connects() {
    let app = app().await;
    let (_, key) = app.connected_key("connect@example.com", SCOPES).await;
    let before = app.sandbox_base_contents(DEMO_BASE_ID).await;
    // The second table's webhook cannot be made: the first one must go again.
    app.sandbox_admin(
        Method::POST,
        "/_sandbox/faults",
        json!({"route": "create_webhook", "sequence": ["ok", 422]}),
    )
    .await;
    let id = start(&app, &key, "connect-base", json!({"base": DEMO_BASE_ID})).await;
    let saga = finished(&app, &key, &id).await;
    assert_eq!(saga["status"], "compensated", "{saga}");
    assert_eq!(webhooks(&app).await, Vec::<Value>::new(), "{saga}");
    app.sandbox_admin(Method::DELETE, "/_sandbox/faults", json!({}))
        .await;

    let id = start(&app, &key, "connect-base", json!({"base": DEMO_BASE_ID})).await;
    let saga = finished(&app, &key, &id).await;
    assert_eq!(saga["status"], "succeeded", "{saga}");
    let tables: Vec<(String, u64)> = saga["output"]["tables"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            (
                t["name"].as_str().unwrap_or_default().to_string(),
                t["records"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    let expected: Vec<(String, u64)> = ["Companies", "Contacts", "Deals"]
        .iter()
        .map(|t| (t.to_string(), before[*t].len() as u64))
        .collect();
    assert_eq!(tables, expected, "{saga}");
    let hooks = webhooks(&app).await;
    assert_eq!(hooks.len(), 3, "a webhook per table: {hooks:?}");
    assert!(
        hooks.iter().all(|h| h["notificationUrl"]
            .as_str()
            .is_some_and(|u| u.starts_with(&app.base_url()))),
        "pings come to this platform: {hooks:?}"
    );
    assert_eq!(app.sandbox_base_contents(DEMO_BASE_ID).await, before);
}
