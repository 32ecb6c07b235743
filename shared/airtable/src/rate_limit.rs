//! The shared Airtable rate limiter: 5 requests/s per base, 50/s per token, and a 30 s
//! cool-down for a base after any upstream 429, held across every concurrent function instance.
//!
//! # Why spacing (GCRA) rather than per-second window counters
//!
//! Airtable (and our sandbox) may count "5 requests in any 1000 ms", a sliding window. Fixed
//! one-second counters in the table store would let 5 requests through at the end of one window
//! and 5 more at the start of the next: 10 in a few milliseconds, and a 30 s lockout for the
//! whole base. Instead each key (a base, a token) stores one number, its *theoretical arrival
//! time* (TAT): the earliest moment the next request may be sent. A caller reserves the slot
//! `max(now, TAT)` and moves the TAT on by one interval, so requests are spaced at least one
//! interval apart and *any* 1000 ms window holds at most `1000 / interval` of them, whatever
//! the alignment. This is the Generic Cell Rate Algorithm with no burst allowance (a burst
//! allowance would again break the sliding-window guarantee).
//!
//! The intervals carry a safety margin for jitter between our send time and Airtable's
//! arrival time: 205 ms per base (4.88 req/s, 97.6 % of the ceiling) and 20.5 ms per token.
//!
//! # Shared state
//!
//! One item per key in the ephemeral table (`AIRTABLE#RATE#base#<baseId>`, and for the token
//! `AIRTABLE#RATE#token#<sha256 of the token>`: the token itself never leaves memory). A
//! reservation reads both items and writes both in one transaction, conditioned on the versions
//! it read; a concurrent reservation makes the transaction fail and we re-read and try again.
//! The base and token slots must be taken together: reserving them one after the other could
//! hold a base slot we then send later than planned, squeezing the gap to the next request.
//! Items carry a TTL, so idle keys disappear.
//!
//! # Waiting and giving up
//!
//! The caller sleeps until its slot. If the slot lies further away than the caller's latency
//! budget, nothing is reserved and the caller gets [`AirtableError::RateLimited`] with the wait
//! as `retry_after`: our own clear answer instead of a request that would only earn a 429.
//!
//! After an upstream 429 the base's TAT is pushed to `now + 30 s` (or further if Airtable's
//! `Retry-After` says so): Airtable locks the base for 30 s and every request in that time
//! would only extend the punishment.

use std::sync::Arc;
use std::time::Duration;

use basics::Clock;
use ports::{Condition, Item, Key, StoreError, Table, TableStore, TransactOp, Update};
use rand::Rng;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use crate::error::AirtableError;

/// The sort key of every limiter item.
const SK: &str = "GCRA";
/// The attribute holding the theoretical arrival time, in epoch microseconds.
const TAT: &str = "tat_us";
/// How long an idle key's item lives after its TAT (epoch seconds TTL).
const TTL_AFTER_TAT_SECS: i64 = 120;
/// How often to re-read and retry when a concurrent caller changed the state first. Eight
/// callers contending for one base resolve in a few rounds; the bound only stops a livelock.
const MAX_CONFLICT_RETRIES: u32 = 200;

/// The pacing the limiter enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// The least time between two requests to one base.
    pub base_interval: Duration,
    /// The least time between two requests with one token.
    pub token_interval: Duration,
    /// How long a base is left alone after an upstream 429.
    pub cooldown: Duration,
}

impl RateLimits {
    /// Airtable's limits (5/s per base, 50/s per token, 30 s lockout) with a 2.5 % margin.
    pub fn airtable() -> Self {
        Self {
            base_interval: Duration::from_micros(205_000),
            token_interval: Duration::from_micros(20_500),
            cooldown: Duration::from_secs(30),
        }
    }
}

impl Default for RateLimits {
    fn default() -> Self {
        Self::airtable()
    }
}

/// The limiter. Cheap to clone; every clone and every process sharing the store share limits.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    store: Arc<dyn TableStore>,
    clock: Arc<dyn Clock>,
    limits: RateLimits,
}

/// What the limiter needs to know about a request.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// The base the request touches; `None` for token-wide calls (list bases, whoami).
    pub base_id: Option<&'a str>,
    /// The token's key from [`RateLimiter::token_key`].
    pub token_key: &'a str,
}

/// One key's stored state as read.
struct Slot {
    key: Key,
    tat_us: i64,
    version: Option<i64>,
    interval_us: i64,
}

impl RateLimiter {
    /// A limiter with Airtable's limits.
    pub fn new(store: Arc<dyn TableStore>, clock: Arc<dyn Clock>) -> Self {
        Self::with_limits(store, clock, RateLimits::airtable())
    }

    pub fn with_limits(
        store: Arc<dyn TableStore>,
        clock: Arc<dyn Clock>,
        limits: RateLimits,
    ) -> Self {
        Self {
            store,
            clock,
            limits,
        }
    }

    pub fn limits(&self) -> RateLimits {
        self.limits
    }

    /// The stable, non-secret name of a token's limit: the hex SHA-256 of the token.
    pub fn token_key(token: &SecretString) -> String {
        basics::digest::sha256_hex(token.expose_secret())
    }

    /// Reserves the next slot for a request and returns how long to wait for it, or
    /// [`AirtableError::RateLimited`] (reserving nothing) if that is longer than `budget`.
    pub async fn reserve(
        &self,
        subject: Subject<'_>,
        budget: Duration,
    ) -> Result<Duration, AirtableError> {
        for _ in 0..MAX_CONFLICT_RETRIES {
            let now_us = self.now_us();
            let mut slots = Vec::with_capacity(2);
            if let Some(base_id) = subject.base_id {
                slots.push(
                    self.read(base_key(base_id), self.limits.base_interval)
                        .await?,
                );
            }
            slots.push(
                self.read(token_key(subject.token_key), self.limits.token_interval)
                    .await?,
            );
            let slot_us = slots.iter().map(|s| s.tat_us).fold(now_us, i64::max);
            let wait = micros_to_duration(slot_us - now_us);
            if wait > budget {
                return Err(AirtableError::RateLimited { retry_after: wait });
            }
            let ops = slots
                .iter()
                .map(|s| advance(s, slot_us + s.interval_us))
                .collect();
            match self.store.transact_write(ops).await {
                Ok(()) => return Ok(wait),
                Err(err) if err.is_condition_failure() => contention_pause().await,
                Err(err) => return Err(limiter_error(err)),
            }
        }
        Err(AirtableError::Limiter(
            "too much contention on the rate-limit state".to_string(),
        ))
    }

    /// Reserves a slot and sleeps until it comes.
    pub async fn acquire(
        &self,
        subject: Subject<'_>,
        budget: Duration,
    ) -> Result<(), AirtableError> {
        let wait = self.reserve(subject, budget).await?;
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        Ok(())
    }

    /// Holds a base back after Airtable answered 429: no slot before `now + max(cooldown,
    /// retry_after)`. Never moves the TAT backwards.
    pub async fn cool_down(
        &self,
        base_id: &str,
        retry_after: Option<Duration>,
    ) -> Result<(), AirtableError> {
        let pause = retry_after.map_or(self.limits.cooldown, |r| r.max(self.limits.cooldown));
        for _ in 0..MAX_CONFLICT_RETRIES {
            let slot = self
                .read(base_key(base_id), self.limits.base_interval)
                .await?;
            let until_us = self.now_us() + duration_to_micros(pause);
            if slot.tat_us >= until_us {
                return Ok(());
            }
            let TransactOp::Update {
                key,
                update,
                condition,
                ..
            } = advance(&slot, until_us)
            else {
                return Err(AirtableError::Limiter("unexpected operation".to_string()));
            };
            match self
                .store
                .update(Table::Ephemeral, &key, update, condition)
                .await
            {
                Ok(_) => {
                    tracing::warn!(
                        base_id,
                        pause_ms = pause.as_millis() as u64,
                        "Airtable base cooling down after a 429"
                    );
                    return Ok(());
                }
                Err(err) if err.is_condition_failure() => contention_pause().await,
                Err(err) => return Err(limiter_error(err)),
            }
        }
        Err(AirtableError::Limiter(
            "too much contention on the rate-limit state".to_string(),
        ))
    }

    /// How long until a base's next free slot (zero when it is free now), without reserving.
    pub async fn base_wait(&self, base_id: &str) -> Result<Duration, AirtableError> {
        let slot = self
            .read(base_key(base_id), self.limits.base_interval)
            .await?;
        Ok(micros_to_duration(slot.tat_us - self.now_us()))
    }

    fn now_us(&self) -> i64 {
        self.clock.now().timestamp_micros()
    }

    async fn read(&self, key: Key, interval: Duration) -> Result<Slot, AirtableError> {
        let item = self
            .store
            .get(Table::Ephemeral, &key)
            .await
            .map_err(limiter_error)?;
        let (tat_us, version) = match &item {
            Some(item) => (
                int_attr(item, TAT),
                Some(int_attr(item, ports::table_store::VERSION)),
            ),
            None => (0, None),
        };
        Ok(Slot {
            key,
            tat_us,
            version,
            interval_us: duration_to_micros(interval),
        })
    }
}

/// The write that moves a key's TAT to `tat_us`, conditioned on the state we read.
fn advance(slot: &Slot, tat_us: i64) -> TransactOp {
    let condition = match slot.version {
        Some(version) => Condition::VersionEquals(version),
        None => Condition::NotExists,
    };
    let expires_at = tat_us.div_euclid(1_000_000) + TTL_AFTER_TAT_SECS;
    TransactOp::Update {
        table: Table::Ephemeral,
        key: slot.key.clone(),
        update: Update::new()
            .set(TAT, tat_us)
            .set(ports::table_store::EXPIRES_AT, expires_at)
            .add(ports::table_store::VERSION, 1),
        condition: Some(condition),
    }
}

fn base_key(base_id: &str) -> Key {
    Key::new(format!("AIRTABLE#RATE#base#{base_id}"), SK)
}

fn token_key(token_key: &str) -> Key {
    Key::new(format!("AIRTABLE#RATE#token#{token_key}"), SK)
}

fn int_attr(item: &Item, name: &str) -> i64 {
    match item.get(name) {
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .unwrap_or(0),
        _ => 0,
    }
}

fn limiter_error(err: StoreError) -> AirtableError {
    AirtableError::Limiter(err.to_string())
}

/// A short random pause before re-reading after losing a race, so racing callers fan out.
async fn contention_pause() {
    let micros = rand::rng().random_range(0..2_000u64);
    tokio::time::sleep(Duration::from_micros(micros)).await;
}

fn duration_to_micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX / 4)
}

fn micros_to_duration(us: i64) -> Duration {
    Duration::from_micros(u64::try_from(us).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use basics::ManualClock;

    fn limiter(clock: &ManualClock) -> RateLimiter {
        let db = embedded::Database::in_memory().unwrap();
        let clock: Arc<dyn Clock> = Arc::new(clock.clone());
        let store: Arc<dyn TableStore> = Arc::new(embedded::SqliteStore::new(db, clock.clone()));
        RateLimiter::new(store, clock)
    }

    fn subject<'a>(base: &'a str, token: &'a str) -> Subject<'a> {
        Subject {
            base_id: Some(base),
            token_key: token,
        }
    }

    const BUDGET: Duration = Duration::from_secs(10);

    #[tokio::test]
    async fn spaces_requests_to_one_base_by_the_interval() {
        let clock = ManualClock::starting_now();
        let limiter = limiter(&clock);
        let mut waits = Vec::new();
        for _ in 0..6 {
            waits.push(
                limiter
                    .reserve(subject("appA", "tok"), BUDGET)
                    .await
                    .unwrap(),
            );
        }
        let ms: Vec<u128> = waits.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, vec![0, 205, 410, 615, 820, 1025]);
        // Any 1000 ms window holds at most 5 slots.
        assert!(waits[5] - waits[0] >= Duration::from_millis(1000));
    }

    #[tokio::test]
    async fn another_base_is_independent_but_the_token_is_shared() {
        let clock = ManualClock::starting_now();
        let limiter = limiter(&clock);
        limiter
            .reserve(subject("appA", "tok"), BUDGET)
            .await
            .unwrap();
        let other_base = limiter
            .reserve(subject("appB", "tok"), BUDGET)
            .await
            .unwrap();
        assert_eq!(other_base, Duration::from_micros(20_500));
        let other_token = limiter
            .reserve(subject("appC", "tok2"), BUDGET)
            .await
            .unwrap();
        assert_eq!(other_token, Duration::ZERO);
    }

    #[tokio::test]
    async fn the_token_limit_holds_across_bases() {
        let clock = ManualClock::starting_now();
        let limiter = limiter(&clock);
        let mut last = Duration::ZERO;
        for i in 0..60 {
            let base = format!("app{i}");
            last = limiter
                .reserve(subject(&base, "tok"), BUDGET)
                .await
                .unwrap();
        }
        // 60 requests need 59 token intervals.
        assert_eq!(last, Duration::from_micros(59 * 20_500));
    }

    #[tokio::test]
    async fn past_the_budget_it_refuses_without_reserving() {
        let clock = ManualClock::starting_now();
        let limiter = limiter(&clock);
        let budget = Duration::from_millis(500);
        for _ in 0..3 {
            limiter
                .reserve(subject("appA", "tok"), budget)
                .await
                .unwrap();
        }
        let err = limiter.reserve(subject("appA", "tok"), budget).await;
        assert_eq!(
            err,
            Err(AirtableError::RateLimited {
                retry_after: Duration::from_millis(615)
            })
        );
        // Nothing was reserved: the next slot is still 615 ms away.
        assert_eq!(
            limiter.base_wait("appA").await.unwrap(),
            Duration::from_millis(615)
        );
        clock.advance(chrono::Duration::milliseconds(615));
        assert_eq!(
            limiter
                .reserve(subject("appA", "tok"), budget)
                .await
                .unwrap(),
            Duration::ZERO
        );
    }

    #[tokio::test]
    async fn a_429_cools_the_base_down_for_30_seconds() {
        let clock = ManualClock::starting_now();
        let limiter = limiter(&clock);
        limiter
            .reserve(subject("appA", "tok"), BUDGET)
            .await
            .unwrap();
        limiter.cool_down("appA", None).await.unwrap();
        let err = limiter.reserve(subject("appA", "tok"), BUDGET).await;
        assert_eq!(
            err,
            Err(AirtableError::RateLimited {
                retry_after: Duration::from_secs(30)
            })
        );
        // Other bases are unaffected.
        assert!(
            limiter
                .reserve(subject("appB", "tok"), BUDGET)
                .await
                .is_ok()
        );
        // A longer Retry-After wins; the cool-down never moves the TAT back.
        limiter
            .cool_down("appA", Some(Duration::from_secs(45)))
            .await
            .unwrap();
        limiter.cool_down("appA", None).await.unwrap();
        assert_eq!(
            limiter.base_wait("appA").await.unwrap(),
            Duration::from_secs(45)
        );
        clock.advance(chrono::Duration::seconds(45));
        assert_eq!(
            limiter
                .reserve(subject("appA", "tok"), BUDGET)
                .await
                .unwrap(),
            Duration::ZERO
        );
    }

    #[tokio::test]
    async fn concurrent_callers_get_distinct_spaced_slots() {
        let clock = ManualClock::starting_now();
        let limiter = limiter(&clock);
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let limiter = limiter.clone();
            tasks.push(tokio::spawn(async move {
                let mut waits = Vec::new();
                for _ in 0..5 {
                    waits.push(
                        limiter
                            .reserve(subject("appA", "tok"), Duration::from_secs(60))
                            .await
                            .unwrap(),
                    );
                }
                waits
            }));
        }
        let mut all = Vec::new();
        for task in tasks {
            all.extend(task.await.unwrap());
        }
        all.sort();
        let expected: Vec<Duration> = (0..40)
            .map(|i| Duration::from_micros(i * 205_000))
            .collect();
        assert_eq!(all, expected);
    }

    #[test]
    fn the_token_key_is_a_hash_not_the_token() {
        let key = RateLimiter::token_key(&SecretString::from("patABC.secret"));
        assert_eq!(key.len(), 64);
        assert!(!key.contains("secret"));
    }
}
