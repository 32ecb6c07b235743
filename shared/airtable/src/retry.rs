//! When a failed call is tried again, and how long to wait first.
//!
//! The rule that matters: a retry must never duplicate an effect. Reads, updates, upserts and
//! deletes are idempotent (repeating them converges on the same state), so they are retried on
//! the answers Airtable documents as "safe to retry" (429, 502, 503) and on network failures.
//! A create is not idempotent: if Airtable acted on it, a retry makes a second record. So a create
//! is retried only when Airtable has told us, or we know, that it did not act:
//!
//! * the connection failed before the request was sent;
//! * Airtable answered 429 `RATE_LIMIT_REACHED`, which its rate limiter gives *instead of*
//!   processing the request (airtable.js retries creates on 429 for the same reason). Our
//!   limiter then pauses the base (1 s at first, doubling on further 429s up to Airtable's 30 s
//!   lockout; see [`crate::rate_limit`]), and the retry waits for that pause within the caller's
//!   latency budget;
//! * Airtable answered 502, which its error documentation describes as its servers restarting,
//!   with the request "safe to retry";
//! * Airtable answered 503 `RETRIABLE_ERROR`, "Server encountered an error while processing
//!   your request, and it is safe to retry the request".
//!
//! A create that got a 500 or any other 5xx, that timed out, or whose connection broke after it
//! was sent is never retried: Airtable gives no assurance that it did not act, so the caller
//! gets the error and decides (the gateway uses idempotency keys for exactly this).
//!
//! The 502/503 rule trusts those statuses to be Airtable's own. A proxy between us and Airtable
//! that answered 502 or 503 for a request Airtable had already acted on would break it.

use std::time::Duration;

use rand::Rng;

/// How often and how patiently to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, including the first (1 disables retries).
    pub max_attempts: u32,
    /// The back-off ceiling for the first retry; it doubles per retry.
    pub base_backoff: Duration,
    /// The most any single back-off may be.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    /// Five attempts, 250 ms doubling up to 8 s: enough to ride out a restarting Airtable
    /// server, short enough to fit a gateway's latency budget.
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(8),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The "full jitter" back-off before retry number `retry` (1 for the first retry): uniform in
    /// `[0, min(max, base * 2^(retry-1))]`. Full jitter spreads concurrent callers that failed
    /// together, so they do not come back together (AWS architecture blog, "Exponential Backoff
    /// And Jitter"; airtable.js uses the same scheme).
    pub fn backoff(&self, retry: u32) -> Duration {
        let exponent = retry.saturating_sub(1).min(30);
        let ceiling = self
            .base_backoff
            .saturating_mul(1u32 << exponent)
            .min(self.max_backoff);
        let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        if millis == 0 {
            return Duration::ZERO;
        }
        Duration::from_millis(rand::rng().random_range(0..=millis))
    }
}

/// Whether repeating a call could duplicate its effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    /// Reads, updates, upserts, deletes, webhook refreshes: safe to repeat.
    Idempotent,
    /// Creates: repeating one that reached Airtable makes duplicates.
    NotIdempotent,
}

/// What happened to one attempt, as far as the retry decision cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Airtable answered with this error status.
    Status(u16),
    /// The request failed on the wire; `sent` says whether it may have reached Airtable.
    Network { sent: bool },
}

/// Whether an attempt that ended this way may be tried again: 429, 502, 503 and a connection
/// that never opened for every call (Airtable did not act, or says repeating is safe); a failure
/// after sending only for idempotent calls; never 500, other 5xx or 4xx.
pub fn is_retryable(idempotency: Idempotency, outcome: Outcome) -> bool {
    match outcome {
        Outcome::Status(429 | 502 | 503) | Outcome::Network { sent: false } => true,
        Outcome::Network { sent: true } => idempotency == Idempotency::Idempotent,
        Outcome::Status(_) => false,
    }
}

/// Reads a `Retry-After` header: delta-seconds (Airtable's form) or an HTTP date.
pub fn parse_retry_after(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let delta = at.with_timezone(&chrono::Utc) - now;
    Some(delta.to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_are_retried_only_when_airtable_certainly_did_not_act() {
        use Idempotency::*;
        // Airtable did not act (429, no connection) or documents the answer as safe to retry
        // (502, 503 RETRIABLE_ERROR): every call is retried, creates included.
        for outcome in [
            Outcome::Network { sent: false },
            Outcome::Status(429),
            Outcome::Status(502),
            Outcome::Status(503),
        ] {
            assert!(is_retryable(NotIdempotent, outcome), "{outcome:?}");
            assert!(is_retryable(Idempotent, outcome), "{outcome:?}");
        }
        // It may have acted (a timeout or a broken connection after sending): only idempotent
        // calls are repeated.
        assert!(!is_retryable(
            NotIdempotent,
            Outcome::Network { sent: true }
        ));
        assert!(is_retryable(Idempotent, Outcome::Network { sent: true }));
        // No assurance at all (500, other 5xx) or a final answer (4xx): never.
        for status in [500, 501, 504, 400, 404, 422] {
            assert!(
                !is_retryable(NotIdempotent, Outcome::Status(status)),
                "{status}"
            );
            assert!(
                !is_retryable(Idempotent, Outcome::Status(status)),
                "{status}"
            );
        }
    }

    #[test]
    fn backoff_is_jittered_below_a_doubling_capped_ceiling() {
        let policy = RetryPolicy {
            max_attempts: 10,
            base_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(1_000),
        };
        for _ in 0..200 {
            assert!(policy.backoff(1) <= Duration::from_millis(100));
            assert!(policy.backoff(3) <= Duration::from_millis(400));
            assert!(policy.backoff(20) <= Duration::from_millis(1_000));
        }
        let spread: std::collections::HashSet<_> = (0..50).map(|_| policy.backoff(4)).collect();
        assert!(spread.len() > 5, "full jitter should spread delays");
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .map(|t| t.with_timezone(&chrono::Utc))
            .unwrap_or_default();
        assert_eq!(parse_retry_after("30", now), Some(Duration::from_secs(30)));
        assert_eq!(
            parse_retry_after("Thu, 01 Jan 2026 00:00:05 GMT", now),
            Some(Duration::from_secs(5))
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
