//! Airtable's pings: with the sandbox's real MAC, one message on the events queue; with a wrong
//! or missing MAC, `Unauthorized` and nothing enqueued; an unknown hook, `NotFound`.

mod record_hooks_support;

use automations::{AutomationError, EventMessage, RecordTriggerHooks};
use ports::QueueName;
use record_hooks_support::*;
use serde_json::json;

#[tokio::test]
async fn a_ping_is_verified_before_anything_is_enqueued() {
    let world = World::start().await;
    let workflow = world
        .save_workflow("wfl_pinged", record_created("Contacts"), true)
        .await;
    world.hooks.attach(&workflow).await.expect("attach");
    let registration = world.registration(CONTACTS).await.expect("registered");

    world.create_contact(json!({"Name": "Ada"})).await;
    let ping = world.pings.wait_for(1).await.remove(0);
    assert_eq!(ping.hook, registration.hook_id);
    let mac = ping.mac.clone().expect("the sandbox signs its pings");

    // Wrong MACs and no MAC: refused, nothing enqueued.
    let tampered = {
        let mut body = ping.body.clone();
        body.push(b' ');
        body
    };
    let other_digest = format!("hmac-sha256={}", "0".repeat(64));
    for (header, body) in [
        (None, ping.body.as_slice()),
        (Some(other_digest.as_str()), ping.body.as_slice()),
        (Some(mac.as_str()), tampered.as_slice()),
        (
            Some(mac.trim_start_matches("hmac-sha256=")),
            ping.body.as_slice(),
        ),
    ] {
        let refused = world.hooks.receive_ping(&ping.hook, header, body).await;
        assert!(
            matches!(refused, Err(AutomationError::Unauthorized(_))),
            "{header:?}: {refused:?}"
        );
    }
    assert_eq!(
        world
            .queue
            .approximate_depth(QueueName::Events)
            .await
            .expect("depth"),
        0
    );

    // The real MAC: one message, in the base's group.
    world
        .hooks
        .receive_ping(&ping.hook, Some(&mac), &ping.body)
        .await
        .expect("a good ping");
    // Airtable retrying the same ping: SQS's FIFO deduplication drops it.
    world
        .hooks
        .receive_ping(&ping.hook, Some(&mac), &ping.body)
        .await
        .expect("a repeated ping");
    let messages = world.drain_events().await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    let message: EventMessage = serde_json::from_str(&messages[0].body).expect("event message");
    assert_eq!(
        message,
        EventMessage {
            tenant_id: TENANT.to_string(),
            hook_id: registration.hook_id.clone(),
            base_id: "appSandboxDemoCRM".to_string(),
        }
    );
    assert_eq!(
        messages[0].group_id.as_deref(),
        Some("ten_hooks:appSandboxDemoCRM")
    );
    assert_eq!(
        world.sandbox_calls("list_webhook_payloads"),
        0,
        "no Airtable call on the ping path"
    );
}

#[tokio::test]
async fn unknown_hooks_are_not_found() {
    let world = World::start().await;
    let workflow = world
        .save_workflow("wfl_known", record_created("Contacts"), true)
        .await;
    world.hooks.attach(&workflow).await.expect("attach");
    let registration = world.registration(CONTACTS).await.expect("registered");
    // Same tenant, base and table, another token: a URL of an earlier registration.
    let (prefix, _) = registration.hook_id.rsplit_once('.').expect("dotted");
    let stale = format!("{prefix}.ZZZZZZZZZZZZZZZZ");
    for hook in [
        stale.as_str(),
        "not-a-hook",
        "ten_other.appSandboxDemoCRM.tblContacts000000.AbCdEf0123456789",
        "../../etc/passwd",
    ] {
        let answer = world
            .hooks
            .receive_ping(hook, Some("hmac-sha256=00"), b"{}")
            .await;
        assert!(
            matches!(answer, Err(AutomationError::NotFound(_))),
            "{hook}: {answer:?}"
        );
    }
    assert_eq!(
        world
            .queue
            .approximate_depth(QueueName::Events)
            .await
            .expect("depth"),
        0
    );
}
