//! The gateway's settings (read from the environment by `platform::settings`).

use std::time::Duration;

use airtable::RateLimits;

/// How long cached reads live unless configured: short enough that edits made in Airtable's own
/// interface (which the gateway cannot see) show up quickly, long enough to absorb the bursts of
/// identical reads that dashboards and scripts make.
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(30);

/// How long one call may wait for rate-limit slots and retries: API Gateway cuts requests at
/// 30 s, so the gateway answers with a clear 429 well before that.
pub const DEFAULT_LATENCY_BUDGET: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewaySettings {
    /// `RECORDS_CACHE_TTL_SECONDS`: 0 turns the cache off; at most an hour.
    pub cache_ttl: Duration,
    /// `GATEWAY_LATENCY_BUDGET_MS`.
    pub latency_budget: Duration,
    /// The pacing of calls to Airtable: Airtable's own limits unless configured for a sandbox.
    pub airtable_limits: RateLimits,
}

impl Default for GatewaySettings {
    fn default() -> Self {
        Self {
            cache_ttl: DEFAULT_CACHE_TTL,
            latency_budget: DEFAULT_LATENCY_BUDGET,
            airtable_limits: RateLimits::airtable(),
        }
    }
}

/// The longest latency budget accepted: API Gateway's 30 s cut-off, less time to answer.
pub const MAX_LATENCY_BUDGET: Duration = Duration::from_secs(28);
