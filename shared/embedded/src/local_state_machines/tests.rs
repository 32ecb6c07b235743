//! The port's contract suite, plus what only a local runner has to get right: resuming after a
//! restart, and Tasks answering and failing exactly as Lambda does through Step Functions.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use asl::{Event, ManualTimer, TokioTimer};
use async_trait::async_trait;
use chrono::Utc;
use ports::contract::state_machines::{Fixture, GREETER_ASL, WAITER_ASL};
use ports::{Execution, ExecutionStatus, MachineName, StateMachineError, StateMachines};
use serde_json::{Value, json};
use tokio::sync::Notify;
use triggers::{TaskError, TaskHandler};

use super::*;

async fn fixture(case: &str) -> Fixture {
    let db = Database::in_memory().expect("database");
    let machines = LocalStateMachines::new(
        db,
        [
            (MachineName::new("greeter"), GREETER_ASL.to_string()),
            (MachineName::new("waiter"), WAITER_ASL.to_string()),
        ],
        &BTreeMap::new(),
        Arc::new(TokioTimer),
    )
    .expect("the contract machines parse");
    Fixture {
        machines: Arc::new(machines),
        greeter: MachineName::new("greeter"),
        waiter: MachineName::new("waiter"),
        prefix: ports::contract::unique_prefix(case),
    }
}

ports::state_machines_contract_tests!(fixture);

/// The ARN placeholder of the test machines, as the saga machines have one.
const STEP_ARN: &str = "StepArn";

/// One Task on `${StepArn}` with `Payload` `{"n.$": "$.n"}`, and whatever `extra` adds to it.
fn task_machine(extra: Value) -> String {
    let mut task = json!({
        "Type": "Task",
        "Resource": LAMBDA_INVOKE,
        "Parameters": {"FunctionName": "${StepArn}", "Payload": {"n.$": "$.n"}},
        "End": true
    });
    if let (Some(task), Some(extra)) = (task.as_object_mut(), extra.as_object()) {
        task.extend(extra.clone());
    }
    json!({"StartAt": "Step", "States": {"Step": task}}).to_string()
}

/// Waits an hour, then says it is done: a restart lands in the Wait.
const NAPPER_ASL: &str = r#"{
  "StartAt": "Nap",
  "States": {
    "Nap": {"Type": "Wait", "Seconds": 3600, "Next": "Done"},
    "Done": {"Type": "Pass", "Result": {"done": true}, "End": true}
  }
}"#;

fn runner(db: Database, machines: &[(&str, String)], timer: Arc<dyn Timer>) -> LocalStateMachines {
    let substitutions = BTreeMap::from([(STEP_ARN.to_string(), local_function_arn("saga-step"))]);
    LocalStateMachines::new(
        db,
        machines
            .iter()
            .map(|(name, text)| (MachineName::new(*name), text.clone())),
        &substitutions,
        timer,
    )
    .expect("the test machines parse")
}

fn manual_timer() -> Arc<dyn Timer> {
    Arc::new(ManualTimer::at(Utc::now()))
}

async fn wait_until_done(machines: &LocalStateMachines, id: &str) -> Execution {
    for _ in 0..500 {
        let execution = machines.describe(id).await.expect("describe");
        if execution.status.is_terminal() {
            return execution;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("execution {id} did not finish");
}

/// Polls until `seen` is true of the stored history.
async fn wait_for_event(machines: &LocalStateMachines, id: &str, seen: impl Fn(&Event) -> bool) {
    for _ in 0..500 {
        let history = machines.history(id).await.expect("history");
        if history.iter().any(|event| seen(&event.event)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("execution {id} never got there");
}

/// Answers `{"doubled": 2n}`, failing first with the errors it is given; counts its calls.
#[derive(Default)]
struct Doubler {
    failures: Mutex<Vec<TaskError>>,
    calls: AtomicUsize,
}

impl Doubler {
    fn failing(failures: Vec<TaskError>) -> Arc<Self> {
        Arc::new(Self {
            failures: Mutex::new(failures),
            calls: AtomicUsize::new(0),
        })
    }
}

#[async_trait]
impl TaskHandler for Doubler {
    async fn run(&self, input: Value) -> Result<Value, TaskError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let failure = {
            let mut failures = self.failures.lock().expect("lock");
            (!failures.is_empty()).then(|| failures.remove(0))
        };
        if let Some(failure) = failure {
            return Err(failure);
        }
        let n = input["n"]
            .as_i64()
            .ok_or_else(|| TaskError::invalid_input("n"))?;
        Ok(json!({"doubled": n * 2}))
    }
}

/// Tells that it was called, then never answers: a process that dies mid-task.
struct Hangs(Arc<Notify>);

#[async_trait]
impl TaskHandler for Hangs {
    async fn run(&self, _input: Value) -> Result<Value, TaskError> {
        self.0.notify_one();
        std::future::pending().await
    }
}

struct Panics;

#[async_trait]
impl TaskHandler for Panics {
    async fn run(&self, _input: Value) -> Result<Value, TaskError> {
        panic!("the handler broke");
    }
}

#[tokio::test]
async fn a_task_gets_its_payload_and_answers_as_lambda_does() {
    let machines = runner(
        Database::in_memory().expect("db"),
        &[("double", task_machine(json!({})))],
        manual_timer(),
    );
    machines.register_task_function("saga-step", Doubler::failing(vec![]));
    let started = machines
        .start(&MachineName::new("double"), "run-1", json!({"n": 21}))
        .await
        .expect("start");
    let done = wait_until_done(&machines, &started.execution_id).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    assert_eq!(
        done.output,
        Some(json!({"ExecutedVersion": "$LATEST", "Payload": {"doubled": 42}, "StatusCode": 200}))
    );
}

#[tokio::test]
async fn a_task_failure_has_the_error_name_and_lambdas_cause() {
    let machines = runner(
        Database::in_memory().expect("db"),
        &[("double", task_machine(json!({})))],
        manual_timer(),
    );
    machines.register_task_function(
        "saga-step",
        Doubler::failing(vec![TaskError::throttled("slow down")]),
    );
    let started = machines
        .start(&MachineName::new("double"), "run-1", json!({"n": 1}))
        .await
        .expect("start");
    let done = wait_until_done(&machines, &started.execution_id).await;
    assert_eq!(done.status, ExecutionStatus::Failed);
    assert_eq!(done.error.as_deref(), Some("Platform.Throttled"));
    let cause: Value =
        serde_json::from_str(done.cause.as_deref().unwrap_or_default()).expect("cause is JSON");
    assert_eq!(
        cause,
        json!({"errorMessage": "slow down", "errorType": "Platform.Throttled"})
    );
}

#[tokio::test]
async fn retry_and_catch_match_the_task_error_names() {
    let retried = task_machine(json!({
        "Retry": [{"ErrorEquals": ["Platform.Throttled"], "IntervalSeconds": 2, "MaxAttempts": 3}],
        "ResultSelector": {"doubled.$": "$.Payload.doubled"}
    }));
    let caught = json!({
        "StartAt": "Step",
        "States": {
            "Step": {
                "Type": "Task", "Resource": LAMBDA_INVOKE,
                "Parameters": {"FunctionName": "${StepArn}", "Payload": {"n.$": "$.n"}},
                "Catch": [{"ErrorEquals": ["Platform.Conflict"], "ResultPath": "$.failure", "Next": "Undo"}],
                "End": true
            },
            "Undo": {"Type": "Pass", "End": true}
        }
    })
    .to_string();
    let machines = runner(
        Database::in_memory().expect("db"),
        &[("retried", retried), ("caught", caught)],
        manual_timer(),
    );
    let flaky = Doubler::failing(vec![
        TaskError::throttled("429"),
        TaskError::throttled("429 again"),
    ]);
    machines.register_task_function("saga-step", Arc::clone(&flaky) as Arc<dyn TaskHandler>);
    let started = machines
        .start(&MachineName::new("retried"), "run-1", json!({"n": 5}))
        .await
        .expect("start");
    let done = wait_until_done(&machines, &started.execution_id).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    assert_eq!(done.output, Some(json!({"doubled": 10})));
    assert_eq!(flaky.calls.load(Ordering::SeqCst), 3);

    machines.register_task_function(
        "saga-step",
        Doubler::failing(vec![TaskError::conflict("exists")]),
    );
    let started = machines
        .start(&MachineName::new("caught"), "run-2", json!({"n": 5}))
        .await
        .expect("start");
    let done = wait_until_done(&machines, &started.execution_id).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    let output = done.output.expect("output");
    assert_eq!(output["failure"]["Error"], "Platform.Conflict");
    assert_eq!(output["n"], 5);
}

#[tokio::test]
async fn an_unknown_function_is_lambdas_resource_not_found() {
    let machines = runner(
        Database::in_memory().expect("db"),
        &[("double", task_machine(json!({})))],
        manual_timer(),
    );
    let started = machines
        .start(&MachineName::new("double"), "run-1", json!({"n": 1}))
        .await
        .expect("start");
    let done = wait_until_done(&machines, &started.execution_id).await;
    assert_eq!(done.status, ExecutionStatus::Failed);
    assert_eq!(done.error.as_deref(), Some(FUNCTION_NOT_FOUND));
    assert!(
        done.cause
            .as_deref()
            .is_some_and(|cause| cause.contains("function:saga-step")),
        "{:?}",
        done.cause
    );
}

#[tokio::test]
async fn a_panicking_handler_fails_the_state_instead_of_hanging_the_execution() {
    let machines = runner(
        Database::in_memory().expect("db"),
        &[("double", task_machine(json!({})))],
        manual_timer(),
    );
    machines.register_task_function("saga-step", Arc::new(Panics));
    let started = machines
        .start(&MachineName::new("double"), "run-1", json!({"n": 1}))
        .await
        .expect("start");
    let done = wait_until_done(&machines, &started.execution_id).await;
    assert_eq!(done.status, ExecutionStatus::Failed);
    assert_eq!(done.error.as_deref(), Some("Lambda.Unknown"));
}

#[tokio::test]
async fn stopping_a_finished_execution_changes_nothing() {
    let machines = runner(
        Database::in_memory().expect("db"),
        &[("greeter", GREETER_ASL.to_string())],
        manual_timer(),
    );
    let started = machines
        .start(
            &MachineName::new("greeter"),
            "run-1",
            json!({"name": "Ada"}),
        )
        .await
        .expect("start");
    let done = wait_until_done(&machines, &started.execution_id).await;
    let events = machines
        .history(&started.execution_id)
        .await
        .expect("history")
        .len();
    machines
        .stop(
            &started.execution_id,
            Some("Too.Late"),
            Some("finished already"),
        )
        .await
        .expect("a stop of a finished execution succeeds");
    assert_eq!(
        machines
            .describe(&started.execution_id)
            .await
            .expect("describe"),
        done
    );
    assert_eq!(
        machines
            .history(&started.execution_id)
            .await
            .expect("history")
            .len(),
        events
    );
    let missing = machines.stop("no-such-execution", None, None).await;
    assert!(
        matches!(missing, Err(StateMachineError::ExecutionNotFound(_))),
        "{missing:?}"
    );
}

#[tokio::test]
async fn a_stop_stores_its_error_and_cause_and_the_history_ends_aborted() {
    let machines = runner(
        Database::in_memory().expect("db"),
        &[("napper", NAPPER_ASL.to_string())],
        Arc::new(TokioTimer),
    );
    let started = machines
        .start(&MachineName::new("napper"), "run-1", json!({}))
        .await
        .expect("start");
    wait_for_event(&machines, &started.execution_id, |e| {
        matches!(e, Event::WaitStarted { .. })
    })
    .await;
    machines
        .stop(
            &started.execution_id,
            Some("Saga.Cancelled"),
            Some("user asked"),
        )
        .await
        .expect("stop");
    let stopped = machines
        .describe(&started.execution_id)
        .await
        .expect("describe");
    assert_eq!(stopped.status, ExecutionStatus::Aborted);
    assert_eq!(stopped.error.as_deref(), Some("Saga.Cancelled"));
    assert_eq!(stopped.cause.as_deref(), Some("user asked"));
    assert!(stopped.stopped_at.is_some());
    let history = machines
        .history(&started.execution_id)
        .await
        .expect("history");
    assert!(matches!(
        history.last().map(|e| &e.event),
        Some(Event::ExecutionAborted { .. })
    ));
    let ids: Vec<u64> = history.iter().map(|e| e.id).collect();
    assert_eq!(ids, (1..=history.len() as u64).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_restart_resumes_a_waiting_execution_where_it_was() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("machines.sqlite");
    let napper = [("napper", NAPPER_ASL.to_string())];
    let id = {
        let first = runner(
            Database::open(&path).expect("db"),
            &napper,
            Arc::new(TokioTimer),
        );
        let started = first
            .start(&MachineName::new("napper"), "nap-1", json!({"who": "cat"}))
            .await
            .expect("start");
        wait_for_event(&first, &started.execution_id, |e| {
            matches!(e, Event::WaitStarted { .. })
        })
        .await;
        started.execution_id
    };
    // The hour's Wait passes at once on the manual timer: it resumes, it does not restart.
    let second = runner(
        Database::open(&path).expect("db again"),
        &napper,
        manual_timer(),
    );
    assert_eq!(
        second.describe(&id).await.expect("describe").status,
        ExecutionStatus::Running
    );
    assert_eq!(second.resume_running().await.expect("resume"), 1);
    let done = wait_until_done(&second, &id).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    assert_eq!(done.output, Some(json!({"done": true})));
    let history = second.history(&id).await.expect("history");
    let entered_nap = history
        .iter()
        .filter(|e| matches!(&e.event, Event::StateEntered { name, .. } if name == "Nap"))
        .count();
    assert_eq!(entered_nap, 1, "the Wait was entered again");
    assert_eq!(
        second.resume_running().await.expect("resume again"),
        0,
        "nothing is left running"
    );
}

#[tokio::test]
async fn a_restart_runs_a_task_that_was_in_flight_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("machines.sqlite");
    let double = [("double", task_machine(json!({})))];
    let id = {
        let first = runner(Database::open(&path).expect("db"), &double, manual_timer());
        let called = Arc::new(Notify::new());
        first.register_task_function("saga-step", Arc::new(Hangs(Arc::clone(&called))));
        let started = first
            .start(&MachineName::new("double"), "run-1", json!({"n": 4}))
            .await
            .expect("start");
        called.notified().await;
        started.execution_id
    };
    let second = runner(
        Database::open(&path).expect("db again"),
        &double,
        manual_timer(),
    );
    let doubler = Doubler::failing(vec![]);
    second.register_task_function("saga-step", Arc::clone(&doubler) as Arc<dyn TaskHandler>);
    assert_eq!(second.resume_running().await.expect("resume"), 1);
    let done = wait_until_done(&second, &id).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    assert_eq!(
        done.output.map(|o| o["Payload"].clone()),
        Some(json!({"doubled": 8}))
    );
    assert_eq!(doubler.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn resuming_does_not_run_an_execution_twice() {
    let machines = runner(
        Database::in_memory().expect("db"),
        &[("napper", NAPPER_ASL.to_string())],
        Arc::new(TokioTimer),
    );
    let started = machines
        .start(&MachineName::new("napper"), "nap-1", json!({}))
        .await
        .expect("start");
    assert_eq!(machines.resume_running().await.expect("resume"), 0);
    machines
        .stop(&started.execution_id, None, None)
        .await
        .expect("stop");
    let stopped = machines
        .describe(&started.execution_id)
        .await
        .expect("describe");
    assert_eq!(stopped.status, ExecutionStatus::Aborted);
    assert_eq!(stopped.error, None, "a stop without an error stores none");
}

#[tokio::test]
async fn an_input_past_the_quota_is_refused() {
    let machines = runner(
        Database::in_memory().expect("db"),
        &[("greeter", GREETER_ASL.to_string())],
        manual_timer(),
    );
    let big = json!({"name": "x".repeat(MAX_INPUT_BYTES)});
    let refused = machines
        .start(&MachineName::new("greeter"), "big", big)
        .await;
    assert!(
        matches!(refused, Err(StateMachineError::Invalid(_))),
        "{refused:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_starts_of_one_name_start_one_execution() {
    let machines = Arc::new(runner(
        Database::in_memory().expect("db"),
        &[("napper", NAPPER_ASL.to_string())],
        Arc::new(TokioTimer),
    ));
    let starts: Vec<_> = (0..16)
        .map(|_| {
            let machines = Arc::clone(&machines);
            tokio::spawn(async move {
                machines
                    .start(&MachineName::new("napper"), "sag_race", json!({"k": 1}))
                    .await
            })
        })
        .collect();
    let mut fresh = 0;
    let mut ids = std::collections::BTreeSet::new();
    for start in starts {
        let started = start.await.expect("joined").expect("start");
        fresh += usize::from(!started.already_existed);
        ids.insert(started.execution_id);
    }
    assert_eq!(fresh, 1, "exactly one start is not a retry");
    assert_eq!(ids.len(), 1);
    assert_eq!(machines.inner.running.lock().expect("lock").len(), 1);
}
