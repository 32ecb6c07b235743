//! The Airtable-compatible `/v0` gateway: a team points its Airtable code at the platform by
//! changing the endpoint URL and the key, and its calls gain what Airtable lacks:
//!
//! * **smoothing and retries**: every call goes through the one Airtable client
//!   ([`airtable::Airtable::forward`]), so it waits for a rate-limit slot within a latency budget
//!   instead of meeting Airtable's 429, and reads are retried on 429/502/503;
//! * **a read cache** per tenant, base, table and request ([`cache`]), invalidated by writes
//!   through the gateway and by the writes of chat and MCP tools ([`stale`],
//!   [`Gateway::client_for_tools`]), reported in `X-Cache`;
//! * **idempotent writes** with `Idempotency-Key` ([`idempotency`]);
//! * **usage accounting**: Airtable calls per tenant and base, and cache hits, in the tenant's
//!   usage counters.
//!
//! Requests and answers are Airtable's own: the body a client sends is forwarded as JSON, and
//! Airtable's answer (success, or a 4xx refusal such as `INVALID_FILTER_BY_FORMULA`) comes back
//! byte for byte. Scopes are checked by the HTTP layer from [`operation::Permission`].

pub mod cache;
pub mod clients;
pub mod error;
pub mod idempotency;
pub mod operation;
pub mod settings;
pub mod stale;

use std::sync::Arc;

use airtable::{Airtable, AirtableError, Forward, RawAnswer};
use basics::Clock;
use connections::Connections;
use metering::UsageTally;
use ports::TableStore;
use serde_json::Value;

pub use cache::MAX_CACHE_TTL;
pub use cache::{Invalidation, ReadCache};
pub use clients::{ClientPool, TenantClient};
pub use error::GatewayError;
pub use idempotency::{Claim, Idempotency, IdempotencyKey};
pub use operation::{BaseId, Effect, FieldId, Operation, Permission, RecordId, TableRef};
pub use settings::{GatewaySettings, MAX_LATENCY_BUDGET};
pub use stale::StaleReads;

use cache::{Cached, Scope};

/// One `/v0` request, parsed.
#[derive(Debug, Clone)]
pub struct Request {
    pub operation: Operation,
    /// The raw query string, forwarded verbatim.
    pub query: Option<String>,
    /// The JSON body, if the call has one.
    pub body: Option<Value>,
    pub idempotency_key: Option<IdempotencyKey>,
    /// `Cache-Control: no-cache`: fetch from Airtable even when a cached answer exists (the
    /// fresh answer is then cached).
    pub bypass_cache: bool,
}

impl Request {
    pub fn new(operation: Operation) -> Self {
        Self {
            operation,
            query: None,
            body: None,
            idempotency_key: None,
            bypass_cache: false,
        }
    }

    /// Everything that decides what the request does, unambiguously: the cache key's and the
    /// idempotency fingerprint's input. The body is in canonical form (sorted keys).
    fn identity(&self) -> String {
        identity_of(&self.operation, self.query.as_deref(), self.body.as_ref())
    }
}

pub(crate) fn identity_of(
    operation: &Operation,
    query: Option<&str>,
    body: Option<&Value>,
) -> String {
    serde_json::to_string(&(
        operation.method.as_str(),
        &operation.path,
        query.unwrap_or_default(),
        body,
    ))
    .unwrap_or_default()
}

/// Whether an answer came from the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheStatus {
    Hit,
    Miss,
}

impl CacheStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CacheStatus::Hit => "HIT",
            CacheStatus::Miss => "MISS",
        }
    }
}

/// The gateway's answer: Airtable's status and body, and how it was obtained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
    /// For cacheable reads: whether the cache answered.
    pub cache: Option<CacheStatus>,
    /// For writes with `Idempotency-Key`: whether this is the first request's answer again.
    pub replayed: bool,
}

impl Answer {
    fn from_raw(raw: RawAnswer, cache: Option<CacheStatus>) -> Self {
        Self {
            status: raw.status,
            body: raw.body,
            cache,
            replayed: false,
        }
    }
}

/// Usage counter names.
pub mod counters {
    /// Calls sent to Airtable for the tenant (each logical call once, retries included in it).
    pub const AIRTABLE_CALLS: &str = "airtable.calls";
    /// Reads answered from the cache.
    pub const CACHE_HITS: &str = "records.cache_hits";

    /// Calls sent to Airtable for one base.
    pub fn airtable_calls_for(base_id: &str) -> String {
        format!("{AIRTABLE_CALLS}.{base_id}")
    }
}

/// Counts the Airtable calls a client sends into a request's usage: in all, and per base. The
/// gateway, chat and MCP all count this way.
#[derive(Debug)]
pub struct CountAirtableCalls(pub UsageTally);

impl airtable::CallObserver for CountAirtableCalls {
    fn call_sent(&self, base_id: Option<&str>) {
        self.0.add(counters::AIRTABLE_CALLS, 1);
        if let Some(base_id) = base_id {
            self.0.add(&counters::airtable_calls_for(base_id), 1);
        }
    }
}

/// The gateway for one process. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Gateway {
    connections: Connections,
    clients: Arc<ClientPool>,
    cache: ReadCache,
    idempotency: Idempotency,
}

impl Gateway {
    pub fn new(
        store: Arc<dyn TableStore>,
        clock: Arc<dyn Clock>,
        connections: Connections,
        clients: Arc<ClientPool>,
        settings: &GatewaySettings,
    ) -> Self {
        Self {
            connections,
            clients,
            cache: ReadCache::new(Arc::clone(&store), Arc::clone(&clock), settings.cache_ttl),
            idempotency: Idempotency::new(store, clock),
        }
    }

    /// The tenant's client for Airtable calls made outside `/v0` (chat and MCP tools): it
    /// counts its calls into `usage` as a gateway call does, and each write it sends makes the
    /// cached reads it affects unreachable, as the same write through `/v0` would.
    pub fn client_for_tools(
        &self,
        tenant_id: &str,
        client: &TenantClient,
        usage: &UsageTally,
    ) -> Airtable {
        client
            .airtable
            .observed(Arc::new(CountAirtableCalls(usage.clone())))
            .observed(Arc::new(self.stale_reads(tenant_id, client)))
    }

    fn stale_reads(&self, tenant_id: &str, client: &TenantClient) -> StaleReads {
        StaleReads::new(self.cache.clone(), tenant_id, &client.token_key)
    }

    /// Serves one request for a tenant. Airtable calls and cache hits are added to `usage`,
    /// which the caller records with the request.
    pub async fn handle(
        &self,
        tenant_id: &str,
        request: Request,
        usage: &UsageTally,
    ) -> Result<Answer, GatewayError> {
        let token = self.connections.token(tenant_id).await?;
        let client = self.clients.client(tenant_id, token)?;
        let answer = if request.operation.is_write() {
            self.write(&client, &request, tenant_id, usage).await?
        } else {
            self.read(&client, &request, tenant_id, usage).await?
        };
        if answer.status == 401 {
            tracing::warn!(tenant_id, "Airtable refused the tenant's connected token");
            return Err(GatewayError::ConnectedTokenRejected);
        }
        Ok(answer)
    }

    async fn read(
        &self,
        client: &TenantClient,
        request: &Request,
        tenant_id: &str,
        usage: &UsageTally,
    ) -> Result<Answer, GatewayError> {
        let scope = match &request.operation.effect {
            Effect::RecordsRead { base, table } => Scope::Records { base, table },
            Effect::SchemaRead { base } => Scope::Schema { base },
            Effect::BasesRead => Scope::Token,
            _ => {
                let raw = self.forward(client, request, usage).await?;
                return Ok(Answer::from_raw(raw, None));
            }
        };
        let key = self.cache_key(client, request, tenant_id, scope).await;
        if let Some(key) = key.as_ref().filter(|_| !request.bypass_cache) {
            match self.cache.get(key).await {
                Ok(Some(hit)) => {
                    usage.add(counters::CACHE_HITS, 1);
                    return Ok(Answer {
                        status: hit.status,
                        body: hit.body,
                        cache: Some(CacheStatus::Hit),
                        replayed: false,
                    });
                }
                Ok(None) => {}
                Err(err) => tracing::warn!(error = %err, "read cache lookup failed"),
            }
        }
        let raw = self.forward(client, request, usage).await?;
        let Some(key) = key.filter(|_| raw.status == 200) else {
            return Ok(Answer::from_raw(raw, Some(CacheStatus::Miss)));
        };
        let cached = Cached {
            status: raw.status,
            body: raw.body,
        };
        if let Err(err) = self.cache.put(&key, &cached).await {
            tracing::warn!(error = %err, "could not keep an answer in the read cache");
        }
        Ok(Answer {
            status: cached.status,
            body: cached.body,
            cache: Some(CacheStatus::Miss),
            replayed: false,
        })
    }

    /// The cache key of a cacheable read, or `None` when the cache is off or its generations
    /// cannot be read (the read then goes to Airtable uncached).
    async fn cache_key(
        &self,
        client: &TenantClient,
        request: &Request,
        tenant_id: &str,
        scope: Scope<'_>,
    ) -> Option<cache::CacheKey> {
        if !self.cache.enabled() {
            return None;
        }
        let generations = match request.operation.base_id() {
            Some(base) => match self.cache.generations(tenant_id, base).await {
                Ok(generations) => generations,
                Err(err) => {
                    tracing::warn!(error = %err, "read cache unavailable; reading from Airtable");
                    return None;
                }
            },
            None => cache::Generations::default(),
        };
        Some(self.cache.key(
            tenant_id,
            &client.token_key,
            scope,
            &generations,
            &request.identity(),
        ))
    }

    async fn write(
        &self,
        client: &TenantClient,
        request: &Request,
        tenant_id: &str,
        usage: &UsageTally,
    ) -> Result<Answer, GatewayError> {
        let fingerprint = idempotency::fingerprint(&request.identity());
        if let Some(key) = &request.idempotency_key {
            match self
                .idempotency
                .claim(tenant_id, key, &fingerprint)
                .await
                .map_err(GatewayError::IdempotencyStore)?
            {
                Claim::Proceed => {}
                Claim::Replay { status, body } => {
                    return Ok(Answer {
                        status,
                        body,
                        cache: None,
                        replayed: true,
                    });
                }
                Claim::InProgress => return Err(GatewayError::IdempotencyKeyInUse),
                Claim::Mismatch => return Err(GatewayError::IdempotencyKeyReused),
                Claim::AnswerNotKept => return Err(GatewayError::IdempotentAnswerNotKept),
            }
        }
        let result = self.forward(client, request, usage).await;
        let outcome = match result {
            Ok(raw) => Ok(raw),
            Err(err) if may_have_written(&err) => {
                tracing::warn!(error = %err, operation = request.operation.name, "a write's outcome at Airtable is unknown");
                Ok(outcome_unknown())
            }
            Err(err) => Err(err),
        };
        let changed = matches!(&outcome, Ok(raw) if raw.status < 300 || raw.status >= 500);
        if changed && let Some(change) = request.operation.change() {
            self.stale_reads(tenant_id, client).after(&change).await;
        }
        if let Some(key) = &request.idempotency_key {
            let kept = match &outcome {
                Ok(raw) => {
                    self.idempotency
                        .record(tenant_id, key, &fingerprint, raw.status, &raw.body)
                        .await
                }
                Err(_) => self.idempotency.release(tenant_id, key).await,
            };
            if let Err(err) = kept {
                tracing::error!(error = %err, "could not record an idempotent write's answer");
            }
        }
        Ok(Answer::from_raw(outcome?, None))
    }

    /// Sends the request through the tenant's client and counts the call when it reached
    /// Airtable.
    async fn forward(
        &self,
        client: &TenantClient,
        request: &Request,
        usage: &UsageTally,
    ) -> Result<RawAnswer, AirtableError> {
        let operation = &request.operation;
        let forward = Forward {
            method: operation.method.clone(),
            path: operation.path.clone(),
            query: request.query.clone(),
            body: request.body.clone(),
            base_id: operation.base_id().cloned(),
            idempotency: operation.idempotency,
        };
        let airtable = client
            .airtable
            .observed(Arc::new(CountAirtableCalls(usage.clone())));
        airtable.forward(&forward).await
    }
}

/// Whether a failed write may nevertheless have been applied by Airtable: the request was sent
/// and then the connection broke or timed out, or Airtable failed in a way it does not call
/// safe to retry.
fn may_have_written(err: &AirtableError) -> bool {
    match err {
        AirtableError::Network { sent, .. } => *sent,
        AirtableError::Api { status, .. } => *status >= 500 && !matches!(status, 502 | 503),
        AirtableError::Decode { .. } => true,
        _ => false,
    }
}

/// The answer to a write whose outcome is unknown. It is recorded for the idempotency key like
/// any answer, so a retry with the same key gets it again instead of risking a second write.
///
/// The status is 500, not 502 or 503: Airtable documents those two as safe to retry, and
/// clients that follow Airtable's rules (or a generic retry list) would repeat the write.
fn outcome_unknown() -> RawAnswer {
    let body = serde_json::json!({
        "error": {
            "type": "UPSTREAM_OUTCOME_UNKNOWN",
            "message": "Airtable may or may not have applied this write: the request reached it and then failed. Read the records to check before writing again with a new Idempotency-Key."
        }
    });
    RawAnswer {
        status: 500,
        body: body.to_string().into_bytes(),
    }
}
