//! Sagas end to end on the sandbox: a transaction across two tables, a table-sync (dry run and
//! applied), a retried action, a cancel between chunks, and what a start refuses.

mod support;

use asl::Status;
use sagas::{SagaError, SagaFilter, SagaStatus, StartSaga, StepKind, StepStatus};
use serde_json::{Map, Value, json};
use support::{BASE, TENANT, Tables, assert_same_base, world};

fn fields(value: Value) -> Map<String, Value> {
    value.as_object().cloned().expect("an object")
}

/// Creates, updates, upserts and deletes across Products and Orders: 7 chunks.
pub fn mixed_operations() -> Value {
    json!({"base": BASE, "operations": [
        {"op": "create", "table": "Products", "fields": {"Name": "Forge", "SKU": "F-1", "Price": 400}},
        {"op": "create", "table": "Products", "fields": {"Name": "Gear", "SKU": "G-1", "Price": 5, "Active": true}},
        {"op": "update", "table": "Products", "id": "recPr000000000002", "fields": {"Price": 25, "Active": true, "Notes": null}},
        {"op": "upsert", "table": "Products", "merge_on": ["SKU"], "fields": {"SKU": "C-1", "Price": 40, "Notes": "steel"}},
        {"op": "upsert", "table": "Products", "merge_on": ["SKU"], "fields": {"SKU": "H-1", "Name": "Hammer", "Price": 15}},
        {"op": "delete", "table": "Products", "id": "recPr000000000004"},
        {"op": "create", "table": "Orders", "fields": {"Ref": "O-4", "Qty": 3, "Status": "Open"}},
        {"op": "update", "table": "Orders", "id": "recOr000000000001", "fields": {"Status": "Closed", "Qty": 7}},
        {"op": "delete", "table": "Orders", "id": "recOr000000000003"}
    ]})
}

/// What the base holds after [`mixed_operations`].
fn expected_after_mixed(before: &Tables) -> Tables {
    let mut expected = before.clone();
    let products = expected.get_mut("Products").expect("Products");
    products.insert(
        "new:Forge".into(),
        fields(json!({"Name": "Forge", "SKU": "F-1", "Price": 400})),
    );
    products.insert(
        "new:Gear".into(),
        fields(json!({"Name": "Gear", "SKU": "G-1", "Price": 5, "Active": true})),
    );
    products.insert(
        "recPr000000000002".into(),
        fields(json!({"Name": "Bucket", "SKU": "B-1", "Price": 25, "Active": true})),
    );
    products.insert(
        "recPr000000000003".into(),
        fields(
            json!({"Name": "Chain", "SKU": "C-1", "Price": 40, "Active": true, "Notes": "steel"}),
        ),
    );
    products.insert(
        "new:Hammer".into(),
        fields(json!({"Name": "Hammer", "SKU": "H-1", "Price": 15})),
    );
    products.remove("recPr000000000004");
    let orders = expected.get_mut("Orders").expect("Orders");
    orders.insert(
        "new:O-4".into(),
        fields(json!({"Ref": "O-4", "Qty": 3, "Status": "Open"})),
    );
    orders.insert(
        "recOr000000000001".into(),
        fields(json!({"Ref": "O-1", "Qty": 7, "Status": "Closed"})),
    );
    orders.remove("recOr000000000003");
    expected
}

#[tokio::test]
async fn a_transaction_across_two_tables_leaves_exactly_its_result() {
    let world = world().await;
    let before = world.tables();
    let started = world.start("transaction", mixed_operations()).await;
    assert_eq!(started.status, SagaStatus::Running);
    assert!(started.id.starts_with("sag_"), "{}", started.id);
    let ended = world.run(&started.id).await;
    assert_eq!(ended.status, Status::Succeeded, "{ended:?}");
    assert_same_base(
        &expected_after_mixed(&before),
        &world.tables(),
        "after the transaction",
    );

    let detail = world.detail(&started.id).await;
    assert_eq!(detail.summary.status, SagaStatus::Succeeded);
    assert_eq!(detail.summary.operations, Some(9));
    let mut output = detail.output.clone().expect("output");
    let records = output["records"].take();
    assert_eq!(
        output,
        json!({"operations": 9, "chunks": 7, "created": 4, "updated": 3, "deleted": 2, "records": null})
    );
    let records: Vec<String> = serde_json::from_value(records).expect("one id per operation");
    assert_eq!(records.len(), 9);
    assert_eq!(records[2], "recPr000000000002");
    assert_eq!(records[5], "recPr000000000004");
    assert_eq!(records[8], "recOr000000000003");
    let tables = world.tables();
    assert_eq!(tables["Products"][&records[0]]["Name"], json!("Forge"));
    assert_eq!(tables["Products"][&records[4]]["Name"], json!("Hammer"));
    assert_eq!(tables["Orders"][&records[6]]["Ref"], json!("O-4"));
    let names: Vec<String> = detail
        .steps
        .iter()
        .map(|s| match s.index {
            Some(k) => format!("{}:{k}", s.name),
            None => s.name.clone(),
        })
        .collect();
    let mut expected = vec!["begin".to_string()];
    for k in 0..7 {
        expected.push(format!("capture:{k}"));
        expected.push(format!("apply:{k}"));
    }
    expected.push("commit".into());
    assert_eq!(names, expected);
    assert!(detail.steps.iter().all(|s| s.kind == StepKind::Step
        && s.status == StepStatus::Succeeded
        && s.attempts == 1
        && s.finished_at.is_some()));
    assert_eq!(
        detail.steps[2].result,
        Some(
            json!({"op": "create", "table": "Products", "created": 2, "updated": 0, "deleted": 0})
        )
    );
    // The machine's states carried keys only: every task input is a handful of small fields.
    for call in world.invoker.calls.lock().expect("lock").iter() {
        assert!(call.to_string().len() < 200, "{call}");
    }
}

#[tokio::test]
async fn a_retried_action_answers_again_without_writing_again() {
    let world = world().await;
    let started = world.start("transaction", mixed_operations()).await;
    let mut run = world.execution(&started.id);
    run.until("Apply").await;
    let handler = world.sagas.step_handler();
    let task = json!({"action": "apply", "tenant": TENANT, "saga": started.id, "index": 0});
    let requests = world.requests();
    let first = handler.run(task.clone()).await.expect("apply");
    assert_eq!(world.requests(), requests + 1, "the chunk's one write");
    let again = handler.run(task).await.expect("apply again");
    assert_eq!(again, first);
    assert_eq!(world.requests(), requests + 1, "no second write");
    // The machine's own Apply is a third invocation of the same action.
    run.step().await;
    assert_eq!(world.requests(), requests + 1);
    assert_eq!(run.finish().await.status, Status::Succeeded);
    let forges = world.tables()["Products"]
        .values()
        .filter(|f| f.get("Name") == Some(&json!("Forge")))
        .count();
    assert_eq!(forges, 1);
    let detail = world.detail(&started.id).await;
    let apply = detail
        .steps
        .iter()
        .find(|s| s.name == "apply" && s.index == Some(0))
        .expect("apply 0");
    assert_eq!(apply.attempts, 1, "answered from its record, not run again");
}

/// A crash after the write and before its step record: the action runs again, and the write's
/// idempotency key makes Airtable's first answer come back instead of a second write.
#[tokio::test]
async fn an_action_rerun_after_losing_its_record_does_not_write_again() {
    let world = world().await;
    let started = world.start("transaction", mixed_operations()).await;
    let mut run = world.execution(&started.id);
    run.until("Apply").await;
    let handler = world.sagas.step_handler();
    let task = json!({"action": "apply", "tenant": TENANT, "saga": started.id, "index": 0});
    let first = handler.run(task.clone()).await.expect("apply");
    let requests = world.requests();
    let record = ports::Key::new(
        format!("TENANT#{TENANT}"),
        format!("SAGA#{}#STEP#step#apply#00000", started.id),
    );
    let removed = world
        .platform
        .store
        .delete(ports::Table::Runs, &record, None)
        .await
        .expect("delete");
    assert!(
        removed.is_some(),
        "the step record is where the store module says"
    );
    let again = handler.run(task).await.expect("apply after the crash");
    assert_eq!(again, first);
    assert_eq!(
        world.requests(),
        requests,
        "Airtable's first answer, replayed"
    );
    assert_eq!(run.finish().await.status, Status::Succeeded);
    let detail = world.detail(&started.id).await;
    let records = detail.output.expect("output")["records"].clone();
    let forge = records[0].as_str().expect("Forge's id");
    assert_eq!(world.tables()["Products"][forge]["Name"], json!("Forge"));
    let forges = world.tables()["Products"]
        .values()
        .filter(|f| f.get("Name") == Some(&json!("Forge")))
        .count();
    assert_eq!(forges, 1);
}

#[tokio::test]
async fn a_cancel_between_chunks_undoes_what_was_applied() {
    let world = world().await;
    let before = world.tables();
    let mut operations: Vec<Value> = (0..12)
        .map(|i| json!({"op": "create", "table": "Orders", "fields": {"Ref": format!("N-{i}"), "Qty": i}}))
        .collect();
    operations.push(json!({"op": "delete", "table": "Orders", "id": "recOr000000000002"}));
    let started = world
        .start(
            "transaction",
            json!({"base": BASE, "operations": operations}),
        )
        .await;
    let mut run = world.execution(&started.id);
    run.until("Apply").await;
    run.step().await;
    assert_eq!(run.position().as_deref(), Some("HasChunk"));
    assert_eq!(world.tables()["Orders"].len(), 13, "chunk 0 applied");
    let detail = world
        .sagas
        .cancel(TENANT, &started.id)
        .await
        .expect("cancel");
    assert!(detail.cancel_requested);
    assert_eq!(detail.summary.status, SagaStatus::Running);

    let ended = run.finish().await;
    assert_eq!(ended.status, Status::Failed);
    assert_eq!(ended.error.as_deref(), Some("Saga.Cancelled"));
    assert_same_base(&before, &world.tables(), "after the cancel");
    let detail = world.detail(&started.id).await;
    assert_eq!(detail.summary.status, SagaStatus::Cancelled);
    assert_eq!(
        detail.error.as_ref().map(|e| e.error.as_str()),
        Some("Platform.Cancelled")
    );
    let tail: Vec<(String, StepKind, StepStatus)> = detail
        .steps
        .iter()
        .skip(3)
        .map(|s| (s.name.clone(), s.kind, s.status))
        .collect();
    assert_eq!(
        tail,
        vec![
            ("capture".into(), StepKind::Step, StepStatus::Failed),
            (
                "plan_undo".into(),
                StepKind::Compensation,
                StepStatus::Succeeded
            ),
            ("undo".into(), StepKind::Compensation, StepStatus::Succeeded),
            (
                "mark_compensated".into(),
                StepKind::Compensation,
                StepStatus::Succeeded
            ),
        ]
    );
    let err = world
        .sagas
        .cancel(TENANT, &started.id)
        .await
        .expect_err("finished");
    assert!(matches!(err, SagaError::Finished { .. }), "{err:?}");
}

async fn start_error(world: &support::World, saga_type: &str, input: Value) -> SagaError {
    world
        .sagas
        .start(
            TENANT,
            StartSaga {
                saga_type: saga_type.into(),
                input,
                idempotency_key: None,
            },
        )
        .await
        .expect_err("refused")
}

fn paths(err: &SagaError) -> Vec<String> {
    match err {
        SagaError::InvalidInput { problems } => problems.iter().map(|p| p.path.clone()).collect(),
        other => panic!("not an input problem: {other:?}"),
    }
}

#[tokio::test]
async fn bad_inputs_are_refused_with_the_path_of_the_problem() {
    let world = world().await;
    let mut input = mixed_operations();
    input["operations"][3]["op"] = json!("explode");
    let err = start_error(&world, "transaction", input).await;
    assert_eq!(paths(&err), vec!["/operations/3/op"]);

    let mut input = mixed_operations();
    input["operations"][1]["table"] = json!("Nowhere");
    let err = start_error(&world, "transaction", input).await;
    assert_eq!(paths(&err), vec!["/operations/1/table"]);

    let mut input = mixed_operations();
    input["operations"][4]["merge_on"] = json!(["Colour"]);
    let err = start_error(&world, "transaction", input).await;
    assert_eq!(paths(&err), vec!["/operations/4/merge_on"]);

    let err = start_error(&world, "transaction", json!({"base": "appNoSuchBase0001", "operations": [{"op": "delete", "table": "T", "id": "recAAAAAAAAAAAAAA"}]})).await;
    assert_eq!(paths(&err), vec!["/base"]);

    let err = start_error(&world, "table-sync", json!({"source": {"base": BASE, "table": "Source"}, "target": {"base": BASE, "table": "Target"}, "key_field": "Nope"})).await;
    assert_eq!(paths(&err), vec!["/key_field", "/key_field"]);

    let operations: Vec<Value> = (0..1001)
        .map(|i| json!({"op": "create", "table": "Orders", "fields": {"Ref": format!("R{i}")}}))
        .collect();
    let err = start_error(
        &world,
        "transaction",
        json!({"base": BASE, "operations": operations}),
    )
    .await;
    assert!(
        matches!(
            err,
            SagaError::TooManyOperations {
                limit: 1000,
                given: 1001
            }
        ),
        "{err:?}"
    );
    let long = "x".repeat(300 * 1024);
    let err = start_error(
        &world,
        "transaction",
        json!({"base": BASE, "operations": [
        {"op": "create", "table": "Orders", "fields": {"Ref": long}}]}),
    )
    .await;
    assert_eq!(paths(&err), vec![""]);
    let err = start_error(&world, "bulk-delete", json!({})).await;
    assert!(matches!(err, SagaError::UnknownType(t) if t == "bulk-delete"));

    assert!(
        world.machines.started.lock().expect("lock").is_empty(),
        "nothing started"
    );
    let page = world
        .sagas
        .list(TENANT, SagaFilter::default())
        .await
        .expect("list");
    assert!(page.sagas.is_empty(), "nothing written: {page:?}");
}

#[test]
fn the_types_are_those_with_a_machine_each_with_its_schema() {
    let types: Vec<(String, Value)> = sagas::Sagas::types()
        .into_iter()
        .map(|t| (t.saga_type.to_string(), t.input_schema["required"].clone()))
        .collect();
    assert_eq!(
        types,
        vec![
            ("transaction".to_string(), json!(["base", "operations"])),
            (
                "table-sync".to_string(),
                json!(["source", "target", "key_field"])
            ),
            ("connect-base".to_string(), json!(["base"])),
        ]
    );
}

#[tokio::test]
async fn an_idempotency_key_gives_the_same_saga_and_refuses_another_input() {
    let world = world().await;
    let request = |input: Value| StartSaga {
        saga_type: "transaction".into(),
        input,
        idempotency_key: Some("import-2026-12-02".into()),
    };
    let first = world
        .sagas
        .start(TENANT, request(mixed_operations()))
        .await
        .expect("start");
    let again = world
        .sagas
        .start(TENANT, request(mixed_operations()))
        .await
        .expect("again");
    assert_eq!(again, first);
    assert_eq!(world.machines.started.lock().expect("lock").len(), 1);
    let mut other = mixed_operations();
    other["typecast"] = json!(true);
    let err = world
        .sagas
        .start(TENANT, request(other))
        .await
        .expect_err("conflict");
    assert!(
        matches!(err, SagaError::IdempotencyConflict(ref id) if *id == first.id),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_start_the_state_machines_refuse_leaves_a_failed_saga() {
    let world = world().await;
    *world.machines.refuse.lock().expect("lock") =
        Some(ports::StateMachineError::Unavailable("down".into()));
    let err = start_error(&world, "transaction", mixed_operations()).await;
    assert!(matches!(err, SagaError::Unavailable(_)), "{err:?}");
    let page = world
        .sagas
        .list(TENANT, SagaFilter::default())
        .await
        .expect("list");
    assert_eq!(page.sagas.len(), 1);
    assert_eq!(page.sagas[0].status, SagaStatus::Failed);
    let detail = world.detail(&page.sagas[0].id).await;
    assert_eq!(
        detail.error.map(|e| e.error),
        Some("Saga.StartFailed".to_string())
    );
}

fn sync_input(dry_run: bool) -> Value {
    json!({"source": {"base": BASE, "table": "Source"}, "target": {"base": BASE, "table": "Target"},
           "key_field": "Key", "dry_run": dry_run, "delete_missing": true})
}

#[tokio::test]
async fn a_dry_run_sync_reports_and_changes_nothing() {
    let world = world().await;
    let before = world.tables();
    let started = world.start("table-sync", sync_input(true)).await;
    let ended = world.run(&started.id).await;
    assert_eq!(ended.status, Status::Succeeded, "{ended:?}");
    assert_eq!(world.tables(), before);
    let detail = world.detail(&started.id).await;
    assert_eq!(detail.summary.status, SagaStatus::Succeeded);
    assert_eq!(
        detail.output,
        Some(json!({"creates": 3, "updates": 2, "deletes": 2, "sample": {
            "creates": ["k3", "k5", "k6"], "updates": ["k2", "k4"], "deletes": ["k8", "k9"]}}))
    );
    let names: Vec<&str> = detail.steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, vec!["diff", "commit"]);
    // diff's answer: the machine's cursor and the counts; invoked again, it is replayed.
    let requests = world.requests();
    let answer = world
        .sagas
        .step_handler()
        .run(json!({"action": "diff", "tenant": TENANT, "saga": started.id}))
        .await
        .expect("diff again");
    assert_eq!(
        answer,
        json!({"more": false, "next": 0, "chunks": 0, "dry_run": true, "creates": 3, "updates": 2, "deletes": 2})
    );
    assert_eq!(world.requests(), requests);
}

#[tokio::test]
async fn an_applied_sync_makes_the_target_match_the_source() {
    let world = world().await;
    let started = world.start("table-sync", sync_input(false)).await;
    let ended = world.run(&started.id).await;
    assert_eq!(ended.status, Status::Succeeded, "{ended:?}");
    let tables = world.tables();
    let mut source: Vec<String> = tables["Source"]
        .values()
        .map(|f| Value::Object(f.clone()).to_string())
        .collect();
    let mut target: Vec<String> = tables["Target"]
        .values()
        .map(|f| Value::Object(f.clone()).to_string())
        .collect();
    source.sort();
    target.sort();
    assert_eq!(target, source);
    assert!(
        tables["Target"].contains_key("recTa000000000001"),
        "unchanged records keep their ids"
    );
    let detail = world.detail(&started.id).await;
    assert_eq!(
        detail.output.as_ref().map(|o| o["chunks"].clone()),
        Some(json!(3))
    );
}

#[tokio::test]
async fn sagas_list_newest_first_by_type_and_status_in_pages() {
    let world = world().await;
    let a = world.start("transaction", mixed_operations()).await;
    let b = world.start("table-sync", sync_input(true)).await;
    let c = world.start("transaction", mixed_operations()).await;
    world.run(&b.id).await;
    let page = world
        .sagas
        .list(
            TENANT,
            SagaFilter {
                page_size: Some(2),
                ..SagaFilter::default()
            },
        )
        .await
        .expect("list");
    let ids: Vec<&str> = page.sagas.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, vec![c.id.as_str(), b.id.as_str()]);
    let rest = world
        .sagas
        .list(
            TENANT,
            SagaFilter {
                page_size: Some(2),
                offset: page.offset.clone(),
                ..SagaFilter::default()
            },
        )
        .await
        .expect("next page");
    assert_eq!(
        rest.sagas.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        vec![a.id.as_str()]
    );
    let syncs = world
        .sagas
        .list(
            TENANT,
            SagaFilter {
                saga_type: Some("table-sync".into()),
                ..SagaFilter::default()
            },
        )
        .await
        .expect("by type");
    assert_eq!(
        syncs
            .sagas
            .iter()
            .map(|s| s.id.as_str())
            .collect::<Vec<_>>(),
        vec![b.id.as_str()]
    );
    let running = world
        .sagas
        .list(
            TENANT,
            SagaFilter {
                status: Some("running".into()),
                page_size: Some(1),
                ..SagaFilter::default()
            },
        )
        .await
        .expect("by status");
    assert_eq!(
        running
            .sagas
            .iter()
            .map(|s| s.id.as_str())
            .collect::<Vec<_>>(),
        vec![c.id.as_str()]
    );
    let err = world
        .sagas
        .list(
            TENANT,
            SagaFilter {
                page_size: Some(101),
                ..SagaFilter::default()
            },
        )
        .await
        .expect_err("too large");
    assert_eq!(paths(&err), vec!["/page_size"]);
    let other_tenant = world
        .sagas
        .list("ten_other", SagaFilter::default())
        .await
        .expect("list");
    assert!(other_tenant.sagas.is_empty());
    assert!(matches!(
        world.sagas.get("ten_other", &a.id).await,
        Err(SagaError::NotFound(_))
    ));
}

#[tokio::test]
async fn a_saga_whose_execution_ended_early_is_failed() {
    let world = world().await;
    let started = world.start("transaction", mixed_operations()).await;
    assert_eq!(
        world.detail(&started.id).await.summary.status,
        SagaStatus::Running
    );
    *world.machines.ended.lock().expect("lock") = Some((
        ports::ExecutionStatus::Failed,
        Some("States.Runtime".into()),
    ));
    let detail = world.detail(&started.id).await;
    assert_eq!(detail.summary.status, SagaStatus::Failed);
    assert_eq!(
        detail.error.map(|e| e.error),
        Some("States.Runtime".to_string())
    );
    // A finished saga is left as it is.
    let done = world.start("table-sync", sync_input(true)).await;
    *world.machines.ended.lock().expect("lock") = None;
    world.run(&done.id).await;
    *world.machines.ended.lock().expect("lock") = Some((ports::ExecutionStatus::Aborted, None));
    assert_eq!(
        world.detail(&done.id).await.summary.status,
        SagaStatus::Succeeded
    );
}

#[tokio::test]
async fn the_step_handler_names_what_is_wrong_with_its_input() {
    let world = world().await;
    let started = world.start("transaction", mixed_operations()).await;
    let handler = world.sagas.step_handler();
    let requests = world.requests();
    let cases = [
        (
            json!({"action": "explode", "tenant": TENANT, "saga": started.id}),
            "Platform.InvalidInput",
        ),
        (
            json!({"action": "apply", "tenant": TENANT, "saga": started.id}),
            "Platform.InvalidInput",
        ),
        (
            json!({"action": "diff", "tenant": TENANT, "saga": started.id}),
            "Platform.InvalidInput",
        ),
        (
            json!({"action": "begin", "tenant": "ten_other", "saga": started.id}),
            "Platform.NotFound",
        ),
        (json!({"tenant": TENANT}), "Platform.InvalidInput"),
    ];
    for (input, name) in cases {
        let err = handler.run(input.clone()).await.expect_err("refused");
        assert_eq!(err.name.as_str(), name, "{input}: {err}");
    }
    assert_eq!(world.requests(), requests, "none reached Airtable");
}
