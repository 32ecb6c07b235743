//! A workflow's side effect happens once even when the worker dies between the effect and its
//! checkpoint: the dev server binary is killed with `kill -9` in exactly that window (its crash
//! drill pauses there), restarted on the same data, and the redelivered run finishes without
//! writing to Airtable again.
//!
//! The Airtable sandbox runs in this test's process, so it outlives the killed server and
//! counts every request it receives.

use std::path::Path;
use std::time::{Duration, Instant};

use airtable_sandbox::{DEMO_BASE_ID, DEMO_TOKEN, Sandbox};
use reqwest::StatusCode;
use serde_json::{Value, json};
use testkit::process::{Server, call, connected_owner, devserver, free_port, spawn};

fn start(data_dir: &Path, port: u16, airtable: &str, marker: Option<&Path>) -> Server {
    let mut command = devserver(env!("CARGO_BIN_EXE_devserver"));
    command
        .env("PORT", port.to_string())
        .env("DATA_DIR", data_dir)
        .env("AIRTABLE_API_URL", airtable)
        // A message received by the killed server comes back after 2 s, not 15 minutes.
        .env("DEV_QUEUE_VISIBILITY_SECONDS", "2")
        .env("TENANT_REQUESTS_PER_MINUTE", "0")
        .env("AIRTABLE_BASE_REQUESTS_PER_SECOND", "0")
        .env("AIRTABLE_TOKEN_REQUESTS_PER_SECOND", "0");
    if let Some(marker) = marker {
        command.env("DEV_PAUSE_AFTER_EFFECT", marker);
    }
    spawn(&mut command, &format!("Airtable at {airtable}")).0
}

/// Writes to records the sandbox has received so far.
async fn record_updates(http: &reqwest::Client, sandbox: &str) -> u64 {
    let counters: Value = http
        .get(format!("{sandbox}/_sandbox/counters"))
        .send()
        .await
        .expect("counters")
        .json()
        .await
        .expect("JSON");
    ["update_record", "update_records"]
        .iter()
        .map(|route| counters["routes"][route]["requests"].as_u64().unwrap_or(0))
        .sum()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_killed_between_a_write_and_its_checkpoint_does_not_write_twice() {
    let sandbox = Sandbox::builder()
        .no_rate_limits()
        .start("127.0.0.1:0".parse().expect("address"))
        .await
        .expect("sandbox");
    let airtable = sandbox.url();
    let data = tempfile::tempdir().expect("data dir");
    let marker = data.path().join("paused-after-effect");
    let port = free_port();
    let api = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();

    let first = start(data.path(), port, &airtable, Some(&marker));
    let access = connected_owner(&http, &api).await;
    let (status, workflow) = call(
        &http,
        reqwest::Method::POST,
        format!("{api}/v1/workflows"),
        &access,
        Some(json!({
            "name": "Note new contacts",
            "trigger": {"type": "record_created", "base": DEMO_BASE_ID, "table": "Contacts"},
            "steps": [{
                "id": "note", "type": "airtable.update", "base": DEMO_BASE_ID, "table": "Deals",
                "record": "recDl000000000001",
                "fields": {"Name": "Renewal (last contact: {{ trigger.fields.Name }})"}
            }]
        })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{workflow}");
    let workflow_id = workflow["id"].as_str().expect("id").to_string();
    let before = record_updates(&http, &airtable).await;

    // A contact created straight in Airtable: its webhook ping starts the run.
    let created = http
        .post(format!("{airtable}/v0/{DEMO_BASE_ID}/Contacts"))
        .bearer_auth(DEMO_TOKEN)
        .json(&json!({"fields": {"Name": "Grace Hopper"}}))
        .send()
        .await
        .expect("create");
    assert_eq!(created.status(), StatusCode::OK);

    let started = Instant::now();
    while !marker.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the run never reached its write; the server printed:\n{}",
            first.output()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        record_updates(&http, &airtable).await - before,
        1,
        "the write reached Airtable before the crash"
    );
    first.kill_hard();

    let second = start(data.path(), port, &airtable, None);
    let runs_url = format!("{api}/v1/workflows/{workflow_id}/runs");
    let run = loop {
        let (_, body) = call(&http, reqwest::Method::GET, runs_url.clone(), &access, None).await;
        let runs = body["runs"].as_array().cloned().unwrap_or_default();
        if let Some(run) = runs.first().filter(|run| run["status"] == "succeeded") {
            break run.clone();
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the run did not finish after the restart: {body}\n{}",
            second.output()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let (_, shown) = call(
        &http,
        reqwest::Method::GET,
        format!("{api}/v1/runs/{}", run["id"].as_str().expect("run id")),
        &access,
        None,
    )
    .await;
    assert_eq!(shown["steps"][0]["status"], "succeeded", "{shown}");
    assert_eq!(
        shown["steps"][0]["attempts"], 2,
        "the redelivered message ran the step again: {shown}"
    );
    assert_eq!(
        record_updates(&http, &airtable).await - before,
        1,
        "the second attempt replayed the first write's answer instead of writing again"
    );
    let deal: Value = http
        .get(format!(
            "{airtable}/v0/{DEMO_BASE_ID}/Deals/recDl000000000001"
        ))
        .bearer_auth(DEMO_TOKEN)
        .send()
        .await
        .expect("deal")
        .json()
        .await
        .expect("JSON");
    assert_eq!(
        deal["fields"]["Name"],
        "Renewal (last contact: Grace Hopper)"
    );
    second.stop();
    sandbox.shutdown().await;
}
