//! Part 4: cache hits after a burst of misses (issue 12, item 6).
//!
//! A burst of cache misses leaves thousands of large cache entries behind, which expire after the
//! TTL. They once cut cache-hit throughput to a third until deleted by hand (and the in-put sweep
//! that eventually deleted them stalled a miss for 441 ms). This case measures, on one platform:
//! hit throughput before the burst (the reference), the burst itself (misses with a unique filter
//! each, answers of ~45 KB, their p99 latency), hit throughput right after the burst, and again
//! once the burst's entries have expired and the sweeper has had its turn.
//!
//! The answers are ~45 KB because the bench first adds records with long titles to the sandbox's
//! `Contacts` table (the `Label` formula repeats each title), and every request lists the whole
//! table. Run alone with `cargo bench -p devserver --bench gateway -- churn`. Knobs:
//! `BENCH_CHURN_MISS_SECONDS` (burst length, default 10), `BENCH_CHURN_HIT_SECONDS` (each hit
//! phase, default 3), `BENCH_CHURN_TTL_SECONDS` (cache TTL, default 2), `BENCH_CHURN_MISS_CLIENTS`
//! (default 1: sequential, so the p99 is the gateway's own, not queueing on two cores), and
//! `BENCH_CONCURRENCY` for the hit phases.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use airtable_sandbox::{DEMO_BASE_ID, DEMO_TOKEN, RateLimits};
use serde_json::{Value, json};

use super::{
    Checks, Platform, Stats, TABLE, Table, Tally, env_number, human, json_call, timed_get,
};

/// Records added to `Contacts`, and the length of each one's title: with the original ten
/// records, the list answer is about 45 KB.
const PADDING_RECORDS: usize = 10;
const PADDING_TITLE_CHARS: usize = 2_000;

/// Hit rate right after the burst, as a share of the rate before it.
const HIT_RATIO_GOAL: f64 = 0.90;
/// Miss p99 during the burst.
const MISS_P99_GOAL: Duration = Duration::from_millis(10);

/// The whole table, with a filter that is always true but makes the cache key unique to `tag`.
fn whole_table_query(tag: &str) -> String {
    format!("pageSize=100&filterByFormula=NOT(%7BName%7D%3D'{tag}')")
}

pub(super) struct Settings {
    miss_duration: Duration,
    hit_duration: Duration,
    ttl_seconds: u64,
    miss_clients: usize,
    concurrency: usize,
}

impl Settings {
    pub(super) fn from_env(concurrency: usize) -> Self {
        Self {
            miss_duration: Duration::from_secs(
                env_number("BENCH_CHURN_MISS_SECONDS", 10).max(1) as u64
            ),
            hit_duration: Duration::from_secs(
                env_number("BENCH_CHURN_HIT_SECONDS", 3).max(1) as u64
            ),
            ttl_seconds: env_number("BENCH_CHURN_TTL_SECONDS", 2).max(1) as u64,
            miss_clients: env_number("BENCH_CHURN_MISS_CLIENTS", 1).max(1),
            concurrency,
        }
    }
}

/// One timed phase.
struct Phase {
    label: String,
    tally: Tally,
    wall: Duration,
    /// Bytes in the data directory (SQLite file and WAL) when the phase ended.
    db_bytes: u64,
}

impl Phase {
    fn throughput(&self) -> f64 {
        self.tally.ok.len() as f64 / self.wall.as_secs_f64().max(1e-9)
    }
}

pub(super) struct ChurnResults {
    answer_bytes: usize,
    ttl_seconds: u64,
    before: Phase,
    burst: Phase,
    after: Phase,
    settled: Phase,
}

impl ChurnResults {
    fn ratio(&self, phase: &Phase) -> f64 {
        phase.throughput() / self.before.throughput().max(1e-9)
    }

    fn miss_p99(&self) -> Duration {
        self.burst.tally.stats().percentile(99.0)
    }
}

/// Sends `url`'s GET from `clients` tasks until `duration` has passed. `url_for(i)` gives the
/// i-th request's URL across all clients.
async fn drive(
    http: &reqwest::Client,
    key: &str,
    clients: usize,
    duration: Duration,
    url_for: Arc<dyn Fn(usize) -> String + Send + Sync>,
) -> (Tally, Duration) {
    let next = Arc::new(AtomicUsize::new(0));
    let key = Arc::new(key.to_string());
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + duration;
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (http, key, next, url_for) = (
                http.clone(),
                Arc::clone(&key),
                Arc::clone(&next),
                Arc::clone(&url_for),
            );
            tokio::spawn(async move {
                let mut tally = Tally::default();
                while tokio::time::Instant::now() < deadline {
                    let url = url_for(next.fetch_add(1, Ordering::Relaxed));
                    let (elapsed, result) = timed_get(&http, &url, &key, false).await;
                    tally.record(elapsed, &result);
                }
                tally
            })
        })
        .collect();
    let mut all = Tally::default();
    for task in tasks {
        match task.await {
            Ok(tally) => all.merge(tally),
            Err(e) => {
                all.network_errors += 1;
                all.first_network_error = Some(format!("client task failed: {e}"));
            }
        }
    }
    (all, started.elapsed())
}

/// Bytes in the platform's data directory: the SQLite file and its WAL, in the main.
fn db_bytes(platform: &Platform) -> u64 {
    std::fs::read_dir(platform.data.path())
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|entry| entry.metadata().ok())
                .filter(|meta| meta.is_file())
                .map(|meta| meta.len())
                .sum()
        })
        .unwrap_or(0)
}

/// Adds the long-titled records that make each list answer ~45 KB.
async fn pad_contacts(platform: &Platform, http: &reqwest::Client) -> Result<(), String> {
    let records: Vec<Value> = (0..PADDING_RECORDS)
        .map(|i| {
            json!({"fields": {
                "Name": format!("Padding {i}"),
                "Title": "t".repeat(PADDING_TITLE_CHARS),
            }})
        })
        .collect();
    json_call(
        http,
        reqwest::Method::POST,
        &format!("{}/v0/{DEMO_BASE_ID}/{TABLE}", platform.sandbox_url),
        Some(DEMO_TOKEN),
        json!({ "records": records }),
        200,
    )
    .await
    .map(|_| ())
}

pub(super) async fn run(
    http: &reqwest::Client,
    settings: &Settings,
    checks: &mut Checks,
) -> Result<ChurnResults, String> {
    let ttl = settings.ttl_seconds.to_string();
    let platform = Platform::start(
        &[
            ("AIRTABLE_BASE_REQUESTS_PER_SECOND", "0"),
            ("AIRTABLE_TOKEN_REQUESTS_PER_SECOND", "0"),
            ("RECORDS_CACHE_TTL_SECONDS", ttl.as_str()),
        ],
        http,
    )
    .await?;
    platform.sandbox.set_rate_limits(RateLimits::disabled());
    pad_contacts(&platform, http).await?;

    let hot_url = platform.gateway_list(&whole_table_query("churn-hot"));
    let (_, first) = timed_get(http, &hot_url, &platform.key, false).await;
    let answer_bytes = match first {
        Ok(reply) if reply.status == 200 => reply.body_len,
        Ok(reply) => return Err(format!("part 4: the first list answered {}", reply.status)),
        Err(e) => return Err(format!("part 4: the first list failed: {e}")),
    };
    let hot: Arc<dyn Fn(usize) -> String + Send + Sync> = Arc::new(move |_| hot_url.clone());
    let burst_urls: Arc<dyn Fn(usize) -> String + Send + Sync> = {
        let base = platform.gateway_list("");
        Arc::new(move |i| format!("{base}{}", whole_table_query(&format!("churn-miss-{i}"))))
    };
    let key = platform.key.clone();
    let hits = |label: &str| {
        let (hot, label) = (Arc::clone(&hot), label.to_string());
        let platform = &platform;
        let key = &key;
        async move {
            let (tally, wall) =
                drive(http, key, settings.concurrency, settings.hit_duration, hot).await;
            Phase {
                label,
                tally,
                wall,
                db_bytes: db_bytes(platform),
            }
        }
    };

    // Warm-up, then the reference.
    let _ = drive(
        http,
        &key,
        settings.concurrency,
        Duration::from_secs(1),
        Arc::clone(&hot),
    )
    .await;
    println!(
        "part 4: cache hits after a burst of misses ({answer_bytes} B answers, TTL {ttl} s) ..."
    );
    let before = hits("hits before the burst").await;
    let (tally, wall) = drive(
        http,
        &key,
        settings.miss_clients,
        settings.miss_duration,
        burst_urls,
    )
    .await;
    let burst = Phase {
        label: format!(
            "burst of misses ({} client(s), {} s)",
            settings.miss_clients,
            settings.miss_duration.as_secs()
        ),
        tally,
        wall,
        db_bytes: db_bytes(&platform),
    };
    let after = hits("hits right after the burst").await;
    // By now most of the burst has expired; wait until all of it has, plus a sweeper period.
    tokio::time::sleep(Duration::from_secs(settings.ttl_seconds + 2)).await;
    let settled = hits("hits once the burst has expired").await;
    platform.stop().await;

    for phase in [&before, &burst, &after, &settled] {
        checks.check(
            phase.tally.errors() == 0,
            format!(
                "part 4, {}: errors {}",
                phase.label,
                phase.tally.errors_text()
            ),
        );
    }
    let burst_misses = burst.tally.x_cache.get("MISS").copied().unwrap_or(0);
    checks.check(
        burst_misses as usize == burst.tally.ok.len(),
        format!(
            "part 4: expected X-Cache MISS on every burst answer, saw {}",
            burst.tally.x_cache_text()
        ),
    );
    Ok(ChurnResults {
        answer_bytes,
        ttl_seconds: settings.ttl_seconds,
        before,
        burst,
        after,
        settled,
    })
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// Prints the report and returns the summary's lines (markdown).
pub(super) fn report(results: &ChurnResults, concurrency: usize) -> String {
    println!();
    println!(
        "== part 4: cache hits after a burst of misses ({} B answers, TTL {} s, hits from {concurrency} \
         concurrent clients) ==",
        results.answer_bytes, results.ttl_seconds
    );
    let mut table = Table::new(&[
        "phase",
        "requests",
        "errors",
        "X-Cache",
        "p50",
        "p99",
        "req/s",
        "vs before",
        "data dir",
    ]);
    for phase in [
        &results.before,
        &results.burst,
        &results.after,
        &results.settled,
    ] {
        let stats: Stats = phase.tally.stats();
        let versus = if std::ptr::eq(phase, &results.burst) {
            "-".to_string()
        } else {
            format!("{:.0} %", results.ratio(phase) * 100.0)
        };
        table.row(vec![
            phase.label.clone(),
            (stats.len() as u64 + phase.tally.errors()).to_string(),
            phase.tally.errors_text(),
            phase.tally.x_cache_text(),
            human(stats.percentile(50.0)),
            human(stats.percentile(99.0)),
            format!("{:.0}", phase.throughput()),
            versus,
            megabytes(phase.db_bytes),
        ]);
    }
    table.print();
    let ratio = results.ratio(&results.after);
    let miss_p99 = results.miss_p99();
    let verdict = |met: bool| if met { "met" } else { "NOT met" };
    println!(
        "hits right after the burst: {:.0} % of the rate before it (goal >= {:.0} %: {}); miss p99 \
         during the burst: {} (goal < {}: {})",
        ratio * 100.0,
        HIT_RATIO_GOAL * 100.0,
        verdict(ratio >= HIT_RATIO_GOAL),
        human(miss_p99),
        human(MISS_P99_GOAL),
        verdict(miss_p99 < MISS_P99_GOAL),
    );
    format!(
        "| cache hits right after a burst of {} misses ({} B answers), {concurrency} concurrent \
         clients | {} | {} | {:.0} req/s, **{:.0} %** of the {:.0} req/s before the burst |\n\
         | cache miss during that burst | {} | **{}** | {:.0} req/s |\n",
        results.burst.tally.ok.len(),
        results.answer_bytes,
        human(results.after.tally.stats().percentile(50.0)),
        human(results.after.tally.stats().percentile(99.0)),
        results.after.throughput(),
        ratio * 100.0,
        results.before.throughput(),
        human(results.burst.tally.stats().percentile(50.0)),
        human(miss_p99),
        results.burst.throughput(),
    )
}
