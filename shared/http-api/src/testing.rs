//! State for router tests, on the embedded adapters in memory.

use std::collections::BTreeMap;
use std::sync::Arc;

use basics::{Env, RandomIds, SystemClock};
use embedded::{ClockTimer, Database, FileSecrets, LocalStateMachines, SqliteQueue, SqliteStore};

use platform::{Platform, PlatformSettings, Ports};
use ports::MachineName;

use crate::AppState;

pub fn embedded_state() -> AppState {
    embedded_state_with(|_| {})
}

/// Embedded state with some ports replaced (a failing store, say).
pub fn embedded_state_with(change: impl FnOnce(&mut Ports)) -> AppState {
    build(&[], &BTreeMap::new(), change).0
}

/// Embedded state whose local state-machine runner runs `machines` (name, ASL text) with their
/// `${...}` placeholders substituted; the runner is returned to register task functions on.
pub fn embedded_state_with_machines(
    machines: &[(&str, &str)],
    substitutions: &BTreeMap<String, String>,
) -> (AppState, Arc<LocalStateMachines>) {
    build(machines, substitutions, |_| {})
}

fn build(
    machines: &[(&str, &str)],
    substitutions: &BTreeMap<String, String>,
    change: impl FnOnce(&mut Ports),
) -> (AppState, Arc<LocalStateMachines>) {
    let clock = Arc::new(SystemClock);
    let db = Database::in_memory().expect("in-memory database");
    let secrets_path = std::env::temp_dir()
        .join(format!("http-api-test-{}", uuid_like()))
        .join("secrets.json");
    let state_machines = Arc::new(
        LocalStateMachines::new(
            db.clone(),
            machines
                .iter()
                .map(|(name, text)| (MachineName::new(*name), text.to_string())),
            substitutions,
            Arc::new(ClockTimer(clock.clone())),
        )
        .expect("the machines parse"),
    );
    let mut ports = Ports {
        store: Arc::new(SqliteStore::new(db.clone(), clock.clone())),
        queue: Arc::new(SqliteQueue::new(db, clock.clone())),
        secrets: Arc::new(FileSecrets::new(secrets_path, Env::from_pairs([]))),
        state_machines: Arc::clone(&state_machines) as Arc<dyn ports::StateMachines>,
        clock,
        ids: Arc::new(RandomIds),
    };
    change(&mut ports);
    let state = AppState::new(Arc::new(Platform::new(
        ports,
        "http://127.0.0.1:9".to_string(),
        PlatformSettings::default(),
    )));
    (state, state_machines)
}

fn uuid_like() -> String {
    use basics::IdGenerator;
    RandomIds.random_token(12)
}
