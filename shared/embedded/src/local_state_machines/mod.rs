//! [`LocalStateMachines`]: the state-machine port on the embedded database, running the same
//! ASL files Step Functions runs with our interpreter (`asl`).
//!
//! Each execution is a row in the embedded database and runs on a tokio task that steps it one
//! top-level state at a time and saves its [`asl::Snapshot`] after every step. So a process that
//! stops (a dev server restart, a crash) loses at most the state that was running: at the next
//! start [`LocalStateMachines::resume_running`] carries every execution stored as running on
//! from its last snapshot. A Task that was mid-flight then runs again, which is why saga steps
//! are idempotent by execution and step; a Wait resumes with the time it had left. A state's
//! events are stored with it when it ends, so the interrupted attempt leaves none in the
//! history.
//!
//! Tasks (`arn:aws:states:::lambda:invoke`) go to the in-process task functions registered with
//! [`LocalStateMachines::register_task_function`], answering and failing as Lambda does (see the
//! `invoker` module).

mod definitions;
mod invoker;
mod store;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use asl::{ExecutionInfo, HistoryEvent, Interpreter, StateMachine, Timer};
use async_trait::async_trait;
use basics::Clock;
use chrono::{DateTime, Utc};
use ports::state_machines::validate_execution_name;
use ports::{Execution, MachineName, StartedExecution, StateMachineError, StateMachines};
use serde_json::Value;
use tokio::task::JoinHandle;
use triggers::TaskHandler;

use crate::database::Database;
use invoker::{LocalInvoker, TaskFunctions};

pub use invoker::{FUNCTION_NOT_FOUND, LAMBDA_INVOKE};

/// The account and region in the ARNs of local executions and functions.
const LOCAL_ARN_PREFIX: &str = "arn:aws:states:local:000000000000";

/// The ARN the local runner gives the task function `name`: what a `${...}` substitution for a
/// function's ARN should be locally (the invoker routes it by the name after `:function:`).
pub fn local_function_arn(name: &str) -> String {
    format!("arn:aws:lambda:local:000000000000:function:{name}")
}

/// Step Functions' quota on an execution's input.
pub const MAX_INPUT_BYTES: usize = 256 * 1024;

/// Time for the interpreter from a platform [`Clock`], with tokio's sleep: what the composition
/// root uses, so executions' times agree with the rest of the platform.
#[derive(Debug, Clone)]
pub struct ClockTimer(pub Arc<dyn Clock>);

#[async_trait]
impl Timer for ClockTimer {
    fn now(&self) -> DateTime<Utc> {
        self.0.now()
    }

    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

/// The local state-machine runner. Dropping it stops its executions' tasks (they stay stored
/// as running, for [`LocalStateMachines::resume_running`]).
pub struct LocalStateMachines {
    inner: Arc<Inner>,
}

/// What the executions' tasks share with the adapter.
struct Inner {
    db: Database,
    machines: HashMap<String, Arc<StateMachine>>,
    functions: Arc<TaskFunctions>,
    interpreter: Interpreter,
    /// The task of each execution this process is running, by execution id.
    running: Mutex<HashMap<String, JoinHandle<()>>>,
}

impl std::fmt::Debug for LocalStateMachines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut machines: Vec<&String> = self.inner.machines.keys().collect();
        machines.sort();
        f.debug_struct("LocalStateMachines")
            .field("machines", &machines)
            .finish_non_exhaustive()
    }
}

impl LocalStateMachines {
    /// Runs `machines` (name, ASL text) after replacing each `${Name}` by `substitutions[Name]`
    /// (as CloudFormation's `DefinitionSubstitutions` do). Every definition is parsed here, once:
    /// a bad one is an error naming the machine.
    pub fn new(
        db: Database,
        machines: impl IntoIterator<Item = (MachineName, String)>,
        substitutions: &BTreeMap<String, String>,
        timer: Arc<dyn Timer>,
    ) -> Result<Self, String> {
        let machines = definitions::parse_all(machines, substitutions)?;
        let functions = Arc::new(TaskFunctions::default());
        let invoker = Arc::new(LocalInvoker {
            functions: Arc::clone(&functions),
        });
        Ok(Self {
            inner: Arc::new(Inner {
                db,
                machines,
                functions,
                interpreter: Interpreter::new(invoker, timer),
                running: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// Routes Tasks invoking the function `name` (a bare name, or an ARN ending in
    /// `:function:<name>`) to `handler`. A handler that holds the platform should hold it
    /// weakly: the platform holds this adapter.
    pub fn register_task_function(&self, name: &str, handler: Arc<dyn TaskHandler>) {
        self.inner.functions.register(name, handler);
    }

    /// Carries on every execution stored as running (from its last saved step); called once at
    /// start-up, after the task functions are registered. Answers how many it resumed. One whose
    /// machine is no longer defined is logged and left as it is (it resumes if the machine
    /// comes back).
    pub async fn resume_running(&self) -> Result<usize, StateMachineError> {
        let ids = self.inner.db.run(|conn| store::running_ids(conn)).await?;
        let mut resumed = 0;
        for id in ids {
            if self.inner.is_running(&id) {
                continue;
            }
            let stored = self.inner.db.run(|conn| store::load(conn, &id)).await?;
            let Some(stored) = stored else { continue };
            let Some(machine) = self.inner.machines.get(&stored.machine).cloned() else {
                tracing::error!(execution = %id, machine = %stored.machine, "a running execution's machine is no longer defined; it stays as it is");
                continue;
            };
            let saved = stored.snapshot.history.len();
            let execution = asl::Execution::resume(machine, stored.snapshot);
            tracing::info!(execution = %id, "resuming a state-machine execution");
            Inner::spawn(&self.inner, execution, saved);
            resumed += 1;
        }
        Ok(resumed)
    }

    /// The execution's history so far (AWS's event types via [`asl::Event::aws_type`]).
    pub async fn history(
        &self,
        execution_id: &str,
    ) -> Result<Vec<HistoryEvent>, StateMachineError> {
        let stored = self
            .inner
            .db
            .run(|conn| store::load(conn, execution_id))
            .await?;
        stored
            .map(|stored| stored.snapshot.history)
            .ok_or_else(|| StateMachineError::ExecutionNotFound(execution_id.to_string()))
    }

    fn machine_arn(machine: &str) -> String {
        format!("{LOCAL_ARN_PREFIX}:stateMachine:{machine}")
    }

    fn execution_arn(machine: &str, name: &str) -> String {
        format!("{LOCAL_ARN_PREFIX}:execution:{machine}:{name}")
    }
}

impl Drop for LocalStateMachines {
    fn drop(&mut self) {
        let mut running = self.inner.running.lock().unwrap_or_else(|p| p.into_inner());
        for (_, task) in running.drain() {
            task.abort();
        }
    }
}

impl Inner {
    fn is_running(&self, id: &str) -> bool {
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .is_some_and(|task| !task.is_finished())
    }

    /// Starts the task that steps `execution`, whose first `saved` history events are stored.
    fn spawn(inner: &Arc<Inner>, execution: asl::Execution, saved: usize) {
        let id = execution.snapshot().execution.id.clone();
        // Held while spawning, so the task cannot remove its entry before it is inserted.
        let mut running = inner.running.lock().unwrap_or_else(|p| p.into_inner());
        let task = tokio::spawn(Inner::drive(Arc::clone(inner), execution, saved));
        running.insert(id, task);
    }

    /// Steps the execution to its end, saving after every step.
    async fn drive(inner: Arc<Inner>, mut execution: asl::Execution, mut saved: usize) {
        let id = execution.snapshot().execution.id.clone();
        loop {
            let finished = execution.step(&inner.interpreter).await;
            let snapshot = execution.snapshot();
            if let Err(err) = inner
                .db
                .run(|conn| store::save(conn, snapshot, saved))
                .await
            {
                // It stays stored at its last saved step, and resumes from there next start.
                tracing::error!(execution = %id, error = %err, "cannot save a state-machine execution; it stops until the next start");
                break;
            }
            saved = snapshot.history.len();
            if finished {
                break;
            }
        }
        inner
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
    }

    /// A placeholder machine for ending an execution whose machine is no longer defined.
    fn any_machine(&self) -> Arc<StateMachine> {
        static NONE: OnceLock<Arc<StateMachine>> = OnceLock::new();
        Arc::clone(NONE.get_or_init(|| {
            Arc::new(StateMachine {
                start_at: String::new(),
                states: BTreeMap::new(),
                timeout_seconds: None,
            })
        }))
    }
}

#[async_trait]
impl StateMachines for LocalStateMachines {
    async fn start(
        &self,
        machine: &MachineName,
        execution_name: &str,
        input: Value,
    ) -> Result<StartedExecution, StateMachineError> {
        validate_execution_name(execution_name)?;
        let definition = self
            .inner
            .machines
            .get(&machine.0)
            .cloned()
            .ok_or_else(|| StateMachineError::UnknownMachine(machine.0.clone()))?;
        let size = serde_json::to_vec(&input).map(|b| b.len()).unwrap_or(0);
        if size > MAX_INPUT_BYTES {
            return Err(StateMachineError::Invalid(format!(
                "the execution input is {size} bytes, past the {MAX_INPUT_BYTES}-byte quota"
            )));
        }
        let started_at = self.inner.interpreter.timer.now();
        let execution = asl::Execution::start(
            definition,
            ExecutionInfo {
                id: Self::execution_arn(&machine.0, execution_name),
                name: execution_name.to_string(),
                state_machine_id: Self::machine_arn(&machine.0),
                state_machine_name: machine.0.clone(),
                start_time: started_at,
                input: input.clone(),
            },
        );
        let snapshot = execution.snapshot();
        let existing = self
            .inner
            .db
            .run(|conn| store::insert_new(conn, &machine.0, snapshot))
            .await?;
        if let Some(existing) = existing {
            if existing.input != input {
                return Err(StateMachineError::AlreadyExists(execution_name.to_string()));
            }
            return Ok(StartedExecution {
                execution_id: existing.execution_id,
                started_at: existing.started_at,
                already_existed: true,
            });
        }
        let execution_id = snapshot.execution.id.clone();
        let saved = snapshot.history.len();
        Inner::spawn(&self.inner, execution, saved);
        Ok(StartedExecution {
            execution_id,
            started_at,
            already_existed: false,
        })
    }

    async fn describe(&self, execution_id: &str) -> Result<Execution, StateMachineError> {
        self.inner
            .db
            .run(|conn| store::read(conn, execution_id))
            .await?
            .ok_or_else(|| StateMachineError::ExecutionNotFound(execution_id.to_string()))
    }

    async fn stop(
        &self,
        execution_id: &str,
        error: Option<&str>,
        cause: Option<&str>,
    ) -> Result<(), StateMachineError> {
        let task = self
            .inner
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(execution_id);
        if let Some(task) = task {
            task.abort();
            // Once it has ended, its last save is the stored state: nothing writes after ours.
            let _ = task.await;
        }
        let stored = self
            .inner
            .db
            .run(|conn| store::load(conn, execution_id))
            .await?
            .ok_or_else(|| StateMachineError::ExecutionNotFound(execution_id.to_string()))?;
        if stored.snapshot.status != asl::Status::Running {
            return Ok(());
        }
        let machine = self
            .inner
            .machines
            .get(&stored.machine)
            .cloned()
            .unwrap_or_else(|| self.inner.any_machine());
        let saved = stored.snapshot.history.len();
        let mut execution = asl::Execution::resume(machine, stored.snapshot);
        let now = self.inner.interpreter.timer.now();
        execution.abort(now, error.unwrap_or_default(), cause.unwrap_or_default());
        let snapshot = execution.snapshot();
        self.inner
            .db
            .run(|conn| store::save(conn, snapshot, saved))
            .await
    }
}
