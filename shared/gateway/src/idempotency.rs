//! `Idempotency-Key` on gateway writes: the same key and request get the first answer again
//! without a second write to Airtable; the same key with another request is refused.
//!
//! A key is claimed with a conditional put before the write goes out, so two concurrent requests
//! with one key cannot both write: the second sees the claim and is told to retry later. The
//! answer is recorded when Airtable gave a final one. When the write certainly did not reach
//! Airtable (our rate limit, a connection refused, Airtable's documented safe-to-retry answers
//! after our own retries ran out), the claim is released so that the client's retry with the
//! same key can go through; when it might have (a timeout after sending), the error is recorded
//! and replayed, because repeating it could write twice.
//!
//! Recorded answers are kept 24 hours. A claim whose process died mid-write lapses after five
//! minutes; a client retrying the same key after that may write again, which is the price of not
//! blocking the key for a day.

use std::sync::Arc;
use std::time::Duration;

use basics::Clock;
use basics::digest::sha256_hex;
use ports::{Condition, Item, Key, StoreError, Table, TableStore};
use serde_json::Value;

use crate::cache::MAX_CACHED_BODY_BYTES;

/// How long a recorded answer is replayed.
pub const ANSWER_TTL: Duration = Duration::from_secs(24 * 60 * 60);
/// How long a claim blocks its key while its request is in flight.
pub const CLAIM_TTL: Duration = Duration::from_secs(5 * 60);
/// The longest key accepted (Stripe's and the IETF draft's usual bound).
pub const MAX_KEY_LEN: usize = 255;

/// A client's `Idempotency-Key`: 1 to 255 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.is_empty() || raw.len() > MAX_KEY_LEN || !raw.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(format!(
                "Idempotency-Key must be 1 to {MAX_KEY_LEN} visible ASCII characters"
            ));
        }
        Ok(Self(raw.to_string()))
    }
}

/// What to do with a write that carries a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key is ours: send the write, then [`Idempotency::record`] or [`Idempotency::release`].
    Proceed,
    /// The key already has an answer for this same request.
    Replay { status: u16, body: Vec<u8> },
    /// The key's first request is still in flight.
    InProgress,
    /// The key was used for a different request.
    Mismatch,
    /// The first request succeeded, but its answer was too large to keep.
    AnswerNotKept,
}

#[derive(Debug, Clone)]
pub struct Idempotency {
    store: Arc<dyn TableStore>,
    clock: Arc<dyn Clock>,
}

const PENDING: &str = "pending";
const DONE: &str = "done";

fn key_of(tenant_id: &str, key: &IdempotencyKey) -> Key {
    Key::new(
        format!("TENANT#{tenant_id}"),
        format!("IDEMPOTENCY#{}", sha256_hex(&key.0)),
    )
}

/// The fingerprint of a request: everything that decides what it does.
pub fn fingerprint(request: &str) -> String {
    sha256_hex(request)
}

impl Idempotency {
    pub fn new(store: Arc<dyn TableStore>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    fn expiry(&self, ttl: Duration) -> i64 {
        self.clock.now().timestamp() + i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX)
    }

    /// Claims `key` for a request with this fingerprint, or says why not.
    pub async fn claim(
        &self,
        tenant_id: &str,
        key: &IdempotencyKey,
        fingerprint: &str,
    ) -> Result<Claim, StoreError> {
        let item_key = key_of(tenant_id, key);
        // Two rounds: a claim that expires between our put and our get is simply claimed again.
        for _ in 0..2 {
            let mut item = base_item(&item_key);
            item.insert("state".into(), Value::from(PENDING));
            item.insert("fingerprint".into(), Value::from(fingerprint));
            item.insert("expires_at".into(), Value::from(self.expiry(CLAIM_TTL)));
            match self
                .store
                .put(Table::Ephemeral, item, Some(Condition::NotExists))
                .await
            {
                Ok(()) => return Ok(Claim::Proceed),
                Err(err) if err.is_condition_failure() => {}
                Err(err) => return Err(err),
            }
            let Some(existing) = self.store.get(Table::Ephemeral, &item_key).await? else {
                continue;
            };
            return Ok(read_claim(&existing, fingerprint));
        }
        Ok(Claim::InProgress)
    }

    /// Records the answer to replay for this key.
    pub async fn record(
        &self,
        tenant_id: &str,
        key: &IdempotencyKey,
        fingerprint: &str,
        status: u16,
        body: &[u8],
    ) -> Result<(), StoreError> {
        let mut item = base_item(&key_of(tenant_id, key));
        item.insert("state".into(), Value::from(DONE));
        item.insert("fingerprint".into(), Value::from(fingerprint));
        item.insert("status".into(), Value::from(status));
        match std::str::from_utf8(body) {
            Ok(text) if body.len() <= MAX_CACHED_BODY_BYTES => {
                item.insert("body".into(), Value::from(text));
            }
            _ => {
                tracing::warn!(
                    bytes = body.len(),
                    "an idempotent write's answer is too large to keep; replays will say so"
                );
            }
        }
        item.insert("expires_at".into(), Value::from(self.expiry(ANSWER_TTL)));
        self.store.put(Table::Ephemeral, item, None).await
    }

    /// Gives the key back: the write certainly did not happen.
    pub async fn release(&self, tenant_id: &str, key: &IdempotencyKey) -> Result<(), StoreError> {
        match self
            .store
            .delete(
                Table::Ephemeral,
                &key_of(tenant_id, key),
                Some(Condition::equals("state", PENDING)),
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(err) if err.is_condition_failure() => Ok(()),
            Err(err) => Err(err),
        }
    }
}

fn base_item(key: &Key) -> Item {
    let mut item = Item::new();
    item.insert("pk".into(), Value::String(key.pk.clone()));
    item.insert("sk".into(), Value::String(key.sk.clone()));
    item
}

fn read_claim(existing: &Item, fingerprint: &str) -> Claim {
    let same = existing
        .get("fingerprint")
        .and_then(Value::as_str)
        .is_some_and(|f| basics::digest::constant_time_eq(f, fingerprint));
    if !same {
        return Claim::Mismatch;
    }
    if existing.get("state").and_then(Value::as_str) != Some(DONE) {
        return Claim::InProgress;
    }
    let status = existing
        .get("status")
        .and_then(Value::as_u64)
        .and_then(|s| u16::try_from(s).ok());
    match (status, existing.get("body").and_then(Value::as_str)) {
        (Some(status), Some(body)) => Claim::Replay {
            status,
            body: body.as_bytes().to_vec(),
        },
        _ => Claim::AnswerNotKept,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use basics::ManualClock;

    fn setup() -> (Idempotency, Arc<ManualClock>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let db = embedded::Database::open(&dir.path().join("i.sqlite"))
            .unwrap_or_else(|e| panic!("{e}"));
        let clock = Arc::new(ManualClock::starting_now());
        let store: Arc<dyn TableStore> = Arc::new(embedded::SqliteStore::new(db, clock.clone()));
        (Idempotency::new(store, clock.clone()), clock, dir)
    }

    fn key(raw: &str) -> IdempotencyKey {
        IdempotencyKey::parse(raw).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn keys_are_bounded_visible_ascii() {
        assert!(IdempotencyKey::parse("order-42/retry_1").is_ok());
        assert!(IdempotencyKey::parse("").is_err());
        assert!(IdempotencyKey::parse("has space").is_err());
        assert!(IdempotencyKey::parse("é").is_err());
        assert!(IdempotencyKey::parse(&"k".repeat(256)).is_err());
    }

    #[tokio::test]
    async fn claim_record_replay_and_mismatch() {
        let (idem, _clock, _dir) = setup();
        let k = key("k1");
        assert_eq!(idem.claim("t", &k, "fp1").await.ok(), Some(Claim::Proceed));
        assert_eq!(
            idem.claim("t", &k, "fp1").await.ok(),
            Some(Claim::InProgress)
        );
        assert_eq!(idem.claim("t", &k, "fp2").await.ok(), Some(Claim::Mismatch));
        idem.record("t", &k, "fp1", 200, b"{\"records\":[]}")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            idem.claim("t", &k, "fp1").await.ok(),
            Some(Claim::Replay {
                status: 200,
                body: b"{\"records\":[]}".to_vec()
            })
        );
        assert_eq!(idem.claim("t", &k, "fp2").await.ok(), Some(Claim::Mismatch));
        assert_eq!(
            idem.claim("other", &k, "fp2").await.ok(),
            Some(Claim::Proceed),
            "keys are per tenant"
        );
    }

    #[tokio::test]
    async fn released_keys_can_be_claimed_again_but_recorded_ones_cannot() {
        let (idem, _clock, _dir) = setup();
        let k = key("k2");
        assert_eq!(idem.claim("t", &k, "fp").await.ok(), Some(Claim::Proceed));
        idem.release("t", &k)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(idem.claim("t", &k, "fp").await.ok(), Some(Claim::Proceed));
        idem.record("t", &k, "fp", 201, b"{}")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        idem.release("t", &k)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            idem.claim("t", &k, "fp").await,
            Ok(Claim::Replay { .. })
        ));
    }

    #[tokio::test]
    async fn claims_lapse_and_answers_expire() {
        let (idem, clock, _dir) = setup();
        let k = key("k3");
        assert_eq!(idem.claim("t", &k, "fp").await.ok(), Some(Claim::Proceed));
        clock.advance(chrono::Duration::seconds(CLAIM_TTL.as_secs() as i64 + 1));
        assert_eq!(idem.claim("t", &k, "fp").await.ok(), Some(Claim::Proceed));
        idem.record("t", &k, "fp", 200, b"{}")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        clock.advance(chrono::Duration::seconds(ANSWER_TTL.as_secs() as i64 - 10));
        assert!(matches!(
            idem.claim("t", &k, "fp").await,
            Ok(Claim::Replay { .. })
        ));
        clock.advance(chrono::Duration::seconds(20));
        assert_eq!(idem.claim("t", &k, "fp").await.ok(), Some(Claim::Proceed));
    }

    #[tokio::test]
    async fn concurrent_claims_let_exactly_one_through() {
        let (idem, _clock, _dir) = setup();
        let k = key("race");
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let (idem, k) = (idem.clone(), k.clone());
            tasks.push(tokio::spawn(async move { idem.claim("t", &k, "fp").await }));
        }
        let mut proceeded = 0;
        for task in tasks {
            if let Ok(Ok(Claim::Proceed)) = task.await {
                proceeded += 1;
            }
        }
        assert_eq!(proceeded, 1);
    }
}
