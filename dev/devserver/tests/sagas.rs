//! Sagas end to end on the dev server as a user runs them: started over HTTP, run by the local
//! state-machine runner in-process (the same ASL files Step Functions runs) with saga-step as
//! its task function, against the Airtable sandbox.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use testkit::TestApp;

const BASE: &str = "appSandboxDemoCRM";
const SCOPES: &[&str] = &["sagas", "records:read"];

/// Polls the saga until it has finished, or fails after 30 s.
async fn finished(app: &TestApp, key: &str, id: &str) -> Value {
    let started = Instant::now();
    loop {
        let reply = app.get(&format!("/v1/sagas/{id}"), key).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        if !matches!(
            reply.body["status"].as_str(),
            Some("running" | "compensating")
        ) {
            return reply.body;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "waited 30 s for saga {id}: {}\n{}",
            reply.text,
            app.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn start(app: &TestApp, key: &str, body: Value) -> String {
    let reply = app.post("/v1/sagas", key, body).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text);
    assert_eq!(reply.body["status"], "running");
    reply.body["id"].as_str().expect("an id").to_string()
}

async fn field(app: &TestApp, key: &str, table: &str, record: &str, name: &str) -> Value {
    let reply = app.get(&format!("/v0/{BASE}/{table}/{record}"), key).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.body["fields"][name].clone()
}

#[tokio::test]
async fn a_transaction_applies_across_tables_and_a_failed_one_leaves_the_base_as_it_was() {
    // The test counts records straight from the sandbox, beside the gateway's paced calls.
    let app = TestApp::builder()
        .without_sandbox_rate_limits()
        .capture_logs()
        .spawn()
        .await;
    let (_, key) = app.connected_key("owner@example.com", SCOPES).await;
    let contacts_before = app.sandbox_record_count("Contacts").await;

    let id = start(
        &app,
        &key,
        json!({"type": "transaction", "input": {"base": BASE, "operations": [
            {"op": "create", "table": "Contacts", "fields": {"Name": "Grace Hopper"}},
            {"op": "update", "table": "Deals", "id": "recDl000000000004", "fields": {"Stage": "Won"}},
        ]}}),
    )
    .await;
    let saga = finished(&app, &key, &id).await;
    assert_eq!(saga["status"], "succeeded", "{saga}");
    assert_eq!(saga["output"]["created"], 1, "{saga}");
    assert_eq!(
        field(&app, &key, "Deals", "recDl000000000004", "Stage").await,
        "Won"
    );
    assert_eq!(
        app.sandbox_record_count("Contacts").await,
        contacts_before + 1
    );

    // The second update names a record that does not exist: Airtable refuses the chunk, and
    // the compensation deletes the contact the first chunk created.
    let stage_before = field(&app, &key, "Deals", "recDl000000000001", "Stage").await;
    let id = start(
        &app,
        &key,
        json!({"type": "transaction", "input": {"base": BASE, "operations": [
            {"op": "create", "table": "Contacts", "fields": {"Name": "Temporary"}},
            {"op": "update", "table": "Deals", "id": "recDl000000000001", "fields": {"Stage": "Lost"}},
            {"op": "update", "table": "Deals", "id": "recDl0000000000ZZ", "fields": {"Stage": "Won"}},
        ]}}),
    )
    .await;
    let saga = finished(&app, &key, &id).await;
    assert_eq!(saga["status"], "compensated", "{saga}");
    let undone: Vec<&Value> = saga["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter(|s| s["kind"] == "compensation" && s["name"] == "undo")
        .collect();
    assert_eq!(undone.len(), 1, "the one applied chunk was undone: {saga}");
    assert_eq!(
        app.sandbox_record_count("Contacts").await,
        contacts_before + 1,
        "the temporary contact is gone"
    );
    assert_eq!(
        field(&app, &key, "Deals", "recDl000000000001", "Stage").await,
        stage_before
    );

    let reply = app
        .post(&format!("/v1/sagas/{id}/cancel"), &key, json!({}))
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{}", reply.text);
    assert_eq!(reply.body["error"]["type"], "SAGA_FINISHED");
    app.shutdown().await;
}
