//! One Airtable client per tenant, kept for the life of the process.
//!
//! Building a client builds an HTTP connection pool and TLS configuration, which costs
//! milliseconds; a gateway call must not pay that each time. The tenant's token comes from the
//! secrets port (cached there), and a client is rebuilt when the token it was built with changes
//! (the tenant reconnected).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use airtable::{Airtable, AirtableError, ClientConfig, RateLimiter, RateLimits, RetryPolicy};
use basics::Clock;
use ports::TableStore;
use secrecy::SecretString;

/// A caller waits for the gateway anyway, so a call is retried as long as its latency budget
/// allows: more attempts than the client's default five, which a run of transient 503s can use
/// up in a second or two; the budget, not the count, is what bounds the wait.
const GATEWAY_RETRY: RetryPolicy = RetryPolicy {
    max_attempts: 10,
    base_backoff: Duration::from_millis(250),
    max_backoff: Duration::from_secs(8),
};

/// Past this many tenants in one process the pool starts over, a crude bound on memory that a
/// single function instance will rarely reach.
const MAX_CLIENTS: usize = 1024;

/// A tenant's client and the fingerprint of the token it holds.
#[derive(Debug, Clone)]
pub struct TenantClient {
    pub airtable: Airtable,
    /// The token's SHA-256 (never the token): part of every cache key.
    pub token_key: String,
}

#[derive(Debug)]
pub struct ClientPool {
    store: Arc<dyn TableStore>,
    clock: Arc<dyn Clock>,
    airtable_api_url: String,
    latency_budget: Duration,
    limits: RateLimits,
    clients: Mutex<HashMap<String, TenantClient>>,
}

impl ClientPool {
    pub fn new(
        store: Arc<dyn TableStore>,
        clock: Arc<dyn Clock>,
        airtable_api_url: String,
        latency_budget: Duration,
        limits: RateLimits,
    ) -> Self {
        Self {
            store,
            clock,
            airtable_api_url,
            latency_budget,
            limits,
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// The tenant's client for this token, built on first use.
    pub fn client(
        &self,
        tenant_id: &str,
        token: SecretString,
    ) -> Result<TenantClient, AirtableError> {
        let token_key = RateLimiter::token_key(&token);
        {
            let clients = self.lock();
            if let Some(client) = clients.get(tenant_id)
                && client.token_key == token_key
            {
                return Ok(client.clone());
            }
        }
        let config = ClientConfig::new(token)
            .with_base_url(self.airtable_api_url.clone())
            .with_latency_budget(self.latency_budget)
            .with_timeout(self.latency_budget)
            .with_retry(GATEWAY_RETRY);
        let limiter = RateLimiter::with_limits(
            Arc::clone(&self.store),
            Arc::clone(&self.clock),
            self.limits,
        );
        let client = TenantClient {
            airtable: Airtable::with_clock(config, limiter, Arc::clone(&self.clock))?,
            token_key,
        };
        let mut clients = self.lock();
        if clients.len() >= MAX_CLIENTS {
            clients.clear();
        }
        clients.insert(tenant_id.to_string(), client.clone());
        Ok(client)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, TenantClient>> {
        self.clients
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
