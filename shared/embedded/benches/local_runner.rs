//! Steps per second of the local state-machine runner with persistence on (the snapshot and
//! the new history events saved to a SQLite file after every state), against the same machine
//! run by the interpreter in memory, in the same process.
//!
//! The machine is a loop of Pass states: `Inc` adds one to a counter (`States.MathAdd`), a
//! Choice goes back until it reaches 500, so an execution runs 1,000 loop states (plus `Init`
//! and `Done`). Run with `cargo bench -p embedded --bench local_runner`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use asl::{Event, ExecutionInfo, Interpreter, StateMachine, TaskFailure, TaskInvoker, TokioTimer};
use async_trait::async_trait;
use embedded::{ClockTimer, Database, LocalStateMachines};
use ports::{MachineName, StateMachines};
use serde_json::{Value, json};

const LOOP_ASL: &str = r#"{
  "StartAt": "Init",
  "States": {
    "Init": {"Type": "Pass", "Result": {"n": 0}, "Next": "Inc"},
    "Inc": {"Type": "Pass", "Parameters": {"n.$": "States.MathAdd($.n, 1)"}, "Next": "Loop"},
    "Loop": {
      "Type": "Choice",
      "Choices": [{"Variable": "$.n", "NumericLessThan": 500, "Next": "Inc"}],
      "Default": "Done"
    },
    "Done": {"Type": "Succeed"}
  }
}"#;

const RUNS: usize = 7;

struct NoTasks;

#[async_trait]
impl TaskInvoker for NoTasks {
    async fn invoke(&self, resource: &str, _input: Value) -> Result<Value, TaskFailure> {
        Err(TaskFailure {
            error: "States.Runtime".into(),
            cause: format!("no tasks here ({resource})"),
        })
    }
}

fn info(n: usize) -> ExecutionInfo {
    ExecutionInfo {
        id: format!("arn:aws:states:local:0:execution:loop:run-{n}"),
        name: format!("run-{n}"),
        state_machine_id: "arn:aws:states:local:0:stateMachine:loop".into(),
        state_machine_name: "loop".into(),
        start_time: chrono::Utc::now(),
        input: json!({}),
    }
}

/// States entered at the top level of a finished history.
fn states(history: &[asl::HistoryEvent]) -> usize {
    history
        .iter()
        .filter(|e| matches!(e.event, Event::StateEntered { .. }))
        .count()
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

async fn in_memory() -> (usize, Duration) {
    let machine = Arc::new(StateMachine::from_json(LOOP_ASL).expect("the loop parses"));
    let interpreter = Interpreter::new(Arc::new(NoTasks), Arc::new(TokioTimer));
    let mut times = Vec::new();
    let mut steps = 0;
    for n in 0..RUNS {
        let begun = Instant::now();
        let mut execution = asl::Execution::start(Arc::clone(&machine), info(n));
        let snapshot = execution.run(&interpreter).await;
        times.push(begun.elapsed());
        assert_eq!(snapshot.output, Some(json!({"n": 500})));
        steps = states(&snapshot.history);
    }
    (steps, median(times))
}

async fn persisted(dir: &std::path::Path) -> (usize, Duration) {
    let db = Database::open(&dir.join("bench.sqlite")).expect("database");
    let runner = LocalStateMachines::new(
        db,
        [(MachineName::new("loop"), LOOP_ASL.to_string())],
        &BTreeMap::new(),
        Arc::new(ClockTimer(Arc::new(basics::SystemClock))),
    )
    .expect("the loop parses");
    let machine = MachineName::new("loop");
    let mut times = Vec::new();
    let mut steps = 0;
    for n in 0..RUNS {
        let begun = Instant::now();
        let started = runner
            .start(&machine, &format!("run-{n}"), json!({}))
            .await
            .expect("start");
        let done = loop {
            let execution = runner
                .describe(&started.execution_id)
                .await
                .expect("describe");
            if execution.status.is_terminal() {
                break execution;
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        };
        times.push(begun.elapsed());
        assert_eq!(done.output, Some(json!({"n": 500})));
        steps = states(
            &runner
                .history(&started.execution_id)
                .await
                .expect("history"),
        );
    }
    (steps, median(times))
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (memory_steps, memory) = in_memory().await;
    let (local_steps, local) = persisted(dir.path()).await;
    assert_eq!(memory_steps, local_steps);
    let rate = |steps: usize, time: Duration| steps as f64 / time.as_secs_f64();
    println!(
        "{local_steps} states per execution, median of {RUNS} runs\n\
         asl in memory:          {:>8.1} ms  {:>10.0} states/s\n\
         local runner, SQLite:   {:>8.1} ms  {:>10.0} states/s\n\
         local / in memory:      {:.3}",
        memory.as_secs_f64() * 1e3,
        rate(memory_steps, memory),
        local.as_secs_f64() * 1e3,
        rate(local_steps, local),
        rate(local_steps, local) / rate(memory_steps, memory),
    );
}
