//! End to end through the sandbox: records created, updated and deleted; the sandbox's pings
//! verified and enqueued; the events worker reading the payloads and starting each matching
//! workflow once, with fields by name; redelivery and a lost cursor starting nothing new.

mod record_hooks_support;

use std::collections::BTreeMap;

use automations::{EventsWorker, RecordTriggerHooks};
use ports::{QueueName, SendOptions};
use record_hooks_support::*;
use serde_json::json;
use triggers::{InboundMessage, QueueConsumer};

/// Delivers the pings that arrived for `changes` changes to the hook route, then the queued
/// events to the worker; returns the messages delivered.
async fn deliver(world: &World, worker: &EventsWorker, changes: usize) -> Vec<ports::Message> {
    let pings = world.pings.wait_for(changes).await;
    world.pings.take();
    for ping in pings {
        world
            .hooks
            .receive_ping(&ping.hook, ping.mac.as_deref(), &ping.body)
            .await
            .expect("a signed ping");
    }
    let messages = world.drain_events().await;
    for message in &messages {
        worker
            .consume(&InboundMessage::from(message.clone()))
            .await
            .expect("the worker handles the message");
    }
    messages
}

/// Runs started so far, by workflow: (record, change) pairs.
fn runs_by_workflow(world: &World) -> BTreeMap<String, Vec<(String, String)>> {
    let mut out: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for run in world.starter.started() {
        out.entry(run.workflow_id).or_default().push((
            run.trigger.data["record_id"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            run.trigger.data["change"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        ));
    }
    out
}

#[tokio::test]
async fn record_changes_start_each_matching_workflow_once() {
    let world = World::start().await;
    let created = world
        .save_workflow("wfl_created", record_created("Contacts"), true)
        .await;
    let any_update = world
        .save_workflow("wfl_anyupdate", record_updated(CONTACTS, &[]), true)
        .await;
    let title_update = world
        .save_workflow(
            "wfl_titleupdate",
            record_updated("Contacts", &["Title"]),
            true,
        )
        .await;
    // Watches the same field by id.
    let title_by_id = world
        .save_workflow(
            "wfl_titlebyid",
            record_updated("Contacts", &["fldCt000000000004"]),
            true,
        )
        .await;
    let deleted = world
        .save_workflow("wfl_deleted", record_deleted("Contacts"), true)
        .await;
    let paused = world
        .save_workflow("wfl_paused", record_created("Contacts"), true)
        .await;
    for workflow in [
        &created,
        &any_update,
        &title_update,
        &title_by_id,
        &deleted,
        &paused,
    ] {
        world.hooks.attach(workflow).await.expect("attach");
    }
    // Disabled after attaching (a stale registration entry): it must not run.
    world
        .save_workflow("wfl_paused", record_created("Contacts"), false)
        .await;
    let worker = world.hooks.events_worker(world.starter.clone());

    // Create.
    let record = world
        .create_contact(json!({"Name": "Ada Lovelace", "Title": "Analyst"}))
        .await;
    let delivered = deliver(&world, &worker, 1).await;
    assert_eq!(delivered.len(), 1);
    let started = world.starter.started();
    assert_eq!(started.len(), 1, "{started:?}");
    let run = &started[0];
    assert_eq!(run.workflow_id, "wfl_created");
    assert_eq!(run.trigger.kind, "record_created");
    assert_eq!(run.input, json!({}));
    assert_eq!(run.trigger.data["record_id"], record.as_str());
    assert_eq!(run.trigger.data["base_id"], "appSandboxDemoCRM");
    assert_eq!(run.trigger.data["table_id"], CONTACTS);
    assert_eq!(run.trigger.data["fields"]["Name"], "Ada Lovelace");
    assert_eq!(run.trigger.data["fields"]["Title"], "Analyst");
    let transaction = run.trigger.data["transaction"]
        .as_u64()
        .expect("transaction");
    assert_eq!(
        run.dedup_key.as_deref(),
        Some(
            format!("event:wfl_created:appSandboxDemoCRM:{transaction}:{record}:created").as_str()
        )
    );

    // An update that leaves Title alone: only the unfiltered update workflow.
    world
        .update_contact(&record, json!({"Email": "ada@example.com"}))
        .await;
    deliver(&world, &worker, 1).await;
    let runs = runs_by_workflow(&world);
    assert_eq!(
        runs["wfl_anyupdate"],
        vec![(record.clone(), "updated".to_string())]
    );
    assert!(!runs.contains_key("wfl_titleupdate"));
    assert!(!runs.contains_key("wfl_titlebyid"));
    let update = world
        .starter
        .started()
        .into_iter()
        .find(|r| r.workflow_id == "wfl_anyupdate")
        .expect("the update run");
    assert_eq!(update.trigger.kind, "record_updated");
    // Computed fields (a formula, a last-modified time) change with it, as on Airtable.
    let changed = update.trigger.data["changed_fields"]
        .as_array()
        .expect("changed fields");
    assert!(changed.contains(&json!("Email")), "{changed:?}");
    assert!(!changed.contains(&json!("Title")), "{changed:?}");
    assert_eq!(update.trigger.data["fields"]["Email"], "ada@example.com");

    // An update of Title: the watchers too, by name and by id, with the previous value.
    world
        .update_contact(&record, json!({"Title": "Engineer"}))
        .await;
    deliver(&world, &worker, 1).await;
    let runs = runs_by_workflow(&world);
    assert_eq!(runs["wfl_anyupdate"].len(), 2);
    assert_eq!(
        runs["wfl_titleupdate"],
        vec![(record.clone(), "updated".to_string())]
    );
    assert_eq!(
        runs["wfl_titlebyid"],
        vec![(record.clone(), "updated".to_string())]
    );
    let title_run = world
        .starter
        .started()
        .into_iter()
        .find(|r| r.workflow_id == "wfl_titleupdate")
        .expect("the title run");
    assert_eq!(title_run.trigger.data["previous"]["Title"], "Analyst");
    assert_eq!(title_run.trigger.data["fields"]["Title"], "Engineer");

    // Delete.
    world.delete_contact(&record).await;
    let last = deliver(&world, &worker, 1).await;
    let runs = runs_by_workflow(&world);
    assert_eq!(
        runs["wfl_deleted"],
        vec![(record.clone(), "deleted".to_string())]
    );
    assert!(
        !runs.contains_key("wfl_paused"),
        "a disabled workflow never runs"
    );
    let total = world.starter.started().len();
    assert_eq!(total, 6, "{runs:?}");
    assert_eq!(
        world
            .registration(CONTACTS)
            .await
            .expect("registered")
            .webhook
            .expect("webhook")
            .cursor,
        5,
        "four payloads read"
    );

    // The same message again (SQS redelivery): the cursor is past it, nothing new.
    worker
        .consume(&InboundMessage::from(last[0].clone()))
        .await
        .expect("redelivery");
    assert_eq!(world.starter.started().len(), total);

    // A crash before the cursor save: the payloads are read again, every start is asked for
    // again, and the dedup keys make each a no-op.
    let mut registration = world.registration(CONTACTS).await.expect("registered");
    let expected = registration.version;
    registration.webhook.as_mut().expect("webhook").cursor = 1;
    registration.version += 1;
    world
        .hooks
        .registrations()
        .replace(&registration, expected)
        .await
        .expect("rewind the cursor");
    let calls_before = *world.starter.calls.lock().expect("lock");
    worker
        .consume(&InboundMessage::from(last[0].clone()))
        .await
        .expect("replay");
    assert_eq!(
        *world.starter.calls.lock().expect("lock"),
        calls_before + total
    );
    assert_eq!(world.starter.started().len(), total, "no run started twice");
}

#[tokio::test]
async fn a_message_for_a_detached_table_is_dropped_quietly() {
    let world = World::start().await;
    let workflow = world
        .save_workflow("wfl_brief", record_created("Contacts"), true)
        .await;
    world.hooks.attach(&workflow).await.expect("attach");
    let hook_id = world
        .registration(CONTACTS)
        .await
        .expect("registered")
        .hook_id;
    world.hooks.detach(&workflow).await.expect("detach");
    let body = serde_json::to_string(&json!({
        "tenant_id": TENANT, "hook_id": hook_id, "base_id": "appSandboxDemoCRM"
    }))
    .expect("json");
    world
        .queue
        .send(QueueName::Events, &body, SendOptions::fifo("g", "d"))
        .await
        .expect("send");
    let messages = world.drain_events().await;
    let worker = world.hooks.events_worker(world.starter.clone());
    worker
        .consume(&InboundMessage::from(messages[0].clone()))
        .await
        .expect("nothing to do is success");
    assert!(world.starter.started().is_empty());
    let malformed = InboundMessage {
        body: "not json".into(),
        ..InboundMessage::from(messages[0].clone())
    };
    assert!(
        worker.consume(&malformed).await.is_err(),
        "a malformed body fails"
    );
}

#[tokio::test]
async fn a_long_backlog_continues_in_a_follow_up_message() {
    let world = World::start().await;
    let workflow = world
        .save_workflow("wfl_backlog", record_created("Contacts"), true)
        .await;
    world.hooks.attach(&workflow).await.expect("attach");
    for name in ["One", "Two", "Three"] {
        world.create_contact(json!({ "Name": name })).await;
    }
    // Only the first ping reaches us; its message must still lead to all three runs.
    let ping = world.pings.wait_for(1).await.remove(0);
    world
        .hooks
        .receive_ping(&ping.hook, ping.mac.as_deref(), &ping.body)
        .await
        .expect("a signed ping");
    let worker = world
        .hooks
        .events_worker(world.starter.clone())
        .with_batches(1, 2);
    let first = world.drain_events().await;
    assert_eq!(first.len(), 1);
    worker
        .consume(&InboundMessage::from(first[0].clone()))
        .await
        .expect("first batch");
    assert_eq!(world.starter.started().len(), 2, "two pages of one payload");
    let follow_up = world.drain_events().await;
    assert_eq!(
        follow_up.len(),
        1,
        "the rest is left to a follow-up message"
    );
    assert_eq!(follow_up[0].group_id, first[0].group_id);
    worker
        .consume(&InboundMessage::from(follow_up[0].clone()))
        .await
        .expect("second batch");
    let names: Vec<String> = world
        .starter
        .started()
        .iter()
        .map(|r| {
            r.trigger.data["fields"]["Name"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert_eq!(names, vec!["One", "Two", "Three"]);
    assert!(
        world.drain_events().await.is_empty(),
        "no follow-up once the backlog is read"
    );
}
