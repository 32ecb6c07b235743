//! The shared Airtable rate limiter: 5 requests/s per base, 50/s per token, and an escalating
//! cool-down for a base after upstream 429s, held across every concurrent function instance.
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
//! [`RateLimits::per_second`] builds other limits with the same margin, and
//! [`RateLimits::unlimited`] switches the limiter off; against Airtable itself only
//! [`RateLimits::airtable`] is right (anything faster earns lockouts, anything slower wastes
//! throughput).
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
//! # After an upstream 429: an escalating pause
//!
//! Airtable answers 429 when a base (or token) went over its limit and asks clients to "wait 30
//! seconds". But a 429 does not say whether a 30 s lockout is running or the limit was brushed
//! once (another client of the base, arrival jitter), and a flat 30 s pause is longer than any
//! latency budget a gateway can offer (API Gateway cuts at 30 s; ours is about 20 s), so every
//! single 429 would become an error for the caller. So [`RateLimiter::cool_down`] pauses the
//! base (pushes its TAT) by a pause that grows with each *strike*:
//!
//! * the first 429 on a base pauses it [`RateLimits::first_cooldown`] (1 s);
//! * each further 429 while strikes are recent doubles the pause: 1, 2, 4, 8, 16 s, then the
//!   configured [`RateLimits::cooldown`] (30 s, Airtable's lockout) for every later one;
//! * strikes are forgotten once the last 429 on the base is more than [`STRIKE_MEMORY`] (60 s,
//!   twice the lockout) old, so the next 429 starts again at 1 s;
//! * a `Retry-After` from Airtable is honoured: the pause lasts at least that long.
//!
//! Against a transient 429 the caller waits 1 s and gets its answer instead of an error. Against
//! a real 30 s lockout that began with our first 429, the base is probed at 1, 3, 7 and 15 s (four
//! extra 429s) and then at 31 s, which is about 1 s after the lockout ends; had it begun earlier
//! (someone else's traffic), the first probe after its end resumes, which is never more than 1 s
//! later than a flat 30 s pause would have been and sooner whenever the lockout ends before 15 s.
//! Airtable documents no extension of a lockout by requests made during it (the sandbox
//! extends none); if it did extend them, the probes would cost more than the ~5 extra 429s
//! counted here. A caller caught by a real lockout now waits for those probes (up to its retry
//! attempts and latency budget) before it gets its error, rather than getting it at once.
//!
//! ## How 429s are counted
//!
//! The strike count, the time of the last 429 and the end of the current pause live on the
//! base's limiter item, written with the same version condition as reservations (a concurrent
//! writer makes ours fail, and we re-read and decide again), so no strike is lost and no pause
//! is ever replaced by a shorter one. A 429 that arrives *while a pause is running* does not
//! count as a new strike: it answers a request whose slot was reserved before the pause began
//! (several requests are usually in flight when the first 429 comes back), and counting each of
//! them would turn one transient 429 under concurrency into a pause of many seconds. It still
//! extends the pause if it carries a longer `Retry-After`. A 429 that arrives after the pause
//! ended answers a probe, and escalates.

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
/// The attribute holding how many 429s in a row the base has had (see the module docs).
const STRIKES: &str = "strikes";
/// The attribute holding when the base last got a 429, in epoch microseconds.
const LAST_429: &str = "last_429_us";
/// The attribute holding when the current post-429 pause ends, in epoch microseconds.
const COOL_UNTIL: &str = "cool_until_us";
/// How long a base's 429 strikes are remembered after its last 429: twice Airtable's 30 s
/// lockout, so a 429 after a quiet minute belongs to a new episode and pauses only
/// [`RateLimits::first_cooldown`] again.
pub const STRIKE_MEMORY: Duration = Duration::from_secs(60);
/// Airtable's request rates: 5 requests/s per base, 50/s per token.
const AIRTABLE_PER_BASE: u32 = 5;
const AIRTABLE_PER_TOKEN: u32 = 50;
/// The safety margin on intervals, in thousandths: 2.5 % longer than the bare `1 s / rate`.
const MARGIN_PER_MILLE: u64 = 25;
/// How often to re-read and retry when a concurrent caller changed the state first. Eight
/// callers contending for one base resolve in a few rounds; the bound only stops a livelock.
const MAX_CONFLICT_RETRIES: u32 = 200;

/// The pacing the limiter enforces.
///
/// Only [`RateLimits::airtable`] (the default) is right against Airtable itself. The other
/// constructors are for a sandbox whose limits differ or are off, and for benchmarks that
/// measure the client's own overhead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// The least time between two requests to one base (zero: no spacing per base).
    pub base_interval: Duration,
    /// The least time between two requests with one token (zero: no spacing per token).
    pub token_interval: Duration,
    /// How long a base is left alone after its first upstream 429; each further 429 while
    /// strikes are recent doubles the pause, up to [`RateLimits::cooldown`].
    pub first_cooldown: Duration,
    /// The longest pause after repeated 429s: Airtable's lockout.
    pub cooldown: Duration,
}

impl RateLimits {
    /// Airtable's limits (5/s per base, 50/s per token) with a 2.5 % margin (205 ms and
    /// 20.5 ms), pausing a base 1 s after a first 429 and up to 30 s (Airtable's lockout) after
    /// repeated ones.
    pub fn airtable() -> Self {
        Self::per_second(AIRTABLE_PER_BASE, AIRTABLE_PER_TOKEN)
    }

    /// Limits of `base` requests per second per base and `token` per second per token, with the
    /// same 2.5 % margin as [`RateLimits::airtable`] (5 gives 205 ms, 50 gives 20.5 ms) and
    /// Airtable's cool-downs. 0 means no limit on that key; 0 for both is
    /// [`RateLimits::unlimited`]. Against Airtable anything but its real limits (5, 50) is
    /// wrong: faster earns 30 s lockouts, slower wastes throughput.
    pub fn per_second(base: u32, token: u32) -> Self {
        Self {
            base_interval: interval_for(base),
            token_interval: interval_for(token),
            first_cooldown: Duration::from_secs(1),
            cooldown: Duration::from_secs(30),
        }
    }

    /// No limits at all: [`RateLimiter::reserve`] and [`RateLimiter::acquire`] return at once
    /// without touching the store, and [`RateLimiter::cool_down`] records nothing. For a sandbox
    /// with its limits off, and for benchmarks measuring overhead; never for Airtable itself.
    pub fn unlimited() -> Self {
        Self::per_second(0, 0)
    }

    /// Whether these limits switch the limiter off (both intervals zero).
    pub fn is_unlimited(&self) -> bool {
        self.base_interval.is_zero() && self.token_interval.is_zero()
    }

    /// The pause after the `strike`-th 429 in a row (1 for the first):
    /// `first_cooldown * 2^(strike-1)`, at most `cooldown`; zero for strike 0.
    pub fn pause_for_strike(&self, strike: u32) -> Duration {
        if strike == 0 {
            return Duration::ZERO;
        }
        let doublings = (strike - 1).min(30);
        self.first_cooldown
            .saturating_mul(1u32 << doublings)
            .min(self.cooldown)
    }
}

/// `1 s / rate` plus the margin, rounded up to the microsecond; zero for a rate of 0.
fn interval_for(per_second: u32) -> Duration {
    if per_second == 0 {
        return Duration::ZERO;
    }
    // 1 s = 1_000_000 µs; times (1000 + margin) / 1000.
    let micros = ((1_000 + MARGIN_PER_MILLE) * 1_000).div_ceil(u64::from(per_second));
    Duration::from_micros(micros)
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

/// A reserved slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Reservation {
    /// How long to wait for it.
    pub wait: Duration,
    /// Whether the base had 429 strikes on record when it was reserved.
    pub base_struck: bool,
}

/// One key's stored state as read.
struct Slot {
    key: Key,
    tat_us: i64,
    version: Option<i64>,
    interval_us: i64,
    strikes: Strikes,
}

/// A base's record of upstream 429s (all zero for a key that never had one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Strikes {
    /// 429s in a row, counting one per pause (see the module docs).
    count: u32,
    /// When the last 429 came, in epoch microseconds.
    last_429_us: i64,
    /// When the pause the last strike started ends, in epoch microseconds.
    cool_until_us: i64,
}

impl Strikes {
    /// The state after a 429 at `now_us`.
    fn after_429(self, limits: &RateLimits, now_us: i64, retry_after: Option<Duration>) -> Self {
        let retry_after_us = retry_after.map_or(0, duration_to_micros);
        if self.count > 0 && now_us < self.cool_until_us {
            // Inside a running pause: the answer to a request reserved before it began, the
            // same strike. Only a longer Retry-After moves the end.
            return Self {
                count: self.count,
                last_429_us: now_us,
                cool_until_us: self
                    .cool_until_us
                    .max(now_us.saturating_add(retry_after_us)),
            };
        }
        let recent = self.count > 0
            && now_us.saturating_sub(self.last_429_us) <= duration_to_micros(STRIKE_MEMORY);
        let count = if recent {
            self.count.saturating_add(1)
        } else {
            1
        };
        let pause_us = duration_to_micros(limits.pause_for_strike(count)).max(retry_after_us);
        Self {
            count,
            last_429_us: now_us,
            cool_until_us: now_us.saturating_add(pause_us),
        }
    }
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
        self.reserve_slot(subject, budget)
            .await
            .map(|reservation| reservation.wait)
    }

    /// [`RateLimiter::reserve`], also saying whether the base has 429 strikes on record (so a
    /// success can forgive them, see [`RateLimiter::forgive`]).
    pub async fn reserve_slot(
        &self,
        subject: Subject<'_>,
        budget: Duration,
    ) -> Result<Reservation, AirtableError> {
        if self.limits.is_unlimited() {
            return Ok(Reservation::default());
        }
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
            let base_struck = subject.base_id.is_some() && slots[0].strikes.count > 0;
            let ops = slots
                .iter()
                .map(|s| advance(s, slot_us + s.interval_us))
                .collect();
            match self.store.transact_write(ops).await {
                Ok(()) => return Ok(Reservation { wait, base_struck }),
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
    ) -> Result<Reservation, AirtableError> {
        if self.limits.is_unlimited() {
            return Ok(Reservation::default());
        }
        let reservation = self.reserve_slot(subject, budget).await?;
        if !reservation.wait.is_zero() {
            tokio::time::sleep(reservation.wait).await;
        }
        Ok(reservation)
    }

    /// Forgets a base's 429 strikes after Airtable answered one of its requests: the lockout
    /// (or the transient 429) is over, so the next 429 starts again at the first, short pause
    /// instead of escalating from strikes of an episode that has ended. Best effort: a
    /// concurrent change wins, and a failure only means the strikes stay until they age out.
    pub async fn forgive(&self, base_id: &str) {
        if self.limits.is_unlimited() {
            return;
        }
        let Ok(slot) = self
            .read(base_key(base_id), self.limits.base_interval)
            .await
        else {
            return;
        };
        if slot.strikes.count == 0 || self.now_us() < slot.strikes.cool_until_us {
            return;
        }
        let update = Update::new()
            .set(STRIKES, 0)
            .add(ports::table_store::VERSION, 1);
        if let Err(err) = self
            .store
            .update(Table::Ephemeral, &slot.key, update, Some(condition(&slot)))
            .await
            && !err.is_condition_failure()
        {
            tracing::debug!(error = %err, base_id, "could not forgive a base's 429 strikes");
        }
    }

    /// Holds a base back after Airtable answered 429: counts the strike and pushes the base's
    /// next slot to the end of the escalating pause (1, 2, 4, 8, 16 s, then `cooldown`; at least
    /// `retry_after`), as the module docs explain. Never moves the TAT backwards. Does nothing
    /// when the limits are [`RateLimits::unlimited`].
    pub async fn cool_down(
        &self,
        base_id: &str,
        retry_after: Option<Duration>,
    ) -> Result<(), AirtableError> {
        if self.limits.is_unlimited() {
            return Ok(());
        }
        for _ in 0..MAX_CONFLICT_RETRIES {
            let slot = self
                .read(base_key(base_id), self.limits.base_interval)
                .await?;
            let now_us = self.now_us();
            let strikes = slot.strikes.after_429(&self.limits, now_us, retry_after);
            let tat_us = slot.tat_us.max(strikes.cool_until_us);
            let update = Update::new()
                .set(TAT, tat_us)
                .set(STRIKES, strikes.count)
                .set(LAST_429, strikes.last_429_us)
                .set(COOL_UNTIL, strikes.cool_until_us)
                .set(ports::table_store::EXPIRES_AT, expiry(tat_us))
                .add(ports::table_store::VERSION, 1);
            match self
                .store
                .update(Table::Ephemeral, &slot.key, update, Some(condition(&slot)))
                .await
            {
                Ok(_) => {
                    if strikes.count != slot.strikes.count
                        || strikes.cool_until_us != slot.strikes.cool_until_us
                    {
                        tracing::warn!(
                            base_id,
                            strikes = strikes.count,
                            pause_ms = (strikes.cool_until_us - now_us) / 1_000,
                            "Airtable base cooling down after a 429"
                        );
                    }
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
        if self.limits.is_unlimited() {
            return Ok(Duration::ZERO);
        }
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
        let (tat_us, version, strikes) = match &item {
            Some(item) => (
                int_attr(item, TAT),
                Some(int_attr(item, ports::table_store::VERSION)),
                Strikes {
                    count: u32::try_from(int_attr(item, STRIKES).max(0)).unwrap_or(u32::MAX),
                    last_429_us: int_attr(item, LAST_429),
                    cool_until_us: int_attr(item, COOL_UNTIL),
                },
            ),
            None => (0, None, Strikes::default()),
        };
        Ok(Slot {
            key,
            tat_us,
            version,
            interval_us: duration_to_micros(interval),
            strikes,
        })
    }
}

/// The write that moves a key's TAT to `tat_us`, conditioned on the state we read. Other
/// attributes (a base's strikes) are left as they are.
fn advance(slot: &Slot, tat_us: i64) -> TransactOp {
    TransactOp::Update {
        table: Table::Ephemeral,
        key: slot.key.clone(),
        update: Update::new()
            .set(TAT, tat_us)
            .set(ports::table_store::EXPIRES_AT, expiry(tat_us))
            .add(ports::table_store::VERSION, 1),
        condition: Some(condition(slot)),
    }
}

/// The condition that the key is still as we read it.
fn condition(slot: &Slot) -> Condition {
    match slot.version {
        Some(version) => Condition::VersionEquals(version),
        None => Condition::NotExists,
    }
}

/// The TTL (epoch seconds) of an item whose TAT is `tat_us`. A base's TAT is never before its
/// last 429, so its strikes outlive [`STRIKE_MEMORY`].
fn expiry(tat_us: i64) -> i64 {
    tat_us.div_euclid(1_000_000) + TTL_AFTER_TAT_SECS
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
    use ports::failing_store::FailingStore;

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

    /// The limiter on `clock` with `limits`.
    fn limiter_with(clock: &ManualClock, limits: RateLimits) -> RateLimiter {
        let db = embedded::Database::in_memory().unwrap();
        let clock: Arc<dyn Clock> = Arc::new(clock.clone());
        let store: Arc<dyn TableStore> = Arc::new(embedded::SqliteStore::new(db, clock.clone()));
        RateLimiter::with_limits(store, clock, limits)
    }

    fn advance(clock: &ManualClock, by: Duration) {
        clock.advance(chrono::Duration::from_std(by).unwrap());
    }

    #[tokio::test]
    async fn a_429_cools_only_its_base_down_and_never_moves_a_slot_back() {
        let clock = ManualClock::starting_now();
        let limiter = limiter(&clock);
        limiter
            .reserve(subject("appA", "tok"), BUDGET)
            .await
            .unwrap();
        limiter.cool_down("appA", None).await.unwrap();
        let err = limiter
            .reserve(subject("appA", "tok"), Duration::from_millis(500))
            .await;
        assert_eq!(
            err,
            Err(AirtableError::RateLimited {
                retry_after: Duration::from_secs(1)
            })
        );
        // Other bases are unaffected.
        assert_eq!(
            limiter
                .reserve(subject("appB", "tok"), BUDGET)
                .await
                .unwrap(),
            Duration::from_micros(20_500)
        );
        // Slots already queued past the pause stay where they are.
        advance(&clock, Duration::from_secs(1));
        for _ in 0..20 {
            limiter
                .reserve(subject("appC", "tok2"), Duration::from_secs(60))
                .await
                .unwrap();
        }
        let queued = limiter.base_wait("appC").await.unwrap();
        assert_eq!(queued, Duration::from_millis(20 * 205));
        limiter.cool_down("appC", None).await.unwrap();
        assert_eq!(limiter.base_wait("appC").await.unwrap(), queued);
        advance(&clock, Duration::from_secs(1));
        assert_eq!(
            limiter
                .reserve(subject("appA", "tok"), BUDGET)
                .await
                .unwrap(),
            Duration::ZERO
        );
    }

    /// Strikes 429s on `base`, each once the previous pause is over, and returns the pauses.
    async fn strike_pauses(
        limiter: &RateLimiter,
        clock: &ManualClock,
        base: &str,
        strikes: usize,
    ) -> Vec<u64> {
        let mut pauses = Vec::new();
        for _ in 0..strikes {
            limiter.cool_down(base, None).await.unwrap();
            let pause = limiter.base_wait(base).await.unwrap();
            pauses.push(pause.as_secs());
            advance(clock, pause);
        }
        pauses
    }

    #[tokio::test]
    async fn pauses_after_429s_escalate_from_one_second_to_the_lockout() {
        let clock = ManualClock::starting_now();
        let limiter = limiter(&clock);
        assert_eq!(
            strike_pauses(&limiter, &clock, "appA", 7).await,
            vec![1, 2, 4, 8, 16, 30, 30]
        );
        // The token's slot is untouched by a base's cool-down.
        assert_eq!(
            limiter
                .reserve(subject("appB", "tok"), BUDGET)
                .await
                .unwrap(),
            Duration::ZERO
        );
    }

    #[tokio::test]
    async fn a_success_after_the_pause_forgives_the_strikes() {
        let clock = ManualClock::starting_now();
        let limiter = limiter(&clock);
        assert_eq!(
            strike_pauses(&limiter, &clock, "appA", 3).await,
            vec![1, 2, 4]
        );
        // The pause is over: a reservation sees the strikes, and a success forgives them.
        let reservation = limiter
            .reserve_slot(subject("appA", "tok"), BUDGET)
            .await
            .unwrap();
        assert!(reservation.base_struck);
        limiter.forgive("appA").await;
        let reservation = limiter
            .reserve_slot(subject("appA", "tok"), BUDGET)
            .await
            .unwrap();
        assert!(!reservation.base_struck);
        assert_eq!(strike_pauses(&limiter, &clock, "appA", 1).await, vec![1]);
        // Inside a running pause nothing is forgiven: the next 429 still escalates.
        limiter.cool_down("appA", None).await.unwrap();
        limiter.forgive("appA").await;
        advance(&clock, limiter.base_wait("appA").await.unwrap());
        assert_eq!(strike_pauses(&limiter, &clock, "appA", 1).await, vec![4]);
    }

    #[tokio::test]
    async fn strikes_are_forgotten_after_a_quiet_minute() {
        let clock = ManualClock::starting_now();
        let limiter = limiter(&clock);
        assert_eq!(strike_pauses(&limiter, &clock, "appA", 2).await, vec![1, 2]);
        // 59 s after the last 429 it still escalates.
        advance(&clock, Duration::from_secs(57));
        assert_eq!(strike_pauses(&limiter, &clock, "appA", 1).await, vec![4]);
        // More than 60 s after the last 429, it starts again at 1 s.
        advance(&clock, Duration::from_secs(57));
        assert_eq!(
            strike_pauses(&limiter, &clock, "appA", 3).await,
            vec![1, 2, 4]
        );
    }

    #[tokio::test]
    async fn retry_after_is_honoured_as_the_least_pause() {
        let clock = ManualClock::starting_now();
        let limiter = limiter(&clock);
        limiter
            .cool_down("appA", Some(Duration::from_secs(45)))
            .await
            .unwrap();
        assert_eq!(
            limiter.base_wait("appA").await.unwrap(),
            Duration::from_secs(45)
        );
        // A 429 inside the running pause is the same strike and never shortens it.
        limiter.cool_down("appA", None).await.unwrap();
        assert_eq!(
            limiter.base_wait("appA").await.unwrap(),
            Duration::from_secs(45)
        );
        advance(&clock, Duration::from_secs(45));
        // The second strike pauses 2 s; a shorter Retry-After does not cut it.
        limiter
            .cool_down("appA", Some(Duration::from_millis(300)))
            .await
            .unwrap();
        assert_eq!(
            limiter.base_wait("appA").await.unwrap(),
            Duration::from_secs(2)
        );
        // A longer Retry-After inside the pause extends it, still as the same strike.
        advance(&clock, Duration::from_secs(1));
        limiter
            .cool_down("appA", Some(Duration::from_secs(5)))
            .await
            .unwrap();
        assert_eq!(
            limiter.base_wait("appA").await.unwrap(),
            Duration::from_secs(5)
        );
        advance(&clock, Duration::from_secs(5));
        assert_eq!(strike_pauses(&limiter, &clock, "appA", 1).await, vec![4]);
    }

    #[tokio::test]
    async fn concurrent_429s_count_once_per_pause_and_never_shorten_it() {
        let clock = ManualClock::starting_now();
        let limiter = limiter(&clock);
        let mut pauses = Vec::new();
        for _ in 0..7 {
            // Eight requests in flight all come back 429 at once: one strike.
            let tasks: Vec<_> = (0..8)
                .map(|_| {
                    let limiter = limiter.clone();
                    tokio::spawn(async move { limiter.cool_down("appA", None).await })
                })
                .collect();
            for task in tasks {
                task.await.unwrap().unwrap();
            }
            let pause = limiter.base_wait("appA").await.unwrap();
            pauses.push(pause.as_secs());
            advance(&clock, pause);
        }
        assert_eq!(pauses, vec![1, 2, 4, 8, 16, 30, 30]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_429s_while_time_passes_never_lose_a_strike() {
        // Eight tasks strike the base over and over while the clock moves on underneath them
        // (30 s of it in 150 ms steps). Whatever the interleaving, what each task sees afterwards
        // never goes backwards: not the strike count, not the end of the pause, so no pause is
        // cut short; and the count escalates as the pauses end.
        let clock = ManualClock::starting_now();
        let limiter = limiter(&clock);
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let limiter = limiter.clone();
                let done = done.clone();
                tokio::spawn(async move {
                    let mut seen = Vec::new();
                    while !done.load(std::sync::atomic::Ordering::Relaxed) {
                        limiter.cool_down("appA", None).await.unwrap();
                        let slot = limiter
                            .read(base_key("appA"), limiter.limits.base_interval)
                            .await
                            .unwrap();
                        assert!(slot.tat_us >= slot.strikes.cool_until_us);
                        seen.push(slot.strikes);
                        tokio::time::sleep(Duration::from_micros(300)).await;
                    }
                    seen
                })
            })
            .collect();
        for _ in 0..200 {
            tokio::time::sleep(Duration::from_millis(2)).await;
            advance(&clock, Duration::from_millis(150));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        let mut highest = 0;
        for task in tasks {
            let seen = task.await.unwrap();
            for pair in seen.windows(2) {
                assert!(pair[1].count >= pair[0].count, "{pair:?}");
                assert!(pair[1].cool_until_us >= pair[0].cool_until_us, "{pair:?}");
            }
            highest = highest.max(seen.last().unwrap().count);
        }
        // Pauses of 1, 2, 4, 8 and 16 s end at 1, 3, 7, 15 and 31 s: within 30 s of clock, five
        // strikes (four if the last steps raced the end), never more.
        assert!((4..=5).contains(&highest), "{highest}");
    }

    #[tokio::test]
    async fn unlimited_limits_never_touch_the_store() {
        let clock: Arc<dyn Clock> = Arc::new(ManualClock::starting_now());
        let limiter = RateLimiter::with_limits(
            Arc::new(FailingStore::down("unreachable")),
            clock,
            RateLimits::unlimited(),
        );
        for _ in 0..100 {
            assert_eq!(
                limiter
                    .reserve(subject("appA", "tok"), Duration::ZERO)
                    .await,
                Ok(Duration::ZERO)
            );
            assert_eq!(
                limiter
                    .acquire(subject("appA", "tok"), Duration::ZERO)
                    .await,
                Ok(Reservation::default())
            );
        }
        limiter.cool_down("appA", None).await.unwrap();
        assert_eq!(limiter.base_wait("appA").await, Ok(Duration::ZERO));
        // The same store fails any limiter that does use it.
        let limited = RateLimiter::new(
            Arc::new(FailingStore::down("unreachable")),
            Arc::new(ManualClock::starting_now()),
        );
        assert!(matches!(
            limited.reserve(subject("appA", "tok"), BUDGET).await,
            Err(AirtableError::Limiter(_))
        ));
    }

    #[test]
    fn limits_are_built_from_requests_per_second_with_the_margin() {
        let airtable = RateLimits::airtable();
        assert_eq!(airtable.base_interval, Duration::from_millis(205));
        assert_eq!(airtable.token_interval, Duration::from_micros(20_500));
        assert_eq!(airtable.first_cooldown, Duration::from_secs(1));
        assert_eq!(airtable.cooldown, Duration::from_secs(30));
        assert_eq!(RateLimits::per_second(5, 50), airtable);
        assert_eq!(RateLimits::default(), airtable);
        assert!(!airtable.is_unlimited());

        let sandbox = RateLimits::per_second(10, 0);
        assert_eq!(sandbox.base_interval, Duration::from_micros(102_500));
        assert_eq!(sandbox.token_interval, Duration::ZERO);
        assert!(!sandbox.is_unlimited());
        // Rounded up, so the margin never shrinks below 2.5 %.
        assert_eq!(
            RateLimits::per_second(3, 1).base_interval,
            Duration::from_micros(341_667)
        );
        assert!(RateLimits::per_second(0, 0).is_unlimited());
        assert_eq!(RateLimits::per_second(0, 0), RateLimits::unlimited());
    }

    #[test]
    fn the_pause_doubles_per_strike_up_to_the_cooldown() {
        let limits = RateLimits::airtable();
        let pauses: Vec<u64> = (0..=8)
            .map(|n| limits.pause_for_strike(n).as_secs())
            .collect();
        assert_eq!(pauses, vec![0, 1, 2, 4, 8, 16, 30, 30, 30]);
        assert_eq!(limits.pause_for_strike(u32::MAX), Duration::from_secs(30));
        let scaled = RateLimits {
            first_cooldown: Duration::from_millis(100),
            cooldown: Duration::from_millis(500),
            ..limits
        };
        assert_eq!(scaled.pause_for_strike(3), Duration::from_millis(400));
        assert_eq!(scaled.pause_for_strike(4), Duration::from_millis(500));
    }

    #[tokio::test]
    async fn scaled_cooldowns_escalate_the_same_way() {
        let clock = ManualClock::starting_now();
        let limiter = limiter_with(
            &clock,
            RateLimits {
                first_cooldown: Duration::from_millis(250),
                cooldown: Duration::from_secs(2),
                ..RateLimits::airtable()
            },
        );
        let mut pauses = Vec::new();
        for _ in 0..5 {
            limiter.cool_down("appA", None).await.unwrap();
            let pause = limiter.base_wait("appA").await.unwrap();
            pauses.push(pause.as_millis());
            advance(&clock, pause);
        }
        assert_eq!(pauses, vec![250, 500, 1_000, 2_000, 2_000]);
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
