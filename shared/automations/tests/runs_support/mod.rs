//! A world for run tests: embedded store and queue in a tempdir on a manual clock, the Airtable
//! sandbox in-process with a connected tenant, the real gateway, and a scripted outbound HTTP
//! client. `deliver` plays the queue's consumer loop one message at a time.

#![allow(dead_code)]

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use airtable::RateLimits;
use airtable_sandbox::{DEMO_TOKEN, Sandbox, SandboxHandle};
use async_trait::async_trait;
use automations::executor::{Executor, StepObserver};
use automations::runs::{RunSettings, RunView, Runs};
use automations::steps::{AirtableSteps, HttpSteps, LlmSteps, StepServices};
use automations::worker::{Backoff, RunWorker};
use automations::{
    AutomationError, RunId, RunStarter, RunTrigger, Step, Workflow, WorkflowId, WorkflowSecrets,
    WorkflowSpec,
};
use basics::{Clock, Env, ManualClock, RandomIds};
use connections::Connections;
use embedded::{Database, FileSecrets, SqliteQueue, SqliteStore};
use gateway::{ClientPool, Gateway, GatewaySettings};
use metering::UsageCounters;
use outbound_http::{OutboundError, OutboundHttp, OutboundRequest, OutboundResponse};
use ports::failing_store::{FailingStore, StoreCall};
use ports::{Queue, QueueName, Table, TableStore};
use serde_json::{Value, json};
use triggers::QueueConsumer;

pub const TENANT: &str = "ten_runs";
pub const SECRET: &str = "whsec_test_secret";

/// The outbound client double: records requests, answers from a script (200 `{}` when empty).
#[derive(Debug, Default)]
pub struct FakeHttp {
    pub sent: Mutex<Vec<OutboundRequest>>,
    pub script: Mutex<VecDeque<Result<OutboundResponse, OutboundError>>>,
}

impl FakeHttp {
    pub fn answer(&self, status: u16, body: &str) {
        self.script
            .lock()
            .expect("lock")
            .push_back(Ok(OutboundResponse {
                status,
                headers: vec![("Content-Type".into(), "application/json".into())],
                body: body.as_bytes().to_vec(),
                final_url: "https://hooks.example.com/x".into(),
            }));
    }

    pub fn fail(&self, err: OutboundError) {
        self.script.lock().expect("lock").push_back(Err(err));
    }

    pub fn sent(&self) -> Vec<OutboundRequest> {
        self.sent.lock().expect("lock").clone()
    }
}

#[async_trait]
impl OutboundHttp for FakeHttp {
    async fn send(&self, request: OutboundRequest) -> Result<OutboundResponse, OutboundError> {
        self.sent.lock().expect("lock").push(request);
        self.script
            .lock()
            .expect("lock")
            .pop_front()
            .unwrap_or_else(|| {
                Ok(OutboundResponse {
                    status: 200,
                    headers: vec![],
                    body: b"{}".to_vec(),
                    final_url: "https://hooks.example.com/x".into(),
                })
            })
    }
}

#[derive(Debug)]
pub struct FixedSecret;

#[async_trait]
impl WorkflowSecrets for FixedSecret {
    async fn signing_secret(
        &self,
        _tenant_id: &str,
        _workflow_id: &WorkflowId,
    ) -> Result<String, AutomationError> {
        Ok(SECRET.to_string())
    }
}

/// Arms a one-shot failure of the next checkpoint when a side effect is done: a crash between
/// the write and its checkpoint.
#[derive(Debug, Default)]
pub struct CrashAfterEffect {
    pub armed: AtomicBool,
    pub fire_next_checkpoint: Arc<AtomicBool>,
}

impl StepObserver for CrashAfterEffect {
    fn effect_done(&self, _run_id: &RunId, _step_index: usize) {
        if self.armed.swap(false, Ordering::SeqCst) {
            self.fire_next_checkpoint.store(true, Ordering::SeqCst);
        }
    }
}

pub struct World {
    pub sandbox: SandboxHandle,
    pub clock: ManualClock,
    pub store: Arc<dyn TableStore>,
    pub queue: Arc<dyn Queue>,
    pub runs: Runs,
    pub worker: RunWorker,
    pub http: Arc<FakeHttp>,
    pub crash: Arc<CrashAfterEffect>,
    pub failing: Arc<FailingStore>,
    pub usage: UsageCounters,
    _dir: tempfile::TempDir,
}

pub async fn world() -> World {
    world_with(RunSettings::default()).await
}

pub async fn world_with(settings: RunSettings) -> World {
    world_custom(settings, |_, _| None).await
}

/// A world whose `llm` steps use what `llm` builds on the world's store and clock.
pub async fn world_custom(
    settings: RunSettings,
    llm: impl FnOnce(Arc<dyn TableStore>, Arc<dyn Clock>) -> Option<LlmSteps>,
) -> World {
    let sandbox = Sandbox::builder()
        .no_rate_limits()
        .start("127.0.0.1:0".parse().expect("address"))
        .await
        .expect("sandbox");
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = ManualClock::starting_now();
    let shared_clock: Arc<dyn Clock> = Arc::new(clock.clone());
    let db = Database::open(&dir.path().join("runs.sqlite")).expect("db");
    let store: Arc<dyn TableStore> =
        Arc::new(SqliteStore::new(db.clone(), Arc::clone(&shared_clock)));
    let queue: Arc<dyn Queue> = Arc::new(SqliteQueue::new(db, Arc::clone(&shared_clock)));
    let secrets = Arc::new(FileSecrets::new(
        dir.path().join("secrets.json"),
        Env::from_pairs([]),
    ));
    let connections = Connections::new(
        Arc::clone(&store),
        secrets,
        Arc::clone(&shared_clock),
        sandbox.url(),
    );
    connections
        .connect(TENANT, DEMO_TOKEN.to_string().into())
        .await
        .expect("connect");
    let pool = Arc::new(ClientPool::new(
        Arc::clone(&store),
        Arc::clone(&shared_clock),
        sandbox.url(),
        Duration::from_millis(800),
        RateLimits::unlimited(),
    ));
    let settings_gateway = GatewaySettings {
        cache_ttl: Duration::ZERO,
        latency_budget: Duration::from_millis(800),
        airtable_limits: RateLimits::unlimited(),
    };
    let gateway = Gateway::new(
        Arc::clone(&store),
        Arc::clone(&shared_clock),
        connections,
        pool,
        &settings_gateway,
    );
    let usage = UsageCounters::new(Arc::clone(&store), Arc::clone(&shared_clock));
    let http = Arc::new(FakeHttp::default());
    let crash = Arc::new(CrashAfterEffect::default());
    let fire = Arc::clone(&crash.fire_next_checkpoint);
    // The executor's store fails the one checkpoint a crash test arms; everything else passes.
    let failing = Arc::new(FailingStore::wrapping(
        Arc::clone(&store),
        move |call, table| {
            call == StoreCall::TransactWrite
                && table == Table::Runs
                && fire.swap(false, Ordering::SeqCst)
        },
    ));
    let executor_store: Arc<dyn TableStore> = failing.clone();
    let steps = StepServices {
        airtable: Some(AirtableSteps::new(gateway, usage.clone())),
        llm: llm(Arc::clone(&store), Arc::clone(&shared_clock)),
        http: Some(HttpSteps::new(
            http.clone(),
            Arc::new(FixedSecret),
            Arc::clone(&shared_clock),
        )),
    };
    let executor = Executor::new(
        executor_store,
        Arc::clone(&queue),
        Arc::clone(&shared_clock),
        steps,
    )
    .with_observer(crash.clone());
    let worker = RunWorker::new(executor, Arc::clone(&queue)).with_backoff(Backoff {
        base: Duration::from_secs(5),
        cap: Duration::from_secs(60),
    });
    let runs = Runs::new(
        Arc::clone(&store),
        Arc::clone(&queue),
        Arc::clone(&shared_clock),
        Arc::new(RandomIds),
        settings,
    );
    World {
        sandbox,
        clock,
        store,
        queue,
        runs,
        worker,
        http,
        crash,
        failing,
        usage,
        _dir: dir,
    }
}

/// What one delivery came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// No message was visible.
    Empty,
    Handled,
    Failed(String),
}

impl World {
    pub fn workflow(&self, steps: Value) -> Workflow {
        let steps: Vec<Step> = serde_json::from_value(steps).expect("steps");
        Workflow {
            id: WorkflowId::parse("wfl_test0001").expect("id"),
            tenant_id: TENANT.into(),
            spec: WorkflowSpec {
                name: "test".into(),
                description: String::new(),
                enabled: true,
                trigger: automations::Trigger::Manual,
                steps,
            },
            version: 1,
            created_at: self.clock.now(),
            updated_at: self.clock.now(),
        }
    }

    pub async fn start(&self, steps: Value, input: Value) -> RunId {
        let workflow = self.workflow(steps);
        self.runs
            .start(&workflow, manual(), input, None)
            .await
            .expect("start")
    }

    /// Receives one visible run message and hands it to the worker, deleting it when handled
    /// (what the consumer loop does).
    pub async fn deliver(&self) -> Delivery {
        let mut messages = self
            .queue
            .receive(QueueName::Runs, 1, Duration::from_secs(600), Duration::ZERO)
            .await
            .expect("receive");
        let Some(message) = messages.pop() else {
            return Delivery::Empty;
        };
        let receipt = message.receipt.clone();
        match self.worker.consume(&message.into()).await {
            Ok(()) => {
                self.queue
                    .delete(QueueName::Runs, &receipt)
                    .await
                    .expect("delete");
                Delivery::Handled
            }
            Err(failure) => Delivery::Failed(failure.message().to_string()),
        }
    }

    /// Delivers until no message is visible (bounded).
    pub async fn drain(&self) -> Vec<Delivery> {
        let mut seen = Vec::new();
        for _ in 0..20 {
            match self.deliver().await {
                Delivery::Empty => return seen,
                other => seen.push(other),
            }
        }
        panic!("the runs queue did not drain: {seen:?}");
    }

    pub fn advance(&self, seconds: i64) {
        self.clock.advance(chrono::Duration::seconds(seconds));
    }

    pub async fn view(&self, run_id: &RunId) -> RunView {
        self.runs.get(TENANT, run_id).await.expect("run")
    }

    /// Requests the sandbox received on one of its routes.
    pub fn requests(&self, route: &str) -> u64 {
        self.sandbox
            .control()
            .counters()
            .routes
            .get(route)
            .map_or(0, |r| r.requests)
    }

    pub async fn depth(&self, queue: QueueName) -> u64 {
        self.queue.approximate_depth(queue).await.expect("depth")
    }

    pub async fn month_usage(&self) -> BTreeMap<String, i64> {
        let month = metering::month_of(self.clock.now());
        self.usage
            .month_totals(TENANT, &month)
            .await
            .expect("usage")
    }
}

pub fn manual() -> RunTrigger {
    RunTrigger {
        kind: "manual".into(),
        data: json!({}),
    }
}
