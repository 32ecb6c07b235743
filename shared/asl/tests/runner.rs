//! End-to-end behaviour of the interpreter: data flow, every state type, Retry/Catch, the
//! history, and stepping through a stored snapshot. Expected values follow the AWS Step
//! Functions documentation's examples where it has one.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use asl::{
    Event, Execution, ExecutionInfo, Interpreter, ManualTimer, Snapshot, StateMachine, Status,
    TaskFailure, TaskInvoker,
};
use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};

type Handler = dyn Fn(&str, Value, usize) -> Result<Value, TaskFailure> + Send + Sync;

/// Answers each call with a function of (resource, input, call number); resource "hang" never
/// answers, for timeouts.
struct Scripted {
    handler: Box<Handler>,
    calls: AtomicUsize,
    inputs: Mutex<Vec<Value>>,
}

#[async_trait]
impl TaskInvoker for Scripted {
    async fn invoke(&self, resource: &str, input: Value) -> Result<Value, TaskFailure> {
        if resource == "hang" {
            return futures::future::pending().await;
        }
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        self.inputs.lock().unwrap().push(input.clone());
        (self.handler)(resource, input, n)
    }
}

fn scripted(
    handler: impl Fn(&str, Value, usize) -> Result<Value, TaskFailure> + Send + Sync + 'static,
) -> Arc<Scripted> {
    Arc::new(Scripted {
        handler: Box::new(handler),
        calls: AtomicUsize::new(0),
        inputs: Mutex::new(Vec::new()),
    })
}

fn start_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap()
}

fn info(input: Value) -> ExecutionInfo {
    ExecutionInfo {
        id: "arn:aws:states:us-east-1:123456789012:execution:m:e1".into(),
        name: "e1".into(),
        state_machine_id: "arn:aws:states:us-east-1:123456789012:stateMachine:m".into(),
        state_machine_name: "m".into(),
        start_time: start_time(),
        input,
    }
}

async fn run_with(
    definition: Value,
    input: Value,
    invoker: Arc<Scripted>,
) -> (Snapshot, ManualTimer) {
    let timer = ManualTimer::at(start_time());
    let machine = Arc::new(StateMachine::from_value(&definition).unwrap());
    let interpreter = Interpreter::new(invoker, Arc::new(timer.clone()));
    let mut execution = Execution::start(machine, info(input));
    let snapshot = execution.run(&interpreter).await.clone();
    (snapshot, timer)
}

async fn run(definition: Value, input: Value) -> Snapshot {
    run_with(definition, input, scripted(|_, input, _| Ok(input)))
        .await
        .0
}

fn one_task(task: Value) -> Value {
    let mut task = task;
    task["Type"] = json!("Task");
    task["End"] = json!(true);
    json!({"StartAt": "T", "States": {"T": task}})
}

#[tokio::test]
async fn result_path_examples_from_the_aws_docs() {
    let input = json!({"comment": "This is a test of the input and output of a Task state.", "details": "Default example", "who": "AWS Step Functions"});
    let hello = || {
        scripted(|_, input: Value, _| {
            Ok(json!(format!("Hello, {}!", input["who"].as_str().unwrap())))
        })
    };
    let (out, _) = run_with(
        one_task(json!({"Resource": "hello", "ResultPath": "$.taskresult"})),
        input.clone(),
        hello(),
    )
    .await;
    let mut expected = input.clone();
    expected["taskresult"] = json!("Hello, AWS Step Functions!");
    assert_eq!(out.output, Some(expected));
    let (out, _) = run_with(
        one_task(json!({"Resource": "hello"})),
        input.clone(),
        hello(),
    )
    .await;
    assert_eq!(out.output, Some(json!("Hello, AWS Step Functions!")));
    let (out, _) = run_with(
        one_task(json!({"Resource": "hello", "ResultPath": null})),
        input.clone(),
        hello(),
    )
    .await;
    assert_eq!(out.output, Some(input.clone()));
    // A nested ResultPath creates the objects on its way.
    let (out, _) = run_with(
        one_task(json!({"Resource": "hello", "ResultPath": "$.a.b"})),
        json!({}),
        scripted(|_, _, _| Ok(json!(1))),
    )
    .await;
    assert_eq!(out.output, Some(json!({"a": {"b": 1}})));
}

#[tokio::test]
async fn result_selector_example_from_the_aws_docs() {
    let result = json!({
        "resourceType": "elasticmapreduce",
        "resource": "createCluster.sync",
        "output": {"SdkHttpMetadata": {"HttpHeaders": {"Content-Length": "1112"}, "HttpStatusCode": 200}, "SdkResponseMetadata": {"RequestId": "1234"}, "ClusterId": "AKIAIOSFODNN7EXAMPLE"}
    });
    let invoker = scripted(move |_, _, _| Ok(result.clone()));
    let (out, _) = run_with(
        one_task(json!({"Resource": "emr", "ResultSelector": {"ClusterId.$": "$.output.ClusterId", "ResourceType.$": "$.resourceType"}, "ResultPath": "$.EMROutput"})),
        json!({"resource": "arn:aws:states:::elasticmapreduce:createCluster.sync"}),
        invoker,
    )
    .await;
    assert_eq!(
        out.output,
        Some(
            json!({"resource": "arn:aws:states:::elasticmapreduce:createCluster.sync", "EMROutput": {"ClusterId": "AKIAIOSFODNN7EXAMPLE", "ResourceType": "elasticmapreduce"}})
        )
    );
}

#[tokio::test]
async fn input_path_parameters_output_path_and_the_context_object() {
    let invoker = scripted(|_, input, _| Ok(json!({"got": input})));
    let (out, _) = run_with(
        one_task(json!({
            "Resource": "r",
            "InputPath": "$.library",
            "Parameters": {"book.$": "$.books[1]", "exec.$": "$$.Execution.Name", "state.$": "$$.State.Name", "static": 1},
            "ResultPath": "$.library.result",
            "OutputPath": "$.library"
        })),
        json!({"library": {"books": ["a", "b"]}, "other": true}),
        invoker.clone(),
    )
    .await;
    assert_eq!(
        invoker.inputs.lock().unwrap()[0],
        json!({"book": "b", "exec": "e1", "state": "T", "static": 1})
    );
    assert_eq!(
        out.output,
        Some(
            json!({"books": ["a", "b"], "result": {"got": {"book": "b", "exec": "e1", "state": "T", "static": 1}}})
        )
    );
    // InputPath null hands the state {}; OutputPath null outputs {}.
    let out = run(
        json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "InputPath": null, "End": true}}}),
        json!({"a": 1}),
    )
    .await;
    assert_eq!(out.output, Some(json!({})));
    let out = run(
        json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "OutputPath": null, "End": true}}}),
        json!({"a": 1}),
    )
    .await;
    assert_eq!(out.output, Some(json!({})));
}

#[tokio::test]
async fn pass_result_and_parameters() {
    // The Pass state example of the AWS docs: Result placed at $.coords.
    let out = run(
        json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"x-datum": 0.381018, "y-datum": 622.2269926397355}, "ResultPath": "$.coords", "End": true}}}),
        json!({"georefOf": "Home"}),
    )
    .await;
    assert_eq!(
        out.output,
        Some(
            json!({"georefOf": "Home", "coords": {"x-datum": 0.381018, "y-datum": 622.2269926397355}})
        )
    );
    let out = run(
        json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"n.$": "States.MathAdd($.a, 1)"}, "End": true}}}),
        json!({"a": 41}),
    )
    .await;
    assert_eq!(out.output, Some(json!({"n": 42})));
}

#[tokio::test]
async fn a_bad_path_is_states_runtime_and_no_catch_takes_it() {
    let out = run(
        json!({"StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": "r", "InputPath": "$.missing", "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}], "End": true},
            "Caught": {"Type": "Succeed"}
        }}),
        json!({}),
    )
    .await;
    assert_eq!(out.status, Status::Failed);
    assert_eq!(out.error.unwrap().error, "States.Runtime");
}

#[tokio::test]
async fn choice_rules_default_and_no_match() {
    let machine = json!({"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [
            {"Not": {"Variable": "$.type", "StringEquals": "Private"}, "Next": "Public"},
            {"And": [{"Variable": "$.value", "IsPresent": true}, {"Variable": "$.value", "NumericGreaterThanEquals": 20}, {"Variable": "$.value", "NumericLessThan": 30}], "Next": "ValueInTwenties"}
        ]},
        "Public": {"Type": "Pass", "Result": "public", "End": true},
        "ValueInTwenties": {"Type": "Pass", "Result": "twenties", "End": true}
    }});
    assert_eq!(
        run(machine.clone(), json!({"type": "Public"})).await.output,
        Some(json!("public"))
    );
    assert_eq!(
        run(machine.clone(), json!({"type": "Private", "value": 22}))
            .await
            .output,
        Some(json!("twenties"))
    );
    let failed = run(machine.clone(), json!({"type": "Private", "value": 35})).await;
    assert_eq!(failed.error.unwrap().error, "States.NoChoiceMatched");
    let mut with_default = machine;
    with_default["States"]["C"]["Default"] = json!("Public");
    assert_eq!(
        run(with_default, json!({"type": "Private", "value": 35}))
            .await
            .output,
        Some(json!("public"))
    );
}

#[tokio::test]
async fn retry_backs_off_caps_and_then_succeeds() {
    let invoker = scripted(|_, _, n| {
        if n < 3 {
            Err(TaskFailure {
                error: "Lambda.TooManyRequestsException".into(),
                cause: "slow down".into(),
            })
        } else {
            Ok(json!("ok"))
        }
    });
    let (out, timer) = run_with(
        one_task(json!({"Resource": "r", "Retry": [
            {"ErrorEquals": ["Other"], "MaxAttempts": 9},
            {"ErrorEquals": ["Lambda.TooManyRequestsException"], "IntervalSeconds": 2, "BackoffRate": 3, "MaxAttempts": 3, "MaxDelaySeconds": 10}
        ]})),
        json!({}),
        invoker.clone(),
    )
    .await;
    assert_eq!(out.output, Some(json!("ok")));
    assert_eq!(
        timer.slept(),
        vec![
            Duration::from_secs(2),
            Duration::from_secs(6),
            Duration::from_secs(10)
        ]
    );
    let retries = out
        .history
        .iter()
        .filter(|e| matches!(e.event, Event::RetryScheduled { .. }))
        .count();
    assert_eq!(retries, 3);
    assert_eq!(invoker.calls.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn full_jitter_stays_within_the_delay() {
    let invoker = scripted(|_, _, n| {
        if n < 1 {
            Err(TaskFailure {
                error: "E".into(),
                cause: String::new(),
            })
        } else {
            Ok(json!(1))
        }
    });
    let (_, timer) = run_with(
        one_task(json!({"Resource": "r", "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 4, "JitterStrategy": "FULL"}]})),
        json!({}),
        invoker,
    )
    .await;
    assert!(timer.slept()[0] <= Duration::from_secs(4));
}

#[tokio::test]
async fn exhausted_retries_fall_to_the_catch_with_error_and_cause() {
    let invoker = scripted(|_, _, _| {
        Err(TaskFailure {
            error: "Airtable.Unavailable".into(),
            cause: "503".into(),
        })
    });
    let (out, _) = run_with(
        json!({"StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": "r", "Retry": [{"ErrorEquals": ["States.TaskFailed"], "MaxAttempts": 2, "IntervalSeconds": 1}],
                  "Catch": [{"ErrorEquals": ["Nope"], "Next": "Wrong"}, {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Undo"}], "End": true},
            "Wrong": {"Type": "Fail", "Error": "Wrong"},
            "Undo": {"Type": "Pass", "End": true}
        }}),
        json!({"keep": 1}),
        invoker.clone(),
    )
    .await;
    assert_eq!(invoker.calls.load(Ordering::SeqCst), 3);
    assert_eq!(
        out.output,
        Some(json!({"keep": 1, "error": {"Error": "Airtable.Unavailable", "Cause": "503"}}))
    );
    let types: Vec<String> = out.history.iter().map(|e| e.event.aws_type()).collect();
    assert_eq!(
        types,
        vec![
            "ExecutionStarted",
            "TaskStateEntered",
            "TaskScheduled",
            "TaskFailed",
            "RetryScheduled",
            "TaskScheduled",
            "TaskFailed",
            "RetryScheduled",
            "TaskScheduled",
            "TaskFailed",
            "ErrorCaught",
            "TaskStateExited",
            "PassStateEntered",
            "PassStateExited",
            "ExecutionSucceeded"
        ]
    );
    assert!(out.history.windows(2).all(|w| w[1].id == w[0].id + 1));
}

#[tokio::test]
async fn task_timeout_is_states_timeout_and_task_failed_does_not_match_it() {
    let out = run(
        json!({"StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": "hang", "TimeoutSeconds": 5, "Catch": [{"ErrorEquals": ["States.TaskFailed"], "Next": "No"}], "End": true},
            "No": {"Type": "Succeed"}
        }}),
        json!({}),
    )
    .await;
    assert_eq!(out.error.unwrap().error, "States.Timeout");
}

#[tokio::test]
async fn fail_state_error_and_cause_from_paths() {
    let out = run(
        json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "ErrorPath": "$.e", "CausePath": "$.c"}}}),
        json!({"e": "Custom", "c": "because"}),
    )
    .await;
    assert_eq!(out.status, Status::Failed);
    assert_eq!(
        out.error.unwrap(),
        asl::StatesError::new("Custom", "because")
    );
}

// AWS: "You can also specify ErrorPath/CausePath using an intrinsic function that returns a
// string" (corpus case fail-paths-intrinsic).
#[tokio::test]
async fn fail_state_error_and_cause_from_intrinsic_functions() {
    let out = run(
        json!({"StartAt": "F", "States": {"F": {"Type": "Fail",
            "ErrorPath": "States.Format('E.{}', $.code)",
            "CausePath": "States.JsonToString($.detail)"}}}),
        json!({"code": 42, "detail": {"k": "v"}}),
    )
    .await;
    assert_eq!(
        out.error.unwrap(),
        asl::StatesError::new("E.42", "{\"k\":\"v\"}")
    );
}

#[tokio::test]
async fn parallel_outputs_an_array_and_a_failed_branch_is_catchable_by_name() {
    let out = run(
        json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "Branches": [
            {"StartAt": "A", "States": {"A": {"Type": "Pass", "Parameters": {"a.$": "$.x"}, "End": true}}},
            {"StartAt": "B", "States": {"B": {"Type": "Pass", "Result": "b", "End": true}}}
        ], "ResultPath": "$.branches", "End": true}}}),
        json!({"x": 1}),
    )
    .await;
    assert_eq!(
        out.output,
        Some(json!({"x": 1, "branches": [{"a": 1}, "b"]}))
    );
    let out = run(
        json!({"StartAt": "P", "States": {
            "P": {"Type": "Parallel", "Branches": [{"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "BranchBroke", "Cause": "c"}}}],
                  "Catch": [{"ErrorEquals": ["BranchBroke"], "Next": "S"}], "End": true},
            "S": {"Type": "Succeed"}
        }}),
        json!({}),
    )
    .await;
    assert_eq!(
        out.output,
        Some(json!({"Error": "BranchBroke", "Cause": "c"}))
    );
}

#[tokio::test]
async fn map_items_selector_context_and_concurrency() {
    let invoker = scripted(|_, input, _| Ok(json!(input["value"].as_i64().unwrap() * 10)));
    let (out, _) = run_with(
        json!({"StartAt": "M", "States": {"M": {
            "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 1,
            "ItemSelector": {"index.$": "$$.Map.Item.Index", "value.$": "$$.Map.Item.Value", "tag.$": "$.tag"},
            "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "r", "End": true}}},
            "ResultPath": "$.results", "End": true
        }}}),
        json!({"items": [1, 2, 3], "tag": "t"}),
        invoker.clone(),
    )
    .await;
    assert_eq!(
        out.output,
        Some(json!({"items": [1, 2, 3], "tag": "t", "results": [10, 20, 30]}))
    );
    assert_eq!(
        invoker.inputs.lock().unwrap()[2],
        json!({"index": 2, "value": 3, "tag": "t"})
    );
    // The legacy Iterator + Parameters spelling.
    let out = run(
        json!({"StartAt": "M", "States": {"M": {"Type": "Map", "Parameters": {"v.$": "$$.Map.Item.Value"},
            "Iterator": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}, "End": true}}}),
        json!(["a", "b"]),
    )
    .await;
    assert_eq!(out.output, Some(json!([{"v": "a"}, {"v": "b"}])));
    let out = run(
        json!({"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$.nope",
            "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}, "End": true}}}),
        json!({"nope": 3}),
    )
    .await;
    assert_eq!(out.error.unwrap().error, "States.Runtime");
}

#[tokio::test]
async fn wait_is_stored_in_the_snapshot_and_resumed_after_a_restart() {
    let machine = Arc::new(
        StateMachine::from_value(&json!({"StartAt": "W", "States": {
            "W": {"Type": "Wait", "SecondsPath": "$.delay", "Next": "T"},
            "T": {"Type": "Task", "Resource": "r", "End": true}
        }}))
        .unwrap(),
    );
    let timer = ManualTimer::at(start_time());
    let interpreter = Interpreter::new(scripted(|_, input, _| Ok(input)), Arc::new(timer.clone()));
    let mut execution = Execution::start(machine.clone(), info(json!({"delay": 3600})));
    assert!(!execution.step(&interpreter).await);
    let stored = serde_json::to_string(execution.snapshot()).unwrap();
    assert!(timer.slept().is_empty(), "entering a Wait does not sleep");
    // A new process: the snapshot is all it has.
    let snapshot: Snapshot = serde_json::from_str(&stored).unwrap();
    assert_eq!(snapshot.position.as_deref(), Some("T"));
    assert_eq!(
        snapshot.waiting_until,
        Some(start_time() + chrono::Duration::hours(1))
    );
    let mut resumed = Execution::resume(machine, snapshot);
    timer.clock.advance(chrono::Duration::minutes(20));
    resumed.run(&interpreter).await;
    assert_eq!(timer.slept(), vec![Duration::from_secs(40 * 60)]);
    assert_eq!(resumed.snapshot().output, Some(json!({"delay": 3600})));
}

#[tokio::test]
async fn wait_timestamps() {
    let (out, timer) = run_with(
        json!({"StartAt": "W", "States": {
            "W": {"Type": "Wait", "Timestamp": "2026-01-02T04:04:05Z", "Next": "X"},
            "X": {"Type": "Wait", "TimestampPath": "$.at", "End": true}
        }}),
        json!({"at": "2026-01-02T05:04:05Z"}),
        scripted(|_, i, _| Ok(i)),
    )
    .await;
    assert_eq!(out.status, Status::Succeeded);
    assert_eq!(
        timer.slept(),
        vec![Duration::from_secs(3600), Duration::from_secs(3600)]
    );
}

#[tokio::test]
async fn abort_marks_a_running_execution_and_leaves_a_finished_one() {
    let machine = Arc::new(
        StateMachine::from_value(
            &json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 10, "End": true}}}),
        )
        .unwrap(),
    );
    let mut execution = Execution::start(machine, info(json!({})));
    assert!(execution.abort(start_time(), "Cancelled", "by the user"));
    assert_eq!(execution.snapshot().status, Status::Aborted);
    assert!(!execution.abort(start_time(), "Cancelled", "again"));
}

/// Counts the calls in flight at once; each call yields a few times so others can start.
struct Overlap {
    now: AtomicUsize,
    most: AtomicUsize,
}

#[async_trait]
impl TaskInvoker for Overlap {
    async fn invoke(&self, _resource: &str, input: Value) -> Result<Value, TaskFailure> {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        for _ in 0..5 {
            tokio::task::yield_now().await;
        }
        self.now.fetch_sub(1, Ordering::SeqCst);
        Ok(input)
    }
}

async fn most_at_once(max_concurrency: u64) -> usize {
    let overlap = Arc::new(Overlap {
        now: AtomicUsize::new(0),
        most: AtomicUsize::new(0),
    });
    let machine = Arc::new(
        StateMachine::from_value(&json!({"StartAt": "M", "States": {"M": {
            "Type": "Map", "MaxConcurrency": max_concurrency,
            "ItemProcessor": {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "r", "End": true}}},
            "End": true
        }}}))
        .unwrap(),
    );
    let interpreter = Interpreter::new(overlap.clone(), Arc::new(ManualTimer::at(start_time())));
    let mut execution = Execution::start(machine, info(json!([1, 2, 3, 4, 5, 6])));
    let out = execution.run(&interpreter).await;
    assert_eq!(out.output, Some(json!([1, 2, 3, 4, 5, 6])));
    overlap.most.load(Ordering::SeqCst)
}

#[tokio::test]
async fn map_max_concurrency_is_honoured() {
    assert_eq!(most_at_once(2).await, 2);
    assert_eq!(most_at_once(1).await, 1);
    assert_eq!(most_at_once(0).await, 6);
}

#[tokio::test]
async fn a_failed_iteration_fails_the_map_and_its_catch_takes_it() {
    let invoker = scripted(|_, input, _| {
        if input == json!(2) {
            Err(TaskFailure {
                error: "BadItem".into(),
                cause: "two".into(),
            })
        } else {
            Ok(input)
        }
    });
    let (out, _) = run_with(
        json!({"StartAt": "M", "States": {
            "M": {"Type": "Map", "ItemProcessor": {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "r", "End": true}}},
                  "Catch": [{"ErrorEquals": ["BadItem"], "ResultPath": "$.failure", "Next": "Compensate"}], "ItemsPath": "$.items", "End": true},
            "Compensate": {"Type": "Pass", "End": true}
        }}),
        json!({"items": [1, 2, 3]}),
        invoker,
    )
    .await;
    assert_eq!(
        out.output,
        Some(json!({"items": [1, 2, 3], "failure": {"Error": "BadItem", "Cause": "two"}}))
    );
    assert!(
        out.history
            .iter()
            .any(|e| matches!(&e.event, Event::MapIterationFailed { index: 1, .. }))
    );
}

#[tokio::test]
async fn each_step_runs_one_state_and_a_resumed_execution_does_not_redo_finished_ones() {
    let definition = json!({"StartAt": "First", "States": {
        "First": {"Type": "Task", "Resource": "first", "ResultPath": "$.first", "Next": "Second"},
        "Second": {"Type": "Task", "Resource": "second", "ResultPath": "$.second", "End": true}
    }});
    let machine = Arc::new(StateMachine::from_value(&definition).unwrap());
    let invoker = scripted(|resource, _, _| Ok(json!(resource)));
    let timer = Arc::new(ManualTimer::at(start_time()));
    let interpreter = Interpreter::new(invoker.clone(), timer.clone());
    let mut execution = Execution::start(machine.clone(), info(json!({})));
    assert!(!execution.step(&interpreter).await);
    let stored = serde_json::to_value(execution.snapshot()).unwrap();
    assert_eq!(stored["position"], json!("Second"));
    assert_eq!(stored["data"], json!({"first": "first"}));
    // The process restarts: a new interpreter, the stored snapshot.
    let mut resumed = Execution::resume(machine, serde_json::from_value(stored).unwrap());
    assert!(resumed.step(&interpreter).await);
    assert_eq!(invoker.calls.load(Ordering::SeqCst), 2);
    let done = resumed.into_snapshot();
    assert_eq!(done.status, Status::Succeeded);
    assert_eq!(
        done.output,
        Some(json!({"first": "first", "second": "second"}))
    );
    let ids: Vec<u64> = done.history.iter().map(|e| e.id).collect();
    assert_eq!(ids, (1..=ids.len() as u64).collect::<Vec<_>>());
}

#[tokio::test]
async fn parallel_result_selector_and_output_path() {
    let out = run(
        json!({"StartAt": "P", "States": {"P": {"Type": "Parallel",
            "Parameters": {"n.$": "$.n"},
            "Branches": [
                {"StartAt": "A", "States": {"A": {"Type": "Pass", "Parameters": {"v.$": "States.MathAdd($.n, 1)"}, "End": true}}},
                {"StartAt": "B", "States": {"B": {"Type": "Pass", "Parameters": {"v.$": "States.MathAdd($.n, 2)"}, "End": true}}}
            ],
            "ResultSelector": {"a.$": "$[0].v", "b.$": "$[1].v"},
            "ResultPath": "$.sums", "OutputPath": "$.sums", "End": true}}}),
        json!({"n": 10, "noise": true}),
    )
    .await;
    assert_eq!(out.output, Some(json!({"a": 11, "b": 12})));
}

#[tokio::test]
async fn a_runaway_backoff_does_not_panic() {
    let invoker = scripted(|_, _, n| {
        if n < 2 {
            Err(TaskFailure {
                error: "E".into(),
                cause: String::new(),
            })
        } else {
            Ok(json!(1))
        }
    });
    let (out, timer) = run_with(
        one_task(json!({"Resource": "r", "Retry": [{"ErrorEquals": ["E"], "IntervalSeconds": 1e300, "BackoffRate": 1e300, "MaxAttempts": 2, "JitterStrategy": "FULL"}]})),
        json!({}),
        invoker,
    )
    .await;
    assert_eq!(out.status, Status::Succeeded);
    assert_eq!(timer.slept().len(), 2);
}

/// The shape the saga machines take: each step a `lambda:invoke` Task with Retry on throttling
/// and Catch into compensation, which undoes the done steps in reverse.
#[tokio::test]
async fn a_saga_shaped_machine_compensates_in_reverse() {
    let definition = json!({
        "StartAt": "Steps",
        "States": {
            "Steps": {
                "Type": "Map", "ItemsPath": "$.steps", "MaxConcurrency": 1,
                "ItemSelector": {"saga.$": "$$.Execution.Name", "index.$": "$$.Map.Item.Index", "op.$": "$$.Map.Item.Value"},
                "ItemProcessor": {"StartAt": "Apply", "States": {"Apply": {
                    "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {"FunctionName": "saga-step", "Payload": {"action": "apply", "step.$": "$"}},
                    "ResultSelector": {"done.$": "$.Payload.done"},
                    "Retry": [{"ErrorEquals": ["Lambda.TooManyRequestsException", "Airtable.RateLimited"], "IntervalSeconds": 1, "BackoffRate": 2, "MaxAttempts": 3}],
                    "End": true
                }}},
                "ResultPath": "$.applied",
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "Compensate"}],
                "Next": "Done"
            },
            "Compensate": {
                "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "saga-step", "Payload": {"action": "compensate", "saga.$": "$$.Execution.Name", "failure.$": "$.failure"}},
                "ResultPath": null,
                "Next": "Failed"
            },
            "Failed": {"Type": "Fail", "ErrorPath": "$.failure.Error", "CausePath": "$.failure.Cause"},
            "Done": {"Type": "Succeed"}
        }
    });
    let invoker = scripted(|resource, input, n| {
        assert_eq!(resource, "arn:aws:states:::lambda:invoke");
        assert_eq!(input["FunctionName"], json!("saga-step"));
        let payload = &input["Payload"];
        match payload["action"].as_str() {
            Some("apply") if payload["step"]["op"] == json!("boom") => Err(TaskFailure {
                error: "Airtable.Invalid".into(),
                cause: "INVALID_VALUE".into(),
            }),
            Some("apply") if n == 0 => Err(TaskFailure {
                error: "Lambda.TooManyRequestsException".into(),
                cause: "throttled".into(),
            }),
            Some("apply") => {
                Ok(json!({"StatusCode": 200, "Payload": {"done": payload["step"]["index"]}}))
            }
            _ => Ok(json!({"StatusCode": 200, "Payload": {"undone": true}})),
        }
    });
    let (ok, timer) = run_with(
        definition.clone(),
        json!({"steps": ["a", "b"]}),
        invoker.clone(),
    )
    .await;
    assert_eq!(ok.status, Status::Succeeded);
    assert_eq!(
        ok.output,
        Some(json!({"steps": ["a", "b"], "applied": [{"done": 0}, {"done": 1}]}))
    );
    assert_eq!(timer.slept(), vec![Duration::from_secs(1)]);

    let (failed, _) = run_with(
        definition,
        json!({"steps": ["a", "boom", "c"]}),
        invoker.clone(),
    )
    .await;
    assert_eq!(failed.status, Status::Failed);
    assert_eq!(
        failed.error,
        Some(asl::StatesError::new("Airtable.Invalid", "INVALID_VALUE"))
    );
    let last_call = invoker.inputs.lock().unwrap().last().cloned().unwrap();
    assert_eq!(
        last_call["Payload"],
        json!({"action": "compensate", "saga": "e1", "failure": {"Error": "Airtable.Invalid", "Cause": "INVALID_VALUE"}})
    );
    // "c" never ran: iterations run one at a time and the Map stops at the first failure.
    assert!(
        !invoker
            .inputs
            .lock()
            .unwrap()
            .iter()
            .any(|i| i["Payload"]["step"]["op"] == json!("c"))
    );
}

#[tokio::test]
async fn map_example_from_the_aws_docs() {
    // The Map state docs: InputPath narrows to the detail, ItemsPath picks the array, and the
    // ItemSelector pairs each item with a field of the Map's input.
    let out = run(
        json!({"StartAt": "Validate-All", "States": {"Validate-All": {
            "Type": "Map", "InputPath": "$.detail", "ItemsPath": "$.shipped", "MaxConcurrency": 0,
            "ItemSelector": {"parcel.$": "$$.Map.Item.Value", "courier.$": "$.delivery-partner"},
            "ItemProcessor": {"StartAt": "Validate", "States": {"Validate": {"Type": "Pass", "End": true}}},
            "ResultPath": "$.detail.shipped", "End": true
        }}}),
        json!({
            "ship-date": "2016-03-14T01:59:00Z",
            "detail": {
                "delivery-partner": "UQS",
                "shipped": [
                    {"prod": "R31", "dest-code": 9511, "quantity": 1344},
                    {"prod": "S39", "dest-code": 9511, "quantity": 40}
                ]
            }
        }),
    )
    .await;
    assert_eq!(
        out.output.unwrap()["detail"]["shipped"],
        json!([
            {"parcel": {"prod": "R31", "dest-code": 9511, "quantity": 1344}, "courier": "UQS"},
            {"parcel": {"prod": "S39", "dest-code": 9511, "quantity": 40}, "courier": "UQS"}
        ])
    );
}

#[tokio::test]
async fn an_output_past_256_kib_is_data_limit_exceeded_and_not_caught() {
    let big = "x".repeat(300 * 1024);
    let invoker = scripted(move |_, _, _| Ok(json!(big.clone())));
    let (out, _) = run_with(
        json!({"StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": "r", "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "S"}], "End": true},
            "S": {"Type": "Succeed"}
        }}),
        json!({}),
        invoker,
    )
    .await;
    assert_eq!(out.status, Status::Failed);
    assert_eq!(out.error.unwrap().error, "States.DataLimitExceeded");
}

// Production refuses `.waitForTaskToken` (nothing sends tokens back); the corpus test lets it
// through an explicit option, and the Task then sees a `$$.Task.Token`.
#[tokio::test]
async fn callback_tasks_load_only_when_allowed_and_get_a_task_token() {
    let definition = json!({"StartAt": "T", "States": {"T": {"Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters": {"FunctionName": "stub", "Payload": {"token.$": "$$.Task.Token"}},
        "End": true}}});
    let refused = StateMachine::from_value(&definition).unwrap_err();
    assert_eq!(refused.field.as_deref(), Some("Resource"));
    let options = asl::ParseOptions {
        allow_callback_tasks: true,
    };
    let machine = Arc::new(StateMachine::from_value_with(&definition, options).unwrap());
    let invoker = scripted(|resource, input, _| {
        assert!(resource.ends_with(".waitForTaskToken"));
        Ok(input["Payload"].clone())
    });
    let interpreter = Interpreter::new(invoker, Arc::new(ManualTimer::at(start_time())));
    let mut execution = Execution::start(machine, info(json!({})));
    let out = execution.run(&interpreter).await;
    assert_eq!(out.status, Status::Succeeded);
    let token = out.output.as_ref().unwrap()["token"].as_str().unwrap();
    assert!(token.starts_with("arn:aws:states:us-east-1:123456789012:execution:m:e1/T/"));
}
