//! A world for saga tests: the platform on the embedded store in a tempdir, the Airtable
//! sandbox in-process (seeded with a small base of its own) with a connected tenant, `Sagas`
//! built from the platform's parts, and a harness that runs a saga's machine to its end.
//!
//! The harness runs the ASL files with `shared/asl` directly: its task invoker calls the
//! saga-step handler and answers as Lambda does (`{"ExecutedVersion","Payload","StatusCode"}`,
//! a failure as Error = the task error's name, Cause = `{"errorMessage","errorType"}`). Starts
//! go to [`RecordingMachines`], which only remembers them; [`World::run`] then runs the
//! machine. Pointing the same tests at the local state-machine adapter means replacing those
//! two.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use airtable::RateLimits;
use airtable_sandbox::{DEMO_TOKEN, Sandbox, SandboxHandle};
use asl::{
    Execution, ExecutionInfo, Interpreter, ManualTimer, StateMachine, Status, TaskFailure,
    TaskInvoker,
};
use async_trait::async_trait;
use basics::{Clock, Env, RandomIds, SystemClock};
use chrono::Utc;
use embedded::{Database, FileSecrets, SqliteQueue, SqliteStore};
use platform::{Platform, PlatformSettings, Ports};
use ports::{
    Execution as ExecutionView, ExecutionStatus, MachineName, StartedExecution, StateMachineError,
    StateMachines,
};
use sagas::{SagaDeps, SagaDetail, Sagas, StartSaga, Started};
use serde_json::{Map, Value, json};
use triggers::TaskHandler;

pub const TENANT: &str = "ten_sagas";
pub const BASE: &str = "appSagaTestBase01";
pub const SAGA_STEP_ARN: &str = "arn:aws:lambda:local:000000000000:function:saga-step";

/// The test base: products and orders for transactions, a source and a target for syncs.
pub fn seed() -> Value {
    let text = |id: &str, name: &str| json!({"id": id, "name": name, "type": "singleLineText"});
    let number = |id: &str, name: &str| json!({"id": id, "name": name, "type": "number", "options": {"precision": 0}});
    let record = |id: &str, fields: Value| json!({"id": id, "createdTime": "2026-01-01T00:00:00.000Z", "fields": fields});
    json!({
        "user": {"id": "usrSagaTest000001"},
        "tokens": [{"token": DEMO_TOKEN, "scopes": ["data.records:read", "data.records:write", "schema.bases:read", "webhook:manage"], "bases": ["*"]}],
        "bases": [{
            "id": BASE, "name": "Saga test",
            "tables": [
                {"id": "tblProducts000001", "name": "Products", "primaryFieldId": "fldPr000000000001",
                 "fields": [
                    text("fldPr000000000001", "Name"), text("fldPr000000000002", "SKU"),
                    number("fldPr000000000003", "Price"),
                    {"id": "fldPr000000000004", "name": "Active", "type": "checkbox", "options": {"icon": "check", "color": "greenBright"}},
                    {"id": "fldPr000000000005", "name": "Notes", "type": "multilineText"},
                    {"id": "fldPr000000000006", "name": "Number", "type": "autoNumber"}
                 ],
                 "records": [
                    record("recPr000000000001", json!({"Name": "Anvil", "SKU": "A-1", "Price": 100, "Active": true, "Number": 1})),
                    record("recPr000000000002", json!({"Name": "Bucket", "SKU": "B-1", "Price": 20, "Notes": "blue", "Number": 2})),
                    record("recPr000000000003", json!({"Name": "Chain", "SKU": "C-1", "Price": 35, "Active": true, "Number": 3})),
                    record("recPr000000000004", json!({"Name": "Drill", "SKU": "D-1", "Price": 250, "Number": 4})),
                    record("recPr000000000005", json!({"Name": "Easel", "SKU": "E-1", "Price": 60, "Notes": "wood", "Number": 5}))
                 ]},
                {"id": "tblOrders00000001", "name": "Orders", "primaryFieldId": "fldOr000000000001",
                 "fields": [
                    text("fldOr000000000001", "Ref"), number("fldOr000000000002", "Qty"),
                    {"id": "fldOr000000000003", "name": "Status", "type": "singleSelect", "options": {"choices": [
                        {"id": "selOpen0000000001", "name": "Open"}, {"id": "selClosed00000001", "name": "Closed"}]}}
                 ],
                 "records": [
                    record("recOr000000000001", json!({"Ref": "O-1", "Qty": 2, "Status": "Open"})),
                    record("recOr000000000002", json!({"Ref": "O-2", "Qty": 5, "Status": "Closed"})),
                    record("recOr000000000003", json!({"Ref": "O-3", "Qty": 1}))
                 ]},
                {"id": "tblSource00000001", "name": "Source", "primaryFieldId": "fldSo000000000001",
                 "fields": [text("fldSo000000000001", "Key"), text("fldSo000000000002", "Name"), number("fldSo000000000003", "Qty")],
                 "records": [
                    record("recSo000000000001", json!({"Key": "k1", "Name": "one", "Qty": 1})),
                    record("recSo000000000002", json!({"Key": "k2", "Name": "two", "Qty": 2})),
                    record("recSo000000000003", json!({"Key": "k3", "Name": "three", "Qty": 3})),
                    record("recSo000000000004", json!({"Key": "k4", "Name": "four"})),
                    record("recSo000000000005", json!({"Key": "k5", "Name": "five", "Qty": 5})),
                    record("recSo000000000006", json!({"Key": "k6", "Name": "six", "Qty": 6}))
                 ]},
                {"id": "tblTarget00000001", "name": "Target", "primaryFieldId": "fldTa000000000001",
                 "fields": [text("fldTa000000000001", "Key"), text("fldTa000000000002", "Name"), number("fldTa000000000003", "Qty"),
                    {"id": "fldTa000000000004", "name": "Number", "type": "autoNumber"}],
                 "records": [
                    record("recTa000000000001", json!({"Key": "k1", "Name": "one", "Qty": 1, "Number": 1})),
                    record("recTa000000000002", json!({"Key": "k2", "Name": "TWO", "Qty": 2, "Number": 2})),
                    record("recTa000000000004", json!({"Key": "k4", "Name": "four", "Qty": 4, "Number": 3})),
                    record("recTa000000000008", json!({"Key": "k8", "Name": "eight", "Qty": 8, "Number": 4})),
                    record("recTa000000000009", json!({"Key": "k9", "Name": "nine", "Number": 5}))
                 ]}
            ]
        }]
    })
}

/// The state machines port as the tests see it: starts are remembered, not run.
#[derive(Debug, Default)]
pub struct RecordingMachines {
    pub started: Mutex<Vec<(String, String, Value)>>,
    /// When set, every start fails with this.
    pub refuse: Mutex<Option<StateMachineError>>,
    /// When set, every execution is described as ended so.
    pub ended: Mutex<Option<(ExecutionStatus, Option<String>)>>,
}

#[async_trait]
impl StateMachines for RecordingMachines {
    async fn start(
        &self,
        machine: &MachineName,
        execution_name: &str,
        input: Value,
    ) -> Result<StartedExecution, StateMachineError> {
        if let Some(err) = self.refuse.lock().expect("lock").clone() {
            return Err(err);
        }
        let mut started = self.started.lock().expect("lock");
        let already_existed = started.iter().any(|(_, name, _)| name == execution_name);
        if !already_existed {
            started.push((machine.0.clone(), execution_name.to_string(), input));
        }
        Ok(StartedExecution {
            execution_id: format!("exec:{}:{execution_name}", machine.0),
            started_at: Utc::now(),
            already_existed,
        })
    }

    async fn describe(&self, execution_id: &str) -> Result<ExecutionView, StateMachineError> {
        let Some((status, error)) = self.ended.lock().expect("lock").clone() else {
            return Err(StateMachineError::ExecutionNotFound(
                execution_id.to_string(),
            ));
        };
        Ok(ExecutionView {
            execution_id: execution_id.to_string(),
            name: execution_id
                .rsplit(':')
                .next()
                .unwrap_or_default()
                .to_string(),
            status,
            input: json!({}),
            output: None,
            error,
            cause: Some("gone".into()),
            started_at: Utc::now(),
            stopped_at: Some(Utc::now()),
        })
    }

    async fn stop(
        &self,
        _execution_id: &str,
        _error: Option<&str>,
        _cause: Option<&str>,
    ) -> Result<(), StateMachineError> {
        Ok(())
    }
}

/// Invokes the saga-step handler as Lambda would for `arn:aws:states:::lambda:invoke`.
pub struct LambdaInvoker {
    pub handler: Arc<dyn TaskHandler>,
    pub calls: Mutex<Vec<Value>>,
}

#[async_trait]
impl TaskInvoker for LambdaInvoker {
    async fn invoke(&self, resource: &str, input: Value) -> Result<Value, TaskFailure> {
        assert_eq!(resource, "arn:aws:states:::lambda:invoke");
        assert_eq!(input["FunctionName"], SAGA_STEP_ARN);
        let payload = input["Payload"].clone();
        self.calls.lock().expect("lock").push(payload.clone());
        match self.handler.run(payload).await {
            Ok(output) => {
                Ok(json!({"ExecutedVersion": "$LATEST", "Payload": output, "StatusCode": 200}))
            }
            Err(err) => Err(TaskFailure {
                error: err.name.as_str().to_string(),
                cause: json!({"errorMessage": err.message, "errorType": err.name.as_str()})
                    .to_string(),
            }),
        }
    }
}

/// How an execution ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Ended {
    pub status: Status,
    pub error: Option<String>,
    pub output: Option<Value>,
}

pub struct World {
    pub sandbox: SandboxHandle,
    pub platform: Arc<Platform>,
    pub machines: Arc<RecordingMachines>,
    pub sagas: Arc<Sagas>,
    pub invoker: Arc<LambdaInvoker>,
    _dir: tempfile::TempDir,
}

/// A world without rate limits: the sandbox answers as fast as it can.
pub async fn world() -> World {
    world_with(false).await
}

/// With `airtable_limits`, the sandbox enforces Airtable's limits (5 requests/s per base, no
/// grace) and the platform paces its calls to them, as against Airtable: for benchmarks.
pub async fn world_with(airtable_limits: bool) -> World {
    let builder = Sandbox::builder().seed_json(seed().to_string());
    let builder = if airtable_limits {
        builder.rate_limits(airtable_sandbox::RateLimits {
            grace: Duration::ZERO,
            ..airtable_sandbox::RateLimits::default()
        })
    } else {
        builder.no_rate_limits()
    };
    let sandbox = builder
        .start("127.0.0.1:0".parse().expect("address"))
        .await
        .expect("sandbox");
    let dir = tempfile::tempdir().expect("tempdir");
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let db = Database::open(&dir.path().join("sagas.sqlite")).expect("db");
    let ports = Ports {
        store: Arc::new(SqliteStore::new(db.clone(), Arc::clone(&clock))),
        queue: Arc::new(SqliteQueue::new(db, Arc::clone(&clock))),
        secrets: Arc::new(FileSecrets::new(
            dir.path().join("secrets.json"),
            Env::from_pairs([]),
        )),
        clock,
        ids: Arc::new(RandomIds),
    };
    let mut settings = PlatformSettings::default();
    settings.gateway.airtable_limits = if airtable_limits {
        RateLimits::airtable()
    } else {
        RateLimits::unlimited()
    };
    settings.gateway.cache_ttl = Duration::ZERO;
    // connect-base registers webhooks, whose pings need somewhere to go (nothing listens there:
    // these tests do not follow pings).
    settings.automations.public_url = Some("http://127.0.0.1:9".into());
    let platform = Arc::new(Platform::new(ports, sandbox.url(), settings));
    platform
        .connections()
        .connect(TENANT, DEMO_TOKEN.to_string().into())
        .await
        .expect("connect");
    let machines = Arc::new(RecordingMachines::default());
    let sagas = Arc::new(Sagas::new(SagaDeps {
        store: Arc::clone(&platform.store),
        machines: machines.clone(),
        clock: Arc::clone(&platform.clock),
        ids: Arc::clone(&platform.ids),
        gateway: platform.gateway(),
        usage: platform.usage(),
        automations: Arc::clone(platform.automations()),
    }));
    let invoker = Arc::new(LambdaInvoker {
        handler: sagas.step_handler(),
        calls: Mutex::new(Vec::new()),
    });
    World {
        sandbox,
        platform,
        machines,
        sagas,
        invoker,
        _dir: dir,
    }
}

/// One execution driven state by state.
pub struct Run {
    pub execution: Execution,
    interpreter: Interpreter,
}

impl Run {
    /// The state the execution runs next.
    pub fn position(&self) -> Option<String> {
        self.execution.snapshot().position.clone()
    }

    /// Runs one top-level state; true when the execution has ended.
    pub async fn step(&mut self) -> bool {
        self.execution.step(&self.interpreter).await
    }

    /// Runs states until the next one is `state` (panics if the execution ends first).
    pub async fn until(&mut self, state: &str) {
        for _ in 0..10_000 {
            if self.position().as_deref() == Some(state) {
                return;
            }
            assert!(
                !self.step().await,
                "the execution ended before reaching {state}"
            );
        }
        panic!("never reached {state}");
    }

    pub async fn finish(mut self) -> Ended {
        let snapshot = self.execution.run(&self.interpreter).await.clone();
        Ended {
            status: snapshot.status,
            error: snapshot.error.map(|e| e.error),
            output: snapshot.output,
        }
    }
}

impl World {
    pub async fn start(&self, saga_type: &str, input: Value) -> Started {
        self.sagas
            .start(
                TENANT,
                StartSaga {
                    saga_type: saga_type.into(),
                    input,
                    idempotency_key: None,
                },
            )
            .await
            .expect("start")
    }

    /// The machine a saga's start asked for, ready to run.
    pub fn execution(&self, saga_id: &str) -> Run {
        let (machine, name, input) = self
            .machines
            .started
            .lock()
            .expect("lock")
            .iter()
            .find(|(_, name, _)| name == saga_id)
            .cloned()
            .expect("the saga's execution was started");
        let text = sagas::machines::definition(&machine).expect("machine");
        let definition =
            StateMachine::from_json(&sagas::machines::substituted(text, SAGA_STEP_ARN))
                .expect("the machine loads");
        let info = ExecutionInfo {
            id: format!("exec:{machine}:{name}"),
            name,
            state_machine_id: format!("machine:{machine}"),
            state_machine_name: machine,
            start_time: Utc::now(),
            input,
        };
        Run {
            execution: Execution::start(Arc::new(definition), info),
            interpreter: Interpreter::new(
                self.invoker.clone(),
                Arc::new(ManualTimer::at(Utc::now())),
            ),
        }
    }

    /// Runs a started saga's machine to its end.
    pub async fn run(&self, saga_id: &str) -> Ended {
        self.execution(saga_id).finish().await
    }

    pub async fn detail(&self, saga_id: &str) -> SagaDetail {
        self.sagas.get(TENANT, saga_id).await.expect("get")
    }

    pub fn requests(&self) -> u64 {
        self.sandbox.control().counters().total_requests
    }

    /// Requests to one sandbox route, with the statuses answered.
    pub fn route_requests(&self, route: &str) -> u64 {
        self.sandbox
            .control()
            .counters()
            .routes
            .get(route)
            .map_or(0, |r| r.requests)
    }

    /// The `k`-th request from now fails with `status` (a non-retryable refusal).
    pub fn fail_request(&self, k: u64, status: u16) {
        let mut script: Vec<airtable_sandbox::Fault> =
            (1..k).map(|_| airtable_sandbox::Fault::ok()).collect();
        script.push(airtable_sandbox::Fault::status(status));
        self.sandbox.control().faults().script("*", script);
    }

    /// Every table of the test base: for each, its records' writable fields by record id.
    pub fn tables(&self) -> BTreeMap<String, BTreeMap<String, Map<String, Value>>> {
        let snapshot = self.sandbox.control().snapshot();
        let mut tables = BTreeMap::new();
        for base in snapshot.bases.iter().filter(|b| b.id == BASE) {
            for table in &base.tables {
                let mut records = BTreeMap::new();
                for record in &table.records {
                    let fields: Map<String, Value> = record
                        .fields
                        .iter()
                        .filter_map(|(id, value)| {
                            let field = table.field(id)?;
                            (!field.is_computed() && !is_empty_cell(value))
                                .then(|| (field.name.clone(), value.clone()))
                        })
                        .collect();
                    records.insert(record.id.clone(), fields);
                }
                tables.insert(table.name.clone(), records);
            }
        }
        tables
    }
}

/// What Airtable omits from a record: an empty cell (no value, false, "", []).
fn is_empty_cell(value: &Value) -> bool {
    match value {
        Value::Null | Value::Bool(false) => true,
        Value::String(s) => s.is_empty(),
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

pub type Tables = BTreeMap<String, BTreeMap<String, Map<String, Value>>>;

/// Asserts that two snapshots hold the same data: records on both sides by id field for
/// field, and records only on one side (deleted, then recreated with a new id) by content.
pub fn assert_same_base(before: &Tables, after: &Tables, context: &str) {
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>(),
        "{context}: tables"
    );
    for (table, old) in before {
        let new = &after[table];
        let mut gone: Vec<String> = Vec::new();
        for (id, fields) in old {
            match new.get(id) {
                Some(now) => assert_eq!(now, fields, "{context}: {table} {id}"),
                None => gone.push(Value::Object(fields.clone()).to_string()),
            }
        }
        let mut arrived: Vec<String> = new
            .iter()
            .filter(|(id, _)| !old.contains_key(*id))
            .map(|(_, fields)| Value::Object(fields.clone()).to_string())
            .collect();
        gone.sort();
        arrived.sort();
        assert_eq!(arrived, gone, "{context}: {table} records only on one side");
    }
}
