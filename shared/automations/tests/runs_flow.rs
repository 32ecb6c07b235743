//! Runs end to end on the embedded store and queue, with the Airtable sandbox in-process: the
//! worker advances runs step by step, checkpoints each, resumes after redelivery without
//! repeating a write, retries what may pass, fails what cannot, and dead-letters what keeps
//! failing until it is redriven.

mod runs_support;

use airtable_sandbox::{DEMO_BASE_ID, Fault};
use automations::runs::RunSettings;
use automations::{AutomationError, RunMessage, RunStarter, RunStatus, StepStatus};
use ports::QueueName;
use runs_support::{Delivery, TENANT, manual, world, world_with};
use serde_json::{Value, json};
use std::time::Duration;

const DEAL: &str = "recDl000000000001";

fn get_update_set() -> Value {
    json!([
        {"id": "deal", "type": "airtable.get", "base": DEMO_BASE_ID, "table": "Deals", "record": "{{ input.deal }}"},
        {"id": "won", "type": "airtable.update", "base": DEMO_BASE_ID, "table": "Deals", "record": "{{ steps.deal.output.id }}",
         "fields": {"Stage": "Won", "Name": "{{ steps.deal.output.fields.Name }} (won)"}},
        {"id": "summary", "type": "set", "values": {"name": "{{ steps.won.output.fields.Name }}", "amount": "{{ steps.deal.output.fields.Amount }}"}}
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_three_step_run_succeeds_with_each_step_recorded() {
    let w = world().await;
    let run_id = w.start(get_update_set(), json!({"deal": DEAL})).await;
    assert_eq!(w.view(&run_id).await.run.status, RunStatus::Queued);

    assert_eq!(w.drain().await, vec![Delivery::Handled]);

    let view = w.view(&run_id).await;
    assert_eq!(
        view.run.status,
        RunStatus::Succeeded,
        "{:?}",
        view.run.error
    );
    assert!(view.run.started_at.is_some() && view.run.finished_at.is_some());
    assert_eq!(view.run.next_step, 3);
    assert_eq!(view.steps.len(), 3);
    for (index, record) in view.steps.iter().enumerate() {
        assert_eq!(record.index, index);
        assert_eq!(record.status, StepStatus::Succeeded);
        assert_eq!(record.attempts, 1);
        assert!(record.duration_ms.is_some());
    }
    assert_eq!(view.steps[0].input["record"], DEAL);
    assert_eq!(
        view.steps[1].input["fields"]["Name"],
        "Acme platform renewal (won)"
    );
    assert_eq!(view.steps[1].output["fields"]["Stage"], "Won");
    // A sole expression keeps its JSON type (a number stays a number).
    assert_eq!(
        view.steps[2].output,
        json!({"name": "Acme platform renewal (won)", "amount": 48000})
    );
    assert_eq!(w.requests("get_record"), 1);
    assert_eq!(w.requests("update_record"), 1);
    // The Airtable calls are in the tenant's usage, as /v0 calls are.
    assert_eq!(w.month_usage().await.get("airtable.calls"), Some(&2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_whose_checkpoint_failed_is_replayed_not_repeated_on_redelivery() {
    let w = world().await;
    let run_id = w.start(get_update_set(), json!({"deal": DEAL})).await;
    w.crash
        .armed
        .store(true, std::sync::atomic::Ordering::SeqCst);

    // The update reaches Airtable, then its checkpoint fails: the delivery fails.
    assert!(matches!(w.deliver().await, Delivery::Failed(_)));
    assert_eq!(
        w.failing.failures(),
        1,
        "the checkpoint failure was reached"
    );
    assert_eq!(w.requests("update_record"), 1);
    let view = w.view(&run_id).await;
    assert_eq!(view.run.status, RunStatus::Running);
    assert_eq!(view.run.next_step, 1);
    assert_eq!(view.steps[1].status, StepStatus::Running);

    // Redelivered after the backoff: the write is replayed by its idempotency key.
    assert_eq!(
        w.deliver().await,
        Delivery::Empty,
        "hidden during the backoff"
    );
    w.advance(10);
    assert_eq!(w.deliver().await, Delivery::Handled);
    let view = w.view(&run_id).await;
    assert_eq!(
        view.run.status,
        RunStatus::Succeeded,
        "{:?}",
        view.run.error
    );
    assert_eq!(
        w.requests("update_record"),
        1,
        "exactly one PATCH reached Airtable"
    );
    assert_eq!(view.steps[1].attempts, 2);
    assert_eq!(
        view.steps[0].attempts, 1,
        "a checkpointed step is never run again"
    );
    assert_eq!(w.requests("get_record"), 1);
    assert_eq!(view.steps[2].output["name"], "Acme platform renewal (won)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transient_failure_is_retried_with_backoff_then_succeeds() {
    let w = world().await;
    let run_id = w.start(get_update_set(), json!({"deal": DEAL})).await;
    w.sandbox
        .control()
        .faults()
        .script("update_record", vec![Fault::status(503); 30]);

    let Delivery::Failed(reason) = w.deliver().await else {
        panic!("the first delivery should fail");
    };
    assert!(reason.contains("503"), "{reason}");
    let view = w.view(&run_id).await;
    assert_eq!(view.run.status, RunStatus::Running);
    assert_eq!(view.steps[1].status, StepStatus::Running);
    assert!(
        view.steps[1]
            .error
            .as_deref()
            .is_some_and(|e| e.contains("503"))
    );

    w.sandbox.control().faults().clear();
    assert_eq!(
        w.deliver().await,
        Delivery::Empty,
        "hidden during the backoff"
    );
    w.advance(7);
    assert_eq!(w.deliver().await, Delivery::Handled);
    let view = w.view(&run_id).await;
    assert_eq!(view.run.status, RunStatus::Succeeded);
    assert_eq!(view.steps[1].attempts, 2);
    assert!(view.steps[1].error.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_airtable_refusal_fails_the_run_at_once() {
    let w = world().await;
    let run_id = w.start(get_update_set(), json!({"deal": DEAL})).await;
    w.sandbox
        .control()
        .faults()
        .script("update_record", vec![Fault::status(422)]);

    assert_eq!(w.drain().await, vec![Delivery::Handled]);
    let view = w.view(&run_id).await;
    assert_eq!(view.run.status, RunStatus::Failed);
    let error = view.run.error.unwrap_or_default();
    assert!(
        error.starts_with("step won:") && error.contains("422"),
        "{error}"
    );
    assert_eq!(view.steps[1].status, StepStatus::Failed);
    assert_eq!(view.steps[1].attempts, 1);
    assert_eq!(view.steps.len(), 2, "no step after the failure ran");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_template_error_fails_the_step_permanently() {
    let w = world().await;
    let run_id = w
        .start(json!([{"id": "x", "type": "set", "values": {"a": "{{ input.name | no_such_filter }}"}}]), json!({}))
        .await;
    assert_eq!(w.drain().await, vec![Delivery::Handled]);
    let view = w.view(&run_id).await;
    assert_eq!(view.run.status, RunStatus::Failed);
    assert_eq!(view.steps[0].status, StepStatus::Failed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_past_its_deadline_fails_before_its_next_step() {
    let w = world_with(RunSettings {
        deadline: Duration::from_secs(60),
    })
    .await;
    let run_id = w.start(get_update_set(), json!({"deal": DEAL})).await;
    w.advance(61);
    assert_eq!(w.drain().await, vec![Delivery::Handled]);
    let view = w.view(&run_id).await;
    assert_eq!(view.run.status, RunStatus::Failed);
    assert!(view.run.error.unwrap_or_default().starts_with("deadline"));
    assert!(view.steps.is_empty());
    assert_eq!(w.requests("get_record"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_queued_runs_at_once_and_running_ones_before_the_next_step() {
    let w = world().await;
    // Queued: cancelled at once; its message then does nothing.
    let queued = w.start(get_update_set(), json!({"deal": DEAL})).await;
    let cancelled = w.runs.cancel(TENANT, &queued).await.expect("cancel");
    assert_eq!(cancelled.status, RunStatus::Cancelled);
    assert_eq!(w.drain().await, vec![Delivery::Handled]);
    assert_eq!(w.requests("get_record"), 0);
    // Ended: a conflict.
    assert!(matches!(
        w.runs.cancel(TENANT, &queued).await,
        Err(AutomationError::Conflict(_))
    ));

    // Running (a worker holds it): the request is recorded, and the worker stops before its
    // next step.
    let running = w.start(get_update_set(), json!({"deal": DEAL})).await;
    let mut run = w.view(&running).await.run;
    let previous = run.version;
    run.status = RunStatus::Running;
    run.version += 1;
    assert!(
        w.runs
            .store()
            .save(&run, previous, None, run.created_at, vec![])
            .await
            .expect("save")
    );
    let requested = w.runs.cancel(TENANT, &running).await.expect("cancel");
    assert_eq!(requested.status, RunStatus::Running);
    assert!(requested.cancel_requested);
    assert_eq!(w.drain().await, vec![Delivery::Handled]);
    let view = w.view(&running).await;
    assert_eq!(view.run.status, RunStatus::Cancelled);
    assert!(view.steps.is_empty());
    assert_eq!(w.requests("get_record"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_delay_is_re_enqueued_in_hops_and_early_deliveries_do_nothing_else() {
    let w = world().await;
    let run_id = w
        .start(
            json!([
                {"id": "wait", "type": "delay", "seconds": 1800},
                {"id": "after", "type": "set", "values": {"done": true}}
            ]),
            json!({}),
        )
        .await;
    assert_eq!(w.drain().await, vec![Delivery::Handled]);
    let view = w.view(&run_id).await;
    assert_eq!(view.run.status, RunStatus::Waiting);
    assert!(view.run.wake_at.is_some());
    assert_eq!(
        w.deliver().await,
        Delivery::Empty,
        "the wake-up message is delayed"
    );

    // After the queue's longest delay (15 minutes) the message comes back early: it is sent
    // again for the rest, and the run stays asleep.
    w.advance(901);
    assert_eq!(w.drain().await, vec![Delivery::Handled]);
    let view = w.view(&run_id).await;
    assert_eq!(view.run.status, RunStatus::Waiting);
    assert_eq!(view.steps.len(), 1);
    w.advance(600);
    assert_eq!(w.deliver().await, Delivery::Empty);

    w.advance(300);
    assert_eq!(w.drain().await, vec![Delivery::Handled]);
    let view = w.view(&run_id).await;
    assert_eq!(view.run.status, RunStatus::Succeeded);
    assert_eq!(view.steps[0].status, StepStatus::Succeeded);
    assert_eq!(view.steps[1].output, json!({"done": true}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_false_condition_skips_to_otherwise_or_ends_the_run() {
    let w = world().await;
    let steps = json!([
        {"id": "check", "type": "condition", "when": {"left": "{{ input.stage }}", "op": "equals", "right": "Won"}, "otherwise": "after"},
        {"id": "won_only", "type": "set", "values": {"x": 1}},
        {"id": "after", "type": "set", "values": {"y": 2}}
    ]);
    let lost = w.start(steps.clone(), json!({"stage": "Lost"})).await;
    let won = w.start(steps, json!({"stage": "Won"})).await;
    let ends = w
        .start(
            json!([
                {"id": "check", "type": "condition", "when": {"left": "{{ input.amount }}", "op": "greater_than", "right": 100}},
                {"id": "big", "type": "set", "values": {"x": 1}}
            ]),
            json!({"amount": 5}),
        )
        .await;
    w.drain().await;

    let view = w.view(&lost).await;
    assert_eq!(view.run.status, RunStatus::Succeeded);
    let statuses: Vec<StepStatus> = view.steps.iter().map(|s| s.status).collect();
    assert_eq!(
        statuses,
        vec![
            StepStatus::Succeeded,
            StepStatus::Skipped,
            StepStatus::Succeeded
        ]
    );
    assert_eq!(view.steps[0].output, json!({"result": false}));

    let view = w.view(&won).await;
    assert!(view.steps.iter().all(|s| s.status == StepStatus::Succeeded));

    let view = w.view(&ends).await;
    assert_eq!(view.run.status, RunStatus::Succeeded);
    assert_eq!(view.steps[1].status, StepStatus::Skipped);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_receive_dead_letters_the_run_and_a_redrive_completes_it() {
    let w = world().await;
    let run_id = w.start(get_update_set(), json!({"deal": DEAL})).await;
    w.sandbox
        .control()
        .faults()
        .set_rate("update_record", 1.0, vec![503]);

    for receive in 1..=ports::queue::MAX_RECEIVES {
        assert!(
            matches!(w.deliver().await, Delivery::Failed(_)),
            "receive {receive}"
        );
        w.advance(61);
    }
    // The queue moves the message to its dead-letter queue on the next receive.
    assert_eq!(w.deliver().await, Delivery::Empty);
    assert_eq!(w.depth(QueueName::RunsDlq).await, 1);
    let view = w.view(&run_id).await;
    assert_eq!(view.run.status, RunStatus::DeadLetter);
    assert!(view.run.error.unwrap_or_default().contains("503"));
    let letters = w.runs.dead_letters(TENANT).await.expect("dead letters");
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].run_id, run_id);

    w.sandbox.control().faults().clear();
    let redriven = w.runs.redrive(TENANT, &run_id).await.expect("redrive");
    assert_eq!(redriven.status, RunStatus::Queued);
    assert_eq!(
        w.depth(QueueName::RunsDlq).await,
        0,
        "its DLQ copy was removed"
    );
    assert!(
        w.runs
            .dead_letters(TENANT)
            .await
            .expect("letters")
            .is_empty()
    );
    assert_eq!(w.drain().await, vec![Delivery::Handled]);
    let view = w.view(&run_id).await;
    assert_eq!(view.run.status, RunStatus::Succeeded);
    assert_eq!(
        view.steps[0].attempts, 1,
        "the read before the failures is not repeated"
    );
    // A second redrive of a run that is no longer a dead letter is refused.
    assert!(matches!(
        w.runs.redrive(TENANT, &run_id).await,
        Err(AutomationError::Conflict(_))
    ));

    let stats = w.runs.stats(TENANT, 3).await.expect("stats");
    assert_eq!(stats.len(), 3);
    let today = &stats[2].counts;
    assert_eq!(today["created"], 1);
    assert_eq!(today["dead_letter"], 1);
    assert_eq!(today["succeeded"], 1);
    assert_eq!(stats[0].counts["created"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_dedup_key_starts_one_run() {
    let w = world().await;
    let workflow = w.workflow(json!([{"id": "x", "type": "set", "values": {"a": 1}}]));
    let first = w
        .runs
        .start(
            &workflow,
            manual(),
            json!({}),
            Some("fire:2026-12-02T07:00Z".into()),
        )
        .await
        .expect("first");
    // Still queued: the message is sent again (a crash may have lost the first).
    let again = w
        .runs
        .start(
            &workflow,
            manual(),
            json!({}),
            Some("fire:2026-12-02T07:00Z".into()),
        )
        .await
        .expect("again");
    assert_eq!(first, again);
    w.drain().await;
    let after = w
        .runs
        .start(
            &workflow,
            manual(),
            json!({}),
            Some("fire:2026-12-02T07:00Z".into()),
        )
        .await
        .expect("after");
    assert_eq!(after, first);
    assert_eq!(
        w.depth(QueueName::Runs).await,
        0,
        "an ended run is not enqueued again"
    );
    let (runs, _) = w
        .runs
        .list_for_workflow(TENANT, &workflow.id, 10, None)
        .await
        .expect("list");
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status, RunStatus::Succeeded);
    let other = w
        .runs
        .start(
            &workflow,
            manual(),
            json!({}),
            Some("fire:2026-12-02T08:00Z".into()),
        )
        .await
        .expect("other");
    assert_ne!(other, first);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_list_newest_first_and_stay_within_their_tenant() {
    let w = world().await;
    let steps = json!([{"id": "x", "type": "set", "values": {"a": 1}}]);
    let older = w.start(steps.clone(), json!({})).await;
    w.advance(1);
    let newer = w.start(steps, json!({})).await;
    let workflow = w.workflow(json!([]));
    let (page, next) = w
        .runs
        .list_for_workflow(TENANT, &workflow.id, 1, None)
        .await
        .expect("list");
    assert_eq!(page[0].id, newer);
    let (page, _) = w
        .runs
        .list_for_workflow(TENANT, &workflow.id, 1, next)
        .await
        .expect("list");
    assert_eq!(page[0].id, older);

    // Another tenant sees nothing and touches nothing, even with the run's id.
    assert!(matches!(
        w.runs.get("ten_other", &newer).await,
        Err(AutomationError::NotFound(_))
    ));
    assert!(matches!(
        w.runs.cancel("ten_other", &newer).await,
        Err(AutomationError::NotFound(_))
    ));
    let (page, _) = w
        .runs
        .list_for_workflow("ten_other", &workflow.id, 10, None)
        .await
        .expect("list");
    assert!(page.is_empty());
    // A message naming another tenant is dropped without running anything.
    let forged = serde_json::to_string(&RunMessage {
        tenant_id: "ten_other".into(),
        run_id: newer.clone(),
    })
    .expect("json");
    w.queue
        .send(QueueName::Runs, &forged, ports::SendOptions::default())
        .await
        .expect("send");
    w.drain().await;
    assert_eq!(w.view(&newer).await.run.status, RunStatus::Succeeded);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_create_upsert_and_delete_steps_speak_airtable() {
    let w = world().await;
    let run_id = w
        .start(
            json!([
                {"id": "won", "type": "airtable.list", "base": DEMO_BASE_ID, "table": "Deals",
                 "filter": "{Stage} = 'Won'", "fields": ["Name", "Stage"], "max_records": 2},
                {"id": "made", "type": "airtable.create", "base": DEMO_BASE_ID, "table": "Contacts",
                 "fields": {"Name": "Onboarding {{ input.who }}", "Email": "ada@example.com"}},
                {"id": "merged", "type": "airtable.upsert", "base": DEMO_BASE_ID, "table": "Contacts",
                 "merge_on": ["Email"], "fields": {"Email": "ada@example.com", "Title": "CTO"}},
                {"id": "gone", "type": "airtable.delete", "base": DEMO_BASE_ID, "table": "Contacts",
                 "record": "{{ steps.made.output.id }}"}
            ]),
            json!({"who": "Ada"}),
        )
        .await;
    assert_eq!(w.drain().await, vec![Delivery::Handled]);
    let view = w.view(&run_id).await;
    assert_eq!(
        view.run.status,
        RunStatus::Succeeded,
        "{:?}",
        view.run.error
    );
    let listed = view.steps[0].output["records"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    // The seed has one won deal among seven: the filter went through.
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["fields"]["Stage"], "Won");
    let made = view.steps[1].output["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(made.starts_with("rec"));
    assert_eq!(view.steps[1].output["fields"]["Name"], "Onboarding Ada");
    // The upsert merged into the record just created (same Email).
    let merged = &view.steps[2].output["records"][0];
    assert_eq!(merged["id"], made.as_str());
    assert_eq!(merged["fields"]["Title"], "CTO");
    assert_eq!(view.steps[3].output["deleted"], true);
    assert_eq!(w.requests("list_records"), 1);
    assert_eq!(w.requests("create_records"), 1);
    assert_eq!(w.requests("update_records"), 1);
    assert_eq!(w.requests("delete_record"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_delivery_during_a_write_waits_instead_of_writing_again() {
    let w = world().await;
    let workflow = w.workflow(get_update_set());
    let run_id = w
        .runs
        .start(&workflow, manual(), json!({"deal": DEAL}), Some("k".into()))
        .await
        .expect("start");
    // A second message for the same run (the starter re-sends for a run still queued).
    w.runs
        .start(&workflow, manual(), json!({"deal": DEAL}), Some("k".into()))
        .await
        .expect("again");
    w.sandbox.control().faults().script(
        "update_record",
        vec![Fault::slow(Duration::from_millis(700))],
    );

    // The duplicate arrives while the first delivery's write is in flight: it finds the write's
    // idempotency key claimed and backs off instead of writing.
    let (first, second) = tokio::join!(w.deliver(), async {
        // Once the write has reached the sandbox (which holds it 700 ms).
        while w.requests("update_record") == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        w.deliver().await
    });
    assert_eq!(first, Delivery::Handled);
    let Delivery::Failed(reason) = second else {
        panic!("the duplicate should back off: {second:?}");
    };
    assert!(reason.contains("in progress"), "{reason}");
    assert_eq!(w.requests("update_record"), 1);
    assert_eq!(w.view(&run_id).await.run.status, RunStatus::Succeeded);

    // It stays hidden until a claim left by a dead worker could have lapsed, then finds the run
    // ended and does nothing.
    w.advance(60);
    assert_eq!(w.deliver().await, Delivery::Empty);
    w.advance(gateway::idempotency::CLAIM_TTL.as_secs() as i64);
    assert_eq!(w.deliver().await, Delivery::Handled);
    assert_eq!(w.requests("update_record"), 1);
}

/// A queue that is down.
#[derive(Debug)]
struct DownQueue;

#[async_trait::async_trait]
impl ports::Queue for DownQueue {
    async fn send(
        &self,
        _: QueueName,
        _: &str,
        _: ports::SendOptions,
    ) -> Result<String, ports::QueueError> {
        Err(ports::QueueError::Unavailable("down".into()))
    }
    async fn receive(
        &self,
        _: QueueName,
        _: u32,
        _: Duration,
        _: Duration,
    ) -> Result<Vec<ports::Message>, ports::QueueError> {
        Err(ports::QueueError::Unavailable("down".into()))
    }
    async fn delete(&self, _: QueueName, _: &str) -> Result<(), ports::QueueError> {
        Err(ports::QueueError::Unavailable("down".into()))
    }
    async fn change_visibility(
        &self,
        _: QueueName,
        _: &str,
        _: Duration,
    ) -> Result<(), ports::QueueError> {
        Err(ports::QueueError::Unavailable("down".into()))
    }
    async fn approximate_depth(&self, _: QueueName) -> Result<u64, ports::QueueError> {
        Err(ports::QueueError::Unavailable("down".into()))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_cannot_be_enqueued_is_not_left_queued_unless_a_retry_will_resend_it() {
    let w = world().await;
    let down = automations::runs::Runs::new(
        std::sync::Arc::clone(&w.store),
        std::sync::Arc::new(DownQueue),
        std::sync::Arc::new(w.clock.clone()),
        std::sync::Arc::new(basics::RandomIds),
        RunSettings::default(),
    );
    let workflow = w.workflow(json!([{"id": "x", "type": "set", "values": {"a": 1}}]));
    assert!(matches!(
        down.start(&workflow, manual(), json!({}), None).await,
        Err(AutomationError::Queue(_))
    ));
    // With a dedup key the run stays queued, and the caller's retry (queue back) sends it.
    assert!(
        down.start(&workflow, manual(), json!({}), Some("k".into()))
            .await
            .is_err()
    );
    let retried = w
        .runs
        .start(&workflow, manual(), json!({}), Some("k".into()))
        .await
        .expect("retry");
    assert_eq!(w.drain().await, vec![Delivery::Handled]);
    assert_eq!(w.view(&retried).await.run.status, RunStatus::Succeeded);
    let (runs, _) = w
        .runs
        .list_for_workflow(TENANT, &workflow.id, 10, None)
        .await
        .expect("list");
    let mut statuses: Vec<&str> = runs.iter().map(|r| r.status.as_str()).collect();
    statuses.sort();
    assert_eq!(statuses, vec!["failed", "succeeded"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameters_or_outputs_too_large_to_checkpoint_fail_the_step_clearly() {
    let w = world().await;
    let limit = automations::executor::MAX_RECORDED_BYTES;
    // Rendered parameters past the limit (an input is at most 128 KiB, so the template
    // doubles it).
    let run_id = w
        .start(
            json!([{"id": "copy", "type": "set", "values": {"a": "{{ input.blob ~ input.blob }}"}}]),
            json!({"blob": "x".repeat(limit * 6 / 10)}),
        )
        .await;
    assert_eq!(w.drain().await, vec![Delivery::Handled]);
    let view = w.view(&run_id).await;
    assert_eq!(view.run.status, RunStatus::Failed);
    assert!(
        view.run
            .error
            .unwrap_or_default()
            .contains("rendered parameters are")
    );

    // An output past the limit: three records that fit one each, listed together.
    let half = "y".repeat(limit * 45 / 100);
    let run_id = w
        .start(
            json!([
                {"id": "a", "type": "airtable.create", "base": DEMO_BASE_ID, "table": "Contacts", "fields": {"Name": "Big A", "Title": "{{ input.text }}"}},
                {"id": "b", "type": "airtable.create", "base": DEMO_BASE_ID, "table": "Contacts", "fields": {"Name": "Big B", "Title": "{{ input.text }}"}},
                {"id": "c", "type": "airtable.create", "base": DEMO_BASE_ID, "table": "Contacts", "fields": {"Name": "Big C", "Title": "{{ input.text }}"}},
                {"id": "both", "type": "airtable.list", "base": DEMO_BASE_ID, "table": "Contacts", "filter": "FIND('Big', {Name})", "fields": ["Name", "Title"]}
            ]),
            json!({"text": half}),
        )
        .await;
    assert_eq!(w.drain().await, vec![Delivery::Handled]);
    let view = w.view(&run_id).await;
    assert_eq!(view.run.status, RunStatus::Failed, "{:?}", view.run.error);
    assert!(view.run.error.unwrap_or_default().contains("output is"));
    assert_eq!(view.steps[3].status, StepStatus::Failed);
    assert_eq!(view.steps[2].status, StepStatus::Succeeded);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_during_a_step_keeps_its_checkpoint_and_stops_before_the_next() {
    let w = world().await;
    let run_id = w.start(get_update_set(), json!({"deal": DEAL})).await;
    w.sandbox.control().faults().script(
        "update_record",
        vec![Fault::slow(Duration::from_millis(400))],
    );
    let (delivered, cancelled) = tokio::join!(w.deliver(), async {
        while w.requests("update_record") == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        w.runs.cancel(TENANT, &run_id).await
    });
    assert_eq!(delivered, Delivery::Handled);
    let requested = cancelled.expect("cancel");
    assert_eq!(requested.status, RunStatus::Running);
    assert!(requested.cancel_requested);

    let view = w.view(&run_id).await;
    assert_eq!(view.run.status, RunStatus::Cancelled);
    // The write that was under way when the cancel came is checkpointed with its output...
    assert_eq!(view.steps[1].status, StepStatus::Succeeded);
    assert_eq!(view.steps[1].output["fields"]["Stage"], "Won");
    // ...and nothing after it ran.
    assert_eq!(view.steps.len(), 2);
    assert_eq!(w.requests("update_record"), 1);
}
