//! State for router tests, on the embedded adapters in memory.

use std::sync::Arc;

use basics::{Env, RandomIds, SystemClock};
use embedded::{ClockTimer, Database, FileSecrets, LocalStateMachines, SqliteQueue, SqliteStore};

use platform::{Platform, PlatformSettings, Ports};

use crate::AppState;

pub fn embedded_state() -> AppState {
    embedded_state_with(|_| {})
}

/// Embedded state with some ports replaced (a failing store, say).
pub fn embedded_state_with(change: impl FnOnce(&mut Ports)) -> AppState {
    let clock = Arc::new(SystemClock);
    let db = Database::in_memory().expect("in-memory database");
    let secrets_path = std::env::temp_dir()
        .join(format!("http-api-test-{}", uuid_like()))
        .join("secrets.json");
    let state_machines = LocalStateMachines::new(
        db.clone(),
        [],
        &Default::default(),
        Arc::new(ClockTimer(clock.clone())),
    )
    .expect("no machines to parse");
    let mut ports = Ports {
        store: Arc::new(SqliteStore::new(db.clone(), clock.clone())),
        queue: Arc::new(SqliteQueue::new(db, clock.clone())),
        secrets: Arc::new(FileSecrets::new(secrets_path, Env::from_pairs([]))),
        state_machines: Arc::new(state_machines),
        clock,
        ids: Arc::new(RandomIds),
    };
    change(&mut ports);
    AppState::new(Arc::new(Platform::new(
        ports,
        "http://127.0.0.1:9".to_string(),
        PlatformSettings::default(),
    )))
}

fn uuid_like() -> String {
    use basics::IdGenerator;
    RandomIds.random_token(12)
}
