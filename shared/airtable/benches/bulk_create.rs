//! Bulk-creates 2,000 records into one base through the client, against the sandbox at
//! Airtable's real limits (5 requests/s per base, 50/s per token, 30 s lockout, no grace for
//! jitter), and reports the rate against the ceiling of 50 records/s per base (5 requests of
//! 10 records) and the upstream 429s the sandbox gave.
//!
//! `cargo bench -p airtable --bench bulk_create`; `BENCH_WRITERS` (default 4) sets how many
//! concurrent writers share the work, `BENCH_RECORDS` (default 2000) how many records.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use airtable::{
    Airtable, BaseId, ClientConfig, Fields, ListParams, NewField, NewTable, RateLimiter,
    RateLimits, TableRef, WriteOptions,
};
use airtable_sandbox::{DEMO_BASE_ID, Sandbox};
use basics::{Clock, SystemClock};
use serde_json::json;

/// Airtable's ceiling for one base: 5 requests/s × 10 records.
const CEILING_RECORDS_PER_S: f64 = 50.0;

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bulk_create failed: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    // cargo bench passes `--bench`; a filter argument that names another bench skips this one.
    if std::env::args()
        .skip(1)
        .any(|a| !a.starts_with('-') && !"bulk_create".contains(a.as_str()))
    {
        return Ok(());
    }
    let writers = env_number("BENCH_WRITERS", 4).max(1);
    let total = env_number("BENCH_RECORDS", 2_000);

    let sandbox = Sandbox::builder()
        .rate_limits(airtable_sandbox::RateLimits {
            grace: Duration::ZERO,
            ..airtable_sandbox::RateLimits::default()
        })
        .start("127.0.0.1:0".parse()?)
        .await?;
    let limits = sandbox.rate_limits();
    println!(
        "sandbox: {} req/s per base, {} per token, window {:?}, grace {:?}, lockout {:?}",
        limits.per_base, limits.per_token, limits.window, limits.grace, limits.lockout
    );

    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = Arc::new(embedded::SqliteStore::new(
        embedded::Database::in_memory()?,
        clock.clone(),
    ));
    let limiter = RateLimiter::with_limits(store, clock, RateLimits::airtable());
    let config = ClientConfig::new(sandbox.demo_token().into())
        .with_base_url(sandbox.url())
        .with_latency_budget(Duration::from_secs(20));
    let client = Airtable::new(config, limiter)?;

    let base = BaseId::parse(DEMO_BASE_ID)?;
    let table = client
        .create_table(
            &base,
            &NewTable {
                name: "Bulk".into(),
                description: None,
                fields: vec![
                    NewField::new("Key", "singleLineText"),
                    NewField::new("Writer", "number").with_options(json!({"precision": 0})),
                ],
            },
        )
        .await?;
    let table = TableRef::parse(&table.id)?;
    // Let the table creation's slot pass so it does not count against the run.
    tokio::time::sleep(Duration::from_millis(250)).await;
    sandbox.reset_counters();

    let started = Instant::now();
    let mut tasks = Vec::new();
    let share = total.div_ceil(writers);
    for writer in 0..writers {
        let table = client.table(base.clone(), table.clone());
        let records: Vec<Fields> = (writer * share..((writer + 1) * share).min(total))
            .filter_map(|i| {
                json!({"Key": format!("r{i:05}"), "Writer": writer})
                    .as_object()
                    .cloned()
            })
            .collect();
        tasks.push(tokio::spawn(async move {
            table.create_many(records, WriteOptions::default()).await
        }));
    }
    let mut created = 0;
    for task in tasks {
        created += task.await??.len();
    }
    let wall = started.elapsed();

    let counters = sandbox.counters();
    let rate = created as f64 / wall.as_secs_f64();
    let stats = client.stats();
    let stored = client
        .table(base, table)
        .all(ListParams::new().field("Key"))
        .await?
        .len();
    println!("writers:               {writers}");
    println!("records created:       {created} (stored: {stored})");
    println!(
        "requests:              {} (client retries: {})",
        counters.total_requests, stats.retries
    );
    println!("wall time:             {:.2} s", wall.as_secs_f64());
    println!("records/s:             {rate:.2}");
    println!(
        "of the 50 rec/s ceiling: {:.1} %",
        100.0 * rate / CEILING_RECORDS_PER_S
    );
    println!("upstream 429s:         {}", counters.rate_limited);
    sandbox.shutdown().await;
    if created != total || stored != total {
        return Err(format!("expected {total} records, created {created}, stored {stored}").into());
    }
    Ok(())
}
