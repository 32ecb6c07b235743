//! Runs per second through the in-process queue worker (the dev server's consumer loop) with a
//! three-step workflow (Airtable get, Airtable update, set) against the sandbox with its limits
//! off, on the embedded store and queue; and the added latency from a run's start (trigger) to
//! its first step starting.
//!
//! `cargo bench -p automations --bench runs_throughput`; `BENCH_RUNS` (default 200) sets how
//! many runs are started at once.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use airtable::RateLimits;
use airtable_sandbox::{DEMO_BASE_ID, DEMO_TOKEN, Sandbox};
use automations::executor::Executor;
use automations::runs::{RunSettings, Runs};
use automations::steps::{AirtableSteps, StepServices};
use automations::worker::RunWorker;
use automations::{
    RunStarter, RunStatus, RunTrigger, Step, Trigger, Workflow, WorkflowId, WorkflowSpec,
};
use basics::{Clock, Env, RandomIds, SystemClock};
use connections::Connections;
use embedded::{Database, FileSecrets, SqliteQueue, SqliteStore};
use gateway::{ClientPool, Gateway, GatewaySettings};
use metering::UsageCounters;
use ports::{Queue, QueueName, TableStore};
use serde_json::json;
use triggers::local::{QueueWorker, WorkerSettings};

const TENANT: &str = "ten_bench";

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("runs_throughput failed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[index]
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    if std::env::args()
        .skip(1)
        .any(|a| !a.starts_with('-') && !"runs_throughput".contains(a.as_str()))
    {
        return Ok(());
    }
    let total: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);

    let sandbox = Sandbox::builder()
        .no_rate_limits()
        .start("127.0.0.1:0".parse()?)
        .await?;
    let dir = tempfile::tempdir()?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let db = Database::open(&dir.path().join("bench.sqlite"))?;
    let store: Arc<dyn TableStore> = Arc::new(SqliteStore::new(db.clone(), Arc::clone(&clock)));
    let queue: Arc<dyn Queue> = Arc::new(SqliteQueue::new(db, Arc::clone(&clock)));
    let secrets = Arc::new(FileSecrets::new(
        dir.path().join("secrets.json"),
        Env::from_pairs([]),
    ));
    let connections = Connections::new(
        Arc::clone(&store),
        secrets,
        Arc::clone(&clock),
        sandbox.url(),
    );
    connections
        .connect(TENANT, DEMO_TOKEN.to_string().into())
        .await?;
    let settings = GatewaySettings {
        airtable_limits: RateLimits::unlimited(),
        ..GatewaySettings::default()
    };
    let pool = Arc::new(ClientPool::new(
        Arc::clone(&store),
        Arc::clone(&clock),
        sandbox.url(),
        settings.latency_budget,
        RateLimits::unlimited(),
    ));
    let gateway = Gateway::new(
        Arc::clone(&store),
        Arc::clone(&clock),
        connections,
        pool,
        &settings,
    );
    let usage = UsageCounters::new(Arc::clone(&store), Arc::clone(&clock));
    let steps = StepServices {
        airtable: Some(AirtableSteps::new(gateway, usage)),
        ..StepServices::default()
    };
    let executor = Executor::new(
        Arc::clone(&store),
        Arc::clone(&queue),
        Arc::clone(&clock),
        steps,
    );
    let worker = Arc::new(RunWorker::new(executor, Arc::clone(&queue)));
    let runs = Runs::new(
        Arc::clone(&store),
        Arc::clone(&queue),
        Arc::clone(&clock),
        Arc::new(RandomIds),
        RunSettings::default(),
    );
    let steps: Vec<Step> = serde_json::from_value(json!([
        {"id": "deal", "type": "airtable.get", "base": DEMO_BASE_ID, "table": "Deals", "record": "{{ input.deal }}"},
        {"id": "touch", "type": "airtable.update", "base": DEMO_BASE_ID, "table": "Deals", "record": "{{ steps.deal.output.id }}",
         "fields": {"Name": "{{ steps.deal.output.fields.Name }}"}},
        {"id": "summary", "type": "set", "values": {"name": "{{ steps.touch.output.fields.Name }}"}}
    ]))?;
    let workflow = Workflow {
        id: WorkflowId::parse("wfl_bench")?,
        tenant_id: TENANT.into(),
        spec: WorkflowSpec {
            name: "bench".into(),
            description: String::new(),
            enabled: true,
            trigger: Trigger::Manual,
            steps,
        },
        version: 1,
        created_at: clock.now(),
        updated_at: clock.now(),
    };

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let consumer = QueueWorker::spawn_with(
        WorkerSettings {
            idle_wait: Duration::from_millis(50),
            ..WorkerSettings::default()
        },
        Arc::clone(&queue),
        QueueName::Runs,
        worker,
        async move {
            let _ = stopped.await;
        },
    );

    let deals = [
        "recDl000000000001",
        "recDl000000000002",
        "recDl000000000003",
        "recDl000000000004",
        "recDl000000000005",
        "recDl000000000006",
        "recDl000000000007",
    ];
    let started = Instant::now();
    let mut ids = Vec::with_capacity(total);
    for i in 0..total {
        let trigger = RunTrigger {
            kind: "manual".into(),
            data: json!({}),
        };
        let input = json!({"deal": deals[i % deals.len()]});
        ids.push(runs.start(&workflow, trigger, input, None).await?);
    }
    let mut pending = ids.clone();
    let deadline = Instant::now() + Duration::from_secs(600);
    while !pending.is_empty() {
        if Instant::now() > deadline {
            return Err(format!("{} runs did not finish in 10 minutes", pending.len()).into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        let mut still = Vec::new();
        for id in pending {
            let run = runs
                .store()
                .get(TENANT, &id)
                .await?
                .ok_or("a run vanished")?;
            if !run.status.is_final() {
                still.push(id);
            } else if run.status != RunStatus::Succeeded {
                return Err(
                    format!("run {id} ended {}: {:?}", run.status.as_str(), run.error).into(),
                );
            }
        }
        pending = still;
    }
    let elapsed = started.elapsed();
    let _ = stop.send(());
    consumer.join().await;

    let mut to_first_step = Vec::with_capacity(total);
    for id in &ids {
        let view = runs.get(TENANT, id).await?;
        let first = view.steps.first().ok_or("a run without steps")?;
        to_first_step.push(
            (first.started_at - view.run.created_at)
                .to_std()
                .unwrap_or_default(),
        );
    }
    to_first_step.sort();
    println!(
        "runs_throughput: {total} three-step runs (get, update, set) in {:.2} s = {:.1} runs/s",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64()
    );
    println!(
        "trigger to first step (all {total} started at once, so it includes queueing behind each other): p50 {:?}, p95 {:?}, max {:?}",
        percentile(&to_first_step, 0.5),
        percentile(&to_first_step, 0.95),
        percentile(&to_first_step, 1.0),
    );

    // Latency with an idle worker: one run at a time.
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let executor = Executor::new(
        Arc::clone(&store),
        Arc::clone(&queue),
        Arc::clone(&clock),
        StepServices::default(),
    );
    let consumer = QueueWorker::spawn_with(
        WorkerSettings {
            idle_wait: Duration::from_millis(50),
            ..WorkerSettings::default()
        },
        Arc::clone(&queue),
        QueueName::Runs,
        Arc::new(RunWorker::new(executor, Arc::clone(&queue))),
        async move {
            let _ = stopped.await;
        },
    );
    let single: Vec<Step> =
        serde_json::from_value(json!([{"id": "s", "type": "set", "values": {"a": 1}}]))?;
    let mut idle = Vec::new();
    for _ in 0..50 {
        let mut one = workflow.clone();
        one.spec.steps = single.clone();
        let trigger = RunTrigger {
            kind: "manual".into(),
            data: json!({}),
        };
        let id = runs.start(&one, trigger, json!({}), None).await?;
        loop {
            tokio::time::sleep(Duration::from_millis(2)).await;
            let view = runs.get(TENANT, &id).await?;
            if view.run.status.is_final() {
                let first = view.steps.first().ok_or("no step")?;
                idle.push(
                    (first.started_at - view.run.created_at)
                        .to_std()
                        .unwrap_or_default(),
                );
                break;
            }
        }
    }
    let _ = stop.send(());
    consumer.join().await;
    idle.sort();
    println!(
        "trigger to first step, one run at a time: p50 {:?}, p95 {:?}, max {:?}",
        percentile(&idle, 0.5),
        percentile(&idle, 0.95),
        percentile(&idle, 1.0),
    );
    Ok(())
}
