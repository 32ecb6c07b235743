//! Refreshing webhooks before Airtable's 7-day expiry: a registration expiring within two days
//! is refreshed and its new expiry stored; one Airtable no longer knows is re-created (new
//! secret, cursor back to 1) and keeps working; one an attach left without a webhook is
//! finished; the others are left alone.

mod record_hooks_support;

use automations::RecordTriggerHooks;
use automations::record_hooks::Registration;
use chrono::{Duration, Utc};
use record_hooks_support::*;
use serde_json::json;

/// Rewrites a registration's stored expiry, as if `left` were all that remained of its life.
async fn age(world: &World, table_id: &str, left: Duration) -> Registration {
    let mut registration = world.registration(table_id).await.expect("registered");
    let expected = registration.version;
    registration
        .webhook
        .as_mut()
        .expect("webhook")
        .expiration_time = Utc::now() + left;
    registration.version += 1;
    world
        .hooks
        .registrations()
        .replace(&registration, expected)
        .await
        .expect("age the registration");
    registration
}

#[tokio::test]
async fn expiring_webhooks_are_refreshed_and_the_others_left_alone() {
    let world = World::start().await;
    let contacts = world
        .save_workflow("wfl_contacts", record_created("Contacts"), true)
        .await;
    let companies = world
        .save_workflow("wfl_companies", record_created("Companies"), true)
        .await;
    world.hooks.attach(&contacts).await.expect("attach");
    world.hooks.attach(&companies).await.expect("attach");

    // Nothing is due yet.
    assert_eq!(
        world
            .hooks
            .refresh_expiring(Utc::now())
            .await
            .expect("refresh"),
        0
    );
    assert_eq!(world.sandbox_calls("refresh_webhook"), 0);

    let aged = age(&world, CONTACTS, Duration::hours(20)).await;
    let untouched = world.registration(COMPANIES).await.expect("registered");
    assert_eq!(
        world
            .hooks
            .refresh_expiring(Utc::now())
            .await
            .expect("refresh"),
        1
    );
    assert_eq!(world.sandbox_calls("refresh_webhook"), 1);
    let refreshed = world.registration(CONTACTS).await.expect("registered");
    let webhook = refreshed.webhook.expect("webhook");
    let old = aged.webhook.expect("webhook");
    assert_eq!(webhook.webhook_id, old.webhook_id);
    assert_eq!(webhook.mac_secret_base64, old.mac_secret_base64);
    assert!(
        webhook.expiration_time > Utc::now() + Duration::days(6),
        "extended to Airtable's new expiry: {}",
        webhook.expiration_time
    );
    assert_eq!(world.registration(COMPANIES).await, Some(untouched));
    // Now that it is extended, a second tick has nothing to do.
    assert_eq!(
        world
            .hooks
            .refresh_expiring(Utc::now())
            .await
            .expect("refresh"),
        0
    );
}

#[tokio::test]
async fn a_vanished_webhook_is_recreated_and_keeps_delivering() {
    let world = World::start().await;
    let workflow = world
        .save_workflow("wfl_phoenix", record_created("Contacts"), true)
        .await;
    world.hooks.attach(&workflow).await.expect("attach");
    let before = age(&world, CONTACTS, Duration::hours(30)).await;
    let old = before.webhook.clone().expect("webhook");
    world.delete_sandbox_webhook(&old.webhook_id).await;

    assert_eq!(
        world
            .hooks
            .refresh_expiring(Utc::now())
            .await
            .expect("refresh"),
        1
    );
    let after = world.registration(CONTACTS).await.expect("registered");
    let new = after.webhook.clone().expect("re-created");
    assert_ne!(new.webhook_id, old.webhook_id);
    assert_ne!(new.mac_secret_base64, old.mac_secret_base64);
    assert_eq!(new.cursor, 1);
    assert_eq!(
        after.hook_id, before.hook_id,
        "the notification URL is kept"
    );
    assert_eq!(after.workflow_ids, vec!["wfl_phoenix"]);
    let listed = world.sandbox_webhooks().await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, new.webhook_id);

    // The new webhook pings, its MAC verifies, and the worker starts the workflow.
    let record = world.create_contact(json!({"Name": "Grace"})).await;
    let ping = world.pings.wait_for(1).await.remove(0);
    world
        .hooks
        .receive_ping(&ping.hook, ping.mac.as_deref(), &ping.body)
        .await
        .expect("signed with the new secret");
    let worker = world.hooks.events_worker(world.starter.clone());
    for message in world.drain_events().await {
        triggers::QueueConsumer::consume(&worker, &triggers::InboundMessage::from(message))
            .await
            .expect("handled");
    }
    let started = world.starter.started();
    assert_eq!(started.len(), 1);
    assert_eq!(started[0].trigger.data["record_id"], record.as_str());
}

#[tokio::test]
async fn a_registration_left_without_its_webhook_is_finished() {
    let world = World::start().await;
    let workflow = world
        .save_workflow("wfl_orphan", record_created("Contacts"), true)
        .await;
    world.hooks.attach(&workflow).await.expect("attach");
    // As if the attach had crashed after registering, before creating the webhook.
    let mut registration = world.registration(CONTACTS).await.expect("registered");
    let webhook_id = registration.webhook.take().expect("webhook").webhook_id;
    world.delete_sandbox_webhook(&webhook_id).await;
    let expected = registration.version;
    registration.version += 1;
    world
        .hooks
        .registrations()
        .replace(&registration, expected)
        .await
        .expect("strip the webhook");

    assert_eq!(
        world
            .hooks
            .refresh_expiring(Utc::now())
            .await
            .expect("refresh"),
        1
    );
    let finished = world.registration(CONTACTS).await.expect("registered");
    let webhook = finished.webhook.expect("created by the refresh job");
    let listed = world.sandbox_webhooks().await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, webhook.webhook_id);
}
