//! What the `/v0` records gateway costs and what it saves, against its Airtable sandbox, in one
//! process: the dev server (embedded backend: SQLite in a tempdir) and its in-process sandbox,
//! driven over HTTP on loopback by reqwest clients.
//!
//! 1. **Cache miss, added latency.** One client, sequential, after a warm-up: each iteration lists
//!    `Contacts` (`pageSize=10`) straight from the sandbox and through the gateway, in rotating
//!    order. Every request carries its own `filterByFormula=NOT({Name}='bench-<i>')` (always
//!    true, so the same 10 records and the same upstream work), which makes each gateway request
//!    a real cache miss: a cache lookup that finds nothing, the upstream call, the cache write.
//!    Two more gateway paths run in the same iterations to show where the time goes: the same
//!    kind of unique query with `Cache-Control: no-cache` (no lookup, still the write), and one
//!    fixed query answered from the cache (everything but the upstream call). Sandbox rate limits
//!    off, the gateway's pacing off (`AIRTABLE_*_REQUESTS_PER_SECOND=0`).
//! 2. **Cache hits, 16 concurrent clients.** One fixed list through the gateway from 16 tokio
//!    tasks sharing one reqwest client, for a fixed count after a warm-up: latency, throughput,
//!    and checks that every answer said `X-Cache: HIT` and that the sandbox saw no request.
//! 3. **Airtable-like upstream.** A second platform whose sandbox answers after 150 ms and
//!    enforces Airtable's limits (5 requests/s per base, 50 per token, 30 s lockout), with the
//!    gateway's pacing at Airtable's 5/50 (the defaults). Readers list the same table for a fixed
//!    time, straight and through the gateway (cached, and with `Cache-Control: no-cache` to show
//!    the pacing alone), with 1 and with 4 readers. A reader sends back to back; after a 429 it
//!    waits `BENCH_BACKOFF_MS` (default 1000) before the next request. The sandbox's limiter and
//!    counters are reset before each phase, and each phase reads with its own (equivalent)
//!    filter, so it starts with a cold cache.
//!
//! 4. **Cache hits after a burst of misses.** Hit throughput before and right after a burst of
//!    cache misses with ~45 KB answers, and the misses' p99: see [`churn`]. Run it alone with
//!    `cargo bench -p devserver --bench gateway -- churn`.
//!
//! Latency percentiles come from an HDR histogram (3 significant digits).
//!
//! `cargo bench -p devserver --bench gateway`. Knobs: `BENCH_MISS_SAMPLES` (default 2000 per
//! path), `BENCH_HIT_REQUESTS` (20000), `BENCH_CONCURRENCY` (16), `BENCH_UPSTREAM_SECONDS` (20 per
//! phase of part 3), `BENCH_BACKOFF_MS` (1000).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use airtable_sandbox::{DEMO_BASE_ID, DEMO_TOKEN, RateLimits, SandboxControl};
use basics::Env;
use devserver::{DevServerConfig, Running};
use serde_json::{Value, json};
use tokio::sync::oneshot;

#[path = "gateway/churn.rs"]
mod churn;
#[path = "support/report.rs"]
mod report;

use report::{Checks, Stats, Table, env_number, finish, human, human_diff, micros};

const NAME: &str = "gateway";
/// The filter argument that runs part 4 alone.
const CHURN_FILTER: &str = "churn";
const TABLE: &str = "Contacts";
const PASSWORD: &str = "correct horse battery staple";
const UPSTREAM_DELAY: Duration = Duration::from_millis(150);

/// The list query of every request: 10 records, with a filter that is always true but makes the
/// query (and so the cache key) unique to `tag`.
fn list_query(tag: &str) -> String {
    format!("pageSize=10&filterByFormula=NOT(%7BName%7D%3D'{tag}')")
}

// ---------------------------------------------------------------------------------------------
// HTTP

/// One answer, as far as the bench needs it.
struct Reply {
    status: u16,
    x_cache: Option<String>,
    body_len: usize,
}

/// One timed GET: the time until the whole body has arrived, and the answer or a network error.
async fn timed_get(
    http: &reqwest::Client,
    url: &str,
    bearer: &str,
    no_cache: bool,
) -> (Duration, Result<Reply, String>) {
    let mut request = http.get(url).bearer_auth(bearer);
    if no_cache {
        request = request.header("cache-control", "no-cache");
    }
    let started = Instant::now();
    let result = async {
        let response = request.send().await?;
        let status = response.status().as_u16();
        let x_cache = response
            .headers()
            .get("x-cache")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = response.bytes().await?;
        Ok::<_, reqwest::Error>(Reply {
            status,
            x_cache,
            body_len: body.len(),
        })
    }
    .await;
    (started.elapsed(), result.map_err(|e| e.to_string()))
}

/// What one path of a measurement saw.
#[derive(Default)]
struct Tally {
    /// Latencies of 200 answers.
    ok: Vec<Duration>,
    /// Non-200 answers by status.
    statuses: BTreeMap<u16, u64>,
    network_errors: u64,
    /// `X-Cache` values seen on 200 answers.
    x_cache: BTreeMap<String, u64>,
    first_network_error: Option<String>,
}

impl Tally {
    fn record(&mut self, elapsed: Duration, result: &Result<Reply, String>) {
        match result {
            Ok(reply) if reply.status == 200 => {
                self.ok.push(elapsed);
                let cache = reply.x_cache.clone().unwrap_or_else(|| "-".into());
                *self.x_cache.entry(cache).or_default() += 1;
            }
            Ok(reply) => *self.statuses.entry(reply.status).or_default() += 1,
            Err(e) => {
                self.network_errors += 1;
                if self.first_network_error.is_none() {
                    self.first_network_error = Some(e.clone());
                }
            }
        }
    }

    fn merge(&mut self, other: Tally) {
        self.ok.extend(other.ok);
        for (k, v) in other.statuses {
            *self.statuses.entry(k).or_default() += v;
        }
        for (k, v) in other.x_cache {
            *self.x_cache.entry(k).or_default() += v;
        }
        self.network_errors += other.network_errors;
        if self.first_network_error.is_none() {
            self.first_network_error = other.first_network_error;
        }
    }

    fn rate_limited(&self) -> u64 {
        self.statuses.get(&429).copied().unwrap_or(0)
    }

    fn errors(&self) -> u64 {
        self.statuses.values().sum::<u64>() + self.network_errors
    }

    /// "0", or e.g. "12 (429×12)" / "3 (net×3)".
    fn errors_text(&self) -> String {
        let total = self.errors();
        if total == 0 {
            return "0".into();
        }
        let mut parts: Vec<String> = self
            .statuses
            .iter()
            .map(|(s, n)| format!("{s}×{n}"))
            .collect();
        if self.network_errors > 0 {
            parts.push(format!("net×{}", self.network_errors));
        }
        format!("{total} ({})", parts.join(", "))
    }

    fn x_cache_text(&self) -> String {
        self.x_cache
            .iter()
            .map(|(k, v)| format!("{k}×{v}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn stats(&self) -> Stats {
        Stats::new(self.ok.clone())
    }
}

// ---------------------------------------------------------------------------------------------
// The platform

/// One dev server (platform + in-process sandbox) with a connected tenant and its API key.
struct Platform {
    url: String,
    sandbox_url: String,
    sandbox: SandboxControl,
    key: String,
    running: Running,
    stop: oneshot::Sender<()>,
    /// The data directory (the SQLite file), deleted on drop.
    data: tempfile::TempDir,
}

impl Platform {
    async fn start(extra: &[(&str, &str)], http: &reqwest::Client) -> Result<Self, String> {
        let data = tempfile::tempdir().map_err(|e| format!("tempdir: {e}"))?;
        let data_dir = data
            .path()
            .to_str()
            .ok_or("the tempdir's path is not UTF-8")?
            .to_string();
        let (port, sandbox_port) = (free_port()?.to_string(), free_port()?.to_string());
        let mut pairs: Vec<(&str, &str)> = vec![
            ("PORT", port.as_str()),
            ("SANDBOX_PORT", sandbox_port.as_str()),
            ("DATA_DIR", data_dir.as_str()),
            ("TENANT_REQUESTS_PER_MINUTE", "0"),
            ("RUST_LOG", "warn"),
        ];
        pairs.extend_from_slice(extra);
        let config = DevServerConfig::from_env(&Env::from_pairs(pairs))
            .map_err(|e| format!("dev server config: {e}"))?;
        let (stop, stopped) = oneshot::channel::<()>();
        let running = devserver::start(&config, async {
            let _ = stopped.await;
        })
        .await?;
        let handle = running
            .sandbox
            .as_ref()
            .ok_or("the dev server started without its sandbox")?;
        let sandbox = handle.control();
        let sandbox_url = handle.url();
        let url = format!("http://{}", running.address);

        // Set-up: an owner, the Airtable connection, a key with the gateway's scopes.
        let registered = json_call(
            http,
            reqwest::Method::POST,
            &format!("{url}/v1/auth/register"),
            None,
            json!({"email": "bench@example.com", "password": PASSWORD}),
            201,
        )
        .await?;
        let access = registered["access_token"]
            .as_str()
            .ok_or("register: no access_token")?
            .to_string();
        json_call(
            http,
            reqwest::Method::PUT,
            &format!("{url}/v1/connections/airtable"),
            Some(&access),
            json!({"token": DEMO_TOKEN}),
            200,
        )
        .await?;
        let created = json_call(
            http,
            reqwest::Method::POST,
            &format!("{url}/v1/api-keys"),
            Some(&access),
            json!({"name": "bench", "scopes": ["records:read", "records:write", "schema:read"]}),
            201,
        )
        .await?;
        let key = created["key"]
            .as_str()
            .ok_or("api-keys: no key")?
            .to_string();
        Ok(Self {
            url,
            sandbox_url,
            sandbox,
            key,
            running,
            stop,
            data,
        })
    }

    fn gateway_list(&self, query: &str) -> String {
        format!("{}/v0/{DEMO_BASE_ID}/{TABLE}?{query}", self.url)
    }

    fn straight_list(&self, query: &str) -> String {
        format!("{}/v0/{DEMO_BASE_ID}/{TABLE}?{query}", self.sandbox_url)
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        // Idle keep-alive connections are closed by the graceful shutdown; do not wait forever.
        if tokio::time::timeout(Duration::from_secs(5), self.running.wait())
            .await
            .is_err()
        {
            eprintln!("note: a dev server took more than 5 s to stop");
        }
    }
}

/// A port nobody listens on right now (the dev server's config refuses port 0).
fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("finding a free port: {e}"))
}

/// A set-up call that must answer `expected`.
async fn json_call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    bearer: Option<&str>,
    body: Value,
    expected: u16,
) -> Result<Value, String> {
    let mut request = http.request(method, url).json(&body);
    if let Some(bearer) = bearer {
        request = request.bearer_auth(bearer);
    }
    let response = request.send().await.map_err(|e| format!("{url}: {e}"))?;
    let status = response.status().as_u16();
    let text = response.text().await.map_err(|e| format!("{url}: {e}"))?;
    if status != expected {
        return Err(format!("{url}: expected {expected}, got {status}: {text}"));
    }
    serde_json::from_str(&text).map_err(|e| format!("{url}: {e}: {text}"))
}

// ---------------------------------------------------------------------------------------------
// Part 1: cache misses, added latency

#[derive(Clone, Copy, PartialEq, Eq)]
enum MissPath {
    Straight,
    Miss,
    NoCache,
    Hit,
}

impl MissPath {
    const ALL: [MissPath; 4] = [
        MissPath::Straight,
        MissPath::Miss,
        MissPath::NoCache,
        MissPath::Hit,
    ];

    fn label(self) -> &'static str {
        match self {
            MissPath::Straight => "straight to the sandbox",
            MissPath::Miss => "gateway, cache miss (unique filter)",
            MissPath::NoCache => "gateway, Cache-Control: no-cache",
            MissPath::Hit => "gateway, cache hit (sequential)",
        }
    }

    fn expected_cache(self) -> Option<&'static str> {
        match self {
            MissPath::Straight => None,
            MissPath::Miss | MissPath::NoCache => Some("MISS"),
            MissPath::Hit => Some("HIT"),
        }
    }
}

struct MissResults {
    tallies: Vec<Tally>,
    /// Per-iteration gateway-miss minus straight, in µs, where both succeeded.
    paired_diffs: Vec<f64>,
}

async fn part_miss(
    platform: &Platform,
    http: &reqwest::Client,
    samples: usize,
    checks: &mut Checks,
) -> MissResults {
    let hit_query = list_query("bench-hit");
    let one = |path: MissPath, i: usize, round: &str| {
        let (url, bearer, no_cache) = match path {
            MissPath::Straight => (
                platform.straight_list(&list_query(&format!("bench-{round}{i}"))),
                DEMO_TOKEN,
                false,
            ),
            MissPath::Miss => (
                platform.gateway_list(&list_query(&format!("bench-{round}{i}"))),
                platform.key.as_str(),
                false,
            ),
            MissPath::NoCache => (
                platform.gateway_list(&list_query(&format!("bench-nc-{round}{i}"))),
                platform.key.as_str(),
                true,
            ),
            MissPath::Hit => (
                platform.gateway_list(&hit_query),
                platform.key.as_str(),
                false,
            ),
        };
        async move { timed_get(http, &url, bearer, no_cache).await }
    };

    let warmup = (samples / 10).clamp(20, 200);
    for i in 0..warmup {
        for path in MissPath::ALL {
            let _ = one(path, i, "w").await;
        }
    }

    let mut tallies: Vec<Tally> = MissPath::ALL.iter().map(|_| Tally::default()).collect();
    let mut paired_diffs = Vec::with_capacity(samples);
    let mut length_mismatches = 0u64;
    for i in 0..samples {
        let mut straight = None;
        let mut miss = None;
        let mut lengths = [None; 4];
        // Rotate the order so that no path always runs first (or right after another).
        for k in 0..MissPath::ALL.len() {
            let index = (i + k) % MissPath::ALL.len();
            let path = MissPath::ALL[index];
            let (elapsed, result) = one(path, i, "m").await;
            tallies[index].record(elapsed, &result);
            if let Ok(reply) = &result
                && reply.status == 200
            {
                lengths[index] = Some(reply.body_len);
                match path {
                    MissPath::Straight => straight = Some(elapsed),
                    MissPath::Miss => miss = Some(elapsed),
                    _ => {}
                }
            }
        }
        if let (Some(s), Some(m)) = (straight, miss) {
            paired_diffs.push(micros(m) - micros(s));
        }
        let known: Vec<usize> = lengths.iter().flatten().copied().collect();
        if known.windows(2).any(|w| w[0] != w[1]) {
            length_mismatches += 1;
        }
    }
    for (path, tally) in MissPath::ALL.iter().zip(&tallies) {
        checks.check(
            tally.errors() == 0,
            format!("part 1, {}: errors {}", path.label(), tally.errors_text()),
        );
        if let Some(expected) = path.expected_cache() {
            let seen = tally.x_cache.get(expected).copied().unwrap_or(0);
            checks.check(
                seen as usize == tally.ok.len(),
                format!(
                    "part 1, {}: expected X-Cache {expected} on every answer, saw {}",
                    path.label(),
                    tally.x_cache_text()
                ),
            );
        }
    }
    checks.check(
        length_mismatches == 0,
        format!("part 1: {length_mismatches} iterations with different body lengths across paths"),
    );
    MissResults {
        tallies,
        paired_diffs,
    }
}

// ---------------------------------------------------------------------------------------------
// Part 2: cache hits under concurrency

struct HitResults {
    tally: Tally,
    wall: Duration,
    upstream_calls: u64,
    /// The same list at the same concurrency straight to the sandbox: what this machine does
    /// for a trivial upstream with the clients on the same two cores, for scale.
    straight: Tally,
    straight_wall: Duration,
}

async fn part_hits(
    platform: &Platform,
    http: &reqwest::Client,
    total: usize,
    concurrency: usize,
    checks: &mut Checks,
) -> HitResults {
    let url = Arc::new(platform.gateway_list(&list_query("bench-hits")));
    let key = Arc::new(platform.key.clone());
    // Fill the cache, then warm up at full concurrency.
    let (_, first) = timed_get(http, &url, &key, false).await;
    checks.check(
        matches!(&first, Ok(r) if r.status == 200),
        "part 2: the first (filling) request failed",
    );
    let run = |url: Arc<String>, key: Arc<String>, count: usize| {
        let next = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..concurrency)
            .map(|_| {
                let (http, url, key, next) = (
                    http.clone(),
                    Arc::clone(&url),
                    Arc::clone(&key),
                    Arc::clone(&next),
                );
                tokio::spawn(async move {
                    let mut tally = Tally::default();
                    while next.fetch_add(1, Ordering::Relaxed) < count {
                        let (elapsed, result) = timed_get(&http, &url, &key, false).await;
                        tally.record(elapsed, &result);
                    }
                    tally
                })
            })
            .collect();
        async move {
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
            all
        }
    };
    let warm_up = (total / 10).clamp(concurrency, 2_000);
    let _ = run(Arc::clone(&url), Arc::clone(&key), warm_up).await;

    platform.sandbox.reset_counters();
    let before = platform.sandbox.counters().total_requests;
    let started = Instant::now();
    let tally = run(Arc::clone(&url), Arc::clone(&key), total).await;
    let wall = started.elapsed();
    let upstream_calls = platform
        .sandbox
        .counters()
        .total_requests
        .saturating_sub(before);

    let hits = tally.x_cache.get("HIT").copied().unwrap_or(0);
    checks.check(
        tally.errors() == 0,
        format!("part 2: errors {}", tally.errors_text()),
    );
    checks.check(
        hits as usize == total,
        format!(
            "part 2: expected X-Cache HIT on all {total} answers, saw {}",
            tally.x_cache_text()
        ),
    );
    checks.check(
        upstream_calls == 0,
        format!("part 2: the sandbox saw {upstream_calls} requests during the hits"),
    );
    let straight_url = Arc::new(platform.straight_list(&list_query("bench-hits")));
    let token = Arc::new(DEMO_TOKEN.to_string());
    let _ = run(Arc::clone(&straight_url), Arc::clone(&token), warm_up).await;
    let started = Instant::now();
    let straight = run(straight_url, token, total).await;
    let straight_wall = started.elapsed();
    HitResults {
        tally,
        wall,
        upstream_calls,
        straight,
        straight_wall,
    }
}

// ---------------------------------------------------------------------------------------------
// Part 3: an Airtable-like upstream

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Straight,
    Gateway,
    GatewayNoCache,
}

impl Mode {
    fn label(self) -> &'static str {
        match self {
            Mode::Straight => "straight upstream",
            Mode::Gateway => "gateway (cache on)",
            Mode::GatewayNoCache => "gateway, no-cache (pacing only)",
        }
    }
}

struct Phase {
    mode: Mode,
    readers: usize,
    tally: Tally,
    wall: Duration,
    upstream_calls: u64,
    upstream_429s: u64,
}

async fn part_upstream(
    platform: &Platform,
    http: &reqwest::Client,
    duration: Duration,
    backoff: Duration,
) -> Vec<Phase> {
    let mut phases = Vec::new();
    let mut phase_number = 0;
    for readers in [1usize, 4] {
        for mode in [Mode::Straight, Mode::Gateway, Mode::GatewayNoCache] {
            phase_number += 1;
            let query = list_query(&format!("phase-{phase_number}"));
            let (url, bearer, no_cache) = match mode {
                Mode::Straight => (
                    platform.straight_list(&query),
                    DEMO_TOKEN.to_string(),
                    false,
                ),
                Mode::Gateway => (platform.gateway_list(&query), platform.key.clone(), false),
                Mode::GatewayNoCache => (platform.gateway_list(&query), platform.key.clone(), true),
            };
            let url = Arc::new(url);
            let bearer = Arc::new(bearer);
            // A fresh sandbox limiter (as if the previous phase's lockout had passed) and counters.
            platform.sandbox.set_rate_limits(RateLimits::default());
            platform.sandbox.reset_counters();
            println!(
                "  phase {phase_number}: {}, {readers} reader(s), {} s ...",
                mode.label(),
                duration.as_secs()
            );
            let started = Instant::now();
            let deadline = tokio::time::Instant::now() + duration;
            let tasks: Vec<_> = (0..readers)
                .map(|_| {
                    let (http, url, bearer) = (http.clone(), Arc::clone(&url), Arc::clone(&bearer));
                    tokio::spawn(async move {
                        let mut tally = Tally::default();
                        while tokio::time::Instant::now() < deadline {
                            let (elapsed, result) = timed_get(&http, &url, &bearer, no_cache).await;
                            tally.record(elapsed, &result);
                            let failed = !matches!(&result, Ok(r) if r.status == 200);
                            if failed {
                                let until = (tokio::time::Instant::now() + backoff).min(deadline);
                                tokio::time::sleep_until(until).await;
                            }
                        }
                        tally
                    })
                })
                .collect();
            let mut tally = Tally::default();
            for task in tasks {
                match task.await {
                    Ok(t) => tally.merge(t),
                    Err(e) => {
                        tally.network_errors += 1;
                        tally.first_network_error = Some(format!("reader task failed: {e}"));
                    }
                }
            }
            let wall = started.elapsed();
            let counters = platform.sandbox.counters();
            phases.push(Phase {
                mode,
                readers,
                tally,
                wall,
                upstream_calls: counters.total_requests,
                upstream_429s: counters.rate_limited,
            });
        }
    }
    phases
}

// ---------------------------------------------------------------------------------------------

#[tokio::main]
async fn main() -> ExitCode {
    // cargo bench passes `--bench`; a filter argument that names another bench skips this one,
    // and `churn` runs part 4 alone.
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    if filters
        .iter()
        .any(|f| f != CHURN_FILTER && !NAME.contains(f.as_str()))
    {
        return ExitCode::SUCCESS;
    }
    let only_churn = filters.iter().any(|f| f == CHURN_FILTER);
    match run(only_churn).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{NAME} failed: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(only_churn: bool) -> Result<(), String> {
    let started = Instant::now();
    let miss_samples = env_number("BENCH_MISS_SAMPLES", 2_000).max(10);
    let hit_requests = env_number("BENCH_HIT_REQUESTS", 20_000).max(100);
    let concurrency = env_number("BENCH_CONCURRENCY", 16).max(1);
    let upstream_seconds = env_number("BENCH_UPSTREAM_SECONDS", 20).max(1) as u64;
    let backoff = Duration::from_millis(env_number("BENCH_BACKOFF_MS", 1_000) as u64);
    let mut checks = Checks::default();

    let cpus = std::thread::available_parallelism()
        .map_or_else(|e| format!("unknown ({e})"), |n| n.get().to_string());
    println!("{NAME}: the /v0 records gateway against its Airtable sandbox, one process, loopback");
    println!(
        "  CPUs: {cpus} (shared by the clients, the platform and the sandbox); build: debug \
         assertions {}",
        if cfg!(debug_assertions) { "on" } else { "off" }
    );
    println!(
        "  request: GET /v0/{DEMO_BASE_ID}/{TABLE}?{}",
        list_query("<tag>")
    );
    println!();

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(64)
        .build()
        .map_err(|e| format!("http client: {e}"))?;

    let churn_settings = churn::Settings::from_env(concurrency);
    if only_churn {
        let results = churn::run(&http, &churn_settings, &mut checks).await?;
        let summary = churn::report(&results, concurrency);
        println!();
        println!("---- summary (markdown) ----");
        println!("| measurement | p50 | p99 | throughput |");
        println!("|---|---|---|---|");
        print!("{summary}");
        println!("----");
        return finish(started, &checks);
    }

    // ---- parts 1 and 2: sandbox limits off, pacing off ----
    let fast = Platform::start(
        &[
            ("AIRTABLE_BASE_REQUESTS_PER_SECOND", "0"),
            ("AIRTABLE_TOKEN_REQUESTS_PER_SECOND", "0"),
            // Long enough that no cached answer expires during the run.
            ("RECORDS_CACHE_TTL_SECONDS", "3600"),
        ],
        &http,
    )
    .await?;
    fast.sandbox.set_rate_limits(RateLimits::disabled());

    // The gateway's answer is Airtable's bytes: compare once, untimed.
    let probe = list_query("bench-probe");
    let straight_body = http
        .get(fast.straight_list(&probe))
        .bearer_auth(DEMO_TOKEN)
        .send()
        .await
        .map_err(|e| format!("probe: {e}"))?
        .bytes()
        .await
        .map_err(|e| format!("probe: {e}"))?;
    let gateway_body = http
        .get(fast.gateway_list(&probe))
        .bearer_auth(&fast.key)
        .send()
        .await
        .map_err(|e| format!("probe: {e}"))?
        .bytes()
        .await
        .map_err(|e| format!("probe: {e}"))?;
    let records = serde_json::from_slice::<Value>(&straight_body)
        .ok()
        .and_then(|v| v["records"].as_array().map(Vec::len))
        .unwrap_or(0);
    checks.check(
        straight_body == gateway_body,
        "the gateway's list answer differs from the sandbox's",
    );
    checks.check(
        records == 10,
        format!("the list returned {records} records, not 10"),
    );
    println!(
        "  list answer: {records} records, {} bytes, gateway bytes identical: {}",
        straight_body.len(),
        straight_body == gateway_body
    );
    println!();

    println!("part 1: cache miss, one client, sequential, {miss_samples} samples per path ...");
    let miss = part_miss(&fast, &http, miss_samples, &mut checks).await;
    println!("part 2: cache hits, {concurrency} concurrent clients, {hit_requests} requests ...");
    let hits = part_hits(&fast, &http, hit_requests, concurrency, &mut checks).await;
    fast.stop().await;

    // ---- part 3: an Airtable-like upstream, Airtable's pacing ----
    println!(
        "part 3: upstream answers after {} ms, Airtable's limits (5/s per base, 50/s per token, \
         30 s lockout); gateway pacing 5/50 ...",
        UPSTREAM_DELAY.as_millis()
    );
    let airtable_like = Platform::start(&[], &http).await?;
    airtable_like.sandbox.set_rate_limits(RateLimits::default());
    airtable_like
        .sandbox
        .faults()
        .set_delay("*", Some(UPSTREAM_DELAY));
    // Let the set-up calls' rate-limit windows pass (ours and the sandbox's).
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let phases = part_upstream(
        &airtable_like,
        &http,
        Duration::from_secs(upstream_seconds),
        backoff,
    )
    .await;
    airtable_like.stop().await;
    let churn_results = churn::run(&http, &churn_settings, &mut checks).await?;
    for phase in &phases {
        if phase.mode != Mode::Straight {
            checks.check(
                phase.tally.errors() == 0 && phase.upstream_429s == 0,
                format!(
                    "part 3, {}, {} reader(s): client errors {}, upstream 429s {}",
                    phase.mode.label(),
                    phase.readers,
                    phase.tally.errors_text(),
                    phase.upstream_429s
                ),
            );
        }
    }

    // ---------------------------------------------------------------- report
    println!();
    println!("== part 1: cache miss, added latency (one client, sequential, interleaved) ==");
    let miss_stats: Vec<Stats> = miss.tallies.iter().map(Tally::stats).collect();
    let straight = &miss_stats[0];
    let mut table = Table::new(&[
        "path",
        "samples",
        "errors",
        "p50",
        "p99",
        "mean",
        "max",
        "p50 vs straight",
    ]);
    for (path, (tally, stats)) in MissPath::ALL
        .iter()
        .zip(miss.tallies.iter().zip(&miss_stats))
    {
        let vs = if *path == MissPath::Straight {
            "-".to_string()
        } else {
            human_diff(micros(stats.percentile(50.0)) - micros(straight.percentile(50.0)))
        };
        table.row(vec![
            path.label().into(),
            stats.len().to_string(),
            tally.errors_text(),
            human(stats.percentile(50.0)),
            human(stats.percentile(99.0)),
            human(stats.mean()),
            human(stats.max()),
            vs,
        ]);
    }
    table.print();
    let gateway_miss = &miss_stats[1];
    let added_p50 = micros(gateway_miss.percentile(50.0)) - micros(straight.percentile(50.0));
    let added_p99 = micros(gateway_miss.percentile(99.0)) - micros(straight.percentile(99.0));
    let mut diffs = miss.paired_diffs.clone();
    diffs.sort_by(f64::total_cmp);
    let paired_median = diffs.get(diffs.len() / 2).copied().unwrap_or(0.0);
    let paired_p99 = diffs
        .get(((diffs.len() as f64 * 0.99).ceil() as usize).saturating_sub(1))
        .copied()
        .unwrap_or(0.0);
    println!(
        "added by the gateway on a miss: {} at p50 (difference of medians), {} at p99 \
         (difference of p99s); per-iteration difference: median {}, p99 {} (goal: < 1 ms at p50)",
        human_diff(added_p50),
        human_diff(added_p99),
        human_diff(paired_median),
        human_diff(paired_p99),
    );

    println!();
    println!(
        "== part 2: cache hits, {concurrency} concurrent clients (tokio tasks, one shared reqwest \
         client) =="
    );
    let hit_stats = hits.tally.stats();
    let throughput = hit_stats.len() as f64 / hits.wall.as_secs_f64().max(1e-9);
    let mut table = Table::new(&[
        "path",
        "requests",
        "errors",
        "X-Cache",
        "p50",
        "p99",
        "max",
        "req/s",
        "upstream calls",
    ]);
    table.row(vec![
        "gateway, cache hit".into(),
        (hit_stats.len() as u64 + hits.tally.errors()).to_string(),
        hits.tally.errors_text(),
        hits.tally.x_cache_text(),
        human(hit_stats.percentile(50.0)),
        human(hit_stats.percentile(99.0)),
        human(hit_stats.max()),
        format!("{throughput:.0}"),
        hits.upstream_calls.to_string(),
    ]);
    let straight_stats = hits.straight.stats();
    table.row(vec![
        "for scale: straight to the sandbox".into(),
        (straight_stats.len() as u64 + hits.straight.errors()).to_string(),
        hits.straight.errors_text(),
        "-".into(),
        human(straight_stats.percentile(50.0)),
        human(straight_stats.percentile(99.0)),
        human(straight_stats.max()),
        format!(
            "{:.0}",
            straight_stats.len() as f64 / hits.straight_wall.as_secs_f64().max(1e-9)
        ),
        "-".into(),
    ]);
    table.print();
    println!(
        "wall time {:.2} s (goal: p50 < 2 ms at 16 concurrent clients)",
        hits.wall.as_secs_f64()
    );

    println!();
    println!(
        "== part 3: Airtable-like upstream ({} ms per call, 5 req/s per base, 30 s lockout), \
         {upstream_seconds} s per phase, {} ms pause after an error ==",
        UPSTREAM_DELAY.as_millis(),
        backoff.as_millis()
    );
    let mut table = Table::new(&[
        "path",
        "readers",
        "completed",
        "req/s",
        "p50",
        "p99",
        "client errors",
        "upstream calls",
        "upstream 429s",
    ]);
    for phase in &phases {
        let stats = phase.tally.stats();
        table.row(vec![
            phase.mode.label().into(),
            phase.readers.to_string(),
            stats.len().to_string(),
            format!(
                "{:.1}",
                stats.len() as f64 / phase.wall.as_secs_f64().max(1e-9)
            ),
            human(stats.percentile(50.0)),
            human(stats.percentile(99.0)),
            phase.tally.errors_text(),
            phase.upstream_calls.to_string(),
            phase.upstream_429s.to_string(),
        ]);
    }
    table.print();
    println!(
        "completed = 200 answers; latency percentiles are over those; errors are answered non-200s and network failures."
    );
    let churn_summary = churn::report(&churn_results, concurrency);

    // ---------------------------------------------------------------- summary
    let mut summary = String::new();
    let _ = writeln!(
        summary,
        "Gateway benchmark (`cargo bench -p devserver --bench gateway`; {cpus} CPUs, dev server \
         and sandbox in one process, loopback):"
    );
    let _ = writeln!(summary);
    let _ = writeln!(summary, "| measurement | p50 | p99 | throughput |");
    let _ = writeln!(summary, "|---|---|---|---|");
    let _ = writeln!(
        summary,
        "| list, straight to the sandbox | {} | {} | |",
        human(straight.percentile(50.0)),
        human(straight.percentile(99.0))
    );
    let _ = writeln!(
        summary,
        "| list through the gateway, cache miss | {} | {} | |",
        human(gateway_miss.percentile(50.0)),
        human(gateway_miss.percentile(99.0))
    );
    let _ = writeln!(
        summary,
        "| **added by the gateway on a miss** (difference of medians / p99s) | **{}** | {} | |",
        human_diff(added_p50),
        human_diff(added_p99)
    );
    let _ = writeln!(
        summary,
        "| list through the gateway, cache hit, {concurrency} concurrent clients | **{}** | {} | \
         {throughput:.0} req/s, {} upstream calls |",
        human(hit_stats.percentile(50.0)),
        human(hit_stats.percentile(99.0)),
        hits.upstream_calls
    );
    summary += &churn_summary;
    let _ = writeln!(summary);
    let _ = writeln!(
        summary,
        "Airtable-like upstream ({} ms per call, 5 req/s per base, 30 s lockout), {upstream_seconds} s per run:",
        UPSTREAM_DELAY.as_millis()
    );
    let _ = writeln!(summary);
    let _ = writeln!(
        summary,
        "| client | readers | completed | req/s | p50 | p99 | 429s seen | upstream calls |"
    );
    let _ = writeln!(summary, "|---|---|---|---|---|---|---|---|");
    for phase in &phases {
        let stats = phase.tally.stats();
        let _ = writeln!(
            summary,
            "| {} | {} | {} | {:.1} | {} | {} | {} | {} |",
            phase.mode.label(),
            phase.readers,
            stats.len(),
            stats.len() as f64 / phase.wall.as_secs_f64().max(1e-9),
            human(stats.percentile(50.0)),
            human(stats.percentile(99.0)),
            phase.tally.rate_limited(),
            phase.upstream_calls
        );
    }
    println!();
    println!("---- summary (markdown) ----");
    print!("{summary}");
    println!("----");

    for tally in miss
        .tallies
        .iter()
        .chain([&hits.tally])
        .chain(phases.iter().map(|p| &p.tally))
    {
        if let Some(e) = &tally.first_network_error {
            println!("first network error seen: {e}");
            break;
        }
    }
    finish(started, &checks)
}
