//! Attach and detach against the Airtable sandbox: one webhook per (tenant, base, table), shared
//! by the workflows on that table, with the specification record triggers need, deleted with
//! the last workflow.

mod record_hooks_support;

use automations::{AutomationError, RecordTriggerHooks};
use record_hooks_support::*;
use serde_json::json;

#[tokio::test]
async fn one_webhook_per_table_is_shared_and_deleted_with_its_last_workflow() {
    let world = World::start().await;
    let first = world
        .save_workflow("wfl_first", record_created("Contacts"), true)
        .await;
    let second = world
        .save_workflow("wfl_second", record_updated(CONTACTS, &["Title"]), true)
        .await;
    let other_table = world
        .save_workflow("wfl_other", record_deleted("Companies"), true)
        .await;

    world.hooks.attach(&first).await.expect("attach first");
    let hooks = world.sandbox_webhooks().await;
    assert_eq!(hooks.len(), 1, "{hooks:?}");
    let hook = &hooks[0];
    assert_eq!(
        hook.specification,
        json!({"options": {
            "filters": {"dataTypes": ["tableData"], "recordChangeScope": CONTACTS},
            "includes": {"includeCellValuesInFieldIds": "all", "includePreviousCellValues": true}
        }})
    );
    let registration = world.registration(CONTACTS).await.expect("registered");
    let url = hook
        .notification_url
        .as_deref()
        .expect("a notification URL");
    assert!(
        url.ends_with(&format!("/v1/hooks/airtable/{}", registration.hook_id)),
        "{url}"
    );
    assert!(
        registration
            .hook_id
            .starts_with(&format!("{TENANT}.appSandboxDemoCRM.{CONTACTS}."))
    );
    let webhook = registration
        .webhook
        .clone()
        .expect("the webhook is installed");
    assert_eq!(webhook.webhook_id, hook.id);
    assert_eq!(webhook.cursor, 1);
    assert!(!format!("{registration:?}").contains(&webhook.mac_secret_base64));

    // The same table by id: the same webhook, one more workflow.
    world.hooks.attach(&second).await.expect("attach second");
    // Attaching again changes nothing.
    world
        .hooks
        .attach(&first)
        .await
        .expect("attach first again");
    assert_eq!(world.sandbox_webhooks().await.len(), 1);
    let registration = world.registration(CONTACTS).await.expect("registered");
    assert_eq!(registration.workflow_ids, vec!["wfl_first", "wfl_second"]);
    assert_eq!(registration.webhook, Some(webhook.clone()));

    // Another table: its own webhook.
    world
        .hooks
        .attach(&other_table)
        .await
        .expect("attach other");
    assert_eq!(world.sandbox_webhooks().await.len(), 2);

    world.hooks.detach(&first).await.expect("detach first");
    assert!(
        world
            .sandbox_webhooks()
            .await
            .iter()
            .any(|h| h.id == webhook.webhook_id)
    );
    assert_eq!(
        world
            .registration(CONTACTS)
            .await
            .expect("still registered")
            .workflow_ids,
        vec!["wfl_second"]
    );
    world.hooks.detach(&second).await.expect("detach second");
    let left = world.sandbox_webhooks().await;
    assert_eq!(left.len(), 1, "{left:?}");
    assert_ne!(
        left[0].id, webhook.webhook_id,
        "the Contacts webhook is deleted"
    );
    assert!(world.registration(CONTACTS).await.is_none());
    assert!(world.registration(COMPANIES).await.is_some());
    // Detaching what is not attached is fine.
    world.hooks.detach(&second).await.expect("detach again");

    let usage = world
        .usage
        .month_totals(TENANT, &metering::month_of(chrono::Utc::now()))
        .await
        .expect("usage");
    assert!(
        usage.get("airtable.calls").copied().unwrap_or(0) >= 5,
        "the Airtable calls are counted in the tenant's usage: {usage:?}"
    );
}

#[tokio::test]
async fn concurrent_attaches_on_one_table_make_one_webhook() {
    let world = World::start().await;
    let mut workflows = Vec::new();
    for n in 0..6 {
        workflows.push(
            world
                .save_workflow(&format!("wfl_race{n}"), record_created("Contacts"), true)
                .await,
        );
    }
    let results = futures::future::join_all(workflows.iter().map(|w| world.hooks.attach(w))).await;
    for result in results {
        result.expect("attach");
    }
    assert_eq!(world.sandbox_webhooks().await.len(), 1);
    assert_eq!(
        world.sandbox_calls("create_webhook"),
        1,
        "only the holder of the creation lease creates the webhook"
    );
    let registration = world.registration(CONTACTS).await.expect("registered");
    let mut ids = registration.workflow_ids.clone();
    ids.sort();
    assert_eq!(
        ids,
        (0..6).map(|n| format!("wfl_race{n}")).collect::<Vec<_>>()
    );
    assert!(registration.webhook.is_some());
    assert!(registration.creating.is_none());
}

#[tokio::test]
async fn a_webhook_already_gone_from_airtable_still_detaches() {
    let world = World::start().await;
    let workflow = world
        .save_workflow("wfl_gone", record_deleted("Contacts"), true)
        .await;
    world.hooks.attach(&workflow).await.expect("attach");
    let webhook_id = world.sandbox_webhooks().await[0].id.clone();
    world.delete_sandbox_webhook(&webhook_id).await;
    world.hooks.detach(&workflow).await.expect("a 404 is fine");
    assert!(world.registration(CONTACTS).await.is_none());
}

#[tokio::test]
async fn disabled_workflows_and_unknown_tables_get_no_webhook() {
    let world = World::start().await;
    let enabled = world
        .save_workflow("wfl_toggle", record_created("Contacts"), true)
        .await;
    world.hooks.attach(&enabled).await.expect("attach");
    assert_eq!(world.sandbox_webhooks().await.len(), 1);
    let disabled = world
        .save_workflow("wfl_toggle", record_created("Contacts"), false)
        .await;
    world
        .hooks
        .attach(&disabled)
        .await
        .expect("attach a disabled workflow");
    assert!(
        world.sandbox_webhooks().await.is_empty(),
        "disabling detaches"
    );

    let nowhere = world
        .save_workflow("wfl_nowhere", record_created("No such table"), true)
        .await;
    match world.hooks.attach(&nowhere).await {
        Err(AutomationError::Invalid(problems)) => assert_eq!(problems[0].path, "/trigger/table"),
        other => panic!("expected an invalid table, got {other:?}"),
    }
    assert!(world.sandbox_webhooks().await.is_empty());

    let elsewhere = world
        .save_workflow(
            "wfl_elsewhere",
            automations::Trigger::RecordCreated {
                base: "appNoSuchBase0000".to_string(),
                table: "Contacts".to_string(),
            },
            true,
        )
        .await;
    match world.hooks.attach(&elsewhere).await {
        Err(AutomationError::Invalid(problems)) => assert_eq!(problems[0].path, "/trigger/base"),
        other => panic!("expected an unreachable base, got {other:?}"),
    }

    let manual = world
        .save_workflow("wfl_manual", automations::Trigger::Manual, true)
        .await;
    world
        .hooks
        .attach(&manual)
        .await
        .expect("not a record trigger");
    assert!(world.sandbox_webhooks().await.is_empty());
}

#[tokio::test]
async fn a_trigger_moved_to_another_table_leaves_the_old_one() {
    let world = World::start().await;
    let before = world
        .save_workflow("wfl_mover", record_created("Contacts"), true)
        .await;
    world.hooks.attach(&before).await.expect("attach");
    let old_webhook = world.sandbox_webhooks().await[0].id.clone();
    let after = world
        .save_workflow("wfl_mover", record_created("Companies"), true)
        .await;
    world
        .hooks
        .attach(&after)
        .await
        .expect("attach the edited trigger");
    assert!(world.registration(CONTACTS).await.is_none());
    let listed = world.sandbox_webhooks().await;
    assert_eq!(listed.len(), 1);
    assert_ne!(listed[0].id, old_webhook);
    assert_eq!(
        world
            .registration(COMPANIES)
            .await
            .expect("registered")
            .workflow_ids,
        vec!["wfl_mover"]
    );
}
