//! Airtable steps go through the platform's gateway, like a `/v0` call: rate-limited, reads
//! cached, calls counted in the tenant's usage. Writes carry the step's idempotency key, so a
//! write repeated after a crash (between the write and its checkpoint) replays the first
//! answer instead of writing twice.

use std::collections::BTreeMap;

use airtable::AirtableError;
use gateway::{
    BaseId, Gateway, GatewayError, IdempotencyKey, Operation, RecordId, Request, TableRef,
};
use http::Method;
use metering::{UsageCounters, UsageTally};
use serde_json::{Value, json};

use super::{StepError, StepOutput, StepScope};
use crate::model::StepKind;

/// The most records an `airtable.list` step returns (one Airtable page).
pub const MAX_LIST_RECORDS: u32 = 100;

#[derive(Debug, Clone)]
pub struct AirtableSteps {
    gateway: Gateway,
    usage: UsageCounters,
}

fn permanent(message: impl Into<String>) -> StepError {
    StepError::Permanent(message.into())
}

fn ids(base: &str, table: &str) -> Result<(BaseId, TableRef), StepError> {
    let base = BaseId::parse(base).map_err(|e| permanent(format!("base: {e}")))?;
    let table = TableRef::parse(table).map_err(|e| permanent(format!("table: {e}")))?;
    Ok((base, table))
}

fn record_id(record: &str) -> Result<RecordId, StepError> {
    RecordId::parse(record).map_err(|e| permanent(format!("record: {e}")))
}

fn fields_body(fields: &BTreeMap<String, Value>, typecast: bool) -> Value {
    json!({"fields": fields, "typecast": typecast})
}

impl AirtableSteps {
    pub fn new(gateway: Gateway, usage: UsageCounters) -> Self {
        Self { gateway, usage }
    }

    /// Runs one rendered Airtable step.
    pub async fn run(
        &self,
        scope: &StepScope<'_>,
        kind: &StepKind,
    ) -> Result<StepOutput, StepError> {
        let (operation, body) = request_for(kind)?;
        let write = operation.is_write();
        let mut request = Request::new(operation);
        request.body = body;
        if write {
            request.idempotency_key =
                Some(IdempotencyKey::parse(&scope.idempotency_key()).map_err(permanent)?);
        }
        let tally = UsageTally::new();
        let answer = self.gateway.handle(scope.tenant_id, request, &tally).await;
        self.record_usage(scope.tenant_id, &tally).await;
        let answer = answer.map_err(classify)?;
        let body: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
        if (200..300).contains(&answer.status) {
            return Ok(match kind {
                StepKind::AirtableList { .. } => {
                    json!({"records": body.get("records").cloned().unwrap_or(json!([]))})
                }
                _ => body,
            });
        }
        Err(refusal(answer.status, &body))
    }

    async fn record_usage(&self, tenant_id: &str, tally: &UsageTally) {
        let used = tally.take();
        if used.is_empty() {
            return;
        }
        let counters: Vec<(&str, i64)> = used.iter().map(|(n, v)| (n.as_str(), *v)).collect();
        if let Err(err) = self.usage.add(tenant_id, &counters).await {
            tracing::warn!(error = %err, "could not count an Airtable step's usage");
        }
    }
}

/// The gateway operation and body of a step.
fn request_for(kind: &StepKind) -> Result<(Operation, Option<Value>), StepError> {
    Ok(match kind {
        StepKind::AirtableList {
            base,
            table,
            filter,
            view,
            fields,
            max_records,
        } => {
            let (base, table) = ids(base, table)?;
            let mut body = serde_json::Map::new();
            let max = max_records
                .unwrap_or(MAX_LIST_RECORDS)
                .clamp(1, MAX_LIST_RECORDS);
            body.insert("maxRecords".into(), json!(max));
            body.insert("pageSize".into(), json!(max));
            if let Some(filter) = filter.as_deref().filter(|f| !f.is_empty()) {
                body.insert("filterByFormula".into(), json!(filter));
            }
            if let Some(view) = view.as_deref().filter(|v| !v.is_empty()) {
                body.insert("view".into(), json!(view));
            }
            if !fields.is_empty() {
                body.insert("fields".into(), json!(fields));
            }
            (
                Operation::list_records_post(base, table),
                Some(Value::Object(body)),
            )
        }
        StepKind::AirtableGet {
            base,
            table,
            record,
        } => {
            let (base, table) = ids(base, table)?;
            (Operation::get_record(base, table, record_id(record)?), None)
        }
        StepKind::AirtableCreate {
            base,
            table,
            fields,
            typecast,
        } => {
            let (base, table) = ids(base, table)?;
            (
                Operation::create_records(base, table),
                Some(fields_body(fields, *typecast)),
            )
        }
        StepKind::AirtableUpdate {
            base,
            table,
            record,
            fields,
            typecast,
        } => {
            let (base, table) = ids(base, table)?;
            (
                Operation::update_record(Method::PATCH, base, table, record_id(record)?),
                Some(fields_body(fields, *typecast)),
            )
        }
        StepKind::AirtableUpsert {
            base,
            table,
            merge_on,
            fields,
            typecast,
        } => {
            let (base, table) = ids(base, table)?;
            (
                Operation::update_records(Method::PATCH, base, table),
                Some(json!({
                    "performUpsert": {"fieldsToMergeOn": merge_on},
                    "records": [{"fields": fields}],
                    "typecast": typecast,
                })),
            )
        }
        StepKind::AirtableDelete {
            base,
            table,
            record,
        } => {
            let (base, table) = ids(base, table)?;
            (
                Operation::delete_record(base, table, record_id(record)?),
                None,
            )
        }
        other => {
            return Err(permanent(format!(
                "{} is not an Airtable step",
                other.type_name()
            )));
        }
    })
}

/// An answer Airtable (or the gateway on its behalf) gave with an error status.
fn refusal(status: u16, body: &Value) -> StepError {
    let error = &body["error"];
    let kind = error
        .get("type")
        .and_then(Value::as_str)
        .or_else(|| error.as_str())
        .unwrap_or("ERROR");
    let message = error.get("message").and_then(Value::as_str).unwrap_or("");
    let text = format!("Airtable answered {status} {kind}: {message}");
    if kind == "UPSTREAM_OUTCOME_UNKNOWN" {
        // Repeating could write twice, and the recorded answer would replay anyway.
        return permanent(text);
    }
    if status == 429 || status >= 500 {
        StepError::Transient(text)
    } else {
        permanent(text)
    }
}

fn classify(err: GatewayError) -> StepError {
    match err {
        GatewayError::NotConnected => permanent("the tenant has no Airtable connection"),
        GatewayError::ConnectedTokenRejected => {
            permanent("Airtable refused the tenant's connected token; reconnect Airtable")
        }
        GatewayError::IdempotencyKeyReused => permanent(
            "this step's write was already made with different values; it is not repeated",
        ),
        // A claim left by a process that died mid-write lapses after the claim TTL: retrying
        // sooner would spend the queue's receives for nothing.
        GatewayError::IdempotencyKeyInUse => StepError::Later(
            "this step's write is still in progress elsewhere".into(),
            gateway::idempotency::CLAIM_TTL,
        ),
        GatewayError::IdempotentAnswerNotKept => permanent(
            "this step's write was made but its answer was too large to keep; it is not repeated",
        ),
        GatewayError::IdempotencyStore(err) => StepError::Transient(format!("store: {err}")),
        GatewayError::Connection(err) => StepError::Transient(err.to_string()),
        GatewayError::Airtable(err) => {
            if let Some(after) = retry_after(&err) {
                StepError::Later(err.to_string(), after)
            } else if transient(&err) {
                StepError::Transient(err.to_string())
            } else {
                permanent(err.to_string())
            }
        }
    }
}

/// The wait Airtable or our limiter asked for, if any.
fn retry_after(err: &AirtableError) -> Option<std::time::Duration> {
    match err {
        AirtableError::RateLimited { retry_after } => Some(*retry_after),
        AirtableError::Api {
            status,
            retry_after,
            ..
        } if *status == 429 || *status >= 500 => *retry_after,
        _ => None,
    }
}

/// Whether a client error may pass: rate limits (ours or Airtable's), 5xx, the network.
fn transient(err: &AirtableError) -> bool {
    match err {
        AirtableError::Api { status, .. } => *status == 429 || *status >= 500,
        AirtableError::RateLimited { .. }
        | AirtableError::Network { .. }
        | AirtableError::Limiter(_) => true,
        AirtableError::Decode { .. }
        | AirtableError::InvalidRequest(_)
        | AirtableError::Config(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_permanent_and_server_trouble_is_not() {
        let body = json!({"error": {"type": "INVALID_VALUE_FOR_COLUMN", "message": "bad"}});
        assert!(
            matches!(refusal(422, &body), StepError::Permanent(m) if m.contains("INVALID_VALUE_FOR_COLUMN"))
        );
        assert!(refusal(503, &json!({})).is_transient());
        assert!(refusal(429, &json!({})).is_transient());
        let unknown = json!({"error": {"type": "UPSTREAM_OUTCOME_UNKNOWN", "message": "maybe"}});
        assert!(!refusal(500, &unknown).is_transient());
        assert!(
            matches!(refusal(404, &json!({"error": "NOT_FOUND"})), StepError::Permanent(m) if m.contains("NOT_FOUND"))
        );
    }

    #[test]
    fn upserts_merge_on_fields_and_lists_are_bounded_to_one_page() {
        let upsert: StepKind = serde_json::from_value(json!({
            "type": "airtable.upsert", "base": "appAAAAAAAAAAAAAA", "table": "Contacts",
            "merge_on": ["Email"], "fields": {"Email": "a@b.c"}
        }))
        .expect("kind");
        let (operation, body) = request_for(&upsert).expect("request");
        assert_eq!(operation.method, Method::PATCH);
        assert!(operation.is_write());
        assert_eq!(
            body,
            Some(
                json!({"performUpsert": {"fieldsToMergeOn": ["Email"]}, "records": [{"fields": {"Email": "a@b.c"}}], "typecast": false})
            )
        );
        let list: StepKind = serde_json::from_value(json!({
            "type": "airtable.list", "base": "appAAAAAAAAAAAAAA", "table": "Deals", "max_records": 5000
        }))
        .expect("kind");
        let (operation, body) = request_for(&list).expect("request");
        assert!(!operation.is_write());
        assert_eq!(
            body.map(|b| b["maxRecords"].clone()),
            Some(json!(MAX_LIST_RECORDS))
        );
        let bad: StepKind = serde_json::from_value(json!({
            "type": "airtable.get", "base": "not a base", "table": "Deals", "record": "rec1"
        }))
        .expect("kind");
        assert!(matches!(request_for(&bad), Err(StepError::Permanent(_))));
    }
}
