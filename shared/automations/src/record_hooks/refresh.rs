//! Keeping webhooks alive: Airtable deletes a webhook made with a personal token 7 days after
//! its creation or last refresh. The scheduler's tick calls [`RecordHooks::refresh_expiring`],
//! which refreshes every registration expiring within [`REFRESH_WINDOW`] (a day of ticks to
//! spare for Airtable outages), re-creates the webhooks Airtable no longer knows (new secret,
//! cursor back to 1: the changes made while it was gone are lost, which is logged), and finishes
//! registrations an attach left without a webhook.

use airtable::{Airtable, BaseId, WebhookId};
use chrono::{DateTime, Duration, Utc};
use metering::UsageTally;
use ports::StoreError;

use super::RecordHooks;
use super::lifecycle::expiration;
use super::store::Registration;
use super::tenant_airtable::{from_airtable, is_not_found};
use crate::error::AutomationError;

/// Registrations expiring within this are refreshed.
pub const REFRESH_WINDOW: Duration = Duration::days(2);

/// What one registration needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refreshed {
    Extended,
    Created,
    /// Another writer is creating its webhook, or it changed under us.
    Skipped,
}

impl RecordHooks {
    /// Refreshes (or re-creates) every webhook expiring before `now` + 2 days; returns how many
    /// were refreshed or created. One registration's failure (a tenant that disconnected, an
    /// Airtable error) is logged and the others go on; only a failed read of the index fails
    /// the call.
    pub async fn refresh_expiring(&self, now: DateTime<Utc>) -> Result<usize, AutomationError> {
        let due = self
            .registrations
            .expiring_before(now + REFRESH_WINDOW)
            .await?;
        let mut done = 0;
        for registration in due {
            let hook_id = registration.hook_id.clone();
            let tenant_id = registration.tenant_id.clone();
            let tally = UsageTally::new();
            let outcome = match self.airtable.client(&tenant_id, &tally).await {
                Ok(client) => self.refresh_one(&client, registration).await,
                Err(err) => Err(err),
            };
            self.airtable.record(&tenant_id, &tally).await;
            match outcome {
                Ok(Refreshed::Extended | Refreshed::Created) => done += 1,
                Ok(Refreshed::Skipped) => {}
                Err(err) => {
                    tracing::warn!(hook_id, tenant_id, error = %err, "could not refresh a webhook");
                }
            }
        }
        Ok(done)
    }

    async fn refresh_one(
        &self,
        client: &Airtable,
        registration: Registration,
    ) -> Result<Refreshed, AutomationError> {
        let Some(webhook) = registration.webhook.clone() else {
            return self.recreate(client, registration).await;
        };
        let invalid = |err: airtable::InvalidPath| {
            AutomationError::Store(StoreError::InvalidItem(err.to_string()))
        };
        let base_id = BaseId::parse(&registration.base_id).map_err(invalid)?;
        let webhook_id = WebhookId::parse(&webhook.webhook_id).map_err(invalid)?;
        match client.refresh_webhook(&base_id, &webhook_id).await {
            Ok(refreshed) => {
                let until = expiration(refreshed.expiration_time.as_deref(), self.clock.now());
                self.save_expiration(&registration, &webhook.webhook_id, until)
                    .await?;
                Ok(Refreshed::Extended)
            }
            Err(err) if is_not_found(&err) => {
                tracing::warn!(
                    hook_id = registration.hook_id,
                    airtable_webhook_id = webhook.webhook_id,
                    "Airtable no longer knows the webhook; re-creating it (changes made meanwhile are not replayed)"
                );
                self.recreate(client, registration).await
            }
            Err(err) => Err(from_airtable(err)),
        }
    }

    async fn recreate(
        &self,
        client: &Airtable,
        registration: Registration,
    ) -> Result<Refreshed, AutomationError> {
        match self.take_lease(registration).await? {
            Some((registration, lease)) => {
                self.create_webhook(client, registration, &lease).await?;
                Ok(Refreshed::Created)
            }
            None => Ok(Refreshed::Skipped),
        }
    }

    async fn save_expiration(
        &self,
        registration: &Registration,
        webhook_id: &str,
        until: DateTime<Utc>,
    ) -> Result<(), AutomationError> {
        self.registrations
            .update_webhook(registration, self.clock.now(), |stored| {
                if stored.webhook_id != webhook_id {
                    return false;
                }
                stored.expiration_time = until;
                true
            })
            .await
    }
}
