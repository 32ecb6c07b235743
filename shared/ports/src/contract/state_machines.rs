//! The state-machine contract. The backend must have two machines deployed from
//! [`GREETER_ASL`] and [`WAITER_ASL`].

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use crate::state_machines::*;

/// A Pass state that formats a greeting: `{"name":"Ada"}` → `{"greeting":"hello Ada"}`.
pub const GREETER_ASL: &str = r#"{
  "Comment": "Contract test machine: formats a greeting",
  "StartAt": "Greet",
  "States": {
    "Greet": {
      "Type": "Pass",
      "Parameters": {"greeting.$": "States.Format('hello {}', $.name)"},
      "End": true
    }
  }
}"#;

/// Waits a minute, so that a test can stop it while it runs.
pub const WAITER_ASL: &str = r#"{
  "Comment": "Contract test machine: waits",
  "StartAt": "Wait",
  "States": {
    "Wait": {"Type": "Wait", "Seconds": 60, "Next": "Done"},
    "Done": {"Type": "Succeed"}
  }
}"#;

pub struct Fixture {
    pub machines: Arc<dyn StateMachines>,
    pub greeter: MachineName,
    pub waiter: MachineName,
    pub prefix: String,
}

#[macro_export]
macro_rules! state_machines_contract_tests {
    ($make:expr) => {
        $crate::state_machines_contract_tests!(@cases $make;
            execution_runs_to_success_with_output,
            same_name_and_input_returns_the_existing_execution,
            same_name_with_other_input_is_refused,
            stop_aborts_a_running_execution,
            unknown_executions_and_machines_are_errors,
        );
    };
    (@cases $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                let fixture = ($make)(stringify!($case)).await;
                $crate::contract::state_machines::$case(&fixture).await;
            }
        )*
    };
}

async fn wait_until_done(f: &Fixture, id: &str) -> Execution {
    for _ in 0..100 {
        let execution = f.machines.describe(id).await.expect("describe");
        if execution.status.is_terminal() {
            return execution;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("execution {id} did not finish in 10 s");
}

pub async fn execution_runs_to_success_with_output(f: &Fixture) {
    let name = format!("{}-ok", f.prefix);
    let started = f
        .machines
        .start(&f.greeter, &name, json!({"name": "Ada"}))
        .await
        .expect("start");
    assert!(!started.already_existed);
    let done = wait_until_done(f, &started.execution_id).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    assert_eq!(done.name, name);
    assert_eq!(done.input, json!({"name": "Ada"}));
    assert_eq!(done.output, Some(json!({"greeting": "hello Ada"})));
    assert!(done.stopped_at.is_some());
}

pub async fn same_name_and_input_returns_the_existing_execution(f: &Fixture) {
    let name = format!("{}-retry", f.prefix);
    let input = json!({"name": "Grace"});
    let first = f
        .machines
        .start(&f.greeter, &name, input.clone())
        .await
        .expect("start");
    let second = f
        .machines
        .start(&f.greeter, &name, input)
        .await
        .expect("start again");
    assert_eq!(second.execution_id, first.execution_id);
    assert!(
        second.already_existed,
        "a retried start must not start a second execution"
    );
}

pub async fn same_name_with_other_input_is_refused(f: &Fixture) {
    let name = format!("{}-clash", f.prefix);
    f.machines
        .start(&f.greeter, &name, json!({"name": "one"}))
        .await
        .expect("start");
    let clash = f
        .machines
        .start(&f.greeter, &name, json!({"name": "two"}))
        .await;
    assert!(
        matches!(clash, Err(StateMachineError::AlreadyExists(_))),
        "{clash:?}"
    );
}

pub async fn stop_aborts_a_running_execution(f: &Fixture) {
    let name = format!("{}-stop", f.prefix);
    let started = f
        .machines
        .start(&f.waiter, &name, json!({}))
        .await
        .expect("start");
    let running = f
        .machines
        .describe(&started.execution_id)
        .await
        .expect("describe");
    assert_eq!(running.status, ExecutionStatus::Running);
    f.machines
        .stop(
            &started.execution_id,
            Some("Saga.Cancelled"),
            Some("user asked"),
        )
        .await
        .expect("stop");
    let stopped = wait_until_done(f, &started.execution_id).await;
    assert_eq!(stopped.status, ExecutionStatus::Aborted);
}

pub async fn unknown_executions_and_machines_are_errors(f: &Fixture) {
    let missing = f.machines.describe("no-such-execution").await;
    assert!(
        matches!(missing, Err(StateMachineError::ExecutionNotFound(_))),
        "{missing:?}"
    );
    let unknown = f
        .machines
        .start(&MachineName::new("no-such-machine"), "x", json!({}))
        .await;
    assert!(
        matches!(unknown, Err(StateMachineError::UnknownMachine(_))),
        "{unknown:?}"
    );
    let bad_name = f.machines.start(&f.greeter, "has spaces", json!({})).await;
    assert!(
        matches!(bad_name, Err(StateMachineError::Invalid(_))),
        "{bad_name:?}"
    );
}
