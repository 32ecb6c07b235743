//! Runs per second through the dev server's in-process runs worker, and the latency a run adds
//! from its trigger to its first step, measured against the `/v0` gateway's writes in the same
//! process so the figure is a ratio rather than a property of this machine.
//!
//! One platform ([`testkit::TestApp`]: the embedded backend on SQLite in a tempdir, the
//! in-process Airtable sandbox with its rate limits off, the gateway's pacing off, the dev
//! server's standard workers), driven over HTTP on loopback. A connected tenant and one API key
//! (`workflows` and the gateway's scopes). The workflow is created with `POST /v1/workflows`:
//! manual trigger, three steps: `airtable.get` a deal, `airtable.update` it (its `Name` written
//! back unchanged, so every round sees the same data), `set` a value from the update's answer.
//!
//! Two modes, each alternating with its reference in every round (the order flips each round so
//! that neither always runs first):
//!
//! - **concurrent**: `BENCH_RUNS` runs started by `BENCH_CONCURRENCY` clients at once
//!   (`POST /v1/workflows/{id}/runs`), then waited for (`GET /v1/workflows/stats` until every
//!   run has finished). Reference: as many `PATCH /v0/{base}/Deals/{record}` through the gateway
//!   from as many clients.
//! - **one at a time**: start a run, poll `GET /v1/runs/{id}` every millisecond until it has
//!   finished, start the next. Reference: one gateway PATCH after another.
//!
//! A mode's runs/s is its runs over the time from the first start request to the last run's
//! `finished_at` (so the waiting client's polling does not count); the ratio divides it by the
//! same mode's gateway writes/s. Trigger to first step is each run's first step record's
//! `started_at` minus the run's `created_at` (the run was stored and enqueued at `created_at`):
//! the queue hop, the worker's receive and the run's load. Trigger to done is `finished_at`
//! minus `created_at`. Every run is then read back with `GET /v1/runs/{id}` and must have
//! succeeded with three succeeded steps.
//!
//! `cargo bench -p devserver --bench workflows`. Knobs: `BENCH_RUNS` (default 200 per mode and
//! round), `BENCH_CONCURRENCY` (16), `BENCH_ROUNDS` (2).

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use testkit::{DEMO_BASE_ID, GATEWAY_SCOPES, TestApp};
use tokio::task::JoinSet;

#[path = "support/report.rs"]
mod report;

use report::{Checks, Stats, Table, env_number, finish, human};

const NAME: &str = "workflows";
const TABLE: &str = "Deals";
/// How long the bench waits for a batch of runs before it gives up.
const RUNS_TIMEOUT: Duration = Duration::from_secs(600);
/// The statuses a run ends in, as `GET /v1/workflows/stats` counts them.
const FINAL_STATUSES: [&str; 4] = ["succeeded", "failed", "cancelled", "dead_letter"];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Concurrent,
    OneAtATime,
}

impl Mode {
    const ALL: [Mode; 2] = [Mode::Concurrent, Mode::OneAtATime];

    fn label(self, concurrency: usize) -> String {
        match self {
            Mode::Concurrent => format!("concurrent ({concurrency} clients)"),
            Mode::OneAtATime => "one at a time".into(),
        }
    }

    fn clients(self, concurrency: usize) -> usize {
        match self {
            Mode::Concurrent => concurrency,
            Mode::OneAtATime => 1,
        }
    }
}

/// The bench's platform, its credentials, and the deals the runs and writes touch.
struct Bench {
    app: TestApp,
    key: String,
    workflow_id: String,
    /// `(record id, Name)` of every deal, as seeded.
    deals: Arc<Vec<(String, String)>>,
}

/// What one mode measured over every round.
#[derive(Default)]
struct Totals {
    runs: usize,
    runs_wall: Duration,
    to_first_step: Vec<Duration>,
    to_done: Vec<Duration>,
    run_upstream_calls: u64,
    writes: usize,
    writes_wall: Duration,
    write_latencies: Vec<Duration>,
    write_upstream_calls: u64,
}

impl Totals {
    fn runs_per_second(&self) -> f64 {
        self.runs as f64 / self.runs_wall.as_secs_f64().max(1e-9)
    }

    fn writes_per_second(&self) -> f64 {
        self.writes as f64 / self.writes_wall.as_secs_f64().max(1e-9)
    }

    fn ratio(&self) -> f64 {
        self.runs_per_second() / self.writes_per_second().max(1e-9)
    }
}

/// One finished run as `GET /v1/runs/{id}` shows it.
struct RunTimes {
    created: DateTime<Utc>,
    first_step_started: DateTime<Utc>,
    finished: DateTime<Utc>,
}

fn timestamp(view: &Value, pointer: &str) -> Result<DateTime<Utc>, String> {
    let raw = view
        .pointer(pointer)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("no {pointer} in {view}"))?;
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{pointer} {raw:?}: {e}"))
}

fn non_negative(delta: chrono::TimeDelta) -> Duration {
    delta.to_std().unwrap_or_default()
}

impl Bench {
    async fn start() -> Result<Self, String> {
        let app = TestApp::builder()
            .without_sandbox_rate_limits()
            .without_gateway_pacing()
            .spawn()
            .await;
        let scopes: Vec<&str> = ["workflows"].into_iter().chain(GATEWAY_SCOPES).collect();
        let (_access, key) = app.connected_key("bench@example.com", &scopes).await;
        let deals = app
            .straight(
                Method::GET,
                &format!("/v0/{DEMO_BASE_ID}/{TABLE}?pageSize=100"),
                None,
            )
            .await;
        let deals: Vec<(String, String)> = deals.body["records"]
            .as_array()
            .ok_or_else(|| format!("listing {TABLE}: {}", deals.text))?
            .iter()
            .filter_map(|r| {
                Some((
                    r["id"].as_str()?.into(),
                    r["fields"]["Name"].as_str()?.into(),
                ))
            })
            .collect();
        if deals.is_empty() {
            return Err(format!("the sandbox's {TABLE} table has no named records"));
        }
        let created = app
            .post("/v1/workflows", key.as_str(), workflow_spec())
            .await;
        if created.status.as_u16() != 201 {
            return Err(format!(
                "POST /v1/workflows: {} {}",
                created.status, created.text
            ));
        }
        let workflow_id = created.str("/id");
        Ok(Self {
            app,
            key,
            workflow_id,
            deals: Arc::new(deals),
        })
    }

    /// Runs that have ended (in any final status) by `GET /v1/workflows/stats`'s counters.
    async fn finished_runs(&self) -> Result<i64, String> {
        let reply = self
            .app
            .get("/v1/workflows/stats?days=2", self.key.as_str())
            .await;
        if reply.status.as_u16() != 200 {
            return Err(format!("stats: {} {}", reply.status, reply.text));
        }
        Ok(reply.body["days"]
            .as_array()
            .map(|days| {
                days.iter()
                    .flat_map(|day| FINAL_STATUSES.map(|s| day["counts"][s].as_i64().unwrap_or(0)))
                    .sum()
            })
            .unwrap_or(0))
    }

    /// Reads a run until it has ended; answers its view.
    async fn finished_run(&self, id: &str, poll: Duration) -> Result<Value, String> {
        let deadline = Instant::now() + RUNS_TIMEOUT;
        loop {
            let reply = self
                .app
                .get(&format!("/v1/runs/{id}"), self.key.as_str())
                .await;
            if reply.status.as_u16() != 200 {
                return Err(format!(
                    "GET /v1/runs/{id}: {} {}",
                    reply.status, reply.text
                ));
            }
            let status = reply.body["status"].as_str().unwrap_or_default();
            if FINAL_STATUSES.contains(&status) {
                return Ok(reply.body);
            }
            if Instant::now() > deadline {
                return Err(format!("run {id} still {status} after {RUNS_TIMEOUT:?}"));
            }
            tokio::time::sleep(poll).await;
        }
    }

    /// `n` gateway PATCHes from `clients` clients: the wall time and each one's latency.
    async fn writes(
        &self,
        n: usize,
        clients: usize,
        checks: &mut Checks,
    ) -> (Duration, Vec<Duration>) {
        let next = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let mut tasks = JoinSet::new();
        for _ in 0..clients {
            let (http, next, deals) = (
                self.app.http().clone(),
                Arc::clone(&next),
                Arc::clone(&self.deals),
            );
            let (base, key) = (self.app.base_url(), self.key.clone());
            tasks.spawn(async move {
                let mut latencies = Vec::new();
                let mut failures = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    let (record, name) = &deals[i % deals.len()];
                    let sent = Instant::now();
                    let answer = http
                        .patch(format!("{base}/v0/{DEMO_BASE_ID}/{TABLE}/{record}"))
                        .bearer_auth(&key)
                        .json(&json!({"fields": {"Name": name}}))
                        .send()
                        .await;
                    match answer {
                        Ok(response) if response.status().as_u16() == 200 => {
                            let _ = response.bytes().await;
                            latencies.push(sent.elapsed());
                        }
                        Ok(response) => failures.push(response.status().to_string()),
                        Err(e) => failures.push(e.to_string()),
                    }
                }
                (latencies, failures)
            });
        }
        let mut latencies = Vec::with_capacity(n);
        let mut failures = Vec::new();
        while let Some(done) = tasks.join_next().await {
            match done {
                Ok((l, f)) => {
                    latencies.extend(l);
                    failures.extend(f);
                }
                Err(e) => failures.push(format!("a client task failed: {e}")),
            }
        }
        let wall = started.elapsed();
        checks.check(
            failures.is_empty(),
            format!(
                "{} gateway writes failed, e.g. {:?}",
                failures.len(),
                failures.first()
            ),
        );
        (wall, latencies)
    }

    /// Starts `n` runs from `clients` clients; answers their ids once every start was answered.
    async fn start_runs(
        &self,
        n: usize,
        clients: usize,
        offset: usize,
    ) -> Result<Vec<String>, String> {
        let next = Arc::new(AtomicUsize::new(0));
        let mut tasks = JoinSet::new();
        for _ in 0..clients {
            let (http, next, deals) = (
                self.app.http().clone(),
                Arc::clone(&next),
                Arc::clone(&self.deals),
            );
            let url = self
                .app
                .url(&format!("/v1/workflows/{}/runs", self.workflow_id));
            let key = self.key.clone();
            tasks.spawn(async move {
                let mut ids = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        return Ok::<_, String>(ids);
                    }
                    let (record, _) = &deals[(offset + i) % deals.len()];
                    ids.push(start_run(&http, &url, &key, record).await?);
                }
            });
        }
        let mut ids = Vec::with_capacity(n);
        while let Some(done) = tasks.join_next().await {
            ids.extend(done.map_err(|e| format!("a client task failed: {e}"))??);
        }
        Ok(ids)
    }

    /// Waits until `n` more runs than `before` have ended, by the stats counters.
    async fn until_finished(&self, before: i64, n: usize) -> Result<(), String> {
        let deadline = Instant::now() + RUNS_TIMEOUT;
        while self.finished_runs().await? < before + n as i64 {
            if Instant::now() > deadline {
                return Err(format!("{n} runs did not finish within {RUNS_TIMEOUT:?}"));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Ok(())
    }

    /// One mode's runs: answers the wall time (first start request to the last `finished_at`)
    /// and each run's times, read back after the clock stopped.
    async fn runs(
        &self,
        mode: Mode,
        n: usize,
        concurrency: usize,
        checks: &mut Checks,
    ) -> Result<(Duration, Vec<RunTimes>), String> {
        // Read before the clock starts: what the stats counted before this batch.
        let finished_before = match mode {
            Mode::Concurrent => self.finished_runs().await?,
            Mode::OneAtATime => 0,
        };
        let began = Utc::now();
        let ids = match mode {
            Mode::Concurrent => {
                let ids = self.start_runs(n, concurrency, 0).await?;
                self.until_finished(finished_before, n).await?;
                ids
            }
            Mode::OneAtATime => {
                let mut ids = Vec::with_capacity(n);
                for i in 0..n {
                    let id = self.start_runs(1, 1, i).await?.pop().ok_or("no run id")?;
                    self.finished_run(&id, Duration::from_millis(1)).await?;
                    ids.push(id);
                }
                ids
            }
        };
        let mut times = Vec::with_capacity(ids.len());
        let mut failed = Vec::new();
        for id in &ids {
            let view = self.finished_run(id, Duration::from_millis(5)).await?;
            let steps = view["steps"].as_array().map_or(0, Vec::len);
            let all_succeeded = view["steps"]
                .as_array()
                .is_some_and(|s| s.iter().all(|step| step["status"] == "succeeded"));
            if view["status"] != "succeeded" || steps != 3 || !all_succeeded {
                failed.push(format!(
                    "{id}: {} with {steps} steps: {}",
                    view["status"], view["error"]
                ));
                continue;
            }
            times.push(RunTimes {
                created: timestamp(&view, "/created_at")?,
                first_step_started: timestamp(&view, "/steps/0/started_at")?,
                finished: timestamp(&view, "/finished_at")?,
            });
        }
        checks.check(
            failed.is_empty(),
            format!(
                "{} of {} runs did not succeed, e.g. {:?}",
                failed.len(),
                ids.len(),
                failed.first()
            ),
        );
        let last = times.iter().map(|t| t.finished).max().unwrap_or(began);
        Ok((non_negative(last - began), times))
    }
}

/// `POST /v1/workflows/{id}/runs` for `record`; answers the run id.
async fn start_run(
    http: &reqwest::Client,
    url: &str,
    key: &str,
    record: &str,
) -> Result<String, String> {
    let response = http
        .post(url)
        .bearer_auth(key)
        .json(&json!({"input": {"deal": record}}))
        .send()
        .await
        .map_err(|e| format!("POST {url}: {e}"))?;
    let status = response.status().as_u16();
    let body: Value = response
        .json()
        .await
        .map_err(|e| format!("POST {url}: {e}"))?;
    match (status, body["id"].as_str()) {
        (202, Some(id)) => Ok(id.to_string()),
        _ => Err(format!("POST {url}: {status} {body}")),
    }
}

/// The benchmark's workflow: read a deal, write its name back, compute a value from the write.
fn workflow_spec() -> Value {
    json!({
        "name": "bench: touch a deal",
        "description": "airtable.get, airtable.update, set",
        "enabled": true,
        "trigger": {"type": "manual"},
        "steps": [
            {"id": "deal", "type": "airtable.get", "base": DEMO_BASE_ID, "table": TABLE,
             "record": "{{ input.deal }}"},
            {"id": "touch", "type": "airtable.update", "base": DEMO_BASE_ID, "table": TABLE,
             "record": "{{ steps.deal.output.id }}",
             "fields": {"Name": "{{ steps.deal.output.fields.Name }}"}},
            {"id": "summary", "type": "set",
             "values": {"name": "{{ steps.touch.output.fields.Name }}"}}
        ]
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    // cargo bench passes `--bench`; a filter argument that names another bench skips this one.
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
    let n = env_number("BENCH_RUNS", 200).max(1);
    let concurrency = env_number("BENCH_CONCURRENCY", 16).max(1);
    let rounds = env_number("BENCH_ROUNDS", 2).max(1);
    let mut checks = Checks::default();
    let cpus = std::thread::available_parallelism()
        .map_or_else(|e| format!("unknown ({e})"), |n| n.get().to_string());
    println!("{NAME}: three-step workflow runs through the dev server's in-process worker");
    println!(
        "  CPUs: {cpus} (shared by the clients, the platform, its worker and the sandbox); build: \
         debug assertions {}",
        if cfg!(debug_assertions) { "on" } else { "off" }
    );
    println!(
        "  {n} runs per mode and round, {rounds} rounds; reference: as many PATCH \
         /v0/{DEMO_BASE_ID}/{TABLE}/<record> through the gateway"
    );

    let bench = Bench::start().await?;
    // Warm-up, untimed: connections, caches, the first SQLite pages.
    let warmup = n.min(20);
    bench.writes(warmup, 1, &mut checks).await;
    bench
        .runs(Mode::OneAtATime, warmup, concurrency, &mut checks)
        .await?;

    let mut totals: Vec<Totals> = Mode::ALL.iter().map(|_| Totals::default()).collect();
    for round in 0..rounds {
        println!("round {} of {rounds} ...", round + 1);
        for (mode, total) in Mode::ALL.into_iter().zip(totals.iter_mut()) {
            for runs_first in [round % 2 == 1, round % 2 == 0] {
                let before = bench.app.upstream_requests();
                if runs_first {
                    let (wall, times) = bench.runs(mode, n, concurrency, &mut checks).await?;
                    total.runs += times.len();
                    total.runs_wall += wall;
                    for t in times {
                        total
                            .to_first_step
                            .push(non_negative(t.first_step_started - t.created));
                        total.to_done.push(non_negative(t.finished - t.created));
                    }
                    total.run_upstream_calls += bench.app.upstream_requests() - before;
                } else {
                    let (wall, latencies) = bench
                        .writes(n, mode.clients(concurrency), &mut checks)
                        .await;
                    total.writes += latencies.len();
                    total.writes_wall += wall;
                    total.write_latencies.extend(latencies);
                    total.write_upstream_calls += bench.app.upstream_requests() - before;
                }
            }
        }
    }

    // The runs wrote every name back unchanged.
    let after = bench
        .app
        .straight(
            Method::GET,
            &format!("/v0/{DEMO_BASE_ID}/{TABLE}?pageSize=100"),
            None,
        )
        .await;
    let unchanged = bench.deals.iter().all(|(id, name)| {
        after.body["records"].as_array().is_some_and(|r| {
            r.iter()
                .any(|r| r["id"] == id.as_str() && r["fields"]["Name"] == name.as_str())
        })
    });
    checks.check(unchanged, "a deal's Name changed");

    println!();
    println!("command: {}", command());
    println!();
    let mut table = Table::new(&[
        "mode",
        "runs",
        "runs/s",
        "gateway writes/s",
        "ratio",
        "trigger→1st step p50",
        "p99",
        "trigger→done p50",
        "p99",
        "upstream calls/run",
    ]);
    for (mode, total) in Mode::ALL.into_iter().zip(&totals) {
        let first = Stats::new(total.to_first_step.clone());
        let done = Stats::new(total.to_done.clone());
        table.row(vec![
            mode.label(concurrency),
            total.runs.to_string(),
            format!("{:.1}", total.runs_per_second()),
            format!("{:.1}", total.writes_per_second()),
            format!("{:.3}", total.ratio()),
            human(first.percentile(50.0)),
            human(first.percentile(99.0)),
            human(done.percentile(50.0)),
            human(done.percentile(99.0)),
            format!(
                "{:.2}",
                total.run_upstream_calls as f64 / total.runs.max(1) as f64
            ),
        ]);
    }
    table.print();
    println!(
        "ratio = runs/s ÷ gateway writes/s in the same mode; runs/s counts from the first start \
         request to the last run's finished_at. Concurrent: all runs are started at once, so \
         trigger→1st step is mostly waiting in the queue behind earlier runs; one at a time, it \
         is the latency a run adds on an idle worker."
    );
    println!();
    let mut table = Table::new(&[
        "reference: gateway PATCH",
        "writes",
        "writes/s",
        "p50",
        "p99",
        "upstream calls/write",
    ]);
    for (mode, total) in Mode::ALL.into_iter().zip(&totals) {
        let latency = Stats::new(total.write_latencies.clone());
        table.row(vec![
            mode.label(concurrency),
            total.writes.to_string(),
            format!("{:.1}", total.writes_per_second()),
            human(latency.percentile(50.0)),
            human(latency.percentile(99.0)),
            format!(
                "{:.2}",
                total.write_upstream_calls as f64 / total.writes.max(1) as f64
            ),
        ]);
    }
    table.print();
    print_summary(&totals, concurrency, &cpus);
    bench.app.shutdown().await;
    finish(started, &checks)
}

/// The command that built this binary's profile (`--profile dev` when debug assertions are on).
fn command() -> &'static str {
    if cfg!(debug_assertions) {
        "cargo bench --profile dev -p devserver --bench workflows"
    } else {
        "cargo bench -p devserver --bench workflows"
    }
}

/// The figures as a markdown table, for a README or a pull request.
fn print_summary(totals: &[Totals], concurrency: usize, cpus: &str) {
    println!();
    println!("---- summary (markdown) ----");
    println!(
        "Workflow runs benchmark (`{}`; {cpus} CPUs, dev server, worker and sandbox in one \
         process, loopback, sandbox limits and gateway pacing off):",
        command()
    );
    println!();
    println!("| mode | runs/s | gateway writes/s | ratio | trigger→first step p50 | p99 |");
    println!("|---|---|---|---|---|---|");
    for (mode, total) in Mode::ALL.into_iter().zip(totals) {
        let first = Stats::new(total.to_first_step.clone());
        println!(
            "| {} | {:.1} | {:.1} | **{:.3}** | {} | {} |",
            mode.label(concurrency),
            total.runs_per_second(),
            total.writes_per_second(),
            total.ratio(),
            human(first.percentile(50.0)),
            human(first.percentile(99.0)),
        );
    }
    println!("----");
}
