//! The compensation actions every saga type with chunks shares: `plan_undo` (record the
//! failure, list the applied chunks last first), the undo cursor `undo` answers with, and the
//! two ends, `mark_compensated` and `mark_failed`.
//!
//! The outcome the machine's last Choice reads (`Saga.Cancelled` or `Saga.Compensated`) comes
//! from the failure `plan_undo` recorded: a `Platform.Cancelled` failure is a cancel.

use serde_json::{Value, json};
use triggers::{TaskError, TaskErrorName};

use super::{Done, StepContext};
use crate::model::{ErrorInfo, SagaStatus};
use crate::store::{UndoPlan, set_status, set_status_with_error};

/// The machine's ends after a compensation.
pub const OUTCOME_CANCELLED: &str = "Saga.Cancelled";
pub const OUTCOME_COMPENSATED: &str = "Saga.Compensated";
/// The error a saga whose compensation failed records.
pub const COMPENSATION_FAILED: &str = "Saga.CompensationFailed";

/// The message inside a Lambda failure's Cause (`{"errorMessage","errorType"}`), or the
/// Cause as it is.
fn cause_message(cause: &str) -> String {
    serde_json::from_str::<Value>(cause)
        .ok()
        .and_then(|v| {
            v.get("errorMessage")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_else(|| cause.to_string())
}

fn was_cancelled(error: Option<&ErrorInfo>) -> bool {
    error.is_some_and(|e| e.error == TaskErrorName::Cancelled.as_str())
}

fn outcome(context: &StepContext<'_>) -> &'static str {
    if was_cancelled(context.saga.error.as_ref()) {
        OUTCOME_CANCELLED
    } else {
        OUTCOME_COMPENSATED
    }
}

/// The machine's undo cursor: the next chunk to undo, if any, and the outcome.
pub fn undo_cursor(context: &StepContext<'_>, next: Option<u32>) -> Value {
    json!({"more": next.is_some(), "next": next.unwrap_or(0), "outcome": outcome(context)})
}

/// The chunk to undo after `index`.
pub async fn next_to_undo(context: &StepContext<'_>, index: u32) -> Result<Option<u32>, TaskError> {
    let undo = context
        .store
        .undo_plan(context.tenant(), context.saga_id())
        .await?
        .unwrap_or_default();
    let position = undo.chunks.iter().position(|k| *k == index);
    Ok(position.and_then(|p| undo.chunks.get(p + 1)).copied())
}

/// `plan_undo`: records the failure (the saga is now compensating) and lists the chunks whose
/// write happened, last first.
pub async fn plan_undo(context: &StepContext<'_>) -> Result<Done, TaskError> {
    let (tenant, saga) = (context.tenant(), context.saga_id());
    let error = ErrorInfo::new(
        context
            .task
            .error
            .clone()
            .unwrap_or_else(|| TaskErrorName::Failed.as_str().to_string()),
        cause_message(context.task.cause.as_deref().unwrap_or_default()),
    );
    let mut chunks = context.store.applied_indexes(tenant, saga).await?;
    chunks.reverse();
    context
        .store
        .put_undo_plan(
            tenant,
            saga,
            &UndoPlan {
                chunks: chunks.clone(),
            },
        )
        .await?;
    context
        .store
        .change(
            tenant,
            saga,
            set_status_with_error(SagaStatus::Compensating, &error),
            None,
            context.clock.now(),
        )
        .await?;
    let outcome = if was_cancelled(Some(&error)) {
        OUTCOME_CANCELLED
    } else {
        OUTCOME_COMPENSATED
    };
    Ok(Done::new(
        json!({"more": !chunks.is_empty(), "next": chunks.first().copied().unwrap_or(0), "outcome": outcome}),
        json!({"failure": error.error, "chunks_to_undo": chunks.len()}),
    ))
}

/// `mark_compensated`: every applied chunk is undone; the saga ends cancelled or compensated.
pub async fn mark_compensated(context: &StepContext<'_>) -> Result<Done, TaskError> {
    let status = if was_cancelled(context.saga.error.as_ref()) {
        SagaStatus::Cancelled
    } else {
        SagaStatus::Compensated
    };
    context
        .store
        .change(
            context.tenant(),
            context.saga_id(),
            set_status(status),
            None,
            context.clock.now(),
        )
        .await?;
    Ok(Done::new(
        json!({"status": status.as_str()}),
        json!({"status": status.as_str()}),
    ))
}

/// `mark_failed`: the compensation itself failed; the saga needs a person. Its error says
/// what failed in the compensation, and what it was compensating.
pub async fn mark_failed(context: &StepContext<'_>) -> Result<Done, TaskError> {
    let failure = format!(
        "{}: {}",
        context.task.error.as_deref().unwrap_or("unknown"),
        cause_message(context.task.cause.as_deref().unwrap_or_default())
    );
    let cause = match &context.saga.error {
        Some(original) => format!(
            "{failure} (while compensating {}: {})",
            original.error, original.cause
        ),
        None => failure,
    };
    let error = ErrorInfo::new(COMPENSATION_FAILED, cause);
    context
        .store
        .change(
            context.tenant(),
            context.saga_id(),
            set_status_with_error(SagaStatus::Failed, &error),
            None,
            context.clock.now(),
        )
        .await?;
    Ok(Done::new(
        json!({"status": "failed"}),
        json!({"status": "failed"}),
    ))
}
