//! The dev server runs the state machines in-process, and a restart carries on the executions
//! the previous run left running: the first server dies while a Task is in flight (its
//! function never answers), the second, started on the same `DATA_DIR`, runs that Task again
//! and finishes the execution.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use backend::MachineDefinitions;
use basics::Env;
use devserver::{DevServerConfig, StartOptions, Workers};
use ports::{Execution, ExecutionStatus, MachineName};
use serde_json::{Value, json};
use tokio::sync::{Notify, oneshot};
use triggers::{TaskError, TaskHandler};

/// One Task on the function behind `${StepArn}`, as the saga machines have.
const STEP_ASL: &str = r#"{
  "StartAt": "Step",
  "States": {
    "Step": {
      "Type": "Task",
      "Resource": "arn:aws:states:::lambda:invoke",
      "Parameters": {"FunctionName": "${StepArn}", "Payload": {"n.$": "$.n"}},
      "ResultSelector": {"squared.$": "$.Payload.squared"},
      "End": true
    }
  }
}"#;

/// Says it was called, then never answers: the server dies with this Task in flight.
struct Hangs(Arc<Notify>);

#[async_trait]
impl TaskHandler for Hangs {
    async fn run(&self, _input: Value) -> Result<Value, TaskError> {
        self.0.notify_one();
        std::future::pending().await
    }
}

struct Squares;

#[async_trait]
impl TaskHandler for Squares {
    async fn run(&self, input: Value) -> Result<Value, TaskError> {
        let n = input["n"]
            .as_i64()
            .ok_or_else(|| TaskError::invalid_input("n"))?;
        Ok(json!({"squared": n * n}))
    }
}

fn config(data_dir: &std::path::Path) -> DevServerConfig {
    let data_dir = data_dir.to_string_lossy().to_string();
    let mut config = DevServerConfig::from_env(&Env::from_pairs([
        ("DATA_DIR", data_dir.as_str()),
        // No sandbox: nothing here calls Airtable.
        ("AIRTABLE_API_URL", "http://127.0.0.1:9"),
    ]))
    .expect("config");
    config.port = 0;
    config
}

fn options(step: Arc<dyn TaskHandler>) -> StartOptions {
    StartOptions {
        workers: Some(Box::new(|_| Workers::default())),
        machines: Some(
            MachineDefinitions::new(&[("square", STEP_ASL)])
                .with_task_function("StepArn", "square-step"),
        ),
        task_functions: vec![("square-step".to_string(), step)],
        ..StartOptions::default()
    }
}

async fn finished(platform: &platform::Platform, id: &str) -> Execution {
    for _ in 0..500 {
        let execution = platform
            .state_machines
            .describe(id)
            .await
            .expect("describe");
        if execution.status.is_terminal() {
            return execution;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("execution {id} did not finish");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_execution_left_running_by_a_stopped_server_finishes_after_a_restart() {
    let data = tempfile::tempdir().expect("data dir");
    let config = config(data.path());

    let called = Arc::new(Notify::new());
    let (stop, stopped) = oneshot::channel::<()>();
    let first = devserver::start_with(
        &config,
        options(Arc::new(Hangs(Arc::clone(&called)))),
        async {
            let _ = stopped.await;
        },
    )
    .await
    .expect("first start");
    let started = first
        .platform
        .state_machines
        .start(&MachineName::new("square"), "sag_restart", json!({"n": 7}))
        .await
        .expect("start");
    called.notified().await;
    let first_platform = Arc::downgrade(&first.platform);
    let _ = stop.send(());
    first.wait().await.expect("first server stops");
    // Gone with its runner, whose drop stops the execution's task: a dead process, in-process.
    assert!(
        first_platform.upgrade().is_none(),
        "the stopped server's platform is still alive"
    );

    let (_stop, stopped) = oneshot::channel::<()>();
    let second = devserver::start_with(&config, options(Arc::new(Squares)), async {
        let _ = stopped.await;
    })
    .await
    .expect("second start");
    let done = finished(&second.platform, &started.execution_id).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    assert_eq!(done.output, Some(json!({"squared": 49})));
    assert_eq!(done.input, json!({"n": 7}));
    let history = second
        .local_state_machines
        .as_ref()
        .expect("the embedded backend's runner")
        .history(&started.execution_id)
        .await
        .expect("history");
    let scheduled = history
        .iter()
        .filter(|e| e.event.aws_type() == "TaskScheduled")
        .count();
    // A state is stored when it ends: the attempt in flight at the stop left no events.
    assert_eq!(scheduled, 1);
    let started_events = history
        .iter()
        .filter(|e| e.event.aws_type() == "ExecutionStarted")
        .count();
    assert_eq!(
        started_events, 1,
        "the execution carried on, it did not start over"
    );
}
