//! A saga survives its process: the dev server binary is killed with `kill -9` in the middle of
//! a transaction, restarted on the same data, and its local state-machine runner resumes the
//! execution from the last persisted state; the transaction finishes with every record written
//! exactly once and every update applied.
//!
//! Where the kill lands: while a before-image read is in flight (the sandbox holds reads for a
//! second). A kill during a *write* is the one case no client of Airtable can make exact (a
//! create that reached Airtable but whose answer was lost cannot be recognised), which the
//! gateway's idempotency claim covers as far as it can; see the README's Sagas section.
//!
//! The Airtable sandbox runs in this test's process, so it outlives the killed server and
//! counts every request it receives.

use std::path::Path;
use std::time::{Duration, Instant};

use airtable_sandbox::{DEMO_BASE_ID, DEMO_TOKEN, Sandbox};
use reqwest::StatusCode;
use serde_json::{Value, json};
use testkit::process::{Server, call, connected_owner, devserver, free_port, spawn};

/// New contacts per created chunk, and chunks of creates.
const CREATED: usize = 10;
/// The route the before-image reads take.
const READ_ROUTE: &str = "list_records";

fn start(data_dir: &Path, port: u16, airtable: &str) -> Server {
    let mut command = devserver(env!("CARGO_BIN_EXE_devserver"));
    command
        .env("PORT", port.to_string())
        .env("DATA_DIR", data_dir)
        .env("AIRTABLE_API_URL", airtable)
        .env("TENANT_REQUESTS_PER_MINUTE", "0")
        .env("AIRTABLE_BASE_REQUESTS_PER_SECOND", "0")
        .env("AIRTABLE_TOKEN_REQUESTS_PER_SECOND", "0");
    spawn(&mut command, &format!("Airtable at {airtable}")).0
}

/// The names of the demo base's contacts, read straight from the sandbox (every page).
async fn contact_names(http: &reqwest::Client, sandbox: &str) -> Vec<String> {
    let contents = testkit::base_contents(http, sandbox, DEMO_TOKEN, DEMO_BASE_ID).await;
    contents["Contacts"]
        .iter()
        .filter_map(|r| r["Name"].as_str().map(str::to_string))
        .collect()
}

/// The ids of every record of a demo table (at most 10, one chunk), read straight.
async fn record_ids(http: &reqwest::Client, sandbox: &str, table: &str) -> Vec<String> {
    let page: Value = http
        .get(format!("{sandbox}/v0/{DEMO_BASE_ID}/{table}?pageSize=10"))
        .bearer_auth(DEMO_TOKEN)
        .send()
        .await
        .expect("records")
        .json()
        .await
        .expect("JSON");
    page["records"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["id"].as_str().map(str::to_string))
        .collect()
}

async fn requests(http: &reqwest::Client, sandbox: &str, route: &str) -> u64 {
    let counters: Value = http
        .get(format!("{sandbox}/_sandbox/counters"))
        .send()
        .await
        .expect("counters")
        .json()
        .await
        .expect("JSON");
    counters["routes"][route]["requests"].as_u64().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_saga_interrupted_by_a_crash_finishes_after_the_restart() {
    let sandbox = Sandbox::builder()
        .no_rate_limits()
        .start("127.0.0.1:0".parse().expect("address"))
        .await
        .expect("sandbox");
    let airtable = sandbox.url();
    let data = tempfile::tempdir().expect("data dir");
    let port = free_port();
    let api = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    // Before-image reads take a second, so the kill lands while one is in flight.
    sandbox
        .faults()
        .set_delay(READ_ROUTE, Some(Duration::from_millis(1000)));

    let first = start(data.path(), port, &airtable);
    let access = connected_owner(&http, &api).await;
    let before = contact_names(&http, &airtable).await;

    let ids = record_ids(&http, &airtable, "Contacts").await;
    let deals = record_ids(&http, &airtable, "Deals").await;
    // update chunk, create chunk, update chunk, create chunk, update chunk
    let mut operations: Vec<Value> = Vec::new();
    let updates = |table: &str, ids: &[String], label: &str| -> Vec<Value> {
        ids.iter()
            .enumerate()
            .map(|(i, id)| json!({"op": "update", "table": table, "id": id, "fields": {"Name": format!("{label}-{i}")}}))
            .collect()
    };
    let creates = |label: &str| -> Vec<Value> {
        (0..CREATED)
            .map(|i| json!({"op": "create", "table": "Contacts", "fields": {"Name": format!("{label}-{i}")}}))
            .collect()
    };
    operations.extend(updates("Contacts", &ids, "renamed"));
    operations.extend(creates("first"));
    operations.extend(updates("Deals", &deals, "deal"));
    operations.extend(creates("second"));
    operations.extend(updates("Deals", &deals, "deal-again"));
    let (status, started) = call(
        &http,
        reqwest::Method::POST,
        format!("{api}/v1/sagas"),
        &access,
        Some(json!({"type": "transaction", "input": {"base": DEMO_BASE_ID, "operations": operations}})),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{started}");
    let id = started["id"].as_str().expect("id").to_string();

    // The third before-image read (the second Deals update chunk's) is in flight: two chunks
    // of updates and one of creates are done and persisted.
    let clock = Instant::now();
    while requests(&http, &airtable, READ_ROUTE).await < 3 {
        assert!(
            clock.elapsed() < Duration::from_secs(60),
            "the saga never reached its third read; the server printed:\n{}",
            first.output()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.kill_hard();
    assert!(
        requests(&http, &airtable, "create_records").await < 2,
        "the kill came after the second chunk of creates"
    );

    let second = start(data.path(), port, &airtable);
    let saga = loop {
        let (_, body) = call(
            &http,
            reqwest::Method::GET,
            format!("{api}/v1/sagas/{id}"),
            &access,
            None,
        )
        .await;
        if body["status"] != "running" && !body["status"].is_null() {
            break body;
        }
        assert!(
            clock.elapsed() < Duration::from_secs(90),
            "the saga did not finish after the restart: {body}\n{}",
            second.output()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(saga["status"], "succeeded", "{saga}");
    let after = contact_names(&http, &airtable).await;
    assert_eq!(
        after.len(),
        before.len() + 2 * CREATED,
        "every record created exactly once across the crash: {after:?}"
    );
    for label in ["first", "second"] {
        for i in 0..CREATED {
            let name = format!("{label}-{i}");
            assert_eq!(after.iter().filter(|n| **n == name).count(), 1, "{name}");
        }
    }
    for i in 0..ids.len() {
        assert!(after.contains(&format!("renamed-{i}")), "renamed-{i}");
    }
    let deal_names: Vec<String> =
        testkit::base_contents(&http, &airtable, DEMO_TOKEN, DEMO_BASE_ID).await["Deals"]
            .iter()
            .filter_map(|r| r["Name"].as_str().map(str::to_string))
            .collect();
    for i in 0..deals.len() {
        assert!(
            deal_names.contains(&format!("deal-again-{i}")),
            "{deal_names:?}"
        );
    }
    second.stop();
}
