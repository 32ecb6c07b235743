//! Deletes the table store's expired items on a timer, in bounded batches, outside request
//! transactions.
//!
//! Reads already hide expired items, so sweeping is about keeping the file (and the pages a read
//! walks) small, not about correctness. Doing it here rather than inside puts means a store that
//! only reads still gets swept, and no request pays for deleting what others left behind. Each
//! batch is one short transaction on the shared connection; between batches the sweeper yields,
//! so requests queued on the connection go first.

use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use crate::SqliteStore;
use crate::sqlite_store::WeakSqliteStore;

/// Sweeps one [`SqliteStore`] until stopped. Dropping the handle stops the sweeper; so does
/// dropping every handle to the store's database, since the sweeper does not keep it open.
#[derive(Debug)]
pub struct ExpirySweeper {
    task: Option<JoinHandle<()>>,
}

impl ExpirySweeper {
    /// How often the composition root sweeps. Short, so each sweep finds little to do; a sweep
    /// that finds nothing is one indexed lookup.
    pub const EVERY: Duration = Duration::from_secs(1);

    /// Items deleted per transaction. Deleting a 49 KB item reads and frees its dozen overflow
    /// pages: measured with 49 KB items, a batch of 16 held the connection for about 1 ms, one
    /// of 64 for about 17 ms, which every request waiting on the connection would have paid.
    pub const BATCH: usize = 16;

    /// Starts sweeping `store` every `every` (the first sweep runs at once, for what an earlier
    /// process left). Needs a tokio runtime; without one it logs a warning and sweeps nothing
    /// (reads still hide expired items).
    pub fn spawn(store: &SqliteStore, every: Duration) -> Self {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!("no tokio runtime: expired items will not be swept");
            return Self { task: None };
        };
        let task = runtime.spawn(sweep_periodically(store.downgrade(), every, Self::BATCH));
        Self { task: Some(task) }
    }

    /// Lets the sweeper run for as long as the store is open (or the runtime runs), for a
    /// composition root that has nowhere to keep the handle.
    pub fn detach(mut self) {
        self.task = None;
    }
}

impl Drop for ExpirySweeper {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

async fn sweep_periodically(store: WeakSqliteStore, every: Duration, batch: usize) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let Some(swept) = sweep_all(&store, batch).await else {
            return;
        };
        if swept > 0 {
            tracing::debug!(swept, "swept expired items");
        }
    }
}

/// Sweeps batch after batch until one comes back short. `None` once the store is gone.
async fn sweep_all(store: &WeakSqliteStore, batch: usize) -> Option<usize> {
    let mut total = 0;
    loop {
        // Upgraded per batch so that a store dropped mid-sweep closes promptly.
        let result = store.upgrade()?.sweep_expired(batch).await;
        match result {
            Ok(swept) => {
                total += swept;
                if swept < batch {
                    return Some(total);
                }
                tokio::task::yield_now().await;
            }
            Err(err) => {
                tracing::warn!(error = %err, "sweeping expired items failed");
                return Some(total);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Instant;

    use basics::{Clock, ManualClock};
    use ports::{Table, TableStore};
    use serde_json::json;

    use super::*;
    use crate::Database;

    const TICK: Duration = Duration::from_millis(10);

    async fn store_with_expired(count: usize) -> (SqliteStore, Database) {
        let clock = ManualClock::starting_now();
        let db = Database::in_memory().expect("db");
        let store = SqliteStore::new(db.clone(), Arc::new(clock.clone()));
        let expires_at = clock.epoch_seconds() + 1;
        for i in 0..count {
            let item = json!({"pk": "P", "sk": format!("S{i}"), "expires_at": expires_at});
            let item = item.as_object().cloned().expect("object");
            store.put(Table::Ephemeral, item, None).await.expect("put");
        }
        clock.advance(chrono::Duration::seconds(2));
        (store, db)
    }

    async fn rows(db: &Database) -> i64 {
        db.run(|conn| {
            conn.query_row("SELECT count(*) FROM items", [], |row| row.get(0))
                .map_err(crate::database::DbFailure::from)
        })
        .await
        .expect("count")
    }

    /// Waits (up to a generous limit) until the store holds `expected` rows.
    async fn wait_for_rows(db: &Database, expected: i64) -> i64 {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let now = rows(db).await;
            if now == expected || Instant::now() > deadline {
                return now;
            }
            tokio::time::sleep(TICK).await;
        }
    }

    #[tokio::test]
    async fn sweeps_on_its_own_in_batches_until_nothing_is_expired() {
        let (store, db) = store_with_expired(ExpirySweeper::BATCH * 2 + 5).await;
        let _sweeper = ExpirySweeper::spawn(&store, TICK);
        assert_eq!(wait_for_rows(&db, 0).await, 0);
    }

    #[tokio::test]
    async fn stops_when_its_handle_is_dropped() {
        let (store, db) = store_with_expired(3).await;
        let sweeper = ExpirySweeper::spawn(&store, Duration::from_secs(3_600));
        drop(sweeper);
        // Its first sweep would have run at once; an aborted sweeper never runs it.
        tokio::time::sleep(TICK * 5).await;
        assert_eq!(rows(&db).await, 3);
    }

    #[tokio::test]
    async fn ends_when_the_store_is_dropped() {
        let (store, db) = store_with_expired(0).await;
        let sweeper = ExpirySweeper::spawn(&store, TICK);
        drop((store, db));
        let deadline = Instant::now() + Duration::from_secs(10);
        while sweeper.task.as_ref().is_some_and(|t| !t.is_finished()) && Instant::now() < deadline {
            tokio::time::sleep(TICK).await;
        }
        assert!(sweeper.task.as_ref().is_some_and(JoinHandle::is_finished));
    }

    #[test]
    fn without_a_runtime_it_sweeps_nothing_and_does_not_panic() {
        let db = Database::in_memory().expect("db");
        let store = SqliteStore::new(db, Arc::new(ManualClock::starting_now()));
        let sweeper = ExpirySweeper::spawn(&store, TICK);
        assert!(sweeper.task.is_none());
    }
}
