//! Webhook management: create, list, delete, enable notifications, refresh, read payloads.
//!
//! Airtable counts webhook calls against the base's 5/s, so every call names its base.

use reqwest::Method;
use serde_json::{Value, json};

use crate::Airtable;
use crate::error::AirtableError;
use crate::ids::{BaseId, WebhookId};
use crate::models::webhooks::{
    CreatedWebhook, NewWebhook, RefreshedWebhook, Webhook, WebhookList, WebhookPayloads,
};
use crate::path::{ApiPath, WebhookAction};
use crate::retry::Idempotency;

impl Airtable {
    /// Creates a webhook. Not retried once sent: a repeat would make a second webhook (and
    /// bases allow only 10). The answer's MAC secret is shown only this once.
    pub async fn create_webhook(
        &self,
        base_id: &BaseId,
        webhook: &NewWebhook,
    ) -> Result<CreatedWebhook, AirtableError> {
        let transport = self.transport();
        let path = ApiPath::webhooks(base_id);
        let body = serde_json::to_value(webhook)
            .map_err(|e| AirtableError::InvalidRequest(e.to_string()))?;
        transport
            .send(
                transport
                    .call(Method::POST, &path, Idempotency::NotIdempotent)?
                    .body(body)
                    .base(base_id),
            )
            .await
    }

    /// The base's webhooks.
    pub async fn webhooks(&self, base_id: &BaseId) -> Result<Vec<Webhook>, AirtableError> {
        let transport = self.transport();
        let path = ApiPath::webhooks(base_id);
        let list: WebhookList = transport
            .send(
                transport
                    .call(Method::GET, &path, Idempotency::Idempotent)?
                    .base(base_id),
            )
            .await?;
        Ok(list.webhooks)
    }

    /// Deletes a webhook.
    pub async fn delete_webhook(
        &self,
        base_id: &BaseId,
        webhook_id: &WebhookId,
    ) -> Result<(), AirtableError> {
        let transport = self.transport();
        let path = ApiPath::webhook(base_id, webhook_id, None);
        let _: Value = transport
            .send(
                transport
                    .call(Method::DELETE, &path, Idempotency::Idempotent)?
                    .base(base_id),
            )
            .await?;
        Ok(())
    }

    /// Turns ping notifications on or off.
    pub async fn enable_webhook_notifications(
        &self,
        base_id: &BaseId,
        webhook_id: &WebhookId,
        enable: bool,
    ) -> Result<(), AirtableError> {
        let transport = self.transport();
        let path = ApiPath::webhook(
            base_id,
            webhook_id,
            Some(WebhookAction::EnableNotifications),
        );
        let _: Value = transport
            .send(
                transport
                    .call(Method::POST, &path, Idempotency::Idempotent)?
                    .body(json!({ "enable": enable }))
                    .base(base_id),
            )
            .await?;
        Ok(())
    }

    /// Extends a webhook's life to 7 days from now (the scheduler does this before expiry).
    pub async fn refresh_webhook(
        &self,
        base_id: &BaseId,
        webhook_id: &WebhookId,
    ) -> Result<RefreshedWebhook, AirtableError> {
        let transport = self.transport();
        let path = ApiPath::webhook(base_id, webhook_id, Some(WebhookAction::Refresh));
        transport
            .send(
                transport
                    .call(Method::POST, &path, Idempotency::Idempotent)?
                    .base(base_id),
            )
            .await
    }

    /// One page of change payloads from `cursor` (Airtable starts at 1), at most `limit` (≤ 50).
    pub async fn webhook_payloads(
        &self,
        base_id: &BaseId,
        webhook_id: &WebhookId,
        cursor: Option<u64>,
        limit: Option<u32>,
    ) -> Result<WebhookPayloads, AirtableError> {
        let transport = self.transport();
        let mut call = transport
            .call(
                Method::GET,
                &ApiPath::webhook(base_id, webhook_id, Some(WebhookAction::Payloads)),
                Idempotency::Idempotent,
            )?
            .base(base_id);
        let url = &mut call.url;
        {
            let mut query = url.query_pairs_mut();
            if let Some(cursor) = cursor {
                query.append_pair("cursor", &cursor.to_string());
            }
            if let Some(limit) = limit {
                query.append_pair("limit", &limit.to_string());
            }
        }
        // An empty query would leave a bare `?`; harmless, but keep URLs clean.
        if url.query() == Some("") {
            url.set_query(None);
        }
        transport.send(call).await
    }
}
