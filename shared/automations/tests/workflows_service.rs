//! The workflows service over the embedded store: CRUD, the storage contract other parts read,
//! the signing secret, record triggers attached and detached around saves (nothing
//! half-saved when any step fails), the schedule index, merge patches and validation.

mod workflows_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use automations::workflows::WorkflowStore;
use automations::{AutomationError, ValidateRequest, Workflow, WorkflowSecrets, Workflows};
use basics::SequentialIds;
use ports::failing_store::{FailingStore, StoreCall};
use ports::{Key, Query, Table, TableStore, from_item};
use serde_json::json;
use workflows_support::*;

const NOW: &str = "2026-03-28T12:00:00Z";

async fn schedule_index(store: &Arc<dyn TableStore>) -> Vec<String> {
    store
        .query(Table::Core, Query::partition("SCHEDULES"))
        .await
        .expect("query")
        .items
        .iter()
        .map(|item| item["sk"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn paths(err: AutomationError) -> Vec<String> {
    match err {
        AutomationError::Invalid(problems) => problems.into_iter().map(|p| p.path).collect(),
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[tokio::test]
async fn a_created_workflow_is_stored_where_the_contract_says_with_its_secret_apart() {
    let s = setup_at(NOW);
    let created = s
        .workflows
        .create(TENANT, webhook_spec("Inbound"))
        .await
        .expect("create");
    let workflow = &created.workflow;
    assert_eq!(workflow.version, 1);
    assert!(created.signing_secret.starts_with("whsec_"));
    assert_eq!(created.signing_secret.len(), "whsec_".len() + 40);
    // The creation answer is the workflow with its secret beside it, shown this once.
    let answer = serde_json::to_value(&created).expect("json");
    assert_eq!(answer["id"], workflow.id.as_str());
    assert_eq!(answer["name"], "Inbound");
    assert_eq!(answer["trigger"]["type"], "webhook");
    assert_eq!(answer["signing_secret"], created.signing_secret.as_str());

    // The contract other helpers read: Core, TENANT#<tenant> / WORKFLOW#<id>, a Workflow.
    let item = s
        .store
        .store
        .get(
            Table::Core,
            &Key::new(
                format!("TENANT#{TENANT}"),
                format!("WORKFLOW#{}", workflow.id),
            ),
        )
        .await
        .expect("get")
        .expect("item");
    assert!(
        !serde_json::to_string(&item)
            .expect("json")
            .contains("whsec_")
    );
    let read: Workflow = from_item(item).expect("reads as a Workflow");
    assert_eq!(&read, workflow);

    assert_eq!(
        s.workflows
            .get(TENANT, &workflow.id)
            .await
            .expect("get")
            .spec
            .name,
        "Inbound"
    );
    let secret = s
        .workflows
        .signing_secret(TENANT, &workflow.id)
        .await
        .expect("secret");
    assert_eq!(secret, created.signing_secret);
    let answer = serde_json::to_value(s.workflows.get(TENANT, &workflow.id).await.expect("get"))
        .expect("json");
    assert!(!answer.to_string().contains("whsec_"));

    // Tenants are apart.
    assert!(matches!(
        s.workflows.get("ten_other", &workflow.id).await,
        Err(AutomationError::NotFound(_))
    ));
    assert!(
        s.workflows
            .list("ten_other")
            .await
            .expect("list")
            .is_empty()
    );
    let store = WorkflowStore::new(Arc::clone(&s.store.store));
    assert_eq!(
        store.tenant_of(&workflow.id).await.expect("pointer"),
        Some(TENANT.to_string())
    );
}

#[tokio::test]
async fn list_is_sorted_by_name() {
    let s = setup_at(NOW);
    for name in ["beta", "Alpha", "gamma"] {
        s.workflows
            .create(TENANT, webhook_spec(name))
            .await
            .expect("create");
    }
    let names: Vec<String> = s
        .workflows
        .list(TENANT)
        .await
        .expect("list")
        .into_iter()
        .map(|w| w.spec.name)
        .collect();
    assert_eq!(names, ["Alpha", "beta", "gamma"]);
}

#[tokio::test]
async fn an_invalid_workflow_is_refused_with_paths_and_nothing_is_saved_or_attached() {
    let s = setup_at(NOW);
    let mut bad = record_spec("", "Deals");
    if let automations::Trigger::RecordCreated { table, .. } = &mut bad.trigger {
        *table = "Nope".into();
    }
    let err = s.workflows.create(TENANT, bad).await.expect_err("invalid");
    assert_eq!(paths(err), ["/name", "/trigger/table"]);
    let err = s
        .workflows
        .create(TENANT, schedule_spec("never", "0 0 30 2 *", "Europe/Paris"))
        .await
        .expect_err("never fires");
    assert_eq!(paths(err), ["/trigger/cron"]);
    assert!(s.workflows.list(TENANT).await.expect("list").is_empty());
    assert!(s.hooks.take().is_empty());
    assert!(schedule_index(&s.store.store).await.is_empty());
}

#[tokio::test]
async fn a_record_trigger_is_attached_before_the_save_and_a_failed_attach_saves_nothing() {
    let s = setup_at(NOW);
    let created = s
        .workflows
        .create(TENANT, record_spec("Deals", "Deals"))
        .await
        .expect("create");
    assert_eq!(
        s.hooks.take(),
        [(
            "attach".into(),
            created.workflow.id.to_string(),
            "Deals".into()
        )]
    );

    s.hooks.fail_attach.store(true, Ordering::SeqCst);
    let err = s
        .workflows
        .create(TENANT, record_spec("More deals", "Deals"))
        .await
        .expect_err("attach fails");
    assert!(matches!(err, AutomationError::Airtable(_)), "{err:?}");
    assert_eq!(s.workflows.list(TENANT).await.expect("list").len(), 1);
}

#[tokio::test]
async fn a_store_failure_after_attaching_detaches_again() {
    let clock = basics::ManualClock::at(utc(NOW));
    let base = store(&clock);
    let failing: Arc<dyn TableStore> = Arc::new(FailingStore::wrapping(
        Arc::clone(&base.store),
        |call, _| call == StoreCall::TransactWrite,
    ));
    let hooks = Arc::new(FakeHooks::default());
    let workflows = Workflows::new(
        failing,
        Arc::new(clock.clone()),
        Arc::new(SequentialIds::default()),
        hooks.clone(),
        Arc::new(FakeSchema),
    );
    let err = workflows
        .create(TENANT, record_spec("Deals", "Deals"))
        .await
        .expect_err("store down");
    assert!(matches!(err, AutomationError::Store(_)), "{err:?}");
    let calls: Vec<String> = hooks.take().into_iter().map(|c| c.0).collect();
    assert_eq!(calls, ["attach", "detach"]);
    let listed = WorkflowStore::new(Arc::clone(&base.store))
        .list(TENANT)
        .await
        .expect("list");
    assert!(listed.is_empty());
}

fn ops(calls: Vec<(String, String, String)>) -> Vec<String> {
    calls
        .into_iter()
        .map(|(op, _, table)| format!("{op} {table}"))
        .collect()
}

#[tokio::test]
async fn disabling_changing_and_deleting_move_the_record_trigger() {
    let s = setup_at(NOW);
    let id = s
        .workflows
        .create(TENANT, record_spec("Deals", "Deals"))
        .await
        .expect("create")
        .workflow
        .id;
    s.hooks.take();
    let registered = || s.hooks.registered(id.as_str());
    assert_eq!(registered().as_deref(), Some("Deals"));

    // Disabled: detached.
    let patched = s
        .workflows
        .patch(TENANT, &id, json!({"enabled": false}))
        .await
        .expect("disable");
    assert!(!patched.spec.enabled);
    assert_eq!(patched.version, 2);
    assert_eq!(ops(s.hooks.take()), ["detach Deals"]);
    assert_eq!(registered(), None);

    // Enabled again: attached.
    s.workflows
        .patch(TENANT, &id, json!({"enabled": true}))
        .await
        .expect("enable");
    assert_eq!(ops(s.hooks.take()), ["attach Deals"]);

    // Another table: attaching moves the registration.
    s.workflows
        .replace(TENANT, &id, record_spec("Deals", "Tasks"))
        .await
        .expect("replace");
    assert_eq!(ops(s.hooks.take()), ["attach Tasks"]);
    assert_eq!(registered().as_deref(), Some("Tasks"));

    // Same table, other settings: attached again (idempotent).
    s.workflows
        .patch(TENANT, &id, json!({"name": "Renamed"}))
        .await
        .expect("rename");
    assert_eq!(ops(s.hooks.take()), ["attach Tasks"]);

    // An attach that fails refuses the change (and puts the old trigger back); nothing saved.
    s.hooks.fail_attach.store(true, Ordering::SeqCst);
    let err = s
        .workflows
        .replace(TENANT, &id, record_spec("Deals", "Deals"))
        .await
        .expect_err("attach fails");
    assert!(matches!(err, AutomationError::Airtable(_)));
    assert_eq!(ops(s.hooks.take()), ["attach Deals", "attach Tasks"]);
    assert_eq!(registered().as_deref(), Some("Tasks"));
    s.hooks.fail_attach.store(false, Ordering::SeqCst);

    // A detach that fails refuses disabling; nothing saved.
    s.hooks.fail_detach.store(true, Ordering::SeqCst);
    let err = s
        .workflows
        .patch(TENANT, &id, json!({"enabled": false}))
        .await
        .expect_err("detach fails");
    assert!(matches!(err, AutomationError::Airtable(_)));
    assert_eq!(ops(s.hooks.take()), ["detach Tasks"]);
    let kept = s.workflows.get(TENANT, &id).await.expect("get");
    assert!(kept.spec.enabled);
    assert_eq!(kept.spec.name, "Renamed");
    assert_eq!(kept.version, 5);
    assert_eq!(registered().as_deref(), Some("Tasks"));
    s.hooks.fail_detach.store(false, Ordering::SeqCst);

    // Delete detaches, then removes everything.
    s.workflows.delete(TENANT, &id).await.expect("delete");
    assert_eq!(ops(s.hooks.take()), ["detach Tasks"]);
    assert_eq!(registered(), None);
    assert!(matches!(
        s.workflows.get(TENANT, &id).await,
        Err(AutomationError::NotFound(_))
    ));
    let store = WorkflowStore::new(Arc::clone(&s.store.store));
    assert_eq!(store.tenant_of(&id).await.expect("pointer"), None);
    assert_eq!(
        store.signing_secret(TENANT, &id).await.expect("secret"),
        None
    );
}

#[tokio::test]
async fn a_store_failure_after_moving_a_trigger_puts_the_old_one_back() {
    let clock = basics::ManualClock::at(utc(NOW));
    let base = store(&clock);
    let down = Arc::new(AtomicBool::new(false));
    let switch = Arc::clone(&down);
    let failing: Arc<dyn TableStore> = Arc::new(FailingStore::wrapping(
        Arc::clone(&base.store),
        move |call, _| call == StoreCall::TransactWrite && switch.load(Ordering::SeqCst),
    ));
    let s = setup_on(clock, Store::wrapping(failing, base));
    let id = s
        .workflows
        .create(TENANT, record_spec("Deals", "Deals"))
        .await
        .expect("create")
        .workflow
        .id;
    s.hooks.take();
    down.store(true, Ordering::SeqCst);
    let err = s
        .workflows
        .replace(TENANT, &id, record_spec("Deals", "Tasks"))
        .await
        .expect_err("store down");
    assert!(matches!(err, AutomationError::Store(_)), "{err:?}");
    assert_eq!(ops(s.hooks.take()), ["attach Tasks", "attach Deals"]);
    assert_eq!(s.hooks.registered(id.as_str()).as_deref(), Some("Deals"));

    // Disabling with the store down: detached, then attached again.
    let err = s
        .workflows
        .patch(TENANT, &id, json!({"enabled": false}))
        .await
        .expect_err("store down");
    assert!(matches!(err, AutomationError::Store(_)), "{err:?}");
    assert_eq!(ops(s.hooks.take()), ["detach Deals", "attach Deals"]);
    assert_eq!(s.hooks.registered(id.as_str()).as_deref(), Some("Deals"));
    down.store(false, Ordering::SeqCst);
    let kept = s.workflows.get(TENANT, &id).await.expect("get");
    assert_eq!(kept.version, 1);
}

#[tokio::test]
async fn a_patch_is_merged_then_validated_as_a_whole() {
    let s = setup_at(NOW);
    let id = s
        .workflows
        .create(TENANT, webhook_spec("Hook"))
        .await
        .expect("create")
        .workflow
        .id;
    let patched = s
        .workflows
        .patch(
            TENANT,
            &id,
            json!({"description": "from the CRM", "steps": [{"id": "wait", "type": "delay", "seconds": 30}]}),
        )
        .await
        .expect("patch");
    assert_eq!(patched.spec.description, "from the CRM");
    assert_eq!(patched.spec.steps[0].id, "wait");

    let err = s
        .workflows
        .patch(
            TENANT,
            &id,
            json!({"steps": [{"id": "wait", "type": "delay", "seconds": 0}]}),
        )
        .await
        .expect_err("invalid");
    assert_eq!(paths(err), ["/steps/0/seconds"]);
    let err = s
        .workflows
        .patch(TENANT, &id, json!({"version": 9}))
        .await
        .expect_err("unknown field");
    assert!(matches!(err, AutomationError::Invalid(_)));
    assert_eq!(s.workflows.get(TENANT, &id).await.expect("get").version, 2);
}

#[tokio::test]
async fn a_stale_version_is_a_conflict() {
    let s = setup_at(NOW);
    let id = s
        .workflows
        .create(TENANT, webhook_spec("Hook"))
        .await
        .expect("create")
        .workflow
        .id;
    let store = WorkflowStore::new(Arc::clone(&s.store.store));
    let read = store.get(TENANT, &id).await.expect("get").expect("stored");
    s.workflows
        .patch(TENANT, &id, json!({"name": "first"}))
        .await
        .expect("first writer");
    let mut second = read.workflow.clone();
    second.version += 1;
    second.spec.name = "second".into();
    let err = store
        .replace(&read, &second, None)
        .await
        .expect_err("stale");
    assert!(err.is_condition_failure());
}

#[tokio::test]
async fn enabled_schedules_have_one_index_entry_at_their_next_fire() {
    let s = setup_at(NOW);
    let id = s
        .workflows
        .create(TENANT, schedule_spec("Report", "0 9 * * *", "Europe/Paris"))
        .await
        .expect("create")
        .workflow
        .id;
    // 28 March is still CET: 09:00 = 08:00 UTC.
    assert_eq!(
        schedule_index(&s.store.store).await,
        [format!("2026-03-29T07:00:00Z#{TENANT}#{id}")]
    );
    s.workflows
        .patch(TENANT, &id, json!({"trigger": {"cron": "30 2 * * *"}}))
        .await
        .expect("reschedule");
    assert_eq!(
        schedule_index(&s.store.store).await,
        [format!("2026-03-29T01:00:00Z#{TENANT}#{id}")]
    );
    s.workflows
        .patch(TENANT, &id, json!({"enabled": false}))
        .await
        .expect("disable");
    assert!(schedule_index(&s.store.store).await.is_empty());
    s.workflows
        .patch(TENANT, &id, json!({"enabled": true}))
        .await
        .expect("enable");
    assert_eq!(schedule_index(&s.store.store).await.len(), 1);
    s.workflows.delete(TENANT, &id).await.expect("delete");
    assert!(schedule_index(&s.store.store).await.is_empty());
}

#[tokio::test]
async fn validate_reports_problems_and_the_next_five_fires_in_the_zone() {
    let s = setup_at(NOW);
    let request: ValidateRequest =
        serde_json::from_value(json!({"cron": "30 2 * * *", "timezone": "Europe/Paris"}))
            .expect("request");
    let report = s.workflows.validate(TENANT, request).await.expect("report");
    assert!(report.valid);
    let json = serde_json::to_value(&report).expect("json");
    assert_eq!(
        json["next_fire_times"],
        json!([
            "2026-03-29T03:00:00+02:00",
            "2026-03-30T02:30:00+02:00",
            "2026-03-31T02:30:00+02:00",
            "2026-04-01T02:30:00+02:00",
            "2026-04-02T02:30:00+02:00"
        ])
    );
    assert_eq!(json["timezone"], "Europe/Paris");

    let bad: ValidateRequest =
        serde_json::from_value(json!({"cron": "0 0 31 4 *", "timezone": "Europe/Nowhere"}))
            .expect("request");
    let report = s.workflows.validate(TENANT, bad).await.expect("report");
    assert!(!report.valid);
    assert_eq!(report.problems[0].path, "/timezone");
    assert!(report.next_fire_times.is_empty());

    let workflow: ValidateRequest = serde_json::from_value(json!({
        "name": "x",
        "trigger": {"type": "schedule", "cron": "*/15 * * * *", "timezone": "UTC"},
        "steps": [{"id": "a", "type": "airtable.create", "base": BASE, "table": "Tasks", "fields": {"Stage": 1}}]
    }))
    .expect("request");
    let report = s
        .workflows
        .validate(TENANT, workflow)
        .await
        .expect("report");
    assert!(!report.valid);
    assert_eq!(report.problems[0].path, "/steps/0/fields/Stage");
    assert_eq!(report.next_fire_times.len(), 5);
    // Validation saves nothing.
    assert!(s.workflows.list(TENANT).await.expect("list").is_empty());
}
