//! Airtable's pings: `POST /v1/hooks/airtable/{hook}` with `X-Airtable-Content-MAC`.
//!
//! A ping only says "this webhook has new payloads"; the payloads themselves are fetched by the
//! events worker. So the handler verifies the MAC and enqueues a small [`EventMessage`], with no
//! Airtable call: Airtable wants a quick answer, and a slow or failing Airtable must not make
//! us drop pings. The events queue is FIFO with one message group per (tenant, base), so one
//! base's payloads are read in order by one worker at a time; the deduplication id is the
//! body's hash, so Airtable's retry of the same ping is dropped by SQS.

use base64::Engine;
use basics::digest::{constant_time_eq, hmac_sha256_hex, sha256_hex};
use ports::{Queue, QueueName, SendOptions};

use super::RecordHooks;
use super::hook_id::HookId;
use super::store::Registration;
use crate::error::AutomationError;
use crate::model::EventMessage;

/// The scheme Airtable puts before the hex digest.
const MAC_PREFIX: &str = "hmac-sha256=";

/// Whether `header` is `hmac-sha256=<hex>` of `body` under the base64 `secret`, compared in
/// constant time.
pub fn mac_matches(secret_base64: &str, header: &str, body: &[u8]) -> bool {
    let Some(presented) = header.trim().strip_prefix(MAC_PREFIX) else {
        return false;
    };
    let Ok(key) = base64::engine::general_purpose::STANDARD.decode(secret_base64) else {
        return false;
    };
    let expected = hmac_sha256_hex(&key, body);
    constant_time_eq(&presented.to_ascii_lowercase(), &expected)
}

impl RecordHooks {
    /// Handles one ping. Unknown hook: `NotFound`; a missing or wrong MAC: `Unauthorized`, and
    /// nothing is enqueued. The message's group is `<tenant>:<base>`.
    pub async fn receive_ping(
        &self,
        hook: &str,
        content_mac: Option<&str>,
        body: &[u8],
    ) -> Result<(), AutomationError> {
        let unknown = || AutomationError::NotFound(format!("webhook {hook:?}"));
        let hook_id = HookId::parse(hook).map_err(|_| unknown())?;
        let registration = self
            .registrations
            .get(hook_id.tenant_id(), hook_id.base_id(), hook_id.table_id())
            .await?
            .filter(|r| r.hook_id == hook)
            .ok_or_else(unknown)?;
        let Some(webhook) = &registration.webhook else {
            // Still being created: Airtable cannot have signed anything with a secret we hold.
            return Err(AutomationError::Unauthorized(
                "the webhook is not ready".to_string(),
            ));
        };
        let Some(mac) = content_mac else {
            return Err(AutomationError::Unauthorized(
                "X-Airtable-Content-MAC is required".to_string(),
            ));
        };
        if !mac_matches(&webhook.mac_secret_base64, mac, body) {
            tracing::warn!(hook_id = hook, "a ping's MAC did not verify");
            return Err(AutomationError::Unauthorized(
                "X-Airtable-Content-MAC does not match".to_string(),
            ));
        }
        enqueue(self.queue.as_ref(), &registration, sha256_hex(body)).await
    }
}

/// Puts an [`EventMessage`] for the registration on the events queue, in its (tenant, base)
/// group.
pub(super) async fn enqueue(
    queue: &dyn Queue,
    registration: &Registration,
    dedup_id: String,
) -> Result<(), AutomationError> {
    let message = EventMessage {
        tenant_id: registration.tenant_id.clone(),
        hook_id: registration.hook_id.clone(),
        base_id: registration.base_id.clone(),
    };
    let text = serde_json::to_string(&message)
        .map_err(|err| AutomationError::Queue(ports::QueueError::Invalid(err.to_string())))?;
    let group = format!("{}:{}", registration.tenant_id, registration.base_id);
    queue
        .send(QueueName::Events, &text, SendOptions::fifo(group, dedup_id))
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> String {
        base64::engine::general_purpose::STANDARD.encode(b"0123456789abcdef")
    }

    #[test]
    fn the_mac_is_hmac_sha256_of_the_raw_body_under_the_decoded_secret() {
        let body = br#"{"base":{"id":"app1"}}"#;
        let hex = hmac_sha256_hex(b"0123456789abcdef", body);
        assert!(mac_matches(&secret(), &format!("hmac-sha256={hex}"), body));
        assert!(mac_matches(
            &secret(),
            &format!("hmac-sha256={}", hex.to_uppercase()),
            body
        ));
        assert!(
            !mac_matches(&secret(), &hex, body),
            "the scheme is required"
        );
        assert!(!mac_matches(
            &secret(),
            &format!("hmac-sha256={hex}"),
            b"other body"
        ));
        assert!(!mac_matches(
            "not base64!",
            &format!("hmac-sha256={hex}"),
            body
        ));
        let other = base64::engine::general_purpose::STANDARD.encode(b"another key");
        assert!(!mac_matches(&other, &format!("hmac-sha256={hex}"), body));
    }
}
