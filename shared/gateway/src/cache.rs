//! The read cache: Airtable answers kept per tenant in the ephemeral table for a short TTL, and
//! made unreachable by writes through the platform: `/v0` writes, and the writes chat and MCP
//! tools send through the shared client (see [`crate::stale`]).
//!
//! Invalidation works by generations rather than by deleting entries: each base has one
//! generation item holding counters (one per table as the caller named it, one for all the
//! base's records, one for its schema), and every cache key includes the counters it depends on.
//! A write bumps counters, so later reads compute new keys and miss; the old entries simply
//! expire. That costs one extra read per cached read and one write per gateway write, and it is
//! race-free: a read that fetched before a write finished stores its answer under the old
//! generation, where no later read looks.
//!
//! A table can be named by id or by name, so a write bumps the counters of every name the table
//! goes by when the base's schema is in the cache, and the whole base's record counter otherwise
//! (always correct, just coarser).
//!
//! Keys also include a fingerprint of the tenant's Airtable token, so reconnecting another
//! Airtable account never serves the old account's data.
//!
//! Generation items never expire: one that expired and was recreated would count from zero
//! again and could meet the keys of entries made under its predecessor. They are small (one per
//! base a tenant has written to, one counter per table name).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use basics::Clock;
use basics::digest::sha256_hex;
use ports::{Item, Key, StoreError, Table, TableStore, Update};
use serde_json::Value;

use crate::operation::{BaseId, TableRef};

/// Bodies larger than this are not cached: a DynamoDB item holds 400 KB, and JSON text stored as
/// a string grows by its escaped quotes.
pub const MAX_CACHED_BODY_BYTES: usize = 300 * 1024;

/// The longest TTL the configuration accepts.
pub const MAX_CACHE_TTL: Duration = Duration::from_secs(60 * 60);

/// The counter of all of a base's record reads.
const RECORDS: &str = "records";
/// The counter of a base's schema reads.
const SCHEMA: &str = "schema";

/// A base's generation counters as read at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Generations {
    counters: BTreeMap<String, i64>,
}

impl Generations {
    fn counter(&self, name: &str) -> i64 {
        self.counters.get(name).copied().unwrap_or(0)
    }

    /// What a cached read of `table`'s records depends on.
    fn of_records(&self, table: &TableRef) -> String {
        let table_counter = table_counter(table.as_str());
        format!("{}:{}", self.counter(RECORDS), self.counter(&table_counter))
    }

    /// What a cached read of the schema depends on.
    fn of_schema(&self) -> String {
        self.counter(SCHEMA).to_string()
    }
}

/// The counter attribute for a table name or id. Hashed, because names may hold any character
/// and attribute names should not.
fn table_counter(table: &str) -> String {
    format!("t_{}", &sha256_hex(table)[..16])
}

/// What a cached answer depends on besides the request itself.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    Records {
        base: &'a BaseId,
        table: &'a TableRef,
    },
    Schema {
        base: &'a BaseId,
    },
    /// Token-wide answers (the base list): the TTL alone bounds them.
    Token,
}

/// A cache key, opaque outside this module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheKey(Key);

/// A cached answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cached {
    pub status: u16,
    pub body: Vec<u8>,
}

/// What a write makes stale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalidation {
    /// Reads of the tables known by these names or ids.
    Tables(Vec<String>),
    /// Every record read of the base.
    AllRecords,
    /// The schema and every record read of the base.
    Schema,
}

#[derive(Debug, Clone)]
pub struct ReadCache {
    store: Arc<dyn TableStore>,
    clock: Arc<dyn Clock>,
    ttl: Duration,
}

fn tenant_pk(tenant_id: &str) -> String {
    format!("TENANT#{tenant_id}")
}

fn generation_key(tenant_id: &str, base: &BaseId) -> Key {
    Key::new(tenant_pk(tenant_id), format!("CACHEGEN#{base}"))
}

impl ReadCache {
    pub fn new(store: Arc<dyn TableStore>, clock: Arc<dyn Clock>, ttl: Duration) -> Self {
        Self {
            store,
            clock,
            ttl: ttl.min(MAX_CACHE_TTL),
        }
    }

    /// Whether caching is on (a TTL of zero turns it off).
    pub fn enabled(&self) -> bool {
        !self.ttl.is_zero()
    }

    /// The base's current generations (all zero before its first write).
    pub async fn generations(
        &self,
        tenant_id: &str,
        base: &BaseId,
    ) -> Result<Generations, StoreError> {
        let item = self
            .store
            .get(Table::Ephemeral, &generation_key(tenant_id, base))
            .await?;
        Ok(item.map(|item| read_generations(&item)).unwrap_or_default())
    }

    /// The key of one request's answer. `request` identifies the request completely (method,
    /// path, query, body); `token_key` is the Airtable token's fingerprint.
    pub fn key(
        &self,
        tenant_id: &str,
        token_key: &str,
        scope: Scope<'_>,
        generations: &Generations,
        request: &str,
    ) -> CacheKey {
        let (partition, depends_on) = match scope {
            Scope::Records { base, table } => (base.as_str(), generations.of_records(table)),
            Scope::Schema { base } => (base.as_str(), generations.of_schema()),
            Scope::Token => ("-", String::new()),
        };
        let digest = sha256_hex(format!("{token_key}\n{depends_on}\n{request}"));
        CacheKey(Key::new(
            tenant_pk(tenant_id),
            format!("CACHE#{partition}#{digest}"),
        ))
    }

    /// The live answer under `key`, if any.
    pub async fn get(&self, key: &CacheKey) -> Result<Option<Cached>, StoreError> {
        let Some(item) = self.store.get(Table::Ephemeral, &key.0).await? else {
            return Ok(None);
        };
        let status = item.get("status").and_then(Value::as_u64);
        let body = item.get("body").and_then(Value::as_str);
        Ok(match (status, body) {
            (Some(status), Some(body)) => u16::try_from(status).ok().map(|status| Cached {
                status,
                body: body.as_bytes().to_vec(),
            }),
            _ => None,
        })
    }

    /// Keeps an answer for the TTL. Answers that are not UTF-8 or too large are skipped.
    pub async fn put(&self, key: &CacheKey, answer: &Cached) -> Result<bool, StoreError> {
        if answer.body.len() > MAX_CACHED_BODY_BYTES {
            return Ok(false);
        }
        let Ok(body) = std::str::from_utf8(&answer.body) else {
            return Ok(false);
        };
        let expires_at = self.clock.now().timestamp() + ttl_seconds(self.ttl);
        let mut item = Item::new();
        item.insert("pk".into(), Value::String(key.0.pk.clone()));
        item.insert("sk".into(), Value::String(key.0.sk.clone()));
        item.insert("status".into(), Value::from(answer.status));
        item.insert("body".into(), Value::String(body.to_string()));
        item.insert("expires_at".into(), Value::from(expires_at));
        self.store.put(Table::Ephemeral, item, None).await?;
        Ok(true)
    }

    /// Makes the reads a write affected unreachable.
    pub async fn invalidate(
        &self,
        tenant_id: &str,
        base: &BaseId,
        invalidation: &Invalidation,
    ) -> Result<(), StoreError> {
        let mut update = Update::new();
        let mut counters: Vec<String> = match invalidation {
            Invalidation::Tables(names) => names.iter().map(|n| table_counter(n)).collect(),
            Invalidation::AllRecords => vec![RECORDS.to_string()],
            Invalidation::Schema => vec![RECORDS.to_string(), SCHEMA.to_string()],
        };
        counters.sort();
        counters.dedup();
        for counter in counters {
            update = update.add(counter, 1);
        }
        self.store
            .update(
                Table::Ephemeral,
                &generation_key(tenant_id, base),
                update,
                None,
            )
            .await
            .map(|_| ())
    }
}

/// Whole seconds of a TTL, at least one.
fn ttl_seconds(ttl: Duration) -> i64 {
    i64::try_from(ttl.as_secs().max(1)).unwrap_or(i64::MAX)
}

fn read_generations(item: &Item) -> Generations {
    let counters = item
        .iter()
        .filter(|(name, _)| {
            name.as_str() == RECORDS || name.as_str() == SCHEMA || name.starts_with("t_")
        })
        .filter_map(|(name, value)| value.as_i64().map(|n| (name.clone(), n)))
        .collect();
    Generations { counters }
}

/// The names a table goes by in a base schema answer (`{"tables":[{"id","name"}…]}`): its id
/// and its name, when `table` is one of them.
pub fn table_aliases(schema_body: &[u8], table: &TableRef) -> Option<Vec<String>> {
    let schema: Value = serde_json::from_slice(schema_body).ok()?;
    let tables = schema.get("tables")?.as_array()?;
    tables.iter().find_map(|entry| {
        let id = entry.get("id")?.as_str()?;
        let name = entry.get("name")?.as_str()?;
        (id == table.as_str() || name == table.as_str())
            .then(|| vec![id.to_string(), name.to_string()])
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use basics::ManualClock;

    fn base() -> BaseId {
        BaseId::parse("appA0000000000000").unwrap_or_else(|e| panic!("{e}"))
    }

    fn table(name: &str) -> TableRef {
        TableRef::parse(name).unwrap_or_else(|e| panic!("{e}"))
    }

    async fn cache(ttl: Duration) -> (ReadCache, Arc<ManualClock>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let db = embedded::Database::open(&dir.path().join("c.sqlite"))
            .unwrap_or_else(|e| panic!("{e}"));
        let clock = Arc::new(ManualClock::starting_now());
        let store: Arc<dyn TableStore> = Arc::new(embedded::SqliteStore::new(db, clock.clone()));
        let cache = ReadCache::new(store, clock.clone(), ttl);
        (cache, clock, dir)
    }

    async fn key_for(cache: &ReadCache, t: &TableRef, request: &str) -> CacheKey {
        let base = base();
        let gens = cache
            .generations("t1", &base)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        cache.key(
            "t1",
            "token",
            Scope::Records {
                base: &base,
                table: t,
            },
            &gens,
            &format!("{request} {}", t.as_str()),
        )
    }

    fn answer(body: &str) -> Cached {
        Cached {
            status: 200,
            body: body.as_bytes().to_vec(),
        }
    }

    #[tokio::test]
    async fn a_write_to_one_table_leaves_others_cached() {
        let (cache, _clock, _dir) = cache(Duration::from_secs(30)).await;
        let (people, deals) = (table("People"), table("Deals"));
        let people_key = key_for(&cache, &people, "GET a").await;
        let deals_key = key_for(&cache, &deals, "GET a").await;
        assert_ne!(people_key, deals_key);
        cache
            .put(&people_key, &answer("{\"p\":1}"))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        cache
            .put(&deals_key, &answer("{\"d\":1}"))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        cache
            .invalidate(
                "t1",
                &base(),
                &Invalidation::Tables(vec!["People".into(), "tblP".into()]),
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let people_now = key_for(&cache, &people, "GET a").await;
        assert_ne!(people_now, people_key, "the People key moved on");
        assert_eq!(
            cache
                .get(&people_now)
                .await
                .unwrap_or_else(|e| panic!("{e}")),
            None
        );
        // A read naming the table by id is keyed apart, and its counter moved too.
        let gens = cache
            .generations("t1", &base())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(gens.counter(&table_counter("tblP")), 1);
        assert_eq!(gens.counter(&table_counter("Deals")), 0);
        let deals_now = key_for(&cache, &deals, "GET a").await;
        assert_eq!(deals_now, deals_key);
        assert_eq!(
            cache
                .get(&deals_now)
                .await
                .unwrap_or_else(|e| panic!("{e}")),
            Some(answer("{\"d\":1}"))
        );
    }

    #[tokio::test]
    async fn all_records_and_schema_invalidations_reach_every_table() {
        let (cache, _clock, _dir) = cache(Duration::from_secs(30)).await;
        let deals = table("Deals");
        let before = key_for(&cache, &deals, "GET a").await;
        cache
            .invalidate("t1", &base(), &Invalidation::AllRecords)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let after_records = key_for(&cache, &deals, "GET a").await;
        assert_ne!(before, after_records);
        let gens = cache
            .generations("t1", &base())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let schema_before = cache.key(
            "t1",
            "token",
            Scope::Schema { base: &base() },
            &gens,
            "GET s",
        );
        cache
            .invalidate("t1", &base(), &Invalidation::Schema)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let gens = cache
            .generations("t1", &base())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let schema_after = cache.key(
            "t1",
            "token",
            Scope::Schema { base: &base() },
            &gens,
            "GET s",
        );
        assert_ne!(schema_before, schema_after);
        assert_ne!(after_records, key_for(&cache, &deals, "GET a").await);
    }

    #[tokio::test]
    async fn entries_expire_after_the_ttl_and_keys_differ_per_token_and_tenant() {
        let (cache, clock, _dir) = cache(Duration::from_secs(30)).await;
        let people = table("People");
        let key = key_for(&cache, &people, "GET a").await;
        cache
            .put(&key, &answer("{}"))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        clock.advance(chrono::Duration::seconds(29));
        assert!(
            cache
                .get(&key)
                .await
                .unwrap_or_else(|e| panic!("{e}"))
                .is_some()
        );
        clock.advance(chrono::Duration::seconds(2));
        assert!(
            cache
                .get(&key)
                .await
                .unwrap_or_else(|e| panic!("{e}"))
                .is_none()
        );
        let gens = Generations::default();
        let scope = Scope::Records {
            base: &base(),
            table: &people,
        };
        let a = cache.key("t1", "token-a", scope, &gens, "GET a");
        let b = cache.key("t1", "token-b", scope, &gens, "GET a");
        let other_tenant = cache.key("t2", "token-a", scope, &gens, "GET a");
        assert_ne!(a, b);
        assert_ne!(a.0.pk, other_tenant.0.pk);
    }

    #[tokio::test]
    async fn oversized_answers_are_not_kept() {
        let (cache, _clock, _dir) = cache(Duration::from_secs(30)).await;
        let key = key_for(&cache, &table("People"), "GET big").await;
        let big = Cached {
            status: 200,
            body: vec![b'x'; MAX_CACHED_BODY_BYTES + 1],
        };
        assert!(
            !cache
                .put(&key, &big)
                .await
                .unwrap_or_else(|e| panic!("{e}"))
        );
        assert!(
            cache
                .get(&key)
                .await
                .unwrap_or_else(|e| panic!("{e}"))
                .is_none()
        );
    }

    #[test]
    fn aliases_come_from_the_schema() {
        let schema = br#"{"tables":[{"id":"tblP","name":"People","fields":[]},{"id":"tblD","name":"Deals"}]}"#;
        assert_eq!(
            table_aliases(schema, &table("People")),
            Some(vec!["tblP".into(), "People".into()])
        );
        assert_eq!(
            table_aliases(schema, &table("tblD")),
            Some(vec!["tblD".into(), "Deals".into()])
        );
        assert_eq!(table_aliases(schema, &table("Nope")), None);
        assert_eq!(table_aliases(b"not json", &table("People")), None);
    }
}
