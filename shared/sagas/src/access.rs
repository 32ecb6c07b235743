//! The sagas' Airtable calls, all through the platform's gateway (`Gateway::handle`): the one
//! rate-limited client, usage counted for the tenant, writes with idempotency keys. Reads that
//! decide what to write or restore (before-images, diffs, schemas) bypass the read cache: a
//! before-image from a stale cache would restore the wrong values.
//!
//! Failures become [`TaskError`]s named for the state machine: rate limits `Throttled` and
//! unreachable or 5xx `Unavailable` (retried), Airtable's refusals and a refused token
//! `Failed`/`InvalidInput`/`NotFound` (not retried: the saga compensates).

use airtable::{AirtableError, BaseId, BaseSchema, Formula, Record, RecordId, TableRef};
use gateway::{Gateway, GatewayError, IdempotencyKey, Operation, Request};
use http::Method;
use metering::{UsageCounters, UsageTally};
use serde::Deserialize;
use serde_json::{Value, json};
use triggers::{TaskError, TaskErrorName};

/// The most records one list page holds.
const PAGE_SIZE: u32 = 100;

#[derive(Debug, Clone)]
pub struct AirtableAccess {
    gateway: Gateway,
    usage: UsageCounters,
}

/// A write to send: the gateway operation, its body or query, and its idempotency key.
#[derive(Debug, Clone)]
pub struct Write {
    pub operation: Operation,
    pub query: Option<String>,
    pub body: Option<Value>,
    pub key: String,
}

#[derive(Deserialize)]
struct Page {
    records: Vec<Record>,
    #[serde(default)]
    offset: Option<String>,
}

pub fn base_id(raw: &str) -> Result<BaseId, TaskError> {
    BaseId::parse(raw).map_err(|e| TaskError::invalid_input(format!("base: {e}")))
}

pub fn table_ref(raw: &str) -> Result<TableRef, TaskError> {
    TableRef::parse(raw).map_err(|e| TaskError::invalid_input(format!("table: {e}")))
}

pub fn record_id(raw: &str) -> Result<RecordId, TaskError> {
    RecordId::parse(raw).map_err(|e| TaskError::invalid_input(format!("record: {e}")))
}

/// `OR(RECORD_ID()="rec…", …)`: the records with these ids.
pub fn ids_formula<'a>(ids: impl IntoIterator<Item = &'a str>) -> Formula {
    airtable::formula::or(ids.into_iter().map(|id| {
        airtable::formula::eq(
            airtable::formula::call("RECORD_ID", []),
            airtable::formula::string(id),
        )
    }))
}

impl AirtableAccess {
    pub fn new(gateway: Gateway, usage: UsageCounters) -> Self {
        Self { gateway, usage }
    }

    /// Sends one request and gives Airtable's status and JSON body, counting the tenant's
    /// usage; Airtable's own answers are the caller's to judge.
    async fn send_raw(
        &self,
        tenant_id: &str,
        request: Request,
    ) -> Result<(u16, Value), GatewayError> {
        let tally = UsageTally::new();
        let answer = self.gateway.handle(tenant_id, request, &tally).await;
        let used = tally.take();
        if !used.is_empty() {
            let counters: Vec<(&str, i64)> = used.iter().map(|(n, v)| (n.as_str(), *v)).collect();
            if let Err(err) = self.usage.add(tenant_id, &counters).await {
                tracing::warn!(error = %err, "could not count a saga step's Airtable usage");
            }
        }
        let answer = answer?;
        let body = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
        Ok((answer.status, body))
    }

    /// [`Self::send_raw`] with the way there's failures as task errors.
    async fn send(&self, tenant_id: &str, request: Request) -> Result<(u16, Value), TaskError> {
        self.send_raw(tenant_id, request).await.map_err(classify)
    }

    /// Sends a request and requires a 2xx answer.
    async fn call(&self, tenant_id: &str, request: Request) -> Result<Value, TaskError> {
        let (status, body) = self.send(tenant_id, request).await?;
        if (200..300).contains(&status) {
            Ok(body)
        } else {
            Err(refusal(status, &body))
        }
    }

    /// The base's schema, fresh.
    pub async fn schema(&self, tenant_id: &str, base: &str) -> Result<BaseSchema, TaskError> {
        let mut request = Request::new(Operation::base_schema(base_id(base)?));
        request.bypass_cache = true;
        let body = self.call(tenant_id, request).await?;
        serde_json::from_value(body)
            .map_err(|e| TaskError::failed(format!("Airtable's schema answer does not parse: {e}")))
    }

    /// The base's schema if Airtable answers it, `Ok(None)` when the base is not reachable
    /// with the tenant's token (404/403), and other failures as they are. For checks at start.
    pub async fn schema_if_reachable(
        &self,
        tenant_id: &str,
        base: &BaseId,
    ) -> Result<Option<BaseSchema>, TaskError> {
        let request = Request::new(Operation::base_schema(base.clone()));
        let (status, body) = self.send(tenant_id, request).await?;
        match status {
            200..=299 => serde_json::from_value(body).map(Some).map_err(|e| {
                TaskError::failed(format!("Airtable's schema answer does not parse: {e}"))
            }),
            403 | 404 => Ok(None),
            _ => Err(refusal(status, &body)),
        }
    }

    /// Every record of a table that `formula` selects (all when `None`), with only `fields`
    /// when given, reading page after page, fresh.
    pub async fn list_all(
        &self,
        tenant_id: &str,
        base: &str,
        table: &str,
        formula: Option<&Formula>,
        fields: Option<&[String]>,
    ) -> Result<Vec<Record>, TaskError> {
        let (base, table) = (base_id(base)?, table_ref(table)?);
        let mut records = Vec::new();
        let mut offset: Option<String> = None;
        loop {
            let mut body = serde_json::Map::new();
            body.insert("pageSize".into(), json!(PAGE_SIZE));
            if let Some(formula) = formula {
                body.insert("filterByFormula".into(), json!(formula.as_str()));
            }
            if let Some(fields) = fields {
                body.insert("fields".into(), json!(fields));
            }
            if let Some(offset) = &offset {
                body.insert("offset".into(), json!(offset));
            }
            let mut request =
                Request::new(Operation::list_records_post(base.clone(), table.clone()));
            request.body = Some(Value::Object(body));
            request.bypass_cache = true;
            let page: Page =
                serde_json::from_value(self.call(tenant_id, request).await?).map_err(|e| {
                    TaskError::failed(format!("Airtable's list answer does not parse: {e}"))
                })?;
            records.extend(page.records);
            match page.offset {
                Some(next) => offset = Some(next),
                None => return Ok(records),
            }
        }
    }

    /// Sends a write with its idempotency key: a retried task gets the first answer again
    /// instead of writing twice. A failure says whether Airtable may have applied the write
    /// anyway (the request reached it and then broke, its answer was too large to keep, or an
    /// earlier attempt still holds the key).
    pub async fn write(&self, tenant_id: &str, write: Write) -> Result<Value, WriteFailure> {
        let key = IdempotencyKey::parse(&write.key)
            .map_err(|e| WriteFailure::certain(TaskError::invalid_input(e)))?;
        let mut request = Request::new(write.operation);
        request.query = write.query;
        request.body = write.body;
        request.idempotency_key = Some(key);
        match self.send_raw(tenant_id, request).await {
            Ok((status, body)) if (200..300).contains(&status) => Ok(body),
            Ok((status, body)) => Err(WriteFailure {
                maybe_applied: outcome_unknown(&body),
                error: refusal(status, &body),
            }),
            // A key still claimed means an earlier attempt's write is in flight, or its process
            // died mid-write: until a retry gets its answer, it may have happened.
            Err(err) => Err(WriteFailure {
                maybe_applied: matches!(
                    err,
                    GatewayError::IdempotentAnswerNotKept | GatewayError::IdempotencyKeyInUse
                ),
                error: classify(err),
            }),
        }
    }
}

/// A write that failed.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteFailure {
    pub error: TaskError,
    /// Whether Airtable may nevertheless have applied it.
    pub maybe_applied: bool,
}

impl WriteFailure {
    fn certain(error: TaskError) -> Self {
        Self {
            error,
            maybe_applied: false,
        }
    }
}

impl From<WriteFailure> for TaskError {
    fn from(failure: WriteFailure) -> Self {
        failure.error
    }
}

/// The gateway's answer to a write that reached Airtable and then failed.
fn outcome_unknown(body: &Value) -> bool {
    body["error"]["type"].as_str() == Some("UPSTREAM_OUTCOME_UNKNOWN")
}

/// `POST` creates, `PATCH` updates and upserts, `DELETE` with `records[]=…`.
pub fn create_write(base: &str, table: &str, body: Value, key: String) -> Result<Write, TaskError> {
    Ok(Write {
        operation: Operation::create_records(base_id(base)?, table_ref(table)?),
        query: None,
        body: Some(body),
        key,
    })
}

pub fn patch_write(base: &str, table: &str, body: Value, key: String) -> Result<Write, TaskError> {
    Ok(Write {
        operation: Operation::update_records(Method::PATCH, base_id(base)?, table_ref(table)?),
        query: None,
        body: Some(body),
        key,
    })
}

pub fn delete_write(
    base: &str,
    table: &str,
    ids: &[String],
    key: String,
) -> Result<Write, TaskError> {
    Ok(Write {
        operation: Operation::delete_records(base_id(base)?, table_ref(table)?),
        query: Some(form_query(ids)),
        body: None,
        key,
    })
}

/// `records[]=a&records[]=b`, each id checked (ids are letters and digits, so nothing needs
/// escaping once they parse).
fn form_query(ids: &[String]) -> String {
    ids.iter()
        .filter(|id| RecordId::parse(id).is_ok())
        .map(|id| format!("records%5B%5D={id}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// An answer Airtable (or the gateway on its behalf) gave with an error status.
pub fn refusal(status: u16, body: &Value) -> TaskError {
    let error = &body["error"];
    let kind = error
        .get("type")
        .and_then(Value::as_str)
        .or_else(|| error.as_str())
        .unwrap_or("ERROR");
    let message = error.get("message").and_then(Value::as_str).unwrap_or("");
    let text = format!("Airtable answered {status} {kind}: {message}");
    let name = match status {
        // The write may have happened; repeating it could write twice, and the idempotency
        // record would only replay this answer.
        _ if kind == "UPSTREAM_OUTCOME_UNKNOWN" => TaskErrorName::Failed,
        429 => TaskErrorName::Throttled,
        500..=599 => TaskErrorName::Unavailable,
        404 => TaskErrorName::NotFound,
        400 | 422 => TaskErrorName::InvalidInput,
        _ => TaskErrorName::Failed,
    };
    TaskError::new(name, text)
}

/// A gateway failure as a task failure.
pub fn classify(err: GatewayError) -> TaskError {
    match err {
        GatewayError::NotConnected => TaskError::failed("the tenant has no Airtable connection"),
        GatewayError::ConnectedTokenRejected => {
            TaskError::failed("Airtable refused the tenant's connected token; reconnect Airtable")
        }
        GatewayError::IdempotencyKeyReused => TaskError::conflict(
            "this step's write was already made with different values; it is not repeated",
        ),
        GatewayError::IdempotencyKeyInUse => {
            TaskError::unavailable("this step's write is still in progress elsewhere")
        }
        GatewayError::IdempotentAnswerNotKept => TaskError::failed(
            "this step's write was made but its answer was too large to keep; it is not repeated",
        ),
        GatewayError::IdempotencyStore(err) => TaskError::unavailable(format!("store: {err}")),
        GatewayError::Connection(err) => TaskError::unavailable(err.to_string()),
        GatewayError::Airtable(err) => {
            let name = match &err {
                AirtableError::RateLimited { .. } | AirtableError::Limiter(_) => {
                    TaskErrorName::Throttled
                }
                AirtableError::Api { status: 429, .. } => TaskErrorName::Throttled,
                AirtableError::Api { status, .. } if *status >= 500 => TaskErrorName::Unavailable,
                AirtableError::Network { .. } => TaskErrorName::Unavailable,
                AirtableError::Api { .. }
                | AirtableError::Decode { .. }
                | AirtableError::InvalidRequest(_)
                | AirtableError::Config(_) => TaskErrorName::Failed,
            };
            TaskError::new(name, err.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_map_to_names_by_whether_retrying_can_help() {
        let body = json!({"error": {"type": "INVALID_VALUE_FOR_COLUMN", "message": "bad"}});
        assert_eq!(refusal(422, &body).name, TaskErrorName::InvalidInput);
        assert_eq!(refusal(429, &json!({})).name, TaskErrorName::Throttled);
        assert_eq!(refusal(503, &json!({})).name, TaskErrorName::Unavailable);
        assert_eq!(
            refusal(404, &json!({"error": "NOT_FOUND"})).name,
            TaskErrorName::NotFound
        );
        assert_eq!(refusal(403, &json!({})).name, TaskErrorName::Failed);
        let unknown = json!({"error": {"type": "UPSTREAM_OUTCOME_UNKNOWN", "message": "maybe"}});
        assert_eq!(refusal(500, &unknown).name, TaskErrorName::Failed);
        assert_eq!(
            classify(GatewayError::ConnectedTokenRejected).name,
            TaskErrorName::Failed
        );
        assert_eq!(
            classify(GatewayError::IdempotencyKeyInUse).name,
            TaskErrorName::Unavailable
        );
    }

    #[test]
    fn record_formulas_and_delete_queries_hold_only_well_formed_ids() {
        assert_eq!(
            ids_formula(["recA", "recB"]).as_str(),
            r#"OR(RECORD_ID()="recA", RECORD_ID()="recB")"#
        );
        assert_eq!(
            form_query(&["recAAA".into(), "rec\"x".into(), "recBBB".into()]),
            "records%5B%5D=recAAA&records%5B%5D=recBBB"
        );
    }
}
