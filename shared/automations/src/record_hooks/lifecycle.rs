//! Attaching and detaching workflows, and creating the Airtable webhook a registration needs.
//!
//! Concurrency: every registration change is a conditional write on its `version`, retried
//! from a fresh read when another writer won. Creating the Airtable webhook is the one step
//! that cannot be undone by a failed condition (and a base allows only 10 webhooks), so only the
//! holder of the registration's creation lease creates it: the lease is taken in the same
//! conditional write that adds the workflow, lasts [`CREATION_LEASE`], and the new webhook is
//! installed only while the lease is still ours. A creator that lost its registration (detached
//! meanwhile) or its lease deletes the webhook it made. A registration left without a webhook (a
//! creator that failed or crashed) sorts first in the expiry index, where the refresh job
//! finishes it.

use airtable::{Airtable, BaseId, NewWebhook, WebhookId};
use chrono::{DateTime, Utc};
use metering::UsageTally;
use ports::StoreError;
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use super::RecordHooks;
use super::hook_id::{HookId, TOKEN_LEN};
use super::store::{AirtableWebhook, CreationLease, Registration};
use super::tenant_airtable::{from_airtable, is_not_found};
use crate::error::AutomationError;
use crate::model::Workflow;

/// How long a creator may take between taking the lease and installing the webhook.
pub const CREATION_LEASE: chrono::Duration = chrono::Duration::seconds(60);
/// Airtable's webhook lifetime, assumed when an answer carries no expiration time.
pub const WEBHOOK_LIFETIME: chrono::Duration = chrono::Duration::days(7);
/// The subscriber a connected base holds on each of its tables' registrations (see the
/// `connect-base` saga): it keeps the webhook alive without being a workflow, which the events
/// worker skips, as it skips a deleted workflow.
pub const BASE_CONNECTION: &str = "base-connection";
/// Conditional writes retried this many times before giving up with a conflict.
const MAX_ATTEMPTS: usize = 8;

/// The webhook specification for one table's record changes: every cell of created and
/// changed records, and the previous values of changed cells (the sandbox accepts `includes`
/// and sends current and previous values in any case).
pub fn specification(table_id: &str) -> Value {
    json!({
        "options": {
            "filters": {
                "dataTypes": ["tableData"],
                "recordChangeScope": table_id,
            },
            "includes": {
                "includeCellValuesInFieldIds": "all",
                "includePreviousCellValues": true,
            },
        }
    })
}

/// The expiration time Airtable announced, or the lifetime it documents.
pub fn expiration(announced: Option<&str>, now: DateTime<Utc>) -> DateTime<Utc> {
    announced
        .and_then(|raw| DateTime::parse_from_rfc3339(raw).ok())
        .map_or(now + WEBHOOK_LIFETIME, |at| at.with_timezone(&Utc))
}

fn retry_exhausted() -> AutomationError {
    AutomationError::Conflict(
        "the table's webhook registration kept changing; try again".to_string(),
    )
}

/// Airtable answers 403 for a base the token cannot reach, as for one that does not exist:
/// either way the trigger names a base it cannot use.
fn unreachable_base(base_id: &BaseId, err: airtable::AirtableError) -> AutomationError {
    match err.status() {
        Some(403 | 404) => AutomationError::invalid(
            "/trigger/base",
            format!("the connected Airtable token cannot reach base {base_id}"),
        ),
        _ => from_airtable(err),
    }
}

fn base_of(registration: &Registration) -> Result<BaseId, AutomationError> {
    BaseId::parse(&registration.base_id)
        .map_err(|err| AutomationError::Store(StoreError::InvalidItem(err.to_string())))
}

impl RecordHooks {
    /// [`crate::RecordTriggerHooks::attach`]: see the trait and the module doc.
    pub(super) async fn attach_workflow(&self, workflow: &Workflow) -> Result<(), AutomationError> {
        let Some((_, base, table)) = workflow.spec.trigger.record_change() else {
            return Ok(());
        };
        if !workflow.spec.enabled {
            // A webhook exists only for workflows that can run.
            return self.detach_workflow(workflow).await;
        }
        let base_id = BaseId::parse(base)
            .map_err(|err| AutomationError::invalid("/trigger/base", err.to_string()))?;
        let tally = UsageTally::new();
        let client = self.airtable.client(&workflow.tenant_id, &tally).await?;
        let workflow_id = workflow.id.to_string();
        let attached = self
            .attach_with(&client, &workflow.tenant_id, &workflow_id, &base_id, table)
            .await;
        let result = match attached {
            Ok(table_id) => {
                self.leave_other_tables(workflow, base_id.as_str(), &table_id, &tally)
                    .await
            }
            Err(err) => Err(err),
        };
        self.airtable.record(&workflow.tenant_id, &tally).await;
        result
    }

    /// A workflow whose trigger moved to another table (or base) stops being served by its old
    /// registration, whether or not the caller detached it first.
    async fn leave_other_tables(
        &self,
        workflow: &Workflow,
        base_id: &str,
        table_id: &str,
        tally: &UsageTally,
    ) -> Result<(), AutomationError> {
        let workflow_id = workflow.id.to_string();
        let stale = self
            .registrations
            .of_tenant(&workflow.tenant_id)
            .await?
            .into_iter()
            .filter(|r| r.workflow_ids.contains(&workflow_id))
            .filter(|r| r.base_id != base_id || r.table_id != table_id);
        for registration in stale {
            self.detach_from(registration, &workflow_id, tally).await?;
        }
        Ok(())
    }

    /// Subscribes `subscriber` to the record changes of one table, as a workflow's record
    /// trigger does: the table's webhook is created if it has none, and later workflows on
    /// that table share it. Used by the `connect-base` saga with [`BASE_CONNECTION`]. Answers
    /// the table's id.
    pub async fn attach_subscriber(
        &self,
        tenant_id: &str,
        base_id: &BaseId,
        table: &str,
        subscriber: &str,
    ) -> Result<String, AutomationError> {
        let tally = UsageTally::new();
        let client = self.airtable.client(tenant_id, &tally).await?;
        let result = self
            .attach_with(&client, tenant_id, subscriber, base_id, table)
            .await;
        self.airtable.record(tenant_id, &tally).await;
        result
    }

    /// Takes `subscriber` off one table's registration; the webhook goes when no one is left.
    /// A registration that does not list it (never attached, or already detached) is fine.
    pub async fn detach_subscriber(
        &self,
        tenant_id: &str,
        base_id: &BaseId,
        table_id: &str,
        subscriber: &str,
    ) -> Result<(), AutomationError> {
        let Some(registration) = self
            .registrations
            .get(tenant_id, base_id.as_str(), table_id)
            .await?
        else {
            return Ok(());
        };
        let tally = UsageTally::new();
        let result = self.detach_from(registration, subscriber, &tally).await;
        self.airtable.record(tenant_id, &tally).await;
        result
    }

    /// Adds `subscriber` (a workflow id, or [`BASE_CONNECTION`]) to the table's registration,
    /// creating the registration and its Airtable webhook when the table had none. Answers the
    /// table's id.
    async fn attach_with(
        &self,
        client: &Airtable,
        tenant_id: &str,
        subscriber: &str,
        base_id: &BaseId,
        table: &str,
    ) -> Result<String, AutomationError> {
        let schema = client
            .base_schema(base_id, false)
            .await
            .map_err(|err| unreachable_base(base_id, err))?;
        let table_id = schema
            .tables
            .iter()
            .find(|t| t.id == table || t.name == table)
            .map(|t| t.id.clone())
            .ok_or_else(|| {
                AutomationError::invalid(
                    "/trigger/table",
                    format!("base {base_id} has no table {table:?}"),
                )
            })?;
        let subscriber = subscriber.to_string();
        for _ in 0..MAX_ATTEMPTS {
            let now = self.clock.now();
            let existing = self
                .registrations
                .get(tenant_id, base_id.as_str(), &table_id)
                .await?;
            let (registration, lease, written) = match existing {
                None => {
                    let hook = HookId::new(
                        tenant_id,
                        base_id.as_str(),
                        &table_id,
                        &self.ids.random_token(TOKEN_LEN),
                    )
                    .map_err(|err| AutomationError::invalid("/tenant_id", err))?;
                    let lease = self.new_lease(now);
                    let registration = Registration {
                        hook_id: hook.to_string(),
                        tenant_id: tenant_id.to_string(),
                        base_id: base_id.to_string(),
                        table_id: table_id.clone(),
                        workflow_ids: vec![subscriber.clone()],
                        webhook: None,
                        creating: Some(lease.clone()),
                        version: 1,
                        created_at: now,
                        updated_at: now,
                    };
                    let written = self.registrations.create(&registration).await;
                    (registration, Some(lease), written)
                }
                Some(mut registration) => {
                    let joins = !registration.workflow_ids.contains(&subscriber);
                    let must_create = registration.webhook.is_none()
                        && registration
                            .creating
                            .as_ref()
                            .is_none_or(|l| l.until <= now);
                    if !joins && !must_create {
                        return Ok(table_id);
                    }
                    let expected = registration.version;
                    if joins {
                        registration.workflow_ids.push(subscriber.clone());
                    }
                    let lease = must_create.then(|| self.new_lease(now));
                    if lease.is_some() {
                        registration.creating.clone_from(&lease);
                    }
                    registration.version += 1;
                    registration.updated_at = now;
                    let written = self.registrations.replace(&registration, expected).await;
                    (registration, lease, written)
                }
            };
            match written {
                Ok(()) => {
                    if let Some(lease) = lease {
                        self.create_webhook(client, registration, &lease).await?;
                    }
                    return Ok(table_id);
                }
                Err(err) if err.is_condition_failure() => continue,
                Err(err) => return Err(err.into()),
            }
        }
        Err(retry_exhausted())
    }

    fn new_lease(&self, now: DateTime<Utc>) -> CreationLease {
        CreationLease {
            owner: self.ids.random_token(20),
            until: now + CREATION_LEASE,
        }
    }

    /// Takes the creation lease on a registration whose webhook is missing or gone (the refresh
    /// job's way in). `None` when another writer holds it or the registration changed.
    pub(super) async fn take_lease(
        &self,
        mut registration: Registration,
    ) -> Result<Option<(Registration, CreationLease)>, AutomationError> {
        let now = self.clock.now();
        if registration
            .creating
            .as_ref()
            .is_some_and(|l| l.until > now)
        {
            return Ok(None);
        }
        let lease = self.new_lease(now);
        let expected = registration.version;
        registration.creating = Some(lease.clone());
        registration.version += 1;
        registration.updated_at = now;
        match self.registrations.replace(&registration, expected).await {
            Ok(()) => Ok(Some((registration, lease))),
            Err(err) if err.is_condition_failure() => Ok(None),
            Err(err) => Err(err.into()),
        }
    }

    /// Creates the registration's Airtable webhook under `lease` and installs it (replacing a
    /// vanished one: new secret, cursor back to 1).
    pub(super) async fn create_webhook(
        &self,
        client: &Airtable,
        registration: Registration,
        lease: &CreationLease,
    ) -> Result<(), AutomationError> {
        let hook = registration.hook_id()?;
        let base_id = base_of(&registration)?;
        let request = NewWebhook {
            notification_url: Some(self.notification_url(&hook)),
            specification: specification(&registration.table_id),
        };
        let created = match client.create_webhook(&base_id, &request).await {
            Ok(created) => created,
            Err(err) => {
                self.release_lease(&registration, lease).await;
                return Err(from_airtable(err));
            }
        };
        let webhook = AirtableWebhook {
            webhook_id: created.id,
            mac_secret_base64: created.mac_secret_base64.expose_secret().to_string(),
            cursor: 1,
            expiration_time: expiration(created.expiration_time.as_deref(), self.clock.now()),
        };
        for _ in 0..MAX_ATTEMPTS {
            let current = self
                .registrations
                .get(
                    &registration.tenant_id,
                    &registration.base_id,
                    &registration.table_id,
                )
                .await?;
            let Some(mut current) = current.filter(|r| {
                r.hook_id == registration.hook_id
                    && r.creating.as_ref().is_some_and(|l| l.owner == lease.owner)
            }) else {
                // Detached meanwhile, or our lease expired and another creator took over.
                tracing::info!(hook_id = %hook, "webhook registration moved on; deleting the webhook just made");
                self.delete_airtable_webhook(client, &base_id, &webhook.webhook_id)
                    .await;
                return Ok(());
            };
            let expected = current.version;
            current.webhook = Some(webhook.clone());
            current.creating = None;
            current.version += 1;
            current.updated_at = self.clock.now();
            match self.registrations.replace(&current, expected).await {
                Ok(()) => {
                    tracing::info!(
                        hook_id = %hook,
                        airtable_webhook_id = webhook.webhook_id,
                        "created the Airtable webhook"
                    );
                    return Ok(());
                }
                Err(err) if err.is_condition_failure() => continue,
                Err(err) => {
                    self.delete_airtable_webhook(client, &base_id, &webhook.webhook_id)
                        .await;
                    return Err(err.into());
                }
            }
        }
        self.delete_airtable_webhook(client, &base_id, &webhook.webhook_id)
            .await;
        Err(retry_exhausted())
    }

    /// Gives the lease back after a failed creation, so the next attach or refresh tries at
    /// once. Best effort: the lease expires anyway.
    async fn release_lease(&self, registration: &Registration, lease: &CreationLease) {
        let Ok(Some(mut current)) = self
            .registrations
            .get(
                &registration.tenant_id,
                &registration.base_id,
                &registration.table_id,
            )
            .await
        else {
            return;
        };
        if current
            .creating
            .as_ref()
            .is_none_or(|l| l.owner != lease.owner)
        {
            return;
        }
        let expected = current.version;
        current.creating = None;
        current.version += 1;
        current.updated_at = self.clock.now();
        if let Err(err) = self.registrations.replace(&current, expected).await {
            tracing::debug!(error = %err, "could not release a webhook creation lease");
        }
    }

    /// Deletes a webhook on Airtable; one that is already gone is fine, and any other failure
    /// is logged: the webhook then expires within 7 days, and its pings find no registration.
    pub(super) async fn delete_airtable_webhook(
        &self,
        client: &Airtable,
        base_id: &BaseId,
        webhook_id: &str,
    ) {
        let Ok(webhook_id) = WebhookId::parse(webhook_id) else {
            tracing::warn!(webhook_id, "a stored Airtable webhook id does not parse");
            return;
        };
        match client.delete_webhook(base_id, &webhook_id).await {
            Ok(()) => {}
            Err(err) if is_not_found(&err) => {}
            Err(err) => tracing::warn!(
                base_id = %base_id,
                webhook_id = %webhook_id,
                error = %err,
                "could not delete an Airtable webhook; it will expire on its own"
            ),
        }
    }

    /// [`crate::RecordTriggerHooks::detach`]: removes the workflow from every registration of
    /// its tenant that lists it (so a trigger edited since it was attached is still found, and no
    /// Airtable call is needed to resolve a table name); deletes the webhooks left serving no one.
    pub(super) async fn detach_workflow(&self, workflow: &Workflow) -> Result<(), AutomationError> {
        let workflow_id = workflow.id.to_string();
        let listed: Vec<Registration> = self
            .registrations
            .of_tenant(&workflow.tenant_id)
            .await?
            .into_iter()
            .filter(|r| r.workflow_ids.contains(&workflow_id))
            .collect();
        let tally = UsageTally::new();
        let mut result = Ok(());
        for registration in listed {
            if let Err(err) = self.detach_from(registration, &workflow_id, &tally).await {
                result = Err(err);
            }
        }
        self.airtable.record(&workflow.tenant_id, &tally).await;
        result
    }

    async fn detach_from(
        &self,
        registration: Registration,
        workflow_id: &str,
        tally: &UsageTally,
    ) -> Result<(), AutomationError> {
        for _ in 0..MAX_ATTEMPTS {
            let Some(mut current) = self
                .registrations
                .get(
                    &registration.tenant_id,
                    &registration.base_id,
                    &registration.table_id,
                )
                .await?
            else {
                return Ok(());
            };
            if !current.workflow_ids.iter().any(|id| id == workflow_id) {
                return Ok(());
            }
            let expected = current.version;
            current.workflow_ids.retain(|id| id != workflow_id);
            current.version += 1;
            current.updated_at = self.clock.now();
            let written = if current.workflow_ids.is_empty() {
                self.registrations.delete(&current, expected).await
            } else {
                self.registrations.replace(&current, expected).await
            };
            match written {
                Ok(()) if current.workflow_ids.is_empty() => {
                    if let Some(webhook) = &current.webhook {
                        self.delete_for_detach(&current, webhook, tally).await;
                    }
                    return Ok(());
                }
                Ok(()) => return Ok(()),
                Err(err) if err.is_condition_failure() => continue,
                Err(err) => return Err(err.into()),
            }
        }
        Err(retry_exhausted())
    }

    async fn delete_for_detach(
        &self,
        registration: &Registration,
        webhook: &AirtableWebhook,
        tally: &UsageTally,
    ) {
        let base_id = match base_of(registration) {
            Ok(base_id) => base_id,
            Err(err) => {
                tracing::warn!(error = %err, "a stored base id does not parse");
                return;
            }
        };
        match self.airtable.client(&registration.tenant_id, tally).await {
            Ok(client) => {
                self.delete_airtable_webhook(&client, &base_id, &webhook.webhook_id)
                    .await;
                tracing::info!(
                    hook_id = registration.hook_id,
                    "deleted the Airtable webhook"
                );
            }
            Err(err) => tracing::warn!(
                hook_id = registration.hook_id,
                error = %err,
                "cannot reach Airtable to delete a webhook; it will expire on its own"
            ),
        }
    }
}
