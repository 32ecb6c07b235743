//! connect-base on the sandbox: what a connection leaves (the schema and record snapshots, a
//! webhook per table shared with automations, the connection record), and that a fault at any
//! of its Airtable requests leaves none of it, nor any change to the base.

mod support;

use airtable_sandbox::DEMO_TOKEN;
use asl::Status;
use automations::record_hooks::BASE_CONNECTION;
use sagas::SagaStatus;
use sagas::connected_bases::ConnectedBases;
use serde_json::{Value, json};
use support::{BASE, TENANT, World, world};

const TABLE_IDS: [&str; 4] = [
    "tblProducts000001",
    "tblOrders00000001",
    "tblSource00000001",
    "tblTarget00000001",
];

/// The base's webhooks as Airtable lists them.
async fn webhooks(world: &World) -> Vec<Value> {
    let body: Value = reqwest::Client::new()
        .get(format!("{}/v0/bases/{BASE}/webhooks", world.sandbox.url()))
        .bearer_auth(DEMO_TOKEN)
        .send()
        .await
        .expect("list webhooks")
        .json()
        .await
        .expect("JSON");
    body["webhooks"].as_array().cloned().unwrap_or_default()
}

/// The tables whose registration the connection subscribes to.
async fn subscribed(world: &World) -> Vec<&'static str> {
    let registrations = world.platform.automations().record_hooks().registrations();
    let mut found = Vec::new();
    for table in TABLE_IDS {
        let registration = registrations.get(TENANT, BASE, table).await.expect("get");
        if registration.is_some_and(|r| r.workflow_ids.iter().any(|s| s == BASE_CONNECTION)) {
            found.push(table);
        }
    }
    found
}

fn connections(world: &World) -> ConnectedBases {
    ConnectedBases::new(world.platform.store.clone())
}

#[tokio::test]
async fn a_connection_snapshots_registers_webhooks_and_records_itself() {
    let world = world().await;
    let before = world.tables();
    let started = world.start("connect-base", json!({"base": BASE})).await;
    let ended = world.run(&started.id).await;
    let detail = world.detail(&started.id).await;
    assert_eq!(
        ended.status,
        Status::Succeeded,
        "{:?} {:#?}",
        detail.error,
        detail.steps
    );

    assert_eq!(detail.summary.status, SagaStatus::Succeeded);
    let output = detail.output.expect("output");
    let counts: Vec<(String, u64)> = output["tables"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            (
                t["name"].as_str().unwrap_or_default().to_string(),
                t["records"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        counts,
        [
            ("Products".to_string(), 5),
            ("Orders".to_string(), 3),
            ("Source".to_string(), 6),
            ("Target".to_string(), 5)
        ]
    );
    assert_eq!(webhooks(&world).await.len(), 4, "a webhook per table");
    assert_eq!(subscribed(&world).await, TABLE_IDS);
    let connection = connections(&world)
        .get(TENANT, BASE)
        .await
        .expect("read")
        .expect("the connection is recorded");
    assert_eq!(connection.saga_id, started.id);
    assert_eq!(world.tables(), before, "connecting changes no record");
    let names: Vec<String> = detail.steps.iter().map(|s| s.name.clone()).collect();
    assert_eq!(
        names,
        [
            "begin",
            "snapshot_schema",
            "register_webhooks",
            "initial_snapshot",
            "record_connection",
            "commit"
        ]
    );
}

#[tokio::test]
async fn a_connection_failing_at_any_request_leaves_nothing_behind() {
    let counting = world().await;
    let started = counting.start("connect-base", json!({"base": BASE})).await;
    counting.sandbox.control().reset_counters();
    assert_eq!(counting.run(&started.id).await.status, Status::Succeeded);
    let requests = counting.requests();
    assert!(requests >= 10, "{requests} requests");

    for k in 1..=requests {
        let world = world().await;
        let before = world.tables();
        let started = world.start("connect-base", json!({"base": BASE})).await;
        world.sandbox.control().reset_counters();
        world.fail_request(k, 422);
        let ended = world.run(&started.id).await;
        assert_eq!(ended.status, Status::Failed, "fault at {k}");
        assert_eq!(
            ended.error.as_deref(),
            Some("Saga.Compensated"),
            "fault at {k}"
        );
        let detail = world.detail(&started.id).await;
        assert_eq!(
            detail.summary.status,
            SagaStatus::Compensated,
            "fault at {k}"
        );
        assert_eq!(
            webhooks(&world).await,
            Vec::<Value>::new(),
            "fault at {k}: webhooks"
        );
        assert!(
            subscribed(&world).await.is_empty(),
            "fault at {k}: registrations"
        );
        assert_eq!(
            connections(&world).get(TENANT, BASE).await.expect("read"),
            None,
            "fault at {k}: connection record"
        );
        assert_eq!(world.tables(), before, "fault at {k}: records");
    }
}

#[tokio::test]
async fn a_cancelled_reconnection_puts_the_first_connection_back_and_keeps_its_webhooks() {
    let world = world().await;
    let first = world.start("connect-base", json!({"base": BASE})).await;
    assert_eq!(world.run(&first.id).await.status, Status::Succeeded);
    let hooks = webhooks(&world).await;

    // A second connection of one table is cancelled once it has recorded itself: its
    // compensation must put the first connection back and leave the first one's webhooks.
    let second = world
        .start(
            "connect-base",
            json!({"base": BASE, "tables": ["Products"]}),
        )
        .await;
    let mut run = world.execution(&second.id);
    run.until("Commit").await;
    let replaced = connections(&world).get(TENANT, BASE).await.expect("read");
    assert_eq!(replaced.map(|c| c.saga_id), Some(second.id.clone()));
    world
        .sagas
        .cancel(TENANT, &second.id)
        .await
        .expect("cancel");
    let ended = run.finish().await;
    assert_eq!(ended.error.as_deref(), Some("Saga.Cancelled"), "{ended:?}");
    assert_eq!(
        world.detail(&second.id).await.summary.status,
        SagaStatus::Cancelled
    );

    let connection = connections(&world)
        .get(TENANT, BASE)
        .await
        .expect("read")
        .expect("a connection");
    assert_eq!(connection.saga_id, first.id, "the first connection stands");
    assert_eq!(webhooks(&world).await, hooks, "its webhooks stay");
    assert_eq!(subscribed(&world).await, TABLE_IDS);
}

#[tokio::test]
async fn a_table_the_base_lacks_fails_the_connection_with_its_name() {
    let world = world().await;
    let started = world
        .start("connect-base", json!({"base": BASE, "tables": ["Nope"]}))
        .await;
    let ended = world.run(&started.id).await;
    assert_eq!(ended.error.as_deref(), Some("Saga.Compensated"));
    let detail = world.detail(&started.id).await;
    let error = detail.error.expect("error");
    assert!(error.cause.contains("Nope"), "{error:?}");
    assert!(webhooks(&world).await.is_empty());
}
