//! The differential test: every case of `tests/asl-corpus/cases` runs on this interpreter
//! and its outcome is compared with moto's recorded one (`expected.moto.json`), so the
//! interpreter is held to an independent implementation of the language. It needs no moto:
//! the recordings are committed (`tests/asl-corpus/run_moto.py` makes them).
//!
//! The rules (tests/asl-corpus/README.md explains why):
//! - same status, same error always; same output, numbers compared by value (`1.0` is `1`);
//! - the cause is compared when the error is not a `States.*` name (a Fail state's or a
//!   scripted Task's error): moto's runtime-error causes are Python exception texts;
//! - moto describes a string output without JSON quotes (`output_not_json`): a string output
//!   of ours with that text matches;
//! - a missing cause (moto's `null`) is our empty cause;
//! - known moto deviations from AWS are listed in `tests/asl-corpus/deviations.json`, keyed by
//!   `case/input`, each with its reason and the AWS-correct outcome (`aws`) our runner is held
//!   to instead. An entry whose execution now matches moto (stale) fails the test, as does an
//!   entry naming no execution, so the list only shrinks. A `refused_by_design` entry (none
//!   today) names a definition our runner refuses at load on purpose; it goes stale when the
//!   runner loads it.
//! - machine cases (`machine-*`, written by `tests/asl-corpus/machines.py`): the same Task
//!   calls in the same order as moto's, and their `scenario.json` holds on both engines.
//!
//! Tasks are stubbed as the recorder stubs them on moto: a plain `lambda:invoke` is moto's
//! echo Lambda; a `lambda:invoke.waitForTaskToken` Task answers from the case's `tasks.json`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use asl::{
    Event, Execution, ExecutionInfo, Interpreter, ManualTimer, ParseOptions, StateMachine, Status,
    TaskFailure, TaskInvoker,
};
use async_trait::async_trait;
use chrono::Utc;
use serde_json::{Value, json};

const REGION_ACCOUNT: &str = "us-east-1:123456789012";
const LAMBDA_INVOKE: &str = "arn:aws:states:::lambda:invoke";
const CALLBACK: &str = "arn:aws:states:::lambda:invoke.waitForTaskToken";

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/asl-corpus")
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The stub Tasks of one execution (README, "Tasks: the stub strategy").
struct Stubs {
    /// `tasks.json`: state name → answers (`{"Return": v}` or `{"Throw": {"Error", "Cause"}}`).
    script: BTreeMap<String, Vec<Value>>,
    /// Calls so far per state name (retries included): the k-th call gets the k-th answer.
    calls: Mutex<HashMap<String, usize>>,
}

impl Stubs {
    /// moto's echo Lambda (`lambda_eval_utils.to_payload_type`): no Payload echoes `{}`, a
    /// string that parses as JSON comes back as that JSON, any other value as it is.
    fn echo(parameters: &Value) -> Value {
        let payload = match parameters.get("Payload") {
            None => json!({}),
            Some(Value::String(text)) => serde_json::from_str(text).unwrap_or(json!(text)),
            Some(other) => other.clone(),
        };
        json!({"StatusCode": 200, "Payload": payload})
    }

    fn scripted(&self, parameters: &Value) -> Result<Value, TaskFailure> {
        let payload = parameters.get("Payload").cloned().unwrap_or(Value::Null);
        let state = payload
            .get("state")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let task_input = payload.get("input").cloned().unwrap_or(Value::Null);
        assert!(
            payload.get("token").and_then(Value::as_str).is_some(),
            "a callback Task's Payload.token must be $$.Task.Token (state '{state}')"
        );
        let call = {
            let mut calls = self.calls.lock().unwrap();
            let count = calls.entry(state.clone()).or_default();
            *count += 1;
            *count - 1
        };
        let Some(answers) = self.script.get(&state).filter(|a| !a.is_empty()) else {
            return Ok(task_input);
        };
        let answer = &answers[call.min(answers.len() - 1)];
        if let Some(thrown) = answer.get("Throw") {
            let text = |key: &str| {
                thrown
                    .get(key)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            return Err(TaskFailure {
                error: text("Error"),
                cause: text("Cause"),
            });
        }
        Ok(answer.get("Return").cloned().unwrap_or(Value::Null))
    }
}

#[async_trait]
impl TaskInvoker for Stubs {
    async fn invoke(&self, resource: &str, input: Value) -> Result<Value, TaskFailure> {
        match resource {
            LAMBDA_INVOKE => Ok(Stubs::echo(&input)),
            CALLBACK => self.scripted(&input),
            other => panic!("the corpus stubs no resource '{other}'"),
        }
    }
}

/// Our outcome in the recorder's shape.
async fn run_ours(
    case: &str,
    machine: &Arc<StateMachine>,
    input_name: &str,
    input: Value,
    script: &Value,
) -> Value {
    let script: BTreeMap<String, Vec<Value>> =
        serde_json::from_value(script.clone()).expect("tasks.json: state name → list of answers");
    let stubs = Arc::new(Stubs {
        script,
        calls: Mutex::new(HashMap::new()),
    });
    let timer = ManualTimer::at(Utc::now());
    let interpreter = Interpreter::new(stubs, Arc::new(timer));
    // The names and ARNs the recorder gives moto, so `$$.Execution.Id` and friends agree.
    let name = format!("{case}-{input_name}");
    let info = ExecutionInfo {
        id: format!("arn:aws:states:{REGION_ACCOUNT}:execution:{case}:{name}"),
        name,
        state_machine_id: format!("arn:aws:states:{REGION_ACCOUNT}:stateMachine:{case}"),
        state_machine_name: case.to_string(),
        start_time: Utc::now(),
        input,
    };
    let mut execution = Execution::start(machine.clone(), info);
    let snapshot = execution.run(&interpreter).await;
    let mut outcome = match snapshot.status {
        Status::Succeeded => json!({"status": "SUCCEEDED", "output": snapshot.output}),
        status => {
            let error = snapshot
                .error
                .clone()
                .unwrap_or_else(|| asl::StatesError::new("", ""));
            let status = serde_json::to_value(status).unwrap();
            json!({"status": status, "error": error.error, "cause": error.cause})
        }
    };
    // The stub Task calls in order, as the recorder lists them for the machine cases.
    let task_states: Vec<&str> = snapshot
        .history
        .iter()
        .filter_map(|event| match &event.event {
            Event::TaskScheduled { name, .. } => Some(name.as_str()),
            _ => None,
        })
        .collect();
    outcome["task_states"] = json!(task_states);
    outcome
}

/// What a machine case's `scenario.json` (written by machines.py) requires of an outcome,
/// ours or moto's: the expected status and error, the happy path's Tasks before the faulted
/// one, and exactly the listed compensation Tasks after its last attempt.
fn scenario_problems(scenario: &Value, outcome: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let expect = &scenario["expect"];
    if outcome["status"] != expect["status"] {
        problems.push(format!(
            "status {} (expected {})",
            outcome["status"], expect["status"]
        ));
    }
    if expect.get("error").is_some() && outcome["error"] != expect["error"] {
        problems.push(format!(
            "error {} (expected {})",
            outcome["error"], expect["error"]
        ));
    }
    let ran: Vec<&str> = outcome["task_states"]
        .as_array()
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let forward: Vec<&str> = scenario["forward"]
        .as_array()
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    match scenario.get("fault").and_then(Value::as_str) {
        None => {
            if !forward.is_empty() && ran != forward {
                problems.push(format!("ran {ran:?}, not the happy path {forward:?}"));
            }
        }
        Some(fault) => {
            // The faulted call is the `fault_call`-th call of that state on the happy path.
            let call = scenario["fault_call"].as_u64().unwrap_or(1) as usize;
            let nth = |names: &[&str]| {
                names
                    .iter()
                    .enumerate()
                    .filter(|(_, name)| **name == fault)
                    .nth(call - 1)
                    .map(|(at, _)| at)
            };
            let (Some(at), Some(ran_at), Some(last)) = (
                nth(&forward),
                nth(&ran),
                ran.iter().rposition(|name| *name == fault),
            ) else {
                problems.push(format!("call {call} of {fault} never ran: {ran:?}"));
                return problems;
            };
            if ran_at != at || ran[..at] != forward[..at] {
                problems.push(format!(
                    "before call {call} of {fault} ran {:?}, not {:?}",
                    &ran[..ran_at],
                    &forward[..at]
                ));
            }
            if let Some(expected) = scenario.get("compensations").and_then(Value::as_array) {
                let expected: Vec<&str> = expected.iter().filter_map(Value::as_str).collect();
                if ran[last + 1..] != expected[..] {
                    problems.push(format!(
                        "after the fault at {fault} ran {:?}, not the compensations {expected:?}",
                        &ran[last + 1..]
                    ));
                }
            }
        }
    }
    problems
}

/// JSON equality with numbers compared by value (`1.0` equals `1`).
fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            if let (Some(x), Some(y)) = (x.as_i64(), y.as_i64()) {
                x == y
            } else if let (Some(x), Some(y)) = (x.as_u64(), y.as_u64()) {
                x == y
            } else {
                x.as_f64() == y.as_f64()
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_json(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(key, x)| y.get(key).is_some_and(|y| same_json(x, y)))
        }
        _ => a == b,
    }
}

/// Why `ours` differs from `expected` (a moto recording or a deviation's AWS outcome), or
/// `None` when it does not.
fn difference(ours: &Value, expected: &Value) -> Option<String> {
    let status = expected.get("status");
    if ours.get("status") != status {
        return Some(format!("status: ours {ours}, expected {expected}"));
    }
    if status == Some(&json!("SUCCEEDED")) {
        let output = ours.get("output").unwrap_or(&Value::Null);
        let same = match (expected.get("output"), expected.get("output_not_json")) {
            (Some(want), _) => same_json(output, want),
            (None, Some(Value::String(text))) => output.as_str() == Some(text.as_str()),
            _ => false,
        };
        return (!same).then(|| format!("output: ours {output}, expected {expected}"));
    }
    let error = expected
        .get("error")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if ours.get("error").and_then(Value::as_str) != Some(error) {
        return Some(format!("error: ours {ours}, expected {expected}"));
    }
    if !error.starts_with("States.") {
        // No cause (moto's null, AWS's absent field) is our empty cause.
        let cause = |outcome: &Value| {
            outcome
                .get("cause")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        if cause(ours) != cause(expected) {
            return Some(format!("cause: ours {ours}, expected {expected}"));
        }
    }
    None
}

#[derive(Default)]
struct Report {
    matched: Vec<String>,
    deviations: Vec<String>,
    failures: Vec<String>,
}

#[tokio::test]
async fn every_corpus_case_matches_moto_or_the_aws_outcome_of_a_known_deviation() {
    let corpus = corpus();
    let deviations = match read_json(&corpus.join("deviations.json")) {
        Value::Object(map) => map,
        other => panic!("deviations.json must be an object, not {other}"),
    };
    let mut used = std::collections::BTreeSet::new();
    let mut report = Report::default();
    let mut cases: Vec<PathBuf> = std::fs::read_dir(corpus.join("cases"))
        .expect("tests/asl-corpus/cases")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.is_dir())
        .collect();
    cases.sort();
    assert!(!cases.is_empty(), "no corpus cases");
    for dir in &cases {
        let case = dir.file_name().unwrap().to_string_lossy().to_string();
        let expected_path = dir.join("expected.moto.json");
        if !expected_path.exists() {
            report
                .failures
                .push(format!("{case}: no expected.moto.json (run run_moto.py)"));
            continue;
        }
        let recorded = read_json(&expected_path);
        for key in ["create", "runner"] {
            if recorded.get(key).is_some() {
                report.failures.push(format!(
                    "{case}: moto recorded no outcome ({key}: {})",
                    recorded[key]
                ));
            }
        }
        let definition = std::fs::read_to_string(dir.join("definition.asl.json")).unwrap();
        let options = ParseOptions {
            allow_callback_tasks: true,
        };
        let machine = StateMachine::from_json_with(&definition, options).map(Arc::new);
        let scenario = Some(dir.join("scenario.json"))
            .filter(|path| path.exists())
            .map(|path| read_json(&path));
        let script = match dir.join("tasks.json") {
            path if path.exists() => read_json(&path),
            _ => json!({}),
        };
        let inputs = inputs_of(dir);
        assert!(!inputs.is_empty(), "{case}: no input*.json");
        for input_path in inputs {
            let input_name = input_path
                .file_stem()
                .unwrap()
                .to_string_lossy()
                .to_string();
            let label = format!("{case}/{input_name}");
            let Some(moto) = recorded.get(&input_name) else {
                report.failures.push(format!(
                    "{label}: no recorded outcome in expected.moto.json"
                ));
                continue;
            };
            let ours = match &machine {
                Ok(machine) => {
                    run_ours(&case, machine, &input_name, read_json(&input_path), &script).await
                }
                Err(refused) => json!({"status": "REFUSED", "cause": refused.to_string()}),
            };
            if let Some(recorded) = moto.get("task_states")
                && !same_json(recorded, &ours["task_states"])
            {
                report.failures.push(format!(
                    "{label}: Task calls differ: ours {}, moto {recorded}",
                    ours["task_states"]
                ));
            }
            if let Some(scenario) = &scenario {
                for (engine, outcome) in [("ours", &ours), ("moto", moto)] {
                    for problem in scenario_problems(scenario, outcome) {
                        report
                            .failures
                            .push(format!("{label}: scenario ({engine}): {problem}"));
                    }
                }
            }
            let deviation = deviations.get(&label);
            if deviation.is_some() {
                used.insert(label.clone());
            }
            judge(&label, &ours, moto, deviation, &mut report);
        }
    }
    for label in deviations.keys() {
        if !used.contains(label) {
            report.failures.push(format!(
                "{label}: deviations.json names no corpus execution"
            ));
        }
    }
    println!("matched moto: {} executions", report.matched.len());
    println!(
        "known moto deviations (held to AWS): {}",
        report.deviations.len()
    );
    for line in &report.deviations {
        println!("  {line}");
    }
    assert!(
        report.failures.is_empty(),
        "{} problems in the corpus ({} executions matched, {} known deviations):\n{}",
        report.failures.len(),
        report.matched.len(),
        report.deviations.len(),
        report.failures.join("\n")
    );
}

/// Compares one execution of ours with moto's recording, or, for a known deviation, with the
/// AWS outcome written next to it (and flags the entry stale once moto is matched).
fn judge(label: &str, ours: &Value, moto: &Value, deviation: Option<&Value>, report: &mut Report) {
    let Some(entry) = deviation else {
        match difference(ours, moto) {
            None => report.matched.push(label.to_string()),
            Some(why) => report
                .failures
                .push(format!("{label}: differs from moto: {why}")),
        }
        return;
    };
    let reason = entry
        .get("reason")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if entry.get("refused_by_design") == Some(&json!(true)) {
        if ours["status"] == "REFUSED" {
            report
                .deviations
                .push(format!("{label}: refused by design: {reason}"));
        } else {
            report.failures.push(format!(
                "{label}: stale deviation: our runner now loads the definition; compare it with moto instead"
            ));
        }
        return;
    }
    let Some(aws) = entry.get("aws") else {
        report.failures.push(format!(
            "{label}: a deviation needs its AWS outcome (\"aws\")"
        ));
        return;
    };
    if difference(ours, moto).is_none() {
        report.failures.push(format!(
            "{label}: stale deviation: our runner now matches moto; remove it from deviations.json"
        ));
    } else if let Some(why) = difference(ours, aws) {
        report.failures.push(format!(
            "{label}: differs from the AWS outcome of its deviation: {why}"
        ));
    } else {
        report.deviations.push(format!("{label}: {reason}"));
    }
}

/// A case's inputs (`input.json`, `input-<label>.json`), sorted.
fn inputs_of(dir: &Path) -> Vec<PathBuf> {
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            name.starts_with("input") && name.ends_with(".json")
        })
        .collect();
    inputs.sort();
    inputs
}

#[test]
fn numbers_compare_by_value_and_structure_still_matters() {
    assert!(same_json(&json!({"a": [1.0, 2]}), &json!({"a": [1, 2.0]})));
    assert!(!same_json(&json!({"a": 1}), &json!({"a": 1, "b": null})));
    assert!(!same_json(&json!([1, 2]), &json!([2, 1])));
    assert!(!same_json(&json!("1"), &json!(1)));
}

#[test]
fn the_cause_counts_only_for_errors_a_fail_state_or_a_task_names() {
    let ours = json!({"status": "FAILED", "error": "States.Runtime", "cause": "ours"});
    let moto = json!({"status": "FAILED", "error": "States.Runtime", "cause": "TypeError(...)"});
    assert_eq!(difference(&ours, &moto), None);
    let ours = json!({"status": "FAILED", "error": "Saga.Compensated", "cause": "a"});
    let moto = json!({"status": "FAILED", "error": "Saga.Compensated", "cause": "b"});
    assert!(difference(&ours, &moto).is_some());
    let ours = json!({"status": "FAILED", "error": "OnlyError", "cause": ""});
    let moto = json!({"status": "FAILED", "error": "OnlyError", "cause": null});
    assert_eq!(difference(&ours, &moto), None);
    let ours = json!({"status": "SUCCEEDED", "output": "rule 1"});
    let moto = json!({"status": "SUCCEEDED", "output_not_json": "rule 1"});
    assert_eq!(difference(&ours, &moto), None);
}
