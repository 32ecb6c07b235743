//! The platform on one SQLite file and a secrets file under `DATA_DIR`: the local default.

use std::sync::Arc;

use basics::{Clock, Env, RandomIds};
use embedded::{ClockTimer, LocalStateMachines, local_function_arn};
use platform::{Ports, Settings};
use ports::{CachedSecrets, MachineName};

use crate::{BuiltPlatform, MachineDefinitions};

/// The SQLite file under `DATA_DIR`.
pub const DATABASE_FILE: &str = "platform.sqlite";
/// The local secrets file under `DATA_DIR`.
pub const SECRETS_FILE: &str = "secrets.json";

/// Builds the platform on the embedded adapters (creating `DATA_DIR`'s database if needed),
/// with `machines` run by the local state-machine runner on the same database. Its task
/// functions are the caller's to register, and its running executions to resume.
pub fn embedded_platform(
    settings: &Settings,
    clock: Arc<dyn Clock>,
    machines: &MachineDefinitions,
) -> Result<BuiltPlatform, String> {
    let db = embedded::Database::open(&settings.data_dir.join(DATABASE_FILE))?;
    let secrets = embedded::FileSecrets::new(settings.data_dir.join(SECRETS_FILE), Env::process());
    let store = embedded::SqliteStore::new(db.clone(), Arc::clone(&clock));
    // Expired items (cache entries above all) are deleted on a timer, in small batches outside
    // request transactions; it ends with the store.
    embedded::ExpirySweeper::spawn(&store, embedded::ExpirySweeper::EVERY).detach();
    let state_machines = Arc::new(LocalStateMachines::new(
        db.clone(),
        machines
            .machines
            .iter()
            .map(|(name, text)| (MachineName::new(name), text.clone())),
        &machines.substitutions(local_function_arn),
        Arc::new(ClockTimer(Arc::clone(&clock))),
    )?);
    let ports = Ports {
        store: Arc::new(store),
        queue: Arc::new(embedded::SqliteQueue::new(db, Arc::clone(&clock))),
        secrets: Arc::new(CachedSecrets::new(
            secrets,
            settings.secrets_cache_ttl,
            Arc::clone(&clock),
        )),
        state_machines: Arc::clone(&state_machines) as Arc<dyn ports::StateMachines>,
        clock,
        ids: Arc::new(RandomIds),
    };
    Ok(BuiltPlatform {
        platform: crate::assemble(ports, settings),
        local_state_machines: Some(state_machines),
    })
}

#[cfg(test)]
mod tests {
    use platform::BackendKind;
    use ports::{Key, Table};
    use serde_json::json;

    use super::*;

    #[tokio::test]
    async fn embedded_data_survives_a_restart() {
        let dir = tempfile::tempdir().expect("tempdir");
        let env_dir = dir.path().to_string_lossy().to_string();
        let env = Env::from_pairs([("DATA_DIR", env_dir.as_str())]);
        let settings = Settings::from_env(&env, BackendKind::Embedded).expect("settings");
        let key = Key::new("TENANT#t1", "PROFILE");
        {
            let first = embedded_platform(
                &settings,
                Arc::new(basics::SystemClock),
                &MachineDefinitions::none(),
            )
            .expect("platform")
            .platform;
            let item = json!({"pk": "TENANT#t1", "sk": "PROFILE", "name": "Acme"});
            first
                .store
                .put(
                    Table::Core,
                    item.as_object().cloned().unwrap_or_default(),
                    None,
                )
                .await
                .expect("put");
        }
        let second = embedded_platform(
            &settings,
            Arc::new(basics::SystemClock),
            &MachineDefinitions::none(),
        )
        .expect("platform again")
        .platform;
        let got = second.store.get(Table::Core, &key).await.expect("get");
        assert_eq!(
            got.and_then(|i| i.get("name").cloned()),
            Some(json!("Acme"))
        );
    }
}
