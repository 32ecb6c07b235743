//! One SQLite file shared by the embedded table store and queue.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

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

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
PRAGMA busy_timeout = 5000;
CREATE TABLE IF NOT EXISTS items (
    tbl TEXT NOT NULL,
    pk TEXT NOT NULL,
    sk TEXT NOT NULL,
    gsi1pk TEXT,
    gsi1sk TEXT,
    expires_at REAL,
    body TEXT NOT NULL,
    PRIMARY KEY (tbl, pk, sk)
) WITHOUT ROWID;
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
";

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

    fn with_schema(connection: Connection) -> Result<Self, String> {
        connection
            .execute_batch(SCHEMA)
            .map_err(|e| format!("cannot create the schema: {e}"))?;
        Ok(Self {
            connection: Arc::new(Mutex::new(connection)),
        })
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
        T: Send + 'static,
        E: Send + 'static + From<DbFailure>,
        F: FnOnce(&mut Connection) -> Result<T, E> + Send + 'static,
    {
        let mut guard = self.connection.lock().unwrap_or_else(|p| p.into_inner());
        work(&mut guard)
    }
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
