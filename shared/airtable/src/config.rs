//! How a client is set up: where Airtable is, whose token, and how patient to be.

use std::time::Duration;

use secrecy::SecretString;

use crate::retry::RetryPolicy;

/// Airtable's production API root.
pub const DEFAULT_BASE_URL: &str = "https://api.airtable.com";

/// Client settings. The token is a [`SecretString`], so neither `Debug` output nor a log line
/// can ever show it.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The API root without `/v0` (production, the sandbox's URL, or our own gateway).
    pub base_url: String,
    /// A personal access token or OAuth access token.
    pub token: SecretString,
    /// How long one call may wait in total, for rate-limit slots and retry back-off, before it
    /// gives up with [`crate::AirtableError::RateLimited`]. API Gateway cuts requests at 30 s,
    /// so a gateway call must give up well before that with a clear answer.
    pub latency_budget: Duration,
    /// When and how often failed calls are tried again.
    pub retry: RetryPolicy,
    /// The limit on one HTTP exchange (connect, send, receive).
    pub timeout: Duration,
}

impl ClientConfig {
    /// Production defaults for this token: Airtable's URL, a 10 s budget, a 30 s timeout.
    pub fn new(token: SecretString) -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_string(),
            token,
            latency_budget: Duration::from_secs(10),
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(30),
        }
    }

    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into();
        self
    }

    pub fn with_latency_budget(mut self, budget: Duration) -> Self {
        self.latency_budget = budget;
        self
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_the_token() {
        let config = ClientConfig::new(SecretString::from("patSECRET.value"));
        let shown = format!("{config:?}");
        assert!(!shown.contains("patSECRET"), "{shown}");
        assert!(shown.contains("api.airtable.com"));
    }
}
