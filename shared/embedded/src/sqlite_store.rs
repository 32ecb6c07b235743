//! The table store on SQLite: one row per item, keyed by (table, pk, sk), the item as JSON, and
//! the index and TTL attributes copied into columns so queries and expiry use indexes.
//!
//! Expired items are invisible at once (every read filters on `expires_at`) and are deleted
//! later, in bounded batches, by [`SqliteStore::sweep_expired`], which the
//! [`ExpirySweeper`](crate::ExpirySweeper) calls on a timer. Request transactions never sweep:
//! sweeping inside a put made that put pay for every item that expired since the last sweep (a
//! 441 ms p99 on cache misses when the swept items were 49 KB cache entries), and a store that
//! only read never swept at all.

use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use basics::Clock;
use ports::table_store::{EXPIRES_AT, GSI1_PK, GSI1_SK, Item, validate_item, validate_transaction};
use ports::{
    Condition, Cursor, Index, Key, Page, Query, SortKeyCondition, StoreError, Table, TableStore,
    TransactOp, Update,
};
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

use crate::database::{Database, DbFailure, WeakDatabase};

#[derive(Debug, Clone)]
pub struct SqliteStore {
    db: Database,
    clock: Arc<dyn Clock>,
}

impl SqliteStore {
    pub fn new(db: Database, clock: Arc<dyn Clock>) -> Self {
        Self { db, clock }
    }

    fn now(&self) -> i64 {
        self.clock.epoch_seconds()
    }

    /// Deletes at most `batch` items that have expired, in one short transaction of its own, and
    /// says how many it deleted (fewer than `batch` means none are left). Live items are never
    /// touched: an item is expired once `expires_at <= now`, the same rule reads apply.
    pub async fn sweep_expired(&self, batch: usize) -> Result<usize, StoreError> {
        let now = self.now();
        let limit = i64::try_from(batch).unwrap_or(i64::MAX);
        self.db
            .run(move |conn| delete_expired(conn, now, limit))
            .await
    }

    /// A handle that does not keep the database open, for the sweeper.
    pub(crate) fn downgrade(&self) -> WeakSqliteStore {
        WeakSqliteStore {
            db: self.db.downgrade(),
            clock: Arc::clone(&self.clock),
        }
    }
}

/// A [`SqliteStore`] that ends with the last strong handle to its database.
#[derive(Clone)]
pub(crate) struct WeakSqliteStore {
    db: WeakDatabase,
    clock: Arc<dyn Clock>,
}

impl WeakSqliteStore {
    pub(crate) fn upgrade(&self) -> Option<SqliteStore> {
        self.db
            .upgrade()
            .map(|db| SqliteStore::new(db, Arc::clone(&self.clock)))
    }
}

fn db_err(err: rusqlite::Error) -> StoreError {
    StoreError::from(DbFailure::from(err))
}

/// A point read: the unique `items_key` index, then the row by rowid.
const LOAD: &str = "SELECT body FROM items WHERE tbl = ?1 AND pk = ?2 AND sk = ?3
    AND (expires_at IS NULL OR expires_at > ?4)";

/// One sweep batch, found through the `items_expiry` index alone.
const DELETE_EXPIRED: &str = "DELETE FROM items WHERE rowid IN (
    SELECT rowid FROM items
    WHERE expires_at IS NOT NULL AND expires_at <= ?1
    ORDER BY expires_at LIMIT ?2)";

/// The live item at `key`, or `None` if absent or expired.
fn load(conn: &Connection, table: Table, key: &Key, now: i64) -> Result<Option<Item>, StoreError> {
    let body: Option<String> = conn
        .prepare_cached(LOAD)
        .map_err(db_err)?
        .query_row(params![table.logical_name(), key.pk, key.sk, now], |row| {
            row.get(0)
        })
        .optional()
        .map_err(db_err)?;
    body.map(|text| parse_body(&text)).transpose()
}

fn parse_body(text: &str) -> Result<Item, StoreError> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::Unavailable(format!("stored item is not JSON: {e}")))
}

fn store(conn: &Connection, table: Table, item: &Item) -> Result<(), StoreError> {
    let key = validate_item(item)?;
    let body = serde_json::to_string(item)
        .map_err(|e| StoreError::InvalidItem(format!("item is not serialisable: {e}")))?;
    let text = |name: &str| item.get(name).and_then(Value::as_str).map(str::to_string);
    let expires_at = item.get(EXPIRES_AT).and_then(Value::as_f64);
    // An upsert rather than INSERT OR REPLACE: the row keeps its rowid, so a rewrite does not
    // also delete and re-insert every index entry.
    conn.prepare_cached(
        "INSERT INTO items (tbl, pk, sk, gsi1pk, gsi1sk, expires_at, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (tbl, pk, sk) DO UPDATE SET gsi1pk = excluded.gsi1pk,
             gsi1sk = excluded.gsi1sk, expires_at = excluded.expires_at, body = excluded.body",
    )
    .map_err(db_err)?
    .execute(params![
        table.logical_name(),
        key.pk,
        key.sk,
        text(GSI1_PK),
        text(GSI1_SK),
        expires_at,
        body
    ])
    .map_err(db_err)?;
    Ok(())
}

fn remove(conn: &Connection, table: Table, key: &Key) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM items WHERE tbl = ?1 AND pk = ?2 AND sk = ?3")
        .map_err(db_err)?
        .execute(params![table.logical_name(), key.pk, key.sk])
        .map_err(db_err)?;
    Ok(())
}

fn check(condition: Option<&Condition>, current: Option<&Item>) -> Result<(), StoreError> {
    match condition {
        Some(c) if !c.holds_for(current) => Err(StoreError::ConditionFailed),
        _ => Ok(()),
    }
}

/// Deletes at most `limit` expired items, found through the `items_expiry` index.
fn delete_expired(conn: &Connection, now: i64, limit: i64) -> Result<usize, StoreError> {
    conn.prepare_cached(DELETE_EXPIRED)
        .map_err(db_err)?
        .execute(params![now, limit])
        .map_err(db_err)
}

/// Applies one transactional operation whose condition already holds.
fn apply(conn: &Connection, op: &TransactOp, current: Option<Item>) -> Result<(), StoreError> {
    match op {
        TransactOp::Put { table, item, .. } => store(conn, *table, item),
        TransactOp::Delete { table, key, .. } => remove(conn, *table, key),
        TransactOp::Update {
            table, key, update, ..
        } => store(conn, *table, &update.apply(key, current)?),
        TransactOp::Check { .. } => Ok(()),
    }
}

/// The cursor: the sort position of the last item returned, as base64url JSON.
fn encode_cursor(position: &[String]) -> Cursor {
    let json = serde_json::to_vec(position).unwrap_or_default();
    Cursor(URL_SAFE_NO_PAD.encode(json))
}

fn decode_cursor(cursor: &Cursor, index: Index) -> Result<Vec<String>, StoreError> {
    let bad = || StoreError::InvalidItem("the cursor is not one this store issued".to_string());
    let bytes = URL_SAFE_NO_PAD.decode(&cursor.0).map_err(|_| bad())?;
    let position: Vec<String> = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    let expected = match index {
        Index::Primary => 1,
        Index::Gsi1 => 3,
    };
    if position.len() == expected {
        Ok(position)
    } else {
        Err(bad())
    }
}

fn run_query(conn: &Connection, table: Table, query: &Query, now: i64) -> Result<Page, StoreError> {
    if query.index == Index::Gsi1 && !table.has_gsi1() {
        return Err(StoreError::InvalidItem(format!(
            "table {table} has no gsi1 index"
        )));
    }
    let after = query
        .cursor
        .as_ref()
        .map(|c| decode_cursor(c, query.index))
        .transpose()?;
    let (pk_col, sk_col) = match query.index {
        Index::Primary => ("pk", "sk"),
        Index::Gsi1 => ("gsi1pk", "gsi1sk"),
    };
    let mut sql = format!(
        "SELECT body, pk, sk, gsi1sk FROM items WHERE tbl = ?1 AND {pk_col} = ?2
         AND (expires_at IS NULL OR expires_at > ?3)"
    );
    let mut args: Vec<rusqlite::types::Value> = vec![
        table.logical_name().to_string().into(),
        query.partition.clone().into(),
        now.into(),
    ];
    let arg = |value: String, args: &mut Vec<rusqlite::types::Value>| {
        args.push(value.into());
        format!("?{}", args.len())
    };
    match &query.sort {
        None => {}
        Some(SortKeyCondition::Equals(v)) => {
            sql += &format!(" AND {sk_col} = {}", arg(v.clone(), &mut args));
        }
        Some(SortKeyCondition::BeginsWith(prefix)) => {
            // substr compares bytes exactly; LIKE would treat % and _ as wildcards.
            let p = arg(prefix.clone(), &mut args);
            sql += &format!(" AND substr({sk_col}, 1, length({p})) = {p}");
        }
        Some(SortKeyCondition::Between(low, high)) => {
            let l = arg(low.clone(), &mut args);
            let h = arg(high.clone(), &mut args);
            sql += &format!(" AND {sk_col} >= {l} AND {sk_col} <= {h}");
        }
        Some(SortKeyCondition::GreaterThan(v)) => {
            sql += &format!(" AND {sk_col} > {}", arg(v.clone(), &mut args));
        }
        Some(SortKeyCondition::LessThan(v)) => {
            sql += &format!(" AND {sk_col} < {}", arg(v.clone(), &mut args));
        }
    }
    let cmp = if query.forward { ">" } else { "<" };
    let dir = if query.forward { "ASC" } else { "DESC" };
    if let Some(position) = after {
        match query.index {
            Index::Primary => {
                let s = arg(position[0].clone(), &mut args);
                sql += &format!(" AND sk {cmp} {s}");
            }
            Index::Gsi1 => {
                let g = arg(position[0].clone(), &mut args);
                let p = arg(position[1].clone(), &mut args);
                let s = arg(position[2].clone(), &mut args);
                sql += &format!(" AND (gsi1sk, pk, sk) {cmp} ({g}, {p}, {s})");
            }
        }
    }
    sql += &match query.index {
        Index::Primary => format!(" ORDER BY sk {dir}"),
        Index::Gsi1 => format!(" ORDER BY gsi1sk {dir}, pk {dir}, sk {dir}"),
    };
    let limit = query.limit.map(|l| l.max(1) as usize);
    if let Some(limit) = limit {
        // One extra row tells whether another page follows.
        sql += &format!(" LIMIT {}", limit + 1);
    }
    let mut statement = conn.prepare(&sql).map_err(db_err)?;
    let rows = statement
        .query_map(rusqlite::params_from_iter(args), |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, Option<String>>(3)?,
            ))
        })
        .map_err(db_err)?;
    let mut items = Vec::new();
    let mut positions = Vec::new();
    for row in rows {
        let (body, pk, sk, gsi1sk) = row.map_err(db_err)?;
        items.push(parse_body(&body)?);
        positions.push(match query.index {
            Index::Primary => vec![sk],
            Index::Gsi1 => vec![gsi1sk.unwrap_or_default(), pk, sk],
        });
    }
    let mut next = None;
    if let Some(limit) = limit
        && items.len() > limit
    {
        items.truncate(limit);
        next = positions.get(limit - 1).map(|p| encode_cursor(p));
    }
    Ok(Page { items, next })
}

#[async_trait]
impl TableStore for SqliteStore {
    async fn get(&self, table: Table, key: &Key) -> Result<Option<Item>, StoreError> {
        let key = key.clone();
        let now = self.now();
        self.db.run(move |conn| load(conn, table, &key, now)).await
    }

    async fn put(
        &self,
        table: Table,
        item: Item,
        condition: Option<Condition>,
    ) -> Result<(), StoreError> {
        let key = validate_item(&item)?;
        let now = self.now();
        self.db
            .run(move |conn| {
                let tx = conn.transaction().map_err(db_err)?;
                let current = load(&tx, table, &key, now)?;
                check(condition.as_ref(), current.as_ref())?;
                store(&tx, table, &item)?;
                tx.commit().map_err(db_err)
            })
            .await
    }

    async fn delete(
        &self,
        table: Table,
        key: &Key,
        condition: Option<Condition>,
    ) -> Result<Option<Item>, StoreError> {
        let key = key.clone();
        let now = self.now();
        self.db
            .run(move |conn| {
                let tx = conn.transaction().map_err(db_err)?;
                let current = load(&tx, table, &key, now)?;
                check(condition.as_ref(), current.as_ref())?;
                remove(&tx, table, &key)?;
                tx.commit().map_err(db_err)?;
                Ok(current)
            })
            .await
    }

    async fn update(
        &self,
        table: Table,
        key: &Key,
        update: Update,
        condition: Option<Condition>,
    ) -> Result<Item, StoreError> {
        update.validate()?;
        let key = key.clone();
        let now = self.now();
        self.db
            .run(move |conn| {
                let tx = conn.transaction().map_err(db_err)?;
                let current = load(&tx, table, &key, now)?;
                check(condition.as_ref(), current.as_ref())?;
                let next = update.apply(&key, current)?;
                store(&tx, table, &next)?;
                tx.commit().map_err(db_err)?;
                Ok(next)
            })
            .await
    }

    /// One SQLite transaction for all of them: one commit instead of one per item.
    async fn update_each(
        &self,
        table: Table,
        updates: Vec<(Key, Update)>,
    ) -> Result<(), StoreError> {
        for (_, update) in &updates {
            update.validate()?;
        }
        let now = self.now();
        self.db
            .run(move |conn| {
                let tx = conn.transaction().map_err(db_err)?;
                for (key, update) in &updates {
                    let current = load(&tx, table, key, now)?;
                    let next = update.apply(key, current)?;
                    store(&tx, table, &next)?;
                }
                tx.commit().map_err(db_err)
            })
            .await
    }

    async fn query(&self, table: Table, query: Query) -> Result<Page, StoreError> {
        let now = self.now();
        self.db
            .run(move |conn| run_query(conn, table, &query, now))
            .await
    }

    async fn transact_write(&self, ops: Vec<TransactOp>) -> Result<(), StoreError> {
        validate_transaction(&ops)?;
        let now = self.now();
        self.db
            .run(move |conn| {
                let tx = conn.transaction().map_err(db_err)?;
                let mut currents = Vec::with_capacity(ops.len());
                let mut failed = Vec::new();
                for (index, op) in ops.iter().enumerate() {
                    let key = op.key()?;
                    let current = load(&tx, op.table(), &key, now)?;
                    if op
                        .condition()
                        .is_some_and(|c| !c.holds_for(current.as_ref()))
                    {
                        failed.push(index);
                    }
                    currents.push(current);
                }
                if !failed.is_empty() {
                    return Err(StoreError::TransactionCanceled { failed });
                }
                for (op, current) in ops.iter().zip(currents) {
                    apply(&tx, op, current)?;
                }
                tx.commit().map_err(db_err)
            })
            .await
    }
}

#[cfg(test)]
mod contract {
    use std::sync::Arc;

    use basics::ManualClock;
    use ports::contract::table_store::Fixture;

    use super::*;

    async fn fixture(case: &str) -> Fixture {
        let clock = ManualClock::starting_now();
        let db = Database::in_memory().expect("in-memory database");
        Fixture {
            store: Arc::new(SqliteStore::new(db, Arc::new(clock.clone()))),
            clock,
            prefix: ports::contract::unique_prefix(case),
        }
    }

    ports::table_store_contract_tests!(fixture);
}

#[cfg(test)]
mod expiry_tests;
