//! With `AWS_PROVISION` on (moto), the platform deploys the machines it is given, their
//! task-function placeholders replaced by placeholder ARNs, and runs them on Step Functions
//! through the port. Skipped without `MOTO_ENDPOINT` (fails instead when `REQUIRE_MOTO=1`).

use std::time::Duration;

use backend::{MachineDefinitions, PROVISIONED_FUNCTION_ARN_PREFIX};
use basics::Env;
use devserver::{DevServerConfig, StartOptions, Workers};
use platform::BackendKind;
use ports::{ExecutionStatus, MachineName, Table};
use serde_json::json;
use tokio::sync::oneshot;

/// A Pass state whose result shows what `${StepArn}` became.
const SHOWS_ARN_ASL: &str = r#"{
  "StartAt": "Show",
  "States": {"Show": {"Type": "Pass", "Result": {"function": "${StepArn}"}, "End": true}}
}"#;

/// Switches on moto's Step Functions interpreter, before any machine is created (moto keeps
/// executing machines in a backend of their own).
async fn enable_execution(moto: &str) {
    let response = reqwest::Client::new()
        .post(format!("{moto}/moto-api/config"))
        .json(&json!({"stepfunctions": {"execute_state_machine": true}}))
        .send()
        .await
        .expect("moto answers");
    assert!(response.status().is_success(), "{}", response.status());
}

fn config(moto: &str, label: &str) -> DevServerConfig {
    let mut config = DevServerConfig::from_env(&Env::from_pairs([
        ("AIRTABLE_API_URL", "http://127.0.0.1:9"),
        ("BACKEND", "aws"),
        ("AWS_ENDPOINT_URL", moto),
    ]))
    .expect("config");
    config.port = 0;
    let aws = &mut config.backend.aws;
    assert_eq!(config.backend.kind, BackendKind::Aws);
    assert!(aws.provision, "an emulator endpoint turns provisioning on");
    aws.resource_prefix = format!("{label}-");
    aws.secrets_prefix = format!("{label}/");
    aws.tables = Table::ALL
        .into_iter()
        .map(|table| (table, format!("{label}-{}", table.logical_name())))
        .collect();
    config
}

#[tokio::test(flavor = "multi_thread")]
async fn provisioned_machines_run_on_step_functions_with_their_placeholders_filled() {
    let Some(moto) = testkit::moto_endpoint("the provisioned state machines") else {
        return;
    };
    enable_execution(&moto).await;
    let label = format!("sfn-{}", std::process::id());
    let (_stop, stopped) = oneshot::channel::<()>();
    let options = StartOptions {
        workers: Some(Box::new(|_| Workers::default())),
        machines: Some(
            MachineDefinitions::new(&[("shows-arn", SHOWS_ARN_ASL)])
                .with_task_function("StepArn", "saga-step"),
        ),
        ..StartOptions::default()
    };
    let server = devserver::start_with(&config(&moto, &label), options, async {
        let _ = stopped.await;
    })
    .await
    .expect("start on moto");
    let machines = &server.platform.state_machines;
    let started = machines
        .start(&MachineName::new("shows-arn"), "run-1", json!({}))
        .await
        .expect("start an execution");
    assert!(
        started
            .execution_id
            .contains(&format!(":{label}-shows-arn:")),
        "{}",
        started.execution_id
    );
    let mut execution = None;
    for _ in 0..100 {
        let now = machines
            .describe(&started.execution_id)
            .await
            .expect("describe");
        if now.status.is_terminal() {
            execution = Some(now);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let execution = execution.expect("moto finishes the execution");
    assert_eq!(execution.status, ExecutionStatus::Succeeded);
    assert_eq!(
        execution.output,
        Some(json!({"function": format!("{PROVISIONED_FUNCTION_ARN_PREFIX}saga-step")}))
    );
}
