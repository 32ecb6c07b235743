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

#[cfg(test)]
mod state_machine_tests {
    use std::time::Duration;

    use async_trait::async_trait;
    use platform::{BackendKind, Platform};
    use ports::ExecutionStatus;
    use serde_json::{Value, json};
    use triggers::{TaskError, TaskHandler};

    use super::*;
    use crate::platform_task;

    /// One Task on the function behind `${StepArn}`, as the saga machines have.
    const STEP_ASL: &str = r#"{
      "StartAt": "Step",
      "States": {
        "Step": {
          "Type": "Task",
          "Resource": "arn:aws:states:::lambda:invoke",
          "Parameters": {"FunctionName": "${StepArn}", "Payload": {"tenant.$": "$.tenant"}},
          "ResultSelector": {"seen.$": "$.Payload.seen"},
          "End": true
        }
      }
    }"#;

    /// Answers with the platform's version, to show it ran on this platform.
    struct Version(&'static str);

    #[async_trait]
    impl TaskHandler for Version {
        async fn run(&self, input: Value) -> Result<Value, TaskError> {
            Ok(json!({"seen": format!("{} {}", input["tenant"].as_str().unwrap_or("?"), self.0)}))
        }
    }

    fn version_task(platform: &Platform) -> Arc<dyn TaskHandler> {
        Arc::new(Version(platform.version))
    }

    fn settings(dir: &std::path::Path) -> Settings {
        let dir = dir.to_string_lossy().to_string();
        Settings::from_env(
            &Env::from_pairs([("DATA_DIR", dir.as_str())]),
            BackendKind::Embedded,
        )
        .expect("settings")
    }

    fn machines() -> MachineDefinitions {
        MachineDefinitions::new(&[("step", STEP_ASL)]).with_task_function("StepArn", "step-fn")
    }

    #[tokio::test]
    async fn the_platforms_machines_run_its_task_functions_locally() {
        let dir = tempfile::tempdir().expect("tempdir");
        let built = embedded_platform(
            &settings(dir.path()),
            Arc::new(basics::SystemClock),
            &machines(),
        )
        .expect("platform");
        let local = built.local_state_machines.as_ref().expect("a local runner");
        local.register_task_function("step-fn", platform_task(&built.platform, version_task));
        let started = built
            .platform
            .state_machines
            .start(&MachineName::new("step"), "sag_1", json!({"tenant": "t1"}))
            .await
            .expect("start");
        let mut execution = None;
        for _ in 0..500 {
            let now = built
                .platform
                .state_machines
                .describe(&started.execution_id)
                .await
                .expect("describe");
            if now.status.is_terminal() {
                execution = Some(now);
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let execution = execution.expect("the execution finishes");
        assert_eq!(execution.status, ExecutionStatus::Succeeded);
        assert_eq!(
            execution.output,
            Some(json!({"seen": format!("t1 {}", platform::VERSION)}))
        );
    }

    #[tokio::test]
    async fn a_registered_platform_task_does_not_keep_the_platform_alive() {
        let dir = tempfile::tempdir().expect("tempdir");
        let built = embedded_platform(
            &settings(dir.path()),
            Arc::new(basics::SystemClock),
            &machines(),
        )
        .expect("platform");
        if let Some(local) = &built.local_state_machines {
            local.register_task_function("step-fn", platform_task(&built.platform, version_task));
        }
        let platform = Arc::downgrade(&built.platform);
        let runner = built.local_state_machines.as_ref().map(Arc::downgrade);
        drop(built);
        assert!(platform.upgrade().is_none(), "the platform leaked");
        assert!(
            runner.is_some_and(|runner| runner.upgrade().is_none()),
            "the local runner leaked"
        );
    }

    #[test]
    fn a_machine_naming_an_unknown_placeholder_is_refused_at_build() {
        let dir = tempfile::tempdir().expect("tempdir");
        let machines = MachineDefinitions::new(&[("step", STEP_ASL)]);
        let err = embedded_platform(
            &settings(dir.path()),
            Arc::new(basics::SystemClock),
            &machines,
        )
        .err()
        .expect("refused");
        assert!(err.contains("step") && err.contains("${StepArn}"), "{err}");
    }
}
