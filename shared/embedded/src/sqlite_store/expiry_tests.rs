//! Expiry at the store level: what a sweep deletes, how much at once, and that reads hide expired
//! items whether or not a sweep has run.

use std::sync::Arc;

use basics::ManualClock;
use chrono::Duration;
use ports::{Key, Query, Table, TableStore};
use serde_json::{Value, json};

use super::SqliteStore;
use crate::database::{Database, DbFailure};

struct Fixture {
    store: SqliteStore,
    db: Database,
    clock: ManualClock,
}

fn fixture() -> Fixture {
    let clock = ManualClock::starting_now();
    let db = Database::in_memory().expect("in-memory database");
    Fixture {
        store: SqliteStore::new(db.clone(), Arc::new(clock.clone())),
        db,
        clock,
    }
}

impl Fixture {
    fn now(&self) -> i64 {
        basics::Clock::epoch_seconds(&self.clock)
    }

    /// Puts `pk`/`sk` in `table`, expiring `ttl` seconds from now (never with `None`).
    async fn put(&self, table: Table, pk: &str, sk: &str, ttl: Option<i64>) {
        let mut item = json!({"pk": pk, "sk": sk, "body": "x".repeat(2_000)});
        if let Some(ttl) = ttl {
            item["expires_at"] = Value::from(self.now() + ttl);
        }
        let item = item.as_object().cloned().expect("an object");
        self.store.put(table, item, None).await.expect("put");
    }

    async fn get(&self, table: Table, pk: &str, sk: &str) -> bool {
        let got = self.store.get(table, &Key::new(pk, sk)).await;
        got.expect("get").is_some()
    }

    /// Rows on disk, expired or not: what a sweep has (not) deleted.
    async fn rows(&self) -> i64 {
        self.db
            .run(|conn| {
                conn.query_row("SELECT count(*) FROM items", [], |row| row.get(0))
                    .map_err(DbFailure::from)
            })
            .await
            .expect("count")
    }

    async fn sweep(&self, batch: usize) -> usize {
        self.store.sweep_expired(batch).await.expect("sweep")
    }
}

#[tokio::test]
async fn expired_items_disappear_after_a_sweep_without_any_put() {
    let f = fixture();
    for i in 0..3 {
        f.put(
            Table::Ephemeral,
            "TENANT#t1",
            &format!("CACHE#{i}"),
            Some(10),
        )
        .await;
    }
    f.put(Table::Ephemeral, "TENANT#t1", "CACHEGEN#b", None)
        .await;
    f.clock.advance(Duration::seconds(11));
    assert_eq!(f.rows().await, 4, "nothing is deleted before a sweep");

    assert_eq!(f.sweep(100).await, 3);
    assert_eq!(f.rows().await, 1);
    assert!(f.get(Table::Ephemeral, "TENANT#t1", "CACHEGEN#b").await);
    assert_eq!(f.sweep(100).await, 0, "a second sweep finds nothing");
}

#[tokio::test]
async fn a_sweep_deletes_at_most_one_batch() {
    let f = fixture();
    for i in 0..10 {
        f.put(Table::Ephemeral, "P", &format!("S{i}"), Some(1))
            .await;
    }
    f.clock.advance(Duration::seconds(2));
    assert_eq!(f.sweep(4).await, 4);
    assert_eq!(f.rows().await, 6);
    assert_eq!(f.sweep(4).await, 4);
    assert_eq!(f.sweep(4).await, 2, "a short batch means none are left");
    assert_eq!(f.rows().await, 0);
}

#[tokio::test]
async fn a_sweep_never_deletes_a_live_item() {
    let f = fixture();
    f.put(Table::Ephemeral, "P", "expires-now", Some(0)).await;
    f.put(Table::Ephemeral, "P", "expires-in-a-second", Some(1))
        .await;
    f.put(Table::Ephemeral, "P", "no-ttl", None).await;
    f.put(Table::Core, "P", "expires-now", Some(3_600)).await;
    f.put(Table::Usage, "Q", "no-ttl", None).await;

    assert_eq!(
        f.sweep(1_000).await,
        1,
        "only the item at its expiry second"
    );
    assert!(!f.get(Table::Ephemeral, "P", "expires-now").await);
    assert!(f.get(Table::Ephemeral, "P", "expires-in-a-second").await);
    assert!(f.get(Table::Ephemeral, "P", "no-ttl").await);
    assert!(
        f.get(Table::Core, "P", "expires-now").await,
        "the same key in another table is another item"
    );
    assert!(f.get(Table::Usage, "Q", "no-ttl").await);
    assert_eq!(f.rows().await, 4);
}

#[tokio::test]
async fn reads_hide_expired_items_before_any_sweep() {
    let f = fixture();
    f.put(Table::Ephemeral, "P", "short", Some(5)).await;
    f.put(Table::Ephemeral, "P", "long", Some(60)).await;
    f.clock.advance(Duration::seconds(5));

    assert!(!f.get(Table::Ephemeral, "P", "short").await);
    let page = f
        .store
        .query(Table::Ephemeral, Query::partition("P"))
        .await
        .expect("query");
    let sks: Vec<_> = page.items.iter().map(|item| item["sk"].clone()).collect();
    assert_eq!(sks, vec![json!("long")]);
    assert_eq!(f.rows().await, 2, "hidden, not yet deleted");
}

/// The query plan of `sql`, one line per step.
async fn plan(db: &Database, sql: &str) -> String {
    let sql = format!("EXPLAIN QUERY PLAN {sql}");
    db.run(move |conn| {
        let mut statement = conn.prepare(&sql).map_err(DbFailure::from)?;
        // The plan does not depend on the values; unbound parameters are NULL.
        let nulls = vec![rusqlite::types::Null; statement.parameter_count()];
        let steps = statement
            .query_map(rusqlite::params_from_iter(nulls), |row| {
                row.get::<_, String>(3)
            })
            .map_err(DbFailure::from)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(DbFailure::from)?;
        Ok::<_, DbFailure>(steps.join("\n"))
    })
    .await
    .expect("plan")
}

#[tokio::test]
async fn point_reads_and_sweeps_use_their_indexes() {
    let f = fixture();
    let point_read = plan(&f.db, super::LOAD).await;
    assert!(point_read.contains("USING INDEX items_key"), "{point_read}");
    let sweep = plan(&f.db, super::DELETE_EXPIRED).await;
    assert!(
        sweep.contains("USING COVERING INDEX items_expiry"),
        "{sweep}"
    );
}
