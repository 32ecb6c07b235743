//! The run store's access patterns on both backends: the embedded SQLite store and DynamoDB
//! through the AWS adapter against moto (when `MOTO_ENDPOINT` is set, as `./scripts/test` sets
//! it): a dedup key claimed in the run's own transaction, version-conditional saves, step
//! records in order, a workflow's runs newest first across pages, day counters, dead letters.

use std::sync::Arc;

use automations::model::{Run, RunId, RunStatus, RunTrigger, StepRecord, StepStatus, WorkflowId};
use automations::runs::{DeadLetter, RunStore};
use basics::{Clock, IdGenerator, ManualClock, RandomIds};
use chrono::Utc;
use embedded::{Database, SqliteStore};
use ports::TableStore;
use serde_json::json;

async fn backends(clock: &ManualClock) -> Vec<(&'static str, Arc<dyn TableStore>)> {
    let clock: Arc<dyn Clock> = Arc::new(clock.clone());
    let sqlite = SqliteStore::new(Database::in_memory().expect("db"), Arc::clone(&clock));
    let mut stores: Vec<(&'static str, Arc<dyn TableStore>)> = vec![("sqlite", Arc::new(sqlite))];
    if let Some(moto) = aws_adapters::testing::moto_store("automations-runs-", clock).await {
        stores.push(("moto", Arc::new(moto)));
    }
    stores
}

fn run(tenant: &str, workflow: &WorkflowId, clock: &ManualClock) -> Run {
    let now = clock.now();
    Run {
        id: RunId::generate(&RandomIds),
        tenant_id: tenant.into(),
        workflow_id: workflow.clone(),
        workflow_version: 1,
        steps_snapshot: vec![],
        status: RunStatus::Queued,
        trigger: RunTrigger {
            kind: "manual".into(),
            data: json!({}),
        },
        input: json!({}),
        next_step: 0,
        created_at: now,
        started_at: None,
        finished_at: None,
        deadline: now + chrono::Duration::hours(1),
        wake_at: None,
        error: None,
        cancel_requested: false,
        version: 1,
    }
}

fn record(index: usize) -> StepRecord {
    StepRecord {
        index,
        step_id: format!("s{index}"),
        step_type: "set".into(),
        status: StepStatus::Succeeded,
        input: json!({}),
        output: json!({"i": index}),
        error: None,
        attempts: 1,
        started_at: Utc::now(),
        finished_at: None,
        duration_ms: Some(1),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_store_patterns_hold_on_every_backend() {
    let clock = ManualClock::starting_now();
    for (backend, store) in backends(&clock).await {
        let runs = RunStore::new(store);
        let tenant = format!("ten_{}", RandomIds.random_token(10));
        let workflow = WorkflowId::parse("wfl_store01").expect("id");
        let now = clock.now();

        // One dedup key, one run.
        let first = run(&tenant, &workflow, &clock);
        assert_eq!(
            runs.create(&first, Some("key"), now).await.expect("create"),
            None,
            "{backend}"
        );
        let second = run(&tenant, &workflow, &clock);
        assert_eq!(
            runs.create(&second, Some("key"), now)
                .await
                .expect("create"),
            Some(first.id.clone()),
            "{backend}"
        );
        assert!(
            runs.get(&tenant, &second.id).await.expect("get").is_none(),
            "{backend}"
        );

        // Saves are conditional on the version.
        let mut started = first.clone();
        started.status = RunStatus::Running;
        started.version = 2;
        assert!(
            runs.save(&started, 1, None, now, vec![])
                .await
                .expect("save"),
            "{backend}"
        );
        assert!(
            !runs
                .save(&started, 1, None, now, vec![])
                .await
                .expect("stale"),
            "{backend}"
        );
        // A failed save writes none of its transaction's other items.
        let marker = runs
            .dead_letter_op(
                &tenant,
                &DeadLetter {
                    run_id: first.id.clone(),
                    workflow_id: workflow.clone(),
                    error: "x".into(),
                    dead_lettered_at: now,
                },
            )
            .expect("op");
        assert!(
            !runs
                .save(&started, 1, Some("failed"), now, vec![marker.clone()])
                .await
                .expect("stale")
        );
        assert!(
            runs.dead_letters(&tenant)
                .await
                .expect("letters")
                .is_empty(),
            "{backend}"
        );
        let mut lettered = started.clone();
        lettered.status = RunStatus::DeadLetter;
        lettered.version = 3;
        assert!(
            runs.save(&lettered, 2, Some("dead_letter"), now, vec![marker])
                .await
                .expect("save")
        );
        assert_eq!(
            runs.dead_letters(&tenant).await.expect("letters").len(),
            1,
            "{backend}"
        );
        let mut redriven = lettered.clone();
        redriven.version = 4;
        let clear = vec![runs.clear_dead_letter_op(&tenant, &first.id)];
        assert!(
            runs.save(&redriven, 3, None, now, clear)
                .await
                .expect("save")
        );
        assert!(
            runs.dead_letters(&tenant)
                .await
                .expect("letters")
                .is_empty(),
            "{backend}"
        );

        // Step records come back in step order.
        for index in [2, 0, 1] {
            runs.put_step(&tenant, &first.id, &record(index))
                .await
                .expect("step");
        }
        let steps = runs.steps(&tenant, &first.id).await.expect("steps");
        let order: Vec<usize> = steps.iter().map(|s| s.index).collect();
        assert_eq!(order, vec![0, 1, 2], "{backend}");

        // Newest first, across pages.
        clock.advance(chrono::Duration::seconds(1));
        let later = run(&tenant, &workflow, &clock);
        runs.create(&later, None, clock.now())
            .await
            .expect("create");
        clock.advance(chrono::Duration::seconds(1));
        let latest = run(&tenant, &workflow, &clock);
        runs.create(&latest, None, clock.now())
            .await
            .expect("create");
        let (page, next) = runs
            .list_for_workflow(&tenant, &workflow, 2, None)
            .await
            .expect("list");
        let ids: Vec<&RunId> = page.iter().map(|r| &r.id).collect();
        assert_eq!(ids, vec![&latest.id, &later.id], "{backend}");
        let (page, _) = runs
            .list_for_workflow(&tenant, &workflow, 2, next)
            .await
            .expect("list");
        assert_eq!(page.first().map(|r| &r.id), Some(&first.id), "{backend}");

        // Counters of the day: three created, one dead letter (the failed save counted nothing).
        let today = clock.now().date_naive();
        let stats = runs.stats(&tenant, today, today).await.expect("stats");
        assert_eq!(stats.len(), 1, "{backend}");
        assert_eq!(
            stats[0].1.get("created").and_then(|v| v.as_i64()),
            Some(3),
            "{backend}"
        );
        assert_eq!(
            stats[0].1.get("dead_letter").and_then(|v| v.as_i64()),
            Some(1),
            "{backend}"
        );
        assert_eq!(stats[0].1.get("failed"), None, "{backend}");

        // Another tenant reaches none of it.
        assert!(
            runs.get("ten_other", &first.id)
                .await
                .expect("get")
                .is_none()
        );
        assert!(
            runs.steps("ten_other", &first.id)
                .await
                .expect("steps")
                .is_empty()
        );
    }
}
