//! Running a machine: the data flow of each state (InputPath → Parameters → the work →
//! ResultSelector → ResultPath → OutputPath), Retry and Catch, and a step-wise API whose whole
//! position is a serialisable [`Snapshot`], so an execution can be stored after every state
//! and resumed after a restart.
//!
//! Granularity: one [`Execution::step`] runs one top-level state to its end, including its
//! retries and, for Parallel and Map, every branch and iteration (those run in memory; a
//! restart re-runs the whole Parallel/Map state). A top-level Wait does not sleep inside the
//! step that enters it: the snapshot records the wake-up time, and the next step sleeps until
//! then, so a restart during a long Wait resumes it rather than starting it again.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::future::{BoxFuture, Either};
use futures::{StreamExt, TryStreamExt};
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::choice::timestamp;
use crate::definition::{
    FailText, ResultHandling, ResultPath, Seconds, State, StateKind, StateMachine, Transition,
    WaitFor,
};
use crate::error::{StatesError, names};
use crate::history::{Event, HistoryEvent, Recorder};
use crate::path::Path;
use crate::timer::Timer;

/// A task's own failure, named so Retry and Catch can match it (`Lambda.TooManyRequestsException`,
/// `Airtable.RateLimited`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskFailure {
    pub error: String,
    pub cause: String,
}

/// Runs a Task's `Resource` with the state's effective input. What a resource means (a Lambda
/// ARN, `arn:aws:states:::lambda:invoke` with `FunctionName`/`Payload`) is the invoker's business;
/// for `lambda:invoke` it should answer as AWS does (`{"Payload": ..., "StatusCode": 200, ...}`).
#[async_trait]
pub trait TaskInvoker: Send + Sync {
    async fn invoke(&self, resource: &str, input: Value) -> Result<Value, TaskFailure>;
}

/// Who the execution is, for the context object (`$$.Execution.Id`, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionInfo {
    pub id: String,
    pub name: String,
    pub state_machine_id: String,
    pub state_machine_name: String,
    pub start_time: DateTime<Utc>,
    pub input: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    Running,
    Succeeded,
    Failed,
    TimedOut,
    Aborted,
}

/// Everything needed to carry on an execution: store it, load it, [`Execution::resume`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub execution: ExecutionInfo,
    pub status: Status,
    /// The state to run next, while running.
    pub position: Option<String>,
    /// That state's input.
    pub data: Value,
    /// Set when the last state was a Wait: the next step first sleeps until then.
    pub waiting_until: Option<DateTime<Utc>>,
    pub output: Option<Value>,
    pub error: Option<StatesError>,
    pub history: Vec<HistoryEvent>,
}

/// The interpreter's collaborators.
#[derive(Clone)]
pub struct Interpreter {
    pub invoker: Arc<dyn TaskInvoker>,
    pub timer: Arc<dyn Timer>,
}

/// A running (or finished) execution of one machine.
pub struct Execution {
    machine: Arc<StateMachine>,
    snapshot: Snapshot,
}

impl Execution {
    pub fn start(machine: Arc<StateMachine>, execution: ExecutionInfo) -> Execution {
        let snapshot = Snapshot {
            status: Status::Running,
            position: Some(machine.start_at.clone()),
            data: execution.input.clone(),
            waiting_until: None,
            output: None,
            error: None,
            history: vec![HistoryEvent {
                id: 1,
                timestamp: execution.start_time,
                event: Event::ExecutionStarted {
                    input: execution.input.clone(),
                },
            }],
            execution,
        };
        Execution { machine, snapshot }
    }

    /// Carries on from a stored snapshot (the machine must be the one it was started with).
    pub fn resume(machine: Arc<StateMachine>, snapshot: Snapshot) -> Execution {
        Execution { machine, snapshot }
    }

    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    pub fn into_snapshot(self) -> Snapshot {
        self.snapshot
    }

    pub fn is_finished(&self) -> bool {
        self.snapshot.status != Status::Running
    }

    /// Stops a running execution (what StopExecution does); a finished one is left as it is
    /// and `false` says so.
    pub fn abort(&mut self, now: DateTime<Utc>, error: &str, cause: &str) -> bool {
        if self.is_finished() {
            return false;
        }
        self.finish_failed(now, Status::Aborted, StatesError::new(error, cause));
        true
    }

    /// Runs the next top-level state. Returns whether the execution is now finished.
    pub async fn step(&mut self, interpreter: &Interpreter) -> bool {
        if self.is_finished() {
            return true;
        }
        if let Some(until) = self.snapshot.waiting_until.take() {
            let now = interpreter.timer.now();
            if until > now {
                interpreter
                    .timer
                    .sleep((until - now).to_std().unwrap_or_default())
                    .await;
            }
        }
        let now = interpreter.timer.now();
        if let Some(limit) = self.machine.timeout_seconds
            && now - self.snapshot.execution.start_time > chrono::Duration::seconds(limit as i64)
        {
            self.finish_failed(
                now,
                Status::TimedOut,
                StatesError::new(names::TIMEOUT, "The execution timed out"),
            );
            return true;
        }
        let Some(name) = self.snapshot.position.clone() else {
            return true;
        };
        let Some(state) = self.machine.state(&name) else {
            self.finish_failed(
                now,
                Status::Failed,
                StatesError::runtime(format!("no state named '{name}'")),
            );
            return true;
        };
        let recorder = Recorder::continuing(self.snapshot.history.len());
        let outcome = interpreter
            .run_state(
                state,
                self.snapshot.data.clone(),
                &self.snapshot.execution,
                &recorder,
            )
            .await;
        self.snapshot.history.extend(recorder.into_events());
        let now = interpreter.timer.now();
        match outcome {
            Ok(done) => {
                self.snapshot.waiting_until = done.wait_until;
                match done.next {
                    Some(next) => {
                        self.snapshot.position = Some(next);
                        self.snapshot.data = done.output;
                    }
                    None => {
                        // A final Wait has no next state to defer to: it waits here.
                        if let Some(until) = self.snapshot.waiting_until.take() {
                            let now = interpreter.timer.now();
                            if until > now {
                                interpreter
                                    .timer
                                    .sleep((until - now).to_std().unwrap_or_default())
                                    .await;
                            }
                        }
                        let now = interpreter.timer.now();
                        self.snapshot.position = None;
                        self.snapshot.status = Status::Succeeded;
                        self.push(
                            now,
                            Event::ExecutionSucceeded {
                                output: done.output.clone(),
                            },
                        );
                        self.snapshot.output = Some(done.output);
                        self.snapshot.data = Value::Null;
                    }
                }
            }
            Err(error) => self.finish_failed(now, Status::Failed, error),
        }
        self.is_finished()
    }

    /// Steps until the execution finishes.
    pub async fn run(&mut self, interpreter: &Interpreter) -> &Snapshot {
        while !self.step(interpreter).await {}
        &self.snapshot
    }

    fn push(&mut self, timestamp: DateTime<Utc>, event: Event) {
        let id = self.snapshot.history.len() as u64 + 1;
        self.snapshot.history.push(HistoryEvent {
            id,
            timestamp,
            event,
        });
    }

    fn finish_failed(&mut self, now: DateTime<Utc>, status: Status, error: StatesError) {
        let event = if status == Status::Aborted {
            Event::ExecutionAborted {
                error: error.error.clone(),
                cause: error.cause.clone(),
            }
        } else {
            Event::ExecutionFailed {
                error: error.error.clone(),
                cause: error.cause.clone(),
            }
        };
        self.push(now, event);
        self.snapshot.status = status;
        self.snapshot.position = None;
        self.snapshot.waiting_until = None;
        self.snapshot.data = Value::Null;
        self.snapshot.error = Some(error);
    }
}

/// What a state hands on: its output and where to go (`None`: the end).
struct Done {
    output: Value,
    next: Option<String>,
    wait_until: Option<DateTime<Utc>>,
}

fn next_of(state: &State) -> Option<String> {
    match &state.transition {
        Some(Transition::Next(next)) => Some(next.clone()),
        _ => None,
    }
}

fn context(info: &ExecutionInfo, state: &str, entered: DateTime<Utc>, retry_count: u32) -> Value {
    json!({
        "Execution": {
            "Id": info.id,
            "Name": info.name,
            "StartTime": info.start_time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "Input": info.input,
        },
        "StateMachine": {"Id": info.state_machine_id, "Name": info.state_machine_name},
        "State": {
            "Name": state,
            "EnteredTime": entered.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "RetryCount": retry_count,
        },
    })
}

fn select(
    path: &Option<Path>,
    data: &Value,
    field: &str,
    context: &Value,
) -> Result<Value, StatesError> {
    match path {
        None => Ok(json!({})),
        Some(path) => path.query(data, context).ok_or_else(|| {
            StatesError::runtime(format!(
                "Invalid path '{path}' : No results for path: {field} could not be applied to the input '{data}'"
            ))
        }),
    }
}

fn place(raw_input: Value, result_path: &ResultPath, result: Value) -> Result<Value, StatesError> {
    match result_path {
        ResultPath::Discard => Ok(raw_input),
        ResultPath::At(path) => path.set(raw_input, result).map_err(|e| {
            StatesError::runtime(format!(
                "Invalid path '{path}': the ResultPath could not be applied: {e}"
            ))
        }),
    }
}

fn seconds(spec: &Seconds, data: &Value, field: &str) -> Result<f64, StatesError> {
    match spec {
        Seconds::Fixed(n) => Ok(*n),
        Seconds::Path(path) => match path.get(data).and_then(Value::as_f64) {
            Some(n) if n >= 0.0 => Ok(n),
            _ => Err(StatesError::runtime(format!(
                "Invalid path '{path}': {field} must name a non-negative number in the input '{data}'"
            ))),
        },
    }
}

/// Step Functions' payload quota (256 KiB): a state's output, or its input after Parameters,
/// past it is `States.DataLimitExceeded`, which nothing catches. Enforced here so a machine
/// that carries data instead of keys fails locally as it would on AWS.
pub const PAYLOAD_QUOTA_BYTES: usize = 256 * 1024;

fn within_payload_quota(value: &Value, state: &str, what: &str) -> Result<(), StatesError> {
    let size = serde_json::to_vec(value)
        .map(|bytes| bytes.len())
        .unwrap_or(0);
    if size > PAYLOAD_QUOTA_BYTES {
        return Err(StatesError::new(
            names::DATA_LIMIT_EXCEEDED,
            format!(
                "The {what} of state '{state}' is {size} bytes, past the {PAYLOAD_QUOTA_BYTES}-byte quota"
            ),
        ));
    }
    Ok(())
}

/// Seconds as a Duration; a number too large for one (a runaway backoff) is the longest one
/// rather than a panic.
fn duration(seconds: f64) -> Duration {
    Duration::try_from_secs_f64(seconds.max(0.0)).unwrap_or(Duration::MAX)
}

impl Interpreter {
    pub fn new(invoker: Arc<dyn TaskInvoker>, timer: Arc<dyn Timer>) -> Self {
        Self { invoker, timer }
    }

    /// Runs a whole (sub-)machine in memory: Parallel branches and Map iterations. Its Waits
    /// sleep inline.
    fn run_machine<'a>(
        &'a self,
        machine: &'a StateMachine,
        input: Value,
        info: &'a ExecutionInfo,
        recorder: &'a Recorder,
    ) -> BoxFuture<'a, Result<Value, StatesError>> {
        Box::pin(async move {
            let mut name = machine.start_at.clone();
            let mut data = input;
            loop {
                let state = machine
                    .state(&name)
                    .ok_or_else(|| StatesError::runtime(format!("no state named '{name}'")))?;
                let done = self.run_state(state, data, info, recorder).await?;
                if let Some(until) = done.wait_until {
                    let now = self.timer.now();
                    if until > now {
                        self.timer
                            .sleep((until - now).to_std().unwrap_or_default())
                            .await;
                    }
                }
                match done.next {
                    Some(next) => {
                        name = next;
                        data = done.output;
                    }
                    None => return Ok(done.output),
                }
            }
        })
    }

    async fn run_state(
        &self,
        state: &State,
        input: Value,
        info: &ExecutionInfo,
        recorder: &Recorder,
    ) -> Result<Done, StatesError> {
        let entered = self.timer.now();
        let type_name = state.kind.type_name().to_string();
        recorder.record(
            entered,
            Event::StateEntered {
                state_type: type_name.clone(),
                name: state.name.clone(),
                input: input.clone(),
            },
        );
        let ctx = context(info, &state.name, entered, 0);
        let effective = select(&state.input_path, &input, "InputPath", &ctx)?;
        let mut wait_until = None;
        let mut next = next_of(state);
        let result = match &state.kind {
            StateKind::Pass {
                parameters,
                result,
                result_path,
            } => {
                let shaped = match parameters {
                    Some(template) => template.render(&effective, &ctx)?,
                    None => effective,
                };
                place(input.clone(), result_path, result.clone().unwrap_or(shaped))?
            }
            StateKind::Choice { choices, default } => {
                let mut chosen = None;
                for (rule, target) in choices {
                    if rule.evaluate(&effective, &ctx)? {
                        chosen = Some(target.clone());
                        break;
                    }
                }
                next = Some(chosen.or_else(|| default.clone()).ok_or_else(|| {
                    StatesError::new(
                        names::NO_CHOICE_MATCHED,
                        format!(
                            "No Choice Rules matched and no Default was specified in state '{}'",
                            state.name
                        ),
                    )
                })?);
                effective
            }
            StateKind::Wait(wait) => {
                let until = match wait {
                    WaitFor::Seconds(spec) => {
                        let secs = seconds(spec, &effective, "SecondsPath")?;
                        chrono::Duration::from_std(duration(secs))
                            .ok()
                            .and_then(|wait| entered.checked_add_signed(wait))
                            .ok_or_else(|| {
                                StatesError::runtime(format!("a Wait of {secs} seconds is out of range"))
                            })?
                    }
                    WaitFor::Timestamp(text) => timestamp(text)
                        .ok_or_else(|| StatesError::runtime(format!("'{text}' is not a timestamp")))?,
                    WaitFor::TimestampPath(path) => path
                        .get(&effective)
                        .and_then(Value::as_str)
                        .and_then(timestamp)
                        .ok_or_else(|| StatesError::runtime(format!(
                            "Invalid path '{path}': TimestampPath must name an RFC 3339 timestamp in the input '{effective}'"
                        )))?,
                };
                recorder.record(
                    entered,
                    Event::WaitStarted {
                        name: state.name.clone(),
                        until,
                    },
                );
                wait_until = Some(until);
                effective
            }
            StateKind::Succeed => {
                next = None;
                effective
            }
            StateKind::Fail { error, cause } => {
                let text = |field: &Option<FailText>| -> Result<String, StatesError> {
                    let value = match field {
                        None => return Ok(String::new()),
                        Some(FailText::Literal(text)) => return Ok(text.clone()),
                        Some(FailText::Intrinsic(call)) => call.evaluate(&input, &ctx)?,
                        Some(FailText::Path(path)) => {
                            path.resolve(&input, &ctx).cloned().ok_or_else(|| {
                                StatesError::runtime(format!(
                                    "Invalid path '{path}' in the Fail state '{}'",
                                    state.name
                                ))
                            })?
                        }
                    };
                    Ok(match value {
                        Value::String(s) => s,
                        other => other.to_string(),
                    })
                };
                return Err(StatesError::new(text(error)?, text(cause)?));
            }
            StateKind::Task { handling, .. }
            | StateKind::Parallel { handling, .. }
            | StateKind::Map { handling, .. } => {
                match self
                    .with_recovery(state, handling, &input, &effective, info, entered, recorder)
                    .await?
                {
                    Recovered::Result(output) => output,
                    Recovered::Caught {
                        output,
                        next: target,
                    } => {
                        // The catcher's output (raw input with the error at its ResultPath)
                        // still goes through OutputPath, as moto's (LocalStack's) engine does.
                        next = Some(target);
                        output
                    }
                }
            }
        };
        let output = select(&state.output_path, &result, "OutputPath", &ctx)?;
        within_payload_quota(&output, &state.name, "output")?;
        recorder.record(
            self.timer.now(),
            Event::StateExited {
                state_type: type_name,
                name: state.name.clone(),
                output: output.clone(),
            },
        );
        Ok(Done {
            output,
            next,
            wait_until,
        })
    }

    #[allow(clippy::too_many_arguments)]
    async fn with_recovery(
        &self,
        state: &State,
        handling: &ResultHandling,
        raw_input: &Value,
        effective: &Value,
        info: &ExecutionInfo,
        entered: DateTime<Utc>,
        recorder: &Recorder,
    ) -> Result<Recovered, StatesError> {
        let mut attempts = vec![0u32; handling.retry.len()];
        let mut retry_count = 0u32;
        let callback = matches!(state.kind, StateKind::Task { callback: true, .. });
        loop {
            let mut ctx = context(info, &state.name, entered, retry_count);
            if callback {
                // The token names this attempt; the invoker's answer stands for the outcome
                // SendTaskSuccess/SendTaskFailure would report for it.
                ctx["Task"] = json!({"Token": format!(
                    "{}/{}/{}/{retry_count}",
                    info.id,
                    state.name,
                    entered.timestamp_micros()
                )});
            }
            let params = match &handling.parameters {
                Some(template) => template.render(effective, &ctx)?,
                None => effective.clone(),
            };
            within_payload_quota(&params, &state.name, "input after Parameters")?;
            let outcome = self.work(state, params, &ctx, info, recorder).await;
            let error = match outcome {
                Ok(result) => {
                    let result = match &handling.result_selector {
                        Some(template) => template.render(&result, &ctx)?,
                        None => result,
                    };
                    return Ok(Recovered::Result(place(
                        raw_input.clone(),
                        &handling.result_path,
                        result,
                    )?));
                }
                Err(error) => error,
            };
            if error.is_terminal() {
                return Err(error);
            }
            if let Some(index) = handling
                .retry
                .iter()
                .position(|r| error.matches(&r.error_equals))
            {
                let retrier = &handling.retry[index];
                if attempts[index] < retrier.max_attempts {
                    let mut delay = retrier.interval_seconds
                        * retrier.backoff_rate.powi(attempts[index] as i32);
                    if let Some(max) = retrier.max_delay_seconds {
                        delay = delay.min(max);
                    }
                    if retrier.full_jitter && delay > 0.0 && delay.is_finite() {
                        delay = rand::rng().random_range(0.0..=delay);
                    }
                    attempts[index] += 1;
                    retry_count += 1;
                    recorder.record(
                        self.timer.now(),
                        Event::RetryScheduled {
                            name: state.name.clone(),
                            error: error.error.clone(),
                            attempt: attempts[index],
                            delay_seconds: delay,
                        },
                    );
                    self.timer.sleep(duration(delay)).await;
                    continue;
                }
            }
            if let Some(catcher) = handling
                .catch
                .iter()
                .find(|c| error.matches(&c.error_equals))
            {
                recorder.record(
                    self.timer.now(),
                    Event::ErrorCaught {
                        name: state.name.clone(),
                        error: error.error.clone(),
                        cause: error.cause.clone(),
                        next: catcher.next.clone(),
                    },
                );
                let output = place(raw_input.clone(), &catcher.result_path, error.to_value())?;
                return Ok(Recovered::Caught {
                    output,
                    next: catcher.next.clone(),
                });
            }
            return Err(error);
        }
    }

    /// One attempt at a Task, Parallel or Map state's work, on its Parameters' output.
    async fn work(
        &self,
        state: &State,
        params: Value,
        ctx: &Value,
        info: &ExecutionInfo,
        recorder: &Recorder,
    ) -> Result<Value, StatesError> {
        match &state.kind {
            StateKind::Task {
                resource, timeout, ..
            } => {
                let timeout = timeout
                    .as_ref()
                    .map(|spec| seconds(spec, &params, "TimeoutSecondsPath"))
                    .transpose()?;
                recorder.record(
                    self.timer.now(),
                    Event::TaskScheduled {
                        name: state.name.clone(),
                        resource: resource.clone(),
                        parameters: params.clone(),
                    },
                );
                let call = self.invoker.invoke(resource, params);
                let outcome = match timeout {
                    None => call.await,
                    Some(secs) => {
                        let sleep = self.timer.sleep(duration(secs));
                        match futures::future::select(call, sleep).await {
                            Either::Left((outcome, _)) => outcome,
                            Either::Right(_) => {
                                let error = StatesError::new(
                                    names::TIMEOUT,
                                    format!("Task timed out after {secs} seconds"),
                                );
                                recorder.record(
                                    self.timer.now(),
                                    Event::TaskTimedOut {
                                        name: state.name.clone(),
                                        resource: resource.clone(),
                                        error: error.error.clone(),
                                        cause: error.cause.clone(),
                                    },
                                );
                                return Err(error);
                            }
                        }
                    }
                };
                match outcome {
                    Ok(output) => {
                        recorder.record(
                            self.timer.now(),
                            Event::TaskSucceeded {
                                name: state.name.clone(),
                                resource: resource.clone(),
                                output: output.clone(),
                            },
                        );
                        Ok(output)
                    }
                    Err(failure) => {
                        recorder.record(
                            self.timer.now(),
                            Event::TaskFailed {
                                name: state.name.clone(),
                                resource: resource.clone(),
                                error: failure.error.clone(),
                                cause: failure.cause.clone(),
                            },
                        );
                        Err(StatesError::new(failure.error, failure.cause))
                    }
                }
            }
            StateKind::Parallel { branches, .. } => {
                let runs = branches
                    .iter()
                    .map(|branch| self.run_machine(branch, params.clone(), info, recorder));
                Ok(Value::Array(futures::future::try_join_all(runs).await?))
            }
            StateKind::Map {
                items_path,
                item_selector,
                processor,
                max_concurrency,
                ..
            } => {
                let items = match items_path.query(&params, ctx) {
                    Some(Value::Array(items)) => items,
                    _ => {
                        return Err(StatesError::runtime(format!(
                            "Invalid path '{items_path}': ItemsPath must name an array in the input '{params}'"
                        )));
                    }
                };
                let limit = if *max_concurrency == 0 {
                    items.len().max(1)
                } else {
                    *max_concurrency as usize
                };
                let name = &state.name;
                let iterations = items.into_iter().enumerate().map(|(index, item)| {
                    let params = &params;
                    async move {
                        let mut item_ctx = ctx.clone();
                        item_ctx["Map"] = json!({"Item": {"Index": index, "Value": item}});
                        let input = match item_selector {
                            Some(template) => template.render(params, &item_ctx)?,
                            None => item,
                        };
                        recorder.record(
                            self.timer.now(),
                            Event::MapIterationStarted {
                                name: name.clone(),
                                index,
                            },
                        );
                        match self.run_machine(processor, input, info, recorder).await {
                            Ok(output) => {
                                recorder.record(
                                    self.timer.now(),
                                    Event::MapIterationSucceeded {
                                        name: name.clone(),
                                        index,
                                    },
                                );
                                Ok(output)
                            }
                            Err(error) => {
                                recorder.record(
                                    self.timer.now(),
                                    Event::MapIterationFailed {
                                        name: name.clone(),
                                        index,
                                        error: error.error.clone(),
                                    },
                                );
                                Err(error)
                            }
                        }
                    }
                });
                let results: Vec<Value> = futures::stream::iter(iterations)
                    .buffered(limit)
                    .try_collect()
                    .await?;
                Ok(Value::Array(results))
            }
            _ => Err(StatesError::runtime(format!(
                "state '{}' has no work",
                state.name
            ))),
        }
    }
}

enum Recovered {
    Result(Value),
    Caught { output: Value, next: String },
}
