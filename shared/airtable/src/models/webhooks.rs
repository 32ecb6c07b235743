//! Webhook shapes: create, list, refresh and payloads.
//!
//! The specification and the per-table change sets are deep, evolving structures that the
//! automation engine inspects selectively, so they stay JSON values here; the envelope fields
//! everyone needs (ids, cursors, expiry) are typed.

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What to create: where to ping, and the `specification` (`{options:{filters:{dataTypes…}}}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewWebhook {
    #[serde(
        rename = "notificationUrl",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub notification_url: Option<String>,
    pub specification: Value,
}

/// The answer to a create. The MAC secret is shown only this once and signs every ping, so it
/// is a [`SecretString`]: it must go straight to the secrets store, never to a log.
#[derive(Debug, Clone, Deserialize)]
pub struct CreatedWebhook {
    pub id: String,
    #[serde(rename = "macSecretBase64")]
    pub mac_secret_base64: SecretString,
    #[serde(rename = "expirationTime", default)]
    pub expiration_time: Option<String>,
}

/// A webhook as listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Webhook {
    pub id: String,
    #[serde(rename = "areNotificationsEnabled", default)]
    pub are_notifications_enabled: bool,
    #[serde(rename = "cursorForNextPayload", default)]
    pub cursor_for_next_payload: u64,
    #[serde(rename = "isHookEnabled", default)]
    pub is_hook_enabled: bool,
    #[serde(rename = "notificationUrl", default)]
    pub notification_url: Option<String>,
    #[serde(rename = "expirationTime", default)]
    pub expiration_time: Option<String>,
    #[serde(rename = "lastSuccessfulNotificationTime", default)]
    pub last_successful_notification_time: Option<String>,
    #[serde(rename = "lastNotificationResult", default)]
    pub last_notification_result: Option<Value>,
    #[serde(default)]
    pub specification: Value,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `GET …/webhooks`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookList {
    pub webhooks: Vec<Webhook>,
}

/// The answer to a refresh: the new expiry (now + 7 days).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefreshedWebhook {
    #[serde(rename = "expirationTime", default)]
    pub expiration_time: Option<String>,
}

/// One change payload. Table-level changes stay JSON (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookPayload {
    #[serde(default)]
    pub timestamp: Option<String>,
    #[serde(rename = "baseTransactionNumber", default)]
    pub base_transaction_number: u64,
    #[serde(rename = "payloadFormat", default)]
    pub payload_format: Option<String>,
    #[serde(rename = "actionMetadata", default)]
    pub action_metadata: Option<Value>,
    #[serde(rename = "changedTablesById", default)]
    pub changed_tables_by_id: Map<String, Value>,
    #[serde(rename = "createdTablesById", default)]
    pub created_tables_by_id: Map<String, Value>,
    #[serde(rename = "destroyedTableIds", default)]
    pub destroyed_table_ids: Vec<String>,
    /// Error payloads (`{error:true, code}`) and anything newer.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One page of `GET …/webhooks/{id}/payloads`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookPayloads {
    pub payloads: Vec<WebhookPayload>,
    /// The cursor to ask for next time (the next transaction number).
    pub cursor: u64,
    #[serde(rename = "mightHaveMore", default)]
    pub might_have_more: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn created_webhook_hides_its_secret() {
        let created: CreatedWebhook = serde_json::from_value(json!({
            "id":"ach00000000000001","macSecretBase64":"c2VjcmV0","expirationTime":"2026-01-08T00:00:00.000Z"
        }))
        .unwrap();
        assert!(!format!("{created:?}").contains("c2VjcmV0"));
    }

    #[test]
    fn payloads_parse() {
        let page: WebhookPayloads = serde_json::from_value(json!({
            "payloads":[{"timestamp":"2026-01-01T00:00:00.000Z","baseTransactionNumber":4,
                "payloadFormat":"v0","actionMetadata":{"source":"client"},
                "changedTablesById":{"tbl00000000000001":{"createdRecordsById":{}}}}],
            "cursor":5,"mightHaveMore":false
        }))
        .unwrap();
        assert_eq!(page.cursor, 5);
        assert_eq!(page.payloads[0].base_transaction_number, 4);
    }
}
