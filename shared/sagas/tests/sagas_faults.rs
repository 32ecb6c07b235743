//! A fault at every step: for a successful run that sends R requests to Airtable, each k in
//! 1..=R gets a fresh base whose k-th request is refused (422, not retryable), and then the
//! base must equal its before-snapshot, every table and every record's fields (records
//! recreated after a delete compared by content, their ids being new).

mod support;

use asl::Status;
use sagas::SagaStatus;
use serde_json::{Value, json};
use support::{BASE, World, assert_same_base, world};

/// Runs `saga_type` with `input` on a fresh base; with `fault_at`, that request fails.
async fn attempt(
    world: &World,
    saga_type: &str,
    input: &Value,
    fault_at: Option<u64>,
) -> (support::Ended, u64) {
    world.sandbox.control().reset();
    let started = world.start(saga_type, input.clone()).await;
    world.sandbox.control().reset_counters();
    if let Some(k) = fault_at {
        world.fail_request(k, 422);
    }
    let ended = world.run(&started.id).await;
    let requests = world.requests();
    let detail = world.detail(&started.id).await;
    match ended.status {
        Status::Succeeded => assert_eq!(detail.summary.status, SagaStatus::Succeeded),
        _ => assert_eq!(
            detail.summary.status,
            SagaStatus::Compensated,
            "fault at {fault_at:?}: {:?}",
            detail.error
        ),
    }
    (ended, requests)
}

async fn every_fault_is_undone(saga_type: &str, input: Value, expected_requests: u64) {
    let world = world().await;
    world.sandbox.control().reset();
    let before = world.tables();
    let (ended, requests) = attempt(&world, saga_type, &input, None).await;
    assert_eq!(ended.status, Status::Succeeded, "{ended:?}");
    assert_ne!(world.tables(), before, "the saga changes the base");
    assert_eq!(requests, expected_requests, "requests of a successful run");
    for k in 1..=requests {
        let (ended, _) = attempt(&world, saga_type, &input, Some(k)).await;
        assert_eq!(ended.status, Status::Failed, "fault at {k}");
        assert_eq!(
            ended.error.as_deref(),
            Some("Saga.Compensated"),
            "fault at {k}"
        );
        assert_same_base(
            &before,
            &world.tables(),
            &format!("{saga_type}, fault at request {k}"),
        );
    }
}

#[tokio::test]
async fn a_transaction_failing_at_any_request_leaves_the_base_as_it_was() {
    let input = json!({"base": BASE, "operations": [
        {"op": "create", "table": "Products", "fields": {"Name": "Forge", "SKU": "F-1", "Price": 400}},
        {"op": "create", "table": "Products", "fields": {"Name": "Gear", "SKU": "G-1", "Price": 5, "Active": true}},
        {"op": "update", "table": "Products", "id": "recPr000000000002", "fields": {"Price": 25, "Active": true, "Notes": null}},
        {"op": "upsert", "table": "Products", "merge_on": ["SKU"], "fields": {"SKU": "C-1", "Price": 40, "Notes": "steel"}},
        {"op": "upsert", "table": "Products", "merge_on": ["SKU"], "fields": {"SKU": "H-1", "Name": "Hammer", "Price": 15}},
        {"op": "delete", "table": "Products", "id": "recPr000000000004"},
        {"op": "delete", "table": "Products", "id": "recPr000000000005"},
        {"op": "create", "table": "Orders", "fields": {"Ref": "O-4", "Qty": 3, "Status": "Open"}},
        {"op": "update", "table": "Orders", "id": "recOr000000000001", "fields": {"Status": "Closed", "Qty": 7}},
        {"op": "delete", "table": "Orders", "id": "recOr000000000003"}
    ]});
    // begin's schema read; 7 chunks: a write each, and a read before each but the creates.
    every_fault_is_undone("transaction", input, 1 + 7 + 5).await;
}

#[tokio::test]
async fn a_table_sync_failing_at_any_request_leaves_the_target_as_it_was() {
    let input = json!({"source": {"base": BASE, "table": "Source"}, "target": {"base": BASE, "table": "Target"},
                       "key_field": "Key", "dry_run": false, "delete_missing": true});
    // diff: the schema and both tables; 3 chunks (creates, updates, deletes): a write each,
    // and a read before the updates and the deletes.
    every_fault_is_undone("table-sync", input, 3 + 3 + 2).await;
}

/// A write that reaches Airtable and then fails (500: its outcome is unknown) is undone as if it
/// had happened where that can be known, and otherwise leaves the saga failed for a person.
#[tokio::test]
async fn a_write_with_an_unknown_outcome_is_undone_or_handed_to_a_person() {
    let world = world().await;
    let input = json!({"base": BASE, "operations": [
        {"op": "create", "table": "Orders", "fields": {"Ref": "O-9", "Qty": 9}},
        {"op": "update", "table": "Orders", "id": "recOr000000000001", "fields": {"Qty": 70}},
        {"op": "delete", "table": "Orders", "id": "recOr000000000002"}
    ]});
    world.sandbox.control().reset();
    let before = world.tables();
    // Requests: begin's schema read, the create, the update's capture and write, the
    // delete's capture and write.
    for (k, restored) in [(4, true), (6, true), (2, false)] {
        world.sandbox.control().reset();
        let started = world.start("transaction", input.clone()).await;
        world.sandbox.control().reset_counters();
        world.fail_request(k, 500);
        let ended = world.run(&started.id).await;
        let detail = world.detail(&started.id).await;
        if restored {
            assert_eq!(
                ended.error.as_deref(),
                Some("Saga.Compensated"),
                "fault at {k}"
            );
            assert_eq!(detail.summary.status, SagaStatus::Compensated);
            assert_same_base(&before, &world.tables(), &format!("500 at request {k}"));
            // The chunk whose write failed was undone too (as far as it can be known).
            let failed_chunk = if k == 4 { 1 } else { 2 };
            let undo = detail
                .steps
                .iter()
                .find(|s| s.name == "undo" && s.index == Some(failed_chunk))
                .unwrap_or_else(|| panic!("no undo of chunk {failed_chunk}: {:?}", detail.steps));
            let undone = undo.result.as_ref().map(|r| r["undone"].clone());
            let expected = if k == 4 {
                json!({"restored": 1})
            } else {
                json!({})
            };
            assert_eq!(undone, Some(expected), "fault at {k}");
        } else {
            assert_eq!(
                ended.error.as_deref(),
                Some("Saga.CompensationFailed"),
                "fault at {k}"
            );
            assert_eq!(detail.summary.status, SagaStatus::Failed);
            let error = detail.error.expect("error");
            assert_eq!(error.error, "Saga.CompensationFailed");
            assert!(error.cause.contains("cannot be known"), "{}", error.cause);
        }
    }
}
