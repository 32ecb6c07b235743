//! Webhooks: creation with a MAC secret, listing, refresh, notifications on/off, payloads read
//! with a cursor, and signed pings to `notificationUrl` (HMAC-SHA256 over the raw body with the
//! base64-decoded secret, sent as `X-Airtable-Content-MAC: hmac-sha256=<hex>`).

use crate::errors::{ApiError, ApiResult};
use crate::ids;
use crate::model::Base;
use crate::records::cells::{iso, read_value};
use crate::records::write::ChangeSet;
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde_json::{Map, Value, json};
use sha2::Sha256;

/// Webhooks made with a personal access token expire after 7 days unless refreshed.
const LIFETIME_DAYS: i64 = 7;
const MAX_PER_BASE: usize = 10;
const MAX_PAYLOADS_PER_PAGE: usize = 50;

#[derive(Debug, Clone)]
pub struct Webhook {
    pub id: String,
    pub base_id: String,
    pub notification_url: Option<String>,
    pub mac_secret_base64: String,
    pub expiration_time: DateTime<Utc>,
    pub specification: Value,
    pub notifications_enabled: bool,
    /// Payloads numbered from 1; the cursor is the next number to read.
    pub payloads: Vec<Value>,
    pub last_successful_notification_time: Option<DateTime<Utc>>,
    pub last_notification_result: Option<Value>,
}

impl Webhook {
    fn describe(&self) -> Value {
        json!({
            "id": self.id,
            "areNotificationsEnabled": self.notifications_enabled,
            "cursorForNextPayload": self.payloads.len() + 1,
            "isHookEnabled": true,
            "notificationUrl": self.notification_url,
            "expirationTime": iso(self.expiration_time),
            "lastSuccessfulNotificationTime": self.last_successful_notification_time.map(iso),
            "lastNotificationResult": self.last_notification_result,
            "specification": self.specification,
        })
    }

    fn filters(&self) -> Option<&Value> {
        self.specification.get("options")?.get("filters")
    }

    /// Whether this hook wants record changes in `table_id` of the given kinds.
    fn wants_records(&self, table_id: &str) -> bool {
        let Some(filters) = self.filters() else {
            return false;
        };
        let data_types = filters.get("dataTypes").and_then(Value::as_array);
        if !data_types.is_some_and(|d| d.iter().any(|t| t == "tableData")) {
            return false;
        }
        match filters.get("recordChangeScope").and_then(Value::as_str) {
            Some(scope) => scope == table_id,
            None => true,
        }
    }

    /// Whether the hook asked for `field`'s value with every change of its record
    /// (`options.includes.includeCellValuesInFieldIds`: `"all"` or a list of field ids).
    fn includes_cells_of(&self, field: &str) -> bool {
        match self
            .specification
            .pointer("/options/includes/includeCellValuesInFieldIds")
        {
            Some(Value::String(all)) => all == "all",
            Some(Value::Array(ids)) => ids.iter().any(|id| id == field),
            _ => false,
        }
    }

    fn wants_change_type(&self, kind: &str) -> bool {
        match self
            .filters()
            .and_then(|f| f.get("changeTypes"))
            .and_then(Value::as_array)
        {
            Some(types) => types.iter().any(|t| t == kind),
            None => true,
        }
    }
}

/// A notification to send after the data lock is released.
#[derive(Debug, Clone)]
pub struct Ping {
    pub webhook_id: String,
    pub url: String,
    pub secret_base64: String,
    pub body: String,
}

/// The `X-Airtable-Content-MAC` value for a body.
pub fn content_mac(secret_base64: &str, body: &[u8]) -> Option<String> {
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret_base64)
        .ok()?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    Some(format!(
        "hmac-sha256={}",
        digest
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    ))
}

pub fn create(hooks: &mut Vec<Webhook>, base_id: &str, body: &Value) -> ApiResult<Value> {
    let obj = body.as_object().ok_or_else(ApiError::invalid_request)?;
    let spec = obj
        .get("specification")
        .filter(|s| s.is_object())
        .ok_or_else(|| ApiError::missing_field("specification"))?;
    let data_types = spec
        .pointer("/options/filters/dataTypes")
        .and_then(Value::as_array);
    let valid = data_types.is_some_and(|d| {
        !d.is_empty()
            && d.iter().all(|t| {
                matches!(
                    t.as_str(),
                    Some("tableData" | "tableFields" | "tableMetadata")
                )
            })
    });
    if !valid {
        return Err(ApiError::unprocessable(
            "INVALID_WEBHOOK_SPECIFICATION",
            "The webhook specification is invalid",
        ));
    }
    let url = match obj.get("notificationUrl") {
        None | Some(Value::Null) => None,
        Some(Value::String(u)) if u.starts_with("http://") || u.starts_with("https://") => {
            Some(u.clone())
        }
        Some(_) => return Err(ApiError::invalid_request()),
    };
    if hooks.iter().filter(|h| h.base_id == base_id).count() >= MAX_PER_BASE {
        return Err(ApiError::unprocessable(
            "TOO_MANY_WEBHOOKS_BY_OAUTH_INTEGRATION_IN_BASE",
            "Too many webhooks in this base",
        ));
    }
    let mut secret = [0u8; 64];
    rand::rng().fill_bytes(&mut secret);
    let hook = Webhook {
        id: ids::new_id("ach"),
        base_id: base_id.to_string(),
        notification_url: url.clone(),
        mac_secret_base64: base64::engine::general_purpose::STANDARD.encode(secret),
        expiration_time: Utc::now() + Duration::days(LIFETIME_DAYS),
        specification: spec.clone(),
        notifications_enabled: url.is_some(),
        payloads: Vec::new(),
        last_successful_notification_time: None,
        last_notification_result: None,
    };
    let out = json!({ "id": hook.id, "macSecretBase64": hook.mac_secret_base64, "expirationTime": iso(hook.expiration_time) });
    hooks.push(hook);
    Ok(out)
}

pub fn list(hooks: &[Webhook], base_id: &str) -> Value {
    json!({ "webhooks": hooks.iter().filter(|h| h.base_id == base_id).map(Webhook::describe).collect::<Vec<_>>() })
}

fn find<'a>(hooks: &'a mut [Webhook], base_id: &str, id: &str) -> ApiResult<&'a mut Webhook> {
    hooks
        .iter_mut()
        .find(|h| h.base_id == base_id && h.id == id)
        .ok_or_else(ApiError::not_found)
}

pub fn delete(hooks: &mut Vec<Webhook>, base_id: &str, id: &str) -> ApiResult<Value> {
    find(hooks, base_id, id)?;
    hooks.retain(|h| !(h.base_id == base_id && h.id == id));
    Ok(json!({}))
}

pub fn refresh(hooks: &mut [Webhook], base_id: &str, id: &str) -> ApiResult<Value> {
    let hook = find(hooks, base_id, id)?;
    hook.expiration_time = Utc::now() + Duration::days(LIFETIME_DAYS);
    Ok(json!({ "expirationTime": iso(hook.expiration_time) }))
}

pub fn enable_notifications(
    hooks: &mut [Webhook],
    base_id: &str,
    id: &str,
    body: &Value,
) -> ApiResult<Value> {
    let enable = body
        .get("enable")
        .and_then(Value::as_bool)
        .ok_or_else(|| ApiError::missing_field("enable"))?;
    find(hooks, base_id, id)?.notifications_enabled = enable;
    Ok(json!({}))
}

/// `GET …/payloads?cursor=&limit=`; reading extends the hook's life, as on Airtable.
pub fn payloads(
    hooks: &mut [Webhook],
    base_id: &str,
    id: &str,
    cursor: Option<usize>,
    limit: Option<usize>,
) -> ApiResult<Value> {
    let hook = find(hooks, base_id, id)?;
    let cursor = cursor.unwrap_or(1).max(1);
    let limit = limit
        .unwrap_or(MAX_PAYLOADS_PER_PAGE)
        .clamp(1, MAX_PAYLOADS_PER_PAGE);
    let start = cursor - 1;
    let page: Vec<Value> = hook
        .payloads
        .iter()
        .skip(start)
        .take(limit)
        .cloned()
        .collect();
    let next = cursor + page.len();
    hook.expiration_time = Utc::now() + Duration::days(LIFETIME_DAYS);
    Ok(json!({ "payloads": page, "cursor": next, "mightHaveMore": next <= hook.payloads.len() }))
}

/// Records a change in every interested webhook; returns the pings to send.
pub fn record_change(
    hooks: &mut [Webhook],
    base: &Base,
    transaction: u64,
    change: &ChangeSet,
) -> Vec<Ping> {
    let now = Utc::now();
    let Some(table) = base.tables.iter().find(|t| t.id == change.table_id) else {
        return vec![];
    };
    let cells_of = |record_id: &str| -> Map<String, Value> {
        let mut out = Map::new();
        if let Some(record) = table.record(record_id) {
            for field in &table.fields {
                if let Some(v) = read_value(table, record, field, now) {
                    out.insert(field.id.clone(), v);
                }
            }
        }
        out
    };
    let mut pings = Vec::new();
    for hook in hooks
        .iter_mut()
        .filter(|h| h.base_id == base.id && h.wants_records(&table.id))
    {
        let mut table_change = Map::new();
        if hook.wants_change_type("add") && !change.created.is_empty() {
            let created: Map<String, Value> = change
                .created
                .iter()
                .map(|id| {
                    let created_time = table
                        .record(id)
                        .map(|r| iso(r.created_time))
                        .unwrap_or_default();
                    (
                        id.clone(),
                        json!({ "createdTime": created_time, "cellValuesByFieldId": cells_of(id) }),
                    )
                })
                .collect();
            table_change.insert("createdRecordsById".into(), Value::Object(created));
        }
        if hook.wants_change_type("update") && !change.changed.is_empty() {
            let changed: Map<String, Value> = change
                .changed
                .iter()
                .map(|(id, previous)| {
                    let current = cells_of(id);
                    let changed_prev: Map<String, Value> = previous
                        .iter()
                        .filter(|(k, v)| current.get(*k) != Some(*v))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    let changed_now: Map<String, Value> = current
                        .iter()
                        .filter(|(k, v)| previous.get(*k) != Some(*v))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    let mut entry = json!({ "current": { "cellValuesByFieldId": changed_now }, "previous": { "cellValuesByFieldId": changed_prev } });
                    // `options.includes.includeCellValuesInFieldIds` ("all" or field ids): the record's
                    // other cells, as Airtable sends them, under `unchanged`.
                    let unchanged: Map<String, Value> = current
                        .iter()
                        .filter(|(k, _)| entry["current"]["cellValuesByFieldId"].get(k.as_str()).is_none() && hook.includes_cells_of(k))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    if !unchanged.is_empty() {
                        entry["unchanged"] = json!({ "cellValuesByFieldId": unchanged });
                    }
                    (id.clone(), entry)
                })
                .collect();
            table_change.insert("changedRecordsById".into(), Value::Object(changed));
        }
        if hook.wants_change_type("remove") && !change.destroyed.is_empty() {
            table_change.insert("destroyedRecordIds".into(), json!(change.destroyed));
        }
        if table_change.is_empty() {
            continue;
        }
        let mut changed_tables = Map::new();
        changed_tables.insert(table.id.clone(), Value::Object(table_change));
        hook.payloads.push(json!({
            "timestamp": iso(now),
            "baseTransactionNumber": transaction,
            "payloadFormat": "v0",
            "actionMetadata": { "source": "publicApi", "sourceMetadata": { "user": { "id": "usrSandbox", "permissionLevel": "create" } } },
            "changedTablesById": changed_tables,
            "createdTablesById": {},
            "destroyedTableIds": [],
        }));
        if hook.notifications_enabled
            && let Some(url) = &hook.notification_url
        {
            let body = json!({ "base": { "id": base.id }, "webhook": { "id": hook.id }, "timestamp": iso(now) }).to_string();
            pings.push(Ping {
                webhook_id: hook.id.clone(),
                url: url.clone(),
                secret_base64: hook.mac_secret_base64.clone(),
                body,
            });
        }
    }
    pings
}

/// Sends one ping and returns the `lastNotificationResult` to record.
pub async fn send_ping(client: &reqwest::Client, ping: &Ping) -> (bool, Value) {
    let started = Utc::now();
    let mut request = client
        .post(&ping.url)
        .header("content-type", "application/json")
        .timeout(std::time::Duration::from_secs(10))
        .body(ping.body.clone());
    if let Some(mac) = content_mac(&ping.secret_base64, ping.body.as_bytes()) {
        request = request.header("X-Airtable-Content-MAC", mac);
    }
    let outcome = request.send().await;
    let finished = Utc::now();
    let duration_ms = (finished - started).num_milliseconds();
    let (success, error) = match outcome {
        Ok(r) if r.status().is_success() => (true, None),
        Ok(r) => (
            false,
            Some(format!("The notification URL answered {}", r.status())),
        ),
        Err(e) => (
            false,
            Some(format!("Could not reach the notification URL: {e}")),
        ),
    };
    let mut result = json!({
        "success": success,
        "completionTimestamp": iso(finished),
        "durationMs": duration_ms,
        "retryNumber": 0,
        "willBeRetried": false,
    });
    if let Some(message) = error {
        result["error"] = json!({ "message": message });
    }
    (success, result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_format() {
        let secret = base64::engine::general_purpose::STANDARD.encode(b"key");
        let mac = content_mac(&secret, b"body").unwrap();
        assert!(mac.starts_with("hmac-sha256="));
        assert_eq!(mac.len(), "hmac-sha256=".len() + 64);
    }
}
