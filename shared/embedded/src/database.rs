//! One SQLite file shared by the embedded table store, the queue and the local state-machine
//! runner's executions (`sfn_executions`, `sfn_history`: see `local_state_machines::store`).
//!
//! # Design note: why `items` is a rowid table
//!
//! `items` used to be a `WITHOUT ROWID` table keyed by `(tbl, pk, sk)`. Such a table is one
//! index b-tree whose entries are whole rows, on interior pages as well as leaves. The gateway's
//! cache entries are ~49 KB: a 4 KB page keeps at most a few hundred bytes of such a row in its
//! cell and chains the rest through overflow pages, so each page held about 7 rows (3,858
//! entries made the tree four levels deep). Worse, to compare a search key with a cell whose
//! record spills onto overflow pages, SQLite first copies the whole record, overflow chain and
//! all, into a fresh buffer (`sqlite3BtreeIndexMoveto` in `btree.c`). A point read binary-searches
//! every page on its way down, so with a few thousand 49 KB rows in the table it copied a dozen
//! of them, over half a megabyte read from some 150 pages, to find one item, however small that
//! item was. Expired rows cost as much as live ones until deleted: that is why cache-hit
//! throughput fell to a third after a burst of misses and came back when the expired entries
//! were deleted by hand. Measured outside the server (Python's sqlite3, the same schema, one
//! small item read 2,000 times, best of 7): 7 µs alone, 77 µs next to 4,000 rows of 49 KB.
//!
//! Now `items` is an ordinary rowid table and its key a separate unique index, `items_key`,
//! whose entries are only the key (about 100 bytes, so every comparison stays inside the page).
//! A point read walks that index, then fetches the row by rowid from a table b-tree whose
//! interior pages hold only integers, then reads that row's own overflow chain: the cost no
//! longer depends on how large the other rows are (same measurement: 7 µs alone, 8 µs next to
//! 4,000 rows of 49 KB). SQLite's documentation gives the same rule of thumb: `WITHOUT ROWID`
//! suits rows smaller than about a twentieth of a page. The other tables keep small rows and
//! keep their layout. Expired rows are still deleted, by the
//! [`ExpirySweeper`](crate::ExpirySweeper), to keep the file small; reads no longer depend on it.

use std::path::Path;
use std::sync::{Arc, Mutex, Weak};

use rusqlite::{Connection, OptionalExtension};

/// A handle to the embedded database. Clones share one connection: SQLite serialises writers
/// anyway, and one connection behind a mutex makes every operation atomic without retry loops.
#[derive(Clone)]
pub struct Database {
    connection: Arc<Mutex<Connection>>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Database")
    }
}

/// Connection settings, applied on every open (they are not stored in the file, or a
/// transaction could not change them).
const PRAGMAS: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
PRAGMA busy_timeout = 5000;
";

/// The schema. `items` is an ordinary rowid table with a separate unique index on its key, not a
/// `WITHOUT ROWID` table; see the crate documentation for why that matters to items of tens of
/// kilobytes.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS items (
    tbl TEXT NOT NULL,
    pk TEXT NOT NULL,
    sk TEXT NOT NULL,
    gsi1pk TEXT,
    gsi1sk TEXT,
    expires_at REAL,
    body TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS items_key ON items (tbl, pk, sk);
CREATE INDEX IF NOT EXISTS items_gsi1 ON items (tbl, gsi1pk, gsi1sk, pk, sk)
    WHERE gsi1pk IS NOT NULL;
CREATE INDEX IF NOT EXISTS items_expiry ON items (expires_at) WHERE expires_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS queue_messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    queue TEXT NOT NULL,
    body TEXT NOT NULL,
    group_id TEXT,
    visible_at INTEGER NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    receipt TEXT
);
CREATE INDEX IF NOT EXISTS queue_visible ON queue_messages (queue, visible_at, seq);
CREATE INDEX IF NOT EXISTS queue_receipt ON queue_messages (receipt);
CREATE TABLE IF NOT EXISTS queue_dedup (
    queue TEXT NOT NULL,
    dedup_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (queue, dedup_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sfn_executions (
    execution_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    machine TEXT NOT NULL,
    input TEXT NOT NULL,
    started_at TEXT NOT NULL,
    status TEXT NOT NULL,
    output TEXT,
    error TEXT,
    cause TEXT,
    stopped_at TEXT,
    snapshot TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sfn_executions_running ON sfn_executions (started_at)
    WHERE status = 'RUNNING';
CREATE TABLE IF NOT EXISTS sfn_history (
    execution_id TEXT NOT NULL,
    event_id INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (execution_id, event_id)
) WITHOUT ROWID;
";

/// Files made before `items` became a rowid table hold it as `WITHOUT ROWID`: this moves their
/// rows into the current layout, in one transaction, before the schema is created. The old
/// table's indexes are dropped first so that the new table's indexes, which reuse their names,
/// are created.
const MIGRATE_ITEMS_TO_ROWID: &str = "
ALTER TABLE items RENAME TO items_without_rowid;
DROP INDEX IF EXISTS items_gsi1;
DROP INDEX IF EXISTS items_expiry;
";

/// The columns both layouts of `items` share.
const ITEM_COLUMNS: &str = "tbl, pk, sk, gsi1pk, gsi1sk, expires_at, body";

impl Database {
    /// Opens (creating if needed) the database file and its schema.
    pub fn open(path: &Path) -> Result<Self, String> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        let connection =
            Connection::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        Self::with_schema(connection)
    }

    /// A private in-memory database, for unit tests.
    pub fn in_memory() -> Result<Self, String> {
        let connection = Connection::open_in_memory().map_err(|e| e.to_string())?;
        Self::with_schema(connection)
    }

    fn with_schema(mut connection: Connection) -> Result<Self, String> {
        connection
            .execute_batch(PRAGMAS)
            .map_err(|e| format!("cannot configure the database: {e}"))?;
        create_schema(&mut connection).map_err(|e| format!("cannot create the schema: {e}"))?;
        Ok(Self {
            connection: Arc::new(Mutex::new(connection)),
        })
    }

    /// A handle that does not keep the database open.
    pub(crate) fn downgrade(&self) -> WeakDatabase {
        WeakDatabase {
            connection: Arc::downgrade(&self.connection),
        }
    }

    /// Runs `work` with the connection, on the calling task.
    ///
    /// Every operation here is a point read or a small write to a local file in WAL mode with
    /// `synchronous = NORMAL` (no fsync per commit): tens of microseconds. Handing each one to
    /// the blocking pool cost more than the work (two thread hand-offs and futex waits; a
    /// profile of the gateway benchmark put 46 % of its CPU time in the kernel, mostly there),
    /// so the work runs inline, which tokio's guidance allows for work this short. The price is
    /// that an occasional WAL checkpoint holds one runtime worker for a few milliseconds, which
    /// suits the embedded store's role (one process on a laptop); in AWS the store is DynamoDB.
    pub(crate) async fn run<T, E, F>(&self, work: F) -> Result<T, E>
    where
        E: From<DbFailure>,
        F: FnOnce(&mut Connection) -> Result<T, E> + Send,
    {
        let mut guard = self.connection.lock().unwrap_or_else(|p| p.into_inner());
        work(&mut guard)
    }
}

/// A [`Database`] that does not keep it open, for background work that should end with it.
#[derive(Clone)]
pub(crate) struct WeakDatabase {
    connection: Weak<Mutex<Connection>>,
}

impl WeakDatabase {
    /// The database, while any [`Database`] handle to it is alive.
    pub(crate) fn upgrade(&self) -> Option<Database> {
        self.connection
            .upgrade()
            .map(|connection| Database { connection })
    }
}

/// Creates the schema, first migrating a file whose `items` table has the old layout.
fn create_schema(connection: &mut Connection) -> rusqlite::Result<()> {
    let tx = connection.transaction()?;
    let old_layout = items_is_without_rowid(&tx)?;
    if old_layout {
        tx.execute_batch(MIGRATE_ITEMS_TO_ROWID)?;
    }
    tx.execute_batch(SCHEMA)?;
    if old_layout {
        tx.execute_batch(&format!(
            "INSERT INTO items ({ITEM_COLUMNS}) SELECT {ITEM_COLUMNS} FROM items_without_rowid;
             DROP TABLE items_without_rowid;"
        ))?;
    }
    tx.commit()
}

/// Whether the file holds `items` in the old `WITHOUT ROWID` layout.
fn items_is_without_rowid(connection: &Connection) -> rusqlite::Result<bool> {
    let sql: Option<String> = connection
        .query_row(
            "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'items'",
            [],
            |row| row.get(0),
        )
        .optional()?;
    Ok(sql.is_some_and(|sql| sql.to_ascii_uppercase().contains("WITHOUT ROWID")))
}

/// A failure of the database itself (not a condition), converted into each port's error.
#[derive(Debug)]
pub(crate) struct DbFailure(pub String);

impl From<rusqlite::Error> for DbFailure {
    fn from(err: rusqlite::Error) -> Self {
        DbFailure(err.to_string())
    }
}

impl From<DbFailure> for ports::StoreError {
    fn from(err: DbFailure) -> Self {
        ports::StoreError::Unavailable(err.0)
    }
}

impl From<DbFailure> for ports::QueueError {
    fn from(err: DbFailure) -> Self {
        ports::QueueError::Unavailable(err.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `items` as files made before the rowid layout hold it.
    const OLD_ITEMS: &str = "
        CREATE TABLE items (
            tbl TEXT NOT NULL, pk TEXT NOT NULL, sk TEXT NOT NULL,
            gsi1pk TEXT, gsi1sk TEXT, expires_at REAL, body TEXT NOT NULL,
            PRIMARY KEY (tbl, pk, sk)
        ) WITHOUT ROWID;
        CREATE INDEX items_gsi1 ON items (tbl, gsi1pk, gsi1sk, pk, sk) WHERE gsi1pk IS NOT NULL;
        CREATE INDEX items_expiry ON items (expires_at) WHERE expires_at IS NOT NULL;
        INSERT INTO items VALUES ('core', 'TENANT#t1', 'PROFILE', 'G', 'H', NULL, '{\"a\":1}');
        INSERT INTO items VALUES ('ephemeral', 'TENANT#t1', 'CACHE#x', NULL, NULL, 5.0, '{}');
    ";

    /// tbl, sk, gsi1pk, expires_at, body.
    type MigratedRow = (String, String, Option<String>, Option<f64>, String);

    fn schema_sql(connection: &Connection, name: &str) -> Option<String> {
        connection
            .query_row(
                "SELECT sql FROM sqlite_schema WHERE name = ?1",
                [name],
                |row| row.get(0),
            )
            .optional()
            .expect("schema")
    }

    #[test]
    fn a_file_with_the_without_rowid_layout_is_migrated_with_its_items() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("old.sqlite");
        Connection::open(&path)
            .and_then(|c| c.execute_batch(OLD_ITEMS))
            .expect("old file");

        let db = Database::open(&path).expect("open migrates");
        let guard = db.connection.lock().expect("lock");
        let items = schema_sql(&guard, "items").expect("items");
        assert!(
            !items.to_ascii_uppercase().contains("WITHOUT ROWID"),
            "{items}"
        );
        assert!(schema_sql(&guard, "items_key").is_some());
        assert!(schema_sql(&guard, "items_without_rowid").is_none());
        let gsi1 = schema_sql(&guard, "items_gsi1").expect("gsi1 index");
        assert!(gsi1.contains("ON items "), "{gsi1}");
        let rows: Vec<MigratedRow> = guard
            .prepare("SELECT tbl, sk, gsi1pk, expires_at, body FROM items ORDER BY tbl")
            .and_then(|mut s| {
                s.query_map([], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })?
                .collect()
            })
            .expect("rows");
        assert_eq!(
            rows,
            vec![
                (
                    "core".into(),
                    "PROFILE".into(),
                    Some("G".into()),
                    None,
                    "{\"a\":1}".into()
                ),
                (
                    "ephemeral".into(),
                    "CACHE#x".into(),
                    None,
                    Some(5.0),
                    "{}".into()
                ),
            ]
        );
        drop(guard);
        drop(db);
        Database::open(&path).expect("a migrated file opens again");
    }
}
