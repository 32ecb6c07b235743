//! A 500-operation transaction against the sandbox at Airtable's real limits (5 requests/s per
//! base, no grace), run by the transaction machine through the saga-step handler: its wall time
//! against the 5 requests/s ceiling, then the time to compensate the same transaction failing
//! at its last chunk.
//!
//! `cargo bench -p sagas --bench transaction` (or, without an optimised build, which changes
//! nothing here since the time is the pacing: `cargo test -p sagas --bench transaction`).
//! `BENCH_OPERATIONS` (default 500) sets the size.

#[path = "../tests/support/mod.rs"]
mod support;

use std::process::ExitCode;
use std::time::Instant;

use serde_json::{Value, json};

/// Airtable's ceiling for one base.
const CEILING_REQUESTS_PER_S: f64 = 5.0;

#[tokio::main]
async fn main() -> ExitCode {
    if std::env::args()
        .skip(1)
        .any(|a| !a.starts_with('-') && !"transaction".contains(a.as_str()))
    {
        return ExitCode::SUCCESS;
    }
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("transaction bench failed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn operations(n: usize, tag: &str) -> Value {
    let operations: Vec<Value> = (0..n)
        .map(|i| json!({"op": "create", "table": "Orders", "fields": {"Ref": format!("{tag}-{i:04}"), "Qty": i}}))
        .collect();
    json!({"base": support::BASE, "operations": operations})
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::var("BENCH_OPERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    let world = support::world_with(true).await;

    // The transaction, start to end.
    let started = world.start("transaction", operations(n, "A")).await;
    world.sandbox.control().reset_counters();
    let clock = Instant::now();
    let ended = world.run(&started.id).await;
    let wall = clock.elapsed().as_secs_f64();
    let counters = world.sandbox.control().counters();
    let detail = world.detail(&started.id).await;
    if ended.status != asl::Status::Succeeded {
        return Err(format!("the transaction did not succeed: {ended:?}").into());
    }
    let chunks = detail
        .output
        .as_ref()
        .map_or(json!(null), |o| o["chunks"].clone());
    let rate = counters.total_requests as f64 / wall;
    println!("operations:            {n} ({chunks} chunks)");
    println!("requests:              {}", counters.total_requests);
    println!("wall time:             {wall:.2} s");
    println!("requests/s:            {rate:.2}");
    println!(
        "of the 5 req/s ceiling: {:.1} %",
        100.0 * rate / CEILING_REQUESTS_PER_S
    );
    println!("upstream 429s:         {}", counters.rate_limited);

    // The same size failing at its last write: everything before it is undone.
    let before = world.tables();
    let failing = world.start("transaction", operations(n, "B")).await;
    world.sandbox.control().reset_counters();
    let last = counters.total_requests;
    world.fail_request(last, 422);
    let mut execution = world.execution(&failing.id);
    let clock = Instant::now();
    execution.until("PlanUndo").await;
    let forward = clock.elapsed().as_secs_f64();
    let forward_requests = world.sandbox.control().counters().total_requests;
    let ended = execution.finish().await;
    let compensation = clock.elapsed().as_secs_f64() - forward;
    let counters = world.sandbox.control().counters();
    if ended.error.as_deref() != Some("Saga.Compensated") {
        return Err(format!("the failing transaction was not compensated: {ended:?}").into());
    }
    support::assert_same_base(&before, &world.tables(), "after the compensation");
    let undo_requests = counters.total_requests - forward_requests;
    println!("failing at request:    {last} (forward part {forward:.2} s)");
    println!(
        "compensation:          {compensation:.2} s, {undo_requests} requests ({:.2} req/s)",
        undo_requests as f64 / compensation
    );
    println!("upstream 429s:         {}", counters.rate_limited);
    Ok(())
}
