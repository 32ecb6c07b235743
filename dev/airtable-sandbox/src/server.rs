//! Starting the sandbox: a builder (seed, limits, persistence), the axum app (the Airtable API as
//! a fallback plus `/_sandbox/…` admin endpoints), and a handle that tests and the dev server use
//! to reach its URL, demo token, fault plans and counters, and to shut it down.

use crate::api;
use crate::faults::{CounterSnapshot, FaultPlan, Faults};
use crate::model::{Snapshot, Token};
use crate::rate_limit::RateLimits;
use crate::seed::{self, SeedError};
use crate::state::{DEFAULT_OFFSET_TTL, Shared, lock};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use background_server::BackgroundServer;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error(transparent)]
    Seed(#[from] SeedError),
    #[error("could not listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

#[derive(Debug, Clone)]
enum SeedSource {
    Demo,
    Json(String),
    File(PathBuf),
    Snapshot(Box<Snapshot>),
}

/// Entry point: `Sandbox::builder()…start(addr)`.
pub struct Sandbox;

impl Sandbox {
    pub fn builder() -> SandboxBuilder {
        SandboxBuilder {
            seed: SeedSource::Demo,
            limits: RateLimits::default(),
            offset_ttl: DEFAULT_OFFSET_TTL,
            persist: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct SandboxBuilder {
    seed: SeedSource,
    limits: RateLimits,
    offset_ttl: Duration,
    persist: Option<PathBuf>,
}

impl SandboxBuilder {
    /// Seeds from JSON text (the format of `seed/demo-crm.json`).
    pub fn seed_json(mut self, text: impl Into<String>) -> Self {
        self.seed = SeedSource::Json(text.into());
        self
    }

    pub fn seed_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.seed = SeedSource::File(path.into());
        self
    }

    pub fn seed(mut self, snapshot: Snapshot) -> Self {
        self.seed = SeedSource::Snapshot(Box::new(snapshot));
        self
    }

    pub fn rate_limits(mut self, limits: RateLimits) -> Self {
        self.limits = limits;
        self
    }

    /// For throughput benchmarks.
    pub fn no_rate_limits(mut self) -> Self {
        self.limits.enabled = false;
        self
    }

    /// How long an unused list offset stays valid.
    pub fn offset_ttl(mut self, ttl: Duration) -> Self {
        self.offset_ttl = ttl;
        self
    }

    /// Keeps data in this JSON file: loaded at start when it exists, rewritten after each write.
    pub fn persist(mut self, path: impl Into<PathBuf>) -> Self {
        self.persist = Some(path.into());
        self
    }

    /// Builds the app without binding, for `tower::ServiceExt::oneshot` tests.
    pub fn build(self) -> Result<(Router, SandboxControl), SandboxError> {
        let seed = match self.seed {
            SeedSource::Demo => seed::demo()?,
            SeedSource::Json(text) => seed::parse(&text)?,
            SeedSource::File(path) => seed::load_file(&path.to_string_lossy())?,
            SeedSource::Snapshot(s) => {
                seed::parse(&serde_json::to_string(&s).map_err(SeedError::Json)?)?
            }
        };
        let initial = match &self.persist {
            Some(path) if path.exists() => seed::load_file(&path.to_string_lossy())?,
            _ => seed.clone(),
        };
        let shared = Arc::new(Shared::new(
            seed,
            initial,
            self.limits,
            self.offset_ttl,
            self.persist,
        ));
        shared.save();
        Ok((app(shared.clone()), SandboxControl { shared }))
    }

    /// Binds `addr` (use `127.0.0.1:0` in tests) and serves in a background task.
    pub async fn start(self, addr: SocketAddr) -> Result<SandboxHandle, SandboxError> {
        let (router, control) = self.build()?;
        let server = BackgroundServer::start(addr, router, "Airtable sandbox")
            .await
            .map_err(|source| SandboxError::Bind { addr, source })?;
        Ok(SandboxHandle { server, control })
    }
}

/// Control over a sandbox's state, with or without a listening socket.
#[derive(Debug, Clone)]
pub struct SandboxControl {
    shared: Arc<Shared>,
}

impl SandboxControl {
    /// The demo token: the first seeded token that reaches every base (else the first token).
    pub fn demo_token(&self) -> String {
        let data = lock(&self.shared.data);
        let tokens = &data.snap.tokens;
        tokens
            .iter()
            .find(|t| t.bases.iter().any(|b| b == "*"))
            .or(tokens.first())
            .map(|t| t.token.clone())
            .unwrap_or_default()
    }

    pub fn base_ids(&self) -> Vec<String> {
        lock(&self.shared.data)
            .snap
            .bases
            .iter()
            .map(|b| b.id.clone())
            .collect()
    }

    pub fn faults(&self) -> &Faults {
        &self.shared.faults
    }

    pub fn counters(&self) -> CounterSnapshot {
        self.shared.counters.snapshot()
    }

    pub fn reset_counters(&self) {
        self.shared.counters.clear();
    }

    pub fn set_rate_limits(&self, limits: RateLimits) {
        *lock(&self.shared.limits) = limits;
        lock(&self.shared.limiter).clear();
    }

    pub fn rate_limits(&self) -> RateLimits {
        lock(&self.shared.limits).clone()
    }

    pub fn set_offset_ttl(&self, ttl: Duration) {
        *lock(&self.shared.offset_ttl) = ttl;
    }

    /// Invalidates every open list offset, as a server restart would.
    pub fn expire_offsets(&self) {
        lock(&self.shared.data).iterators.clear();
    }

    pub fn add_token(&self, token: Token) {
        lock(&self.shared.data).snap.tokens.push(token);
    }

    /// Back to the seed: data, webhooks, offsets, limiter, faults and counters.
    pub fn reset(&self) {
        self.shared.reset();
    }

    /// A copy of all data, in the seed format.
    pub fn snapshot(&self) -> Snapshot {
        lock(&self.shared.data).snap.clone()
    }
}

/// A running sandbox.
#[derive(Debug)]
pub struct SandboxHandle {
    server: BackgroundServer,
    control: SandboxControl,
}

impl std::ops::Deref for SandboxHandle {
    type Target = SandboxControl;
    fn deref(&self) -> &SandboxControl {
        &self.control
    }
}

impl SandboxHandle {
    /// The endpoint URL (what pyairtable calls `endpoint_url`); the API lives under `/v0`.
    pub fn url(&self) -> String {
        self.server.url()
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    pub fn control(&self) -> SandboxControl {
        self.control.clone()
    }

    /// Stops accepting connections and waits for in-flight requests.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

fn app(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/_sandbox/reset", post(reset))
        .route("/_sandbox/faults", post(add_faults).delete(clear_faults))
        .route("/_sandbox/counters", get(counters).delete(clear_counters))
        .route("/_sandbox/rate-limits", get(get_limits).post(set_limits))
        .route("/_sandbox/expire-offsets", post(expire_offsets))
        .route("/_sandbox/tokens", post(add_token))
        .route("/_sandbox/state", get(state))
        .fallback(api::handle)
        .with_state(shared)
}

type Shd = State<Arc<Shared>>;

async fn reset(State(s): Shd) -> Json<Value> {
    s.reset();
    Json(json!({ "reset": true }))
}

/// Accepts one plan or a list of plans (see `faults::FaultPlan`).
async fn add_faults(State(s): Shd, body: axum::body::Bytes) -> Response {
    let plans: Vec<FaultPlan> = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Array(items)) => match items
            .into_iter()
            .map(serde_json::from_value)
            .collect::<Result<Vec<_>, _>>()
        {
            Ok(p) => p,
            Err(e) => return bad_request(&e.to_string()),
        },
        Ok(v) => match serde_json::from_value(v) {
            Ok(p) => vec![p],
            Err(e) => return bad_request(&e.to_string()),
        },
        Err(e) => return bad_request(&e.to_string()),
    };
    for plan in plans {
        s.faults.apply(plan);
    }
    Json(json!({ "ok": true })).into_response()
}

fn bad_request(message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "error": { "type": "INVALID_REQUEST", "message": message } })),
    )
        .into_response()
}

async fn clear_faults(State(s): Shd) -> Json<Value> {
    s.faults.clear();
    Json(json!({ "ok": true }))
}

async fn counters(State(s): Shd) -> Json<CounterSnapshot> {
    Json(s.counters.snapshot())
}

async fn clear_counters(State(s): Shd) -> Json<Value> {
    s.counters.clear();
    Json(json!({ "ok": true }))
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LimitsBody {
    enabled: Option<bool>,
    per_base: Option<u32>,
    per_token: Option<u32>,
    window_ms: Option<u64>,
    grace_ms: Option<u64>,
    lockout_ms: Option<u64>,
}

fn limits_json(l: &RateLimits) -> Value {
    json!({
        "enabled": l.enabled,
        "perBase": l.per_base,
        "perToken": l.per_token,
        "windowMs": l.window.as_millis() as u64,
        "graceMs": l.grace.as_millis() as u64,
        "lockoutMs": l.lockout.as_millis() as u64,
    })
}

async fn get_limits(State(s): Shd) -> Json<Value> {
    Json(limits_json(&lock(&s.limits)))
}

/// Changes limits at runtime (fields left out keep their values) and clears lockouts.
async fn set_limits(State(s): Shd, body: axum::body::Bytes) -> Response {
    let b: LimitsBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => return bad_request(&e.to_string()),
    };
    let mut l = lock(&s.limits);
    if let Some(v) = b.enabled {
        l.enabled = v;
    }
    if let Some(v) = b.per_base {
        l.per_base = v;
    }
    if let Some(v) = b.per_token {
        l.per_token = v;
    }
    if let Some(v) = b.window_ms {
        l.window = Duration::from_millis(v);
    }
    if let Some(v) = b.grace_ms {
        l.grace = Duration::from_millis(v);
    }
    if let Some(v) = b.lockout_ms {
        l.lockout = Duration::from_millis(v);
    }
    let out = limits_json(&l);
    drop(l);
    lock(&s.limiter).clear();
    Json(out).into_response()
}

async fn expire_offsets(State(s): Shd) -> Json<Value> {
    lock(&s.data).iterators.clear();
    Json(json!({ "ok": true }))
}

async fn add_token(State(s): Shd, body: axum::body::Bytes) -> Response {
    match serde_json::from_slice::<Token>(&body) {
        Ok(t) => {
            lock(&s.data).snap.tokens.push(t);
            s.save();
            Json(json!({ "ok": true })).into_response()
        }
        Err(e) => bad_request(&e.to_string()),
    }
}

async fn state(State(s): Shd) -> Json<Value> {
    let snap = lock(&s.data).snap.clone();
    Json(serde_json::to_value(snap).unwrap_or(Value::Null))
}
