//! A 500-operation transaction saga at Airtable's real limits: how close its wall time comes to
//! the 5 requests/s per base ceiling, and how long its compensation takes.
//!
//! One platform ([`testkit::TestApp`]: the embedded backend on SQLite in a tempdir, the local
//! state-machine runner, the in-process Airtable sandbox **with** its limits: 5 req/s per base,
//! 50 per token, 30 s lockout; the gateway's own pacing on, as in production). The demo base's
//! Contacts table is first filled to `BENCH_OPERATIONS / 2` records (untimed). Then:
//!
//! - **apply**: one transaction of `BENCH_OPERATIONS` operations, half updates of the existing
//!   contacts, half creates, interleaved by chunks (10 updates, 10 creates, ...), so every
//!   update chunk costs a before-image read and a write and every create chunk a write. Its
//!   Airtable requests over its wall time (from `POST /v1/sagas` to `updated_at` of the
//!   succeeded saga), as a share of 5 requests/s, is the figure (goal ≥ 90 %).
//! - **compensate**: the same transaction again with the sandbox failing its last write (422),
//!   so every earlier chunk is undone; the time from the failure to `compensated`, and the
//!   compensation's requests/s, also against 5/s. The base must equal its state before.
//!
//! `cargo bench -p devserver --bench sagas`. Knob: `BENCH_OPERATIONS` (default 500, rounded
//! down to a multiple of 20).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use testkit::{DEMO_BASE_ID, TestApp};

#[path = "support/report.rs"]
mod report;

use report::{Checks, Table, env_number, finish, human};

const NAME: &str = "sagas";
const TABLE: &str = "Contacts";
/// Airtable's documented ceiling per base.
const CEILING: f64 = 5.0;
const SCOPES: &[&str] = &["sagas", "records:read", "records:write", "schema:read"];

fn command() -> String {
    "cargo bench -p devserver --bench sagas".to_string()
}

async fn wait_until_done(app: &TestApp, key: &str, id: &str) -> Result<Value, String> {
    let started = Instant::now();
    loop {
        let reply = app.get(&format!("/v1/sagas/{id}"), key).await;
        if reply.status != StatusCode::OK {
            return Err(format!("GET saga: {}", reply.text));
        }
        let status = reply.body["status"].as_str().unwrap_or_default();
        if !matches!(status, "running" | "compensating") {
            return Ok(reply.body);
        }
        if started.elapsed() > Duration::from_secs(1800) {
            return Err(format!("saga {id} still {status} after 30 minutes"));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn at(saga: &Value, field: &str) -> Result<DateTime<Utc>, String> {
    saga[field]
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| format!("saga has no {field}: {saga}"))
}

/// Fills the table to `count` records straight in the sandbox (10 per request, paced under
/// its limit); answers every record id.
async fn fill(app: &TestApp, count: usize) -> Result<Vec<String>, String> {
    let mut ids = Vec::new();
    let page = app
        .straight(
            Method::GET,
            &format!("/v0/{DEMO_BASE_ID}/{TABLE}?pageSize=100"),
            None,
        )
        .await;
    ids.extend(
        page.body["records"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["id"].as_str().map(str::to_string)),
    );
    while ids.len() < count {
        let batch = (count - ids.len()).min(10);
        let records: Vec<Value> = (0..batch)
            .map(|i| json!({"fields": {"Name": format!("seed {}", ids.len() + i)}}))
            .collect();
        let reply = app
            .straight(
                Method::POST,
                &format!("/v0/{DEMO_BASE_ID}/{TABLE}"),
                Some(json!({"records": records})),
            )
            .await;
        if reply.status == StatusCode::TOO_MANY_REQUESTS {
            tokio::time::sleep(Duration::from_secs(31)).await;
            continue;
        }
        if !reply.status.is_success() {
            return Err(format!("seeding: {}", reply.text));
        }
        ids.extend(
            reply.body["records"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r["id"].as_str().map(str::to_string)),
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    ids.truncate(count);
    Ok(ids)
}

fn operations(ids: &[String], label: &str) -> Vec<Value> {
    let mut ops = Vec::new();
    for (n, chunk) in ids.chunks(10).enumerate() {
        for (i, id) in chunk.iter().enumerate() {
            ops.push(json!({"op": "update", "table": TABLE, "id": id,
                "fields": {"Title": format!("{label} {n}-{i}")}}));
        }
        for i in 0..chunk.len() {
            ops.push(json!({"op": "create", "table": TABLE,
                "fields": {"Name": format!("{label} new {n}-{i}")}}));
        }
    }
    ops
}

async fn start(app: &TestApp, key: &str, ops: Vec<Value>) -> Result<(String, Instant), String> {
    let began = Instant::now();
    let reply = app
        .post(
            "/v1/sagas",
            key,
            json!({"type": "transaction", "input": {"base": DEMO_BASE_ID, "operations": ops}}),
        )
        .await;
    if reply.status != StatusCode::ACCEPTED {
        return Err(format!("POST /v1/sagas: {}", reply.text));
    }
    Ok((reply.str("/id"), began))
}

#[tokio::main]
async fn main() -> ExitCode {
    if std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .any(|f| !NAME.contains(f.as_str()))
    {
        return ExitCode::SUCCESS;
    }
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{NAME} failed: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let started = Instant::now();
    let operations_count = (env_number("BENCH_OPERATIONS", 500) / 20).max(1) * 20;
    let mut checks = Checks::default();
    println!(
        "{NAME}: a {operations_count}-operation transaction saga at Airtable's real limits \
         (sandbox: 5 req/s per base, 30 s lockout; gateway pacing on)"
    );
    let app = TestApp::spawn().await;
    let (_, key) = app.connected_key("bench@example.com", SCOPES).await;
    let ids = fill(&app, operations_count / 2).await?;
    // Let the seeding's requests leave the sandbox's one-second window.
    tokio::time::sleep(Duration::from_secs(2)).await;

    // Apply.
    let before_requests = app.upstream_requests();
    let (id, _) = start(&app, &key, operations(&ids, "apply")).await?;
    let saga = wait_until_done(&app, &key, &id).await?;
    checks.check(
        saga["status"] == "succeeded",
        format!("apply did not succeed: {}", saga["status"]),
    );
    let apply_requests = app.upstream_requests() - before_requests;
    let apply_wall = (at(&saga, "updated_at")? - at(&saga, "created_at")?)
        .to_std()
        .unwrap_or_default();
    let apply_rate = apply_requests as f64 / apply_wall.as_secs_f64().max(1e-9);
    let throttled = app
        .sandbox_admin(Method::GET, "/_sandbox/counters", json!({}))
        .await;

    // Compensate: the same work, failing at its last write.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let pristine = app.sandbox_base_contents(DEMO_BASE_ID).await;
    // Each pair of chunks is a before-image read and a write (updates), then a write (creates).
    let reads = (operations_count / 20) as u64;
    let writes = (operations_count / 10) as u64;
    let create_chunks = operations_count / 20;
    let mut script: Vec<Value> = vec![json!("ok"); create_chunks - 1];
    script.push(json!(422));
    app.sandbox_admin(
        Method::POST,
        "/_sandbox/faults",
        json!({"route": "create_records", "sequence": script}),
    )
    .await;
    let before_requests = app.upstream_requests();
    let (id, _) = start(&app, &key, operations(&ids, "undo")).await?;
    let saga = wait_until_done(&app, &key, &id).await?;
    checks.check(
        saga["status"] == "compensated",
        format!(
            "the failed transaction was not compensated: {}",
            saga["status"]
        ),
    );
    let total_requests = app.upstream_requests() - before_requests;
    let steps = saga["steps"].as_array().cloned().unwrap_or_default();
    let first_undo = steps
        .iter()
        .filter(|s| s["kind"] == "compensation")
        .filter_map(|s| s["started_at"].as_str())
        .filter_map(|t| DateTime::parse_from_rfc3339(t).ok())
        .min()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| "no compensation step recorded".to_string())?;
    let undo_wall = (at(&saga, "updated_at")? - first_undo)
        .to_std()
        .unwrap_or_default();
    let undo_requests = total_requests.saturating_sub(writes + reads);
    let undo_rate = undo_requests as f64 / undo_wall.as_secs_f64().max(1e-9);
    checks.check(
        app.sandbox_base_contents(DEMO_BASE_ID).await == pristine,
        "the compensation left the base changed",
    );
    let counters = app
        .sandbox_admin(Method::GET, "/_sandbox/counters", json!({}))
        .await;

    println!();
    println!("command: {}", command());
    println!();
    let mut table = Table::new(&[
        "phase",
        "Airtable requests",
        "wall time",
        "requests/s",
        "of the 5 req/s ceiling",
    ]);
    table.row(vec![
        format!("apply {operations_count} operations"),
        apply_requests.to_string(),
        human(apply_wall),
        format!("{apply_rate:.2}"),
        format!("{:.1} %", 100.0 * apply_rate / CEILING),
    ]);
    table.row(vec![
        "compensate (fault at the last write)".into(),
        undo_requests.to_string(),
        human(undo_wall),
        format!("{undo_rate:.2}"),
        format!("{:.1} %", 100.0 * undo_rate / CEILING),
    ]);
    table.print();
    println!(
        "upstream 429s: {} during apply, {} overall",
        throttled["rateLimited"].as_u64().unwrap_or(0),
        counters["rateLimited"].as_u64().unwrap_or(0)
    );
    finish(started, &checks)
}
