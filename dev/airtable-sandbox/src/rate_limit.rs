//! Airtable's rate limits: 5 requests per second per base, 50 per second per token, and a 30 s
//! lockout after a violation. Windows are fixed 1-second windows that open at the first request
//! after the previous one closed, so a client that never sends more than N requests in any
//! 1000 ms span is never refused (a fixed window is never stricter than a sliding one). Windows
//! are shortened by a small `grace` so that network and scheduling jitter between the client's
//! clock and ours cannot turn a correctly paced client into a violator.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Limits, tunable so tests can trigger them quickly and benchmarks can switch them off.
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimits {
    pub enabled: bool,
    pub per_base: u32,
    pub per_token: u32,
    pub window: Duration,
    /// Subtracted from `window` when counting, to absorb arrival jitter.
    pub grace: Duration,
    pub lockout: Duration,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            enabled: true,
            per_base: 5,
            per_token: 50,
            window: Duration::from_secs(1),
            grace: Duration::from_millis(100),
            lockout: Duration::from_secs(30),
        }
    }
}

impl RateLimits {
    pub fn disabled() -> Self {
        Self {
            enabled: false,
            ..Self::default()
        }
    }

    fn counted_window(&self) -> Duration {
        self.window.saturating_sub(self.grace).max(self.window / 2)
    }
}

#[derive(Debug, Default)]
struct Bucket {
    window_start: Option<Instant>,
    count: u32,
    locked_until: Option<Instant>,
}

impl Bucket {
    /// Counts one request; false when it is refused (and starts or continues a lockout).
    fn admit(&mut self, now: Instant, limit: u32, limits: &RateLimits) -> bool {
        if let Some(until) = self.locked_until {
            if now < until {
                return false;
            }
            self.locked_until = None;
            self.window_start = None;
        }
        match self.window_start {
            Some(start) if now.duration_since(start) < limits.counted_window() => {}
            _ => {
                self.window_start = Some(now);
                self.count = 0;
            }
        }
        if self.count >= limit {
            self.locked_until = Some(now + limits.lockout);
            return false;
        }
        self.count += 1;
        true
    }

    fn would_admit(&self, now: Instant, limit: u32, limits: &RateLimits) -> bool {
        match self.locked_until {
            Some(until) if now < until => return false,
            // An expired lockout starts a fresh window.
            Some(_) => return true,
            None => {}
        }
        match self.window_start {
            Some(start) if now.duration_since(start) < limits.counted_window() => {
                self.count < limit
            }
            _ => true,
        }
    }
}

/// Buckets per base and per token.
#[derive(Debug, Default)]
pub struct RateLimiter {
    bases: HashMap<String, Bucket>,
    tokens: HashMap<String, Bucket>,
}

impl RateLimiter {
    /// Admits or refuses one request. A refused request does not use up budget on the other key,
    /// but it does lock out the key it broke.
    pub fn check(
        &mut self,
        limits: &RateLimits,
        token: &str,
        base: Option<&str>,
        now: Instant,
    ) -> bool {
        if !limits.enabled {
            return true;
        }
        let token_ok = self
            .tokens
            .get(token)
            .is_none_or(|b| b.would_admit(now, limits.per_token, limits));
        let base_ok = base.is_none_or(|id| {
            self.bases
                .get(id)
                .is_none_or(|b| b.would_admit(now, limits.per_base, limits))
        });
        if token_ok && base_ok {
            self.tokens
                .entry(token.to_string())
                .or_default()
                .admit(now, limits.per_token, limits);
            if let Some(id) = base {
                self.bases
                    .entry(id.to_string())
                    .or_default()
                    .admit(now, limits.per_base, limits);
            }
            return true;
        }
        // Record the violation on whichever key was over, which starts its lockout.
        if !token_ok {
            self.tokens
                .entry(token.to_string())
                .or_default()
                .admit(now, limits.per_token, limits);
        }
        if !base_ok && let Some(id) = base {
            self.bases
                .entry(id.to_string())
                .or_default()
                .admit(now, limits.per_base, limits);
        }
        false
    }

    pub fn clear(&mut self) {
        self.bases.clear();
        self.tokens.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> RateLimits {
        RateLimits {
            lockout: Duration::from_secs(30),
            ..RateLimits::default()
        }
    }

    #[test]
    fn five_per_second_then_lockout() {
        let mut rl = RateLimiter::default();
        let t0 = Instant::now();
        for _ in 0..5 {
            assert!(rl.check(&limits(), "tok", Some("app1"), t0));
        }
        assert!(!rl.check(&limits(), "tok", Some("app1"), t0));
        // Locked out even after the window has passed.
        assert!(!rl.check(&limits(), "tok", Some("app1"), t0 + Duration::from_secs(2)));
        // Another base is unaffected.
        assert!(rl.check(&limits(), "tok", Some("app2"), t0 + Duration::from_secs(2)));
        assert!(rl.check(&limits(), "tok", Some("app1"), t0 + Duration::from_secs(31)));
    }

    #[test]
    fn steady_five_per_second_is_never_refused() {
        let mut rl = RateLimiter::default();
        let t0 = Instant::now();
        for i in 0..100u64 {
            assert!(
                rl.check(
                    &limits(),
                    "tok",
                    Some("app1"),
                    t0 + Duration::from_millis(i * 200)
                ),
                "request {i}"
            );
        }
    }

    #[test]
    fn token_limit_spans_bases() {
        let mut rl = RateLimiter::default();
        let l = RateLimits {
            per_token: 3,
            ..limits()
        };
        let t0 = Instant::now();
        assert!(rl.check(&l, "tok", Some("a"), t0));
        assert!(rl.check(&l, "tok", Some("b"), t0));
        assert!(rl.check(&l, "tok", Some("c"), t0));
        assert!(!rl.check(&l, "tok", Some("d"), t0));
        assert!(rl.check(&l, "other", Some("d"), t0));
    }
}
