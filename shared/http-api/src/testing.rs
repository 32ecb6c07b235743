//! State for router tests, on the embedded adapters in memory.

use std::sync::Arc;

use basics::{Env, RandomIds, SystemClock};
use embedded::{Database, FileSecrets, SqliteQueue, SqliteStore};

use crate::AppState;
use crate::state::PlatformSettings;

pub fn embedded_state() -> AppState {
    let clock = Arc::new(SystemClock);
    let db = Database::in_memory().expect("in-memory database");
    let secrets_path = std::env::temp_dir()
        .join(format!("http-api-test-{}", uuid_like()))
        .join("secrets.json");
    AppState::new(
        Arc::new(SqliteStore::new(db.clone(), clock.clone())),
        Arc::new(SqliteQueue::new(db, clock.clone())),
        Arc::new(FileSecrets::new(secrets_path, Env::from_pairs([]))),
        clock,
        Arc::new(RandomIds),
        "http://127.0.0.1:9".to_string(),
        PlatformSettings::default(),
    )
}

fn uuid_like() -> String {
    use basics::IdGenerator;
    RandomIds.random_token(12)
}
