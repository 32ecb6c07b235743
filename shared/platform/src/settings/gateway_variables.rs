//! The gateway's variables: the read cache's lifetime, the latency budget, and the pacing of
//! calls to Airtable.

use std::time::Duration;

use airtable::RateLimits;
use basics::{ConfigError, Env};
use gateway::{GatewaySettings, MAX_CACHE_TTL, MAX_LATENCY_BUDGET};

/// Airtable's documented limits: requests per second per base, and per token.
const AIRTABLE_BASE_PER_SECOND: u32 = 5;
const AIRTABLE_TOKEN_PER_SECOND: u32 = 50;

/// Reads `RECORDS_CACHE_TTL_SECONDS`, `GATEWAY_LATENCY_BUDGET_MS`,
/// `AIRTABLE_BASE_REQUESTS_PER_SECOND` (default 5) and `AIRTABLE_TOKEN_REQUESTS_PER_SECOND`
/// (default 50). The last two exist for a sandbox or a benchmark (0 and 0 switch the pacing
/// off); against Airtable only its real limits are right.
pub fn gateway_settings(env: &Env) -> Result<GatewaySettings, ConfigError> {
    let defaults = GatewaySettings::default();
    let ttl = env.or("RECORDS_CACHE_TTL_SECONDS", defaults.cache_ttl.as_secs())?;
    if ttl > MAX_CACHE_TTL.as_secs() {
        return Err(ConfigError {
            var: "RECORDS_CACHE_TTL_SECONDS".into(),
            problem: format!(
                "at most {} seconds (0 turns the cache off)",
                MAX_CACHE_TTL.as_secs()
            ),
        });
    }
    let budget_ms = env.or(
        "GATEWAY_LATENCY_BUDGET_MS",
        u64::try_from(defaults.latency_budget.as_millis()).unwrap_or(u64::MAX),
    )?;
    if budget_ms == 0 || budget_ms > MAX_LATENCY_BUDGET.as_millis() as u64 {
        return Err(ConfigError {
            var: "GATEWAY_LATENCY_BUDGET_MS".into(),
            problem: format!(
                "between 1 and {} milliseconds",
                MAX_LATENCY_BUDGET.as_millis()
            ),
        });
    }
    let base_per_second = env.or(
        "AIRTABLE_BASE_REQUESTS_PER_SECOND",
        AIRTABLE_BASE_PER_SECOND,
    )?;
    let token_per_second = env.or(
        "AIRTABLE_TOKEN_REQUESTS_PER_SECOND",
        AIRTABLE_TOKEN_PER_SECOND,
    )?;
    Ok(GatewaySettings {
        cache_ttl: Duration::from_secs(ttl),
        latency_budget: Duration::from_millis(budget_ms),
        airtable_limits: RateLimits::per_second(base_per_second, token_per_second),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_bounds_the_variables() {
        let settings = gateway_settings(&Env::from_pairs([
            ("RECORDS_CACHE_TTL_SECONDS", "0"),
            ("GATEWAY_LATENCY_BUDGET_MS", "1500"),
        ]));
        assert_eq!(
            settings.map(|s| (s.cache_ttl, s.latency_budget)),
            Ok((Duration::ZERO, Duration::from_millis(1500)))
        );
        assert_eq!(
            gateway_settings(&Env::from_pairs([])),
            Ok(GatewaySettings::default())
        );
        let unpaced = gateway_settings(&Env::from_pairs([
            ("AIRTABLE_BASE_REQUESTS_PER_SECOND", "0"),
            ("AIRTABLE_TOKEN_REQUESTS_PER_SECOND", "0"),
        ]));
        assert_eq!(unpaced.map(|s| s.airtable_limits.is_unlimited()), Ok(true));
        for (var, value) in [
            ("RECORDS_CACHE_TTL_SECONDS", "3601"),
            ("RECORDS_CACHE_TTL_SECONDS", "-1"),
            ("GATEWAY_LATENCY_BUDGET_MS", "0"),
            ("GATEWAY_LATENCY_BUDGET_MS", "60000"),
        ] {
            let err = gateway_settings(&Env::from_pairs([(var, value)])).err();
            assert_eq!(err.map(|e| e.var), Some(var.to_string()), "{var}={value}");
        }
    }
}
