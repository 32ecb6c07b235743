//! transaction's actions. The plan (chunks of operations) is written at start; `begin` learns
//! what undo needs of the base's schema, then the shared chunk actions capture and apply chunk
//! after chunk, and `commit` records the outcome. Compensation is shared ([`super::compensation`]).
//!
//! Actions: `begin`, `capture`, `apply`, `commit`; `plan_undo`, `undo`, `mark_compensated`,
//! `mark_failed`.

use std::collections::BTreeMap;

use serde_json::json;
use triggers::TaskError;

use super::{Action, Done, StepContext, chunks, compensation, not_an_action_of};
use crate::plan::TransactionInput;

pub async fn run(context: &StepContext<'_>, action: Action) -> Result<Done, TaskError> {
    match action {
        Action::Begin => begin(context).await,
        Action::Capture => chunks::capture(context).await,
        Action::Apply => chunks::apply(context).await,
        Action::Commit => chunks::commit(context, None).await,
        Action::PlanUndo => compensation::plan_undo(context).await,
        Action::Undo => chunks::undo(context).await,
        Action::MarkCompensated => compensation::mark_compensated(context).await,
        Action::MarkFailed => compensation::mark_failed(context).await,
        Action::Diff
        | Action::SnapshotSchema
        | Action::RegisterWebhooks
        | Action::InitialSnapshot
        | Action::RecordConnection => Err(not_an_action_of(context, action)),
    }
}

/// Checks the plan is there and keeps, per table, the fields Airtable computes (a deleted
/// record is recreated without them). Answers the cursor of the first chunk.
async fn begin(context: &StepContext<'_>) -> Result<Done, TaskError> {
    let (tenant, saga) = (context.tenant(), context.saga_id());
    let input: TransactionInput = serde_json::from_value(context.saga.input.clone())
        .map_err(|e| TaskError::invalid_input(format!("the saga's input does not parse: {e}")))?;
    let mut plan = context
        .store
        .plan(tenant, saga)
        .await?
        .ok_or_else(|| TaskError::failed("the saga has no plan"))?;
    let schema = context.access.schema(tenant, &input.base).await?;
    let mut computed = BTreeMap::new();
    for op in &input.operations {
        if computed.contains_key(op.table()) {
            continue;
        }
        let table = schema.table(op.table()).ok_or_else(|| {
            TaskError::not_found(format!("the base has no table {:?}", op.table()))
        })?;
        computed.insert(op.table().to_string(), chunks::computed_fields(table));
    }
    plan.computed_fields = computed;
    context.store.put_plan(tenant, saga, &plan).await?;
    Ok(Done::new(
        chunks::cursor(0, plan.chunks),
        json!({"chunks": plan.chunks, "operations": plan.operations}),
    ))
}
