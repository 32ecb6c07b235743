//! The one request path: every call to Airtable goes through [`Transport::send`], which takes a
//! rate-limit slot, sends, reads Airtable's answer or error, and decides about retrying.
//!
//! Keeping this in one place is what makes the platform's promises checkable: no request can
//! skip the limiter, no create can be retried blindly, and no call waits past its budget.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use basics::Clock;
use reqwest::{Method, Url};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::time::Instant;

use crate::config::ClientConfig;
use crate::error::AirtableError;
use crate::ids::BaseId;
use crate::path::{ApiPath, Change};
use crate::rate_limit::{RateLimiter, Subject};
use crate::retry::{Idempotency, Outcome, RetryPolicy, is_retryable, parse_retry_after};

/// One logical call (which may take several attempts). Built by [`Transport::call`] from a
/// parsed path, so what it may change is known before it is sent.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub method: Method,
    /// The path's URL; callers may add a query.
    pub url: Url,
    pub body: Option<Value>,
    /// The base whose 5/s budget this call spends; `None` for token-wide calls.
    pub base_id: Option<String>,
    pub idempotency: Idempotency,
    /// What the call may change at Airtable; `None` for reads.
    change: Option<Change>,
}

impl Call {
    pub fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    pub fn base(mut self, base_id: &BaseId) -> Self {
        self.base_id = Some(base_id.as_str().to_string());
        self
    }
}

/// Counters of what this client did, for tests, benchmarks and metrics.
#[derive(Debug, Default)]
pub struct Stats {
    requests: AtomicU64,
    retries: AtomicU64,
    upstream_429s: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatsSnapshot {
    /// HTTP requests sent (attempts, not calls).
    pub requests: u64,
    /// Attempts after the first, over all calls.
    pub retries: u64,
    /// 429 answers received from upstream.
    pub upstream_429s: u64,
}

impl Stats {
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            requests: self.requests.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            upstream_429s: self.upstream_429s.load(Ordering::Relaxed),
        }
    }
}

/// The HTTP side of the client.
#[derive(Debug)]
pub(crate) struct Transport {
    http: reqwest::Client,
    root: Url,
    token: SecretString,
    token_key: String,
    limiter: RateLimiter,
    clock: Arc<dyn Clock>,
    latency_budget: Duration,
    retry: RetryPolicy,
    pub stats: Stats,
    /// Told of every call that goes out (see [`CallObserver`]), in the order they were added.
    observers: Vec<Arc<dyn CallObserver>>,
}

/// Something that wants to know of the calls the client sends to Airtable: to count a tenant's
/// Airtable calls per base in its usage, or to make cached reads a write affected unreachable.
#[async_trait::async_trait]
pub trait CallObserver: Send + Sync + std::fmt::Debug {
    /// Told once per call (not per retry), when its first attempt goes out; a call refused by
    /// our own rate limit before sending is not a call.
    fn call_sent(&self, base_id: Option<&str>);

    /// Told once per writing call, after it ended, when it may have changed something at
    /// Airtable: an attempt succeeded, failed on the network after it was sent, or got a 5xx
    /// (Airtable may have applied it before failing). Not told of reads, nor of writes that
    /// never left or that Airtable refused with a 4xx only. A write chunked into several calls
    /// is told of each chunk as it ends, so a failure half-way still reports the chunks sent.
    /// The call's caller waits for this, so what it does is done before the caller goes on.
    async fn write_ended(&self, _change: &Change) {}
}

/// A failed attempt: the error to report and what the retry decision needs.
struct Failure {
    error: AirtableError,
    outcome: Outcome,
    retry_after: Option<Duration>,
    /// Airtable's error body, when it answered.
    body: Option<Vec<u8>>,
}

impl Failure {
    /// The call's end: Airtable's refusal when it answered, else the error.
    fn into_answer(self) -> Result<Answer, AirtableError> {
        match (self.outcome, self.body) {
            (Outcome::Status(status), Some(body)) => Ok(Answer::Refused {
                status,
                body,
                error: self.error,
            }),
            _ => Err(self.error),
        }
    }
}

/// How a call ended when Airtable answered it.
enum Answer {
    Success {
        status: u16,
        body: Vec<u8>,
    },
    Refused {
        status: u16,
        body: Vec<u8>,
        error: AirtableError,
    },
}

/// Airtable's final answer to a forwarded call, exactly as it came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawAnswer {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Transport {
    pub fn new(
        config: ClientConfig,
        limiter: RateLimiter,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, AirtableError> {
        let root = Url::parse(&config.base_url)
            .map_err(|e| AirtableError::Config(format!("base URL {:?}: {e}", config.base_url)))?;
        if root.cannot_be_a_base() {
            return Err(AirtableError::Config(format!(
                "base URL {:?} cannot hold a path",
                config.base_url
            )));
        }
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("pyairtable-on-lambda/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| AirtableError::Config(format!("HTTP client: {e}")))?;
        let token_key = RateLimiter::token_key(&config.token);
        Ok(Self {
            http,
            root,
            token: config.token,
            token_key,
            limiter,
            clock,
            latency_budget: config.latency_budget,
            retry: config.retry,
            stats: Stats::default(),
            observers: Vec::new(),
        })
    }

    /// The same transport (sharing its connection pool) reporting calls to `observer` as well
    /// as to this one's observers; its stats start at zero.
    pub fn observed(&self, observer: Arc<dyn CallObserver>) -> Self {
        let mut observers = self.observers.clone();
        observers.push(observer);
        Self {
            http: self.http.clone(),
            root: self.root.clone(),
            token: self.token.clone(),
            token_key: self.token_key.clone(),
            limiter: self.limiter.clone(),
            clock: Arc::clone(&self.clock),
            latency_budget: self.latency_budget,
            retry: self.retry,
            stats: Stats::default(),
            observers,
        }
    }

    /// A call to `path` (see [`Self::url`]), knowing what it may change.
    pub fn call(
        &self,
        method: Method,
        path: &ApiPath,
        idempotency: Idempotency,
    ) -> Result<Call, AirtableError> {
        Ok(Call {
            url: self.url(path)?,
            change: path.change(&method),
            method,
            body: None,
            base_id: None,
            idempotency,
        })
    }

    /// `<root>/v0/<path>`, each segment percent-encoded as a segment (table names may hold
    /// spaces, slashes or anything else).
    ///
    /// The path's ids were parsed, so every segment is sendable; the check here is the last
    /// line: `url` would silently drop a `.` or `..` segment and strip tabs and newlines, which
    /// would send the call to another endpoint than the one its caller named.
    pub fn url(&self, path: &ApiPath) -> Result<Url, AirtableError> {
        if let Some(bad) = path.segments().find(|s| !is_sendable_segment(s)) {
            return Err(AirtableError::InvalidRequest(format!(
                "{:?} cannot be sent as a path segment",
                bad.chars().take(40).collect::<String>()
            )));
        }
        let mut url = self.root.clone();
        {
            let mut segments = url
                .path_segments_mut()
                .map_err(|()| AirtableError::Config("base URL cannot hold a path".into()))?;
            segments.pop_if_empty().push("v0").extend(path.segments());
        }
        Ok(url)
    }

    /// Sends a call and decodes Airtable's JSON answer.
    pub async fn send<T: DeserializeOwned>(&self, call: Call) -> Result<T, AirtableError> {
        match self.exchange(&call).await? {
            Answer::Success { status, body } => decode(status, &body),
            Answer::Refused { error, .. } => Err(error),
        }
    }

    /// Sends a call and hands back Airtable's final answer as it came: a success, or a 4xx that
    /// retrying cannot change (the gateway passes both through byte for byte). Everything else
    /// (our rate limit, exhausted retries on 429/5xx, network failures) is an error.
    pub async fn send_raw(&self, call: &Call) -> Result<RawAnswer, AirtableError> {
        match self.exchange(call).await? {
            Answer::Success { status, body } => Ok(RawAnswer { status, body }),
            Answer::Refused { status, body, .. }
                if (400..500).contains(&status) && status != 429 =>
            {
                Ok(RawAnswer { status, body })
            }
            Answer::Refused { error, .. } => Err(error),
        }
    }

    /// Runs the call, then tells the observers of a write that may have changed something.
    async fn exchange(&self, call: &Call) -> Result<Answer, AirtableError> {
        let mut maybe_applied = false;
        let result = self.attempts(call, &mut maybe_applied).await;
        if let Some(change) = call.change.as_ref().filter(|_| maybe_applied) {
            for observer in &self.observers {
                observer.write_ended(change).await;
            }
        }
        result
    }

    /// The retry loop: attempts until success, a final refusal, or the end of the budget.
    /// `maybe_applied` is set when an attempt may have been acted on by Airtable.
    async fn attempts(
        &self,
        call: &Call,
        maybe_applied: &mut bool,
    ) -> Result<Answer, AirtableError> {
        let deadline = Instant::now() + self.latency_budget;
        let subject = Subject {
            base_id: call.base_id.as_deref(),
            token_key: &self.token_key,
        };
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let remaining = deadline.saturating_duration_since(Instant::now());
            let reservation = self.limiter.acquire(subject, remaining).await?;
            if attempt > 1 {
                self.stats.retries.fetch_add(1, Ordering::Relaxed);
            } else {
                for observer in &self.observers {
                    observer.call_sent(call.base_id.as_deref());
                }
            }
            let failure = match self.attempt(call).await {
                Ok((status, body)) => {
                    *maybe_applied = true;
                    if reservation.base_struck
                        && let Some(base_id) = &call.base_id
                    {
                        self.limiter.forgive(base_id).await;
                    }
                    return Ok(Answer::Success { status, body });
                }
                Err(failure) => failure,
            };
            *maybe_applied |= match failure.outcome {
                Outcome::Status(status) => status >= 500,
                Outcome::Network { sent } => sent,
            };
            // Any answer but a 429 shows the base is not locked out.
            if reservation.base_struck
                && matches!(failure.outcome, Outcome::Status(status) if status < 500 && status != 429)
                && let Some(base_id) = &call.base_id
            {
                self.limiter.forgive(base_id).await;
            }
            if failure.outcome == Outcome::Status(429) {
                self.stats.upstream_429s.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(base_id = ?call.base_id, "Airtable answered 429");
                if let Some(base_id) = &call.base_id {
                    self.limiter.cool_down(base_id, failure.retry_after).await?;
                }
            }
            if attempt >= self.retry.max_attempts
                || !is_retryable(call.idempotency, failure.outcome)
            {
                return failure.into_answer();
            }
            let delay = self.delay_before_retry(call, &failure, attempt);
            if Instant::now() + delay > deadline {
                return match failure.outcome {
                    Outcome::Status(429) => Err(AirtableError::RateLimited { retry_after: delay }),
                    _ => failure.into_answer(),
                };
            }
            tracing::debug!(attempt, delay_ms = delay.as_millis() as u64, error = %failure.error, "retrying an Airtable call");
            tokio::time::sleep(delay).await;
        }
    }

    /// How long to wait before the next attempt. A 429 on a base is already handled by the
    /// limiter's escalating cool-down (the next slot lies 1, 2, 4… s out, or `Retry-After`), so
    /// no extra sleep is added. A token-wide 429 has no base to cool and this (synchronous) step
    /// keeps no shared strike count for the token, so the call escalates on its own attempts in
    /// the limiter's steps: the first pause (1 s, or `Retry-After` if longer) when its first
    /// attempt got the 429, doubling with each attempt up to the lockout. With
    /// [`crate::RateLimits::unlimited`] nothing is cooled down, so a base's 429 waits the same.
    fn delay_before_retry(&self, call: &Call, failure: &Failure, attempt: u32) -> Duration {
        let jitter = self.retry.backoff(attempt);
        let floor = failure.retry_after.unwrap_or(Duration::ZERO);
        let limits = self.limiter.limits();
        match failure.outcome {
            Outcome::Status(429) if call.base_id.is_some() && !limits.is_unlimited() => {
                Duration::ZERO
            }
            Outcome::Status(429) => jitter.max(floor).max(limits.pause_for_strike(attempt)),
            _ => jitter.max(floor),
        }
    }

    /// One HTTP exchange.
    async fn attempt(&self, call: &Call) -> Result<(u16, Vec<u8>), Failure> {
        let mut request = self
            .http
            .request(call.method.clone(), call.url.clone())
            .bearer_auth(self.token.expose_secret());
        if let Some(body) = &call.body {
            request = request.json(body);
        }
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        let response = request.send().await.map_err(network_failure)?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, self.clock.now()));
        let body = response.bytes().await.map_err(network_failure)?;
        if (200..300).contains(&status) {
            return Ok((status, body.to_vec()));
        }
        Err(Failure {
            error: AirtableError::from_response(status, &body, retry_after),
            outcome: Outcome::Status(status),
            retry_after,
            body: Some(body.to_vec()),
        })
    }
}

/// Whether `url` keeps `segment` as exactly one segment with exactly this text: not empty, not
/// a dot segment, no control characters (tabs and newlines are stripped).
fn is_sendable_segment(segment: &str) -> bool {
    !segment.is_empty()
        && segment != "."
        && segment != ".."
        && !segment.chars().any(char::is_control)
}

/// Classifies a reqwest failure. Only a connect failure proves the request never left: a
/// timeout or a broken connection may strike after Airtable has read (and acted on) it.
fn network_failure(err: reqwest::Error) -> Failure {
    let sent = !err.is_connect();
    let timed_out = err.is_timeout();
    Failure {
        error: AirtableError::Network {
            message: err.without_url().to_string(),
            timed_out,
            sent,
        },
        outcome: Outcome::Network { sent },
        retry_after: None,
        body: None,
    }
}

fn decode<T: DeserializeOwned>(status: u16, body: &[u8]) -> Result<T, AirtableError> {
    serde_json::from_slice(body).map_err(|e| AirtableError::Decode {
        status,
        message: e.to_string(),
    })
}
