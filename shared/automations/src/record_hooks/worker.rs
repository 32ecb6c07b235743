//! The events queue's consumer: one [`EventMessage`] per ping; it reads the webhook's payloads
//! from the stored cursor, turns them into record events, and starts every workflow of the
//! registration whose trigger matches.
//!
//! Exactly once, without a transaction across Airtable, the runs table and the registration:
//! each page of payloads is handled, then the cursor after it is saved. A crash (or a failed
//! start) before the save leaves the old cursor, so the redelivered message reads the same
//! payloads again; every run is started with the dedup key
//! `event:<workflow>:<base>:<transaction>:<record>:<change>`, which the run starter honours, so
//! the second pass starts nothing new.
//!
//! The FIFO group (one per tenant and base) keeps two workers off the same base at once, and
//! the cursor save is still conditional (same webhook, cursor not already past) in case one
//! outlives its visibility timeout. A long backlog is read [`MAX_PAGES_PER_MESSAGE`] pages at a
//! time, each message handing the rest to a follow-up message in the same group.

use std::sync::Arc;

use airtable::{Airtable, BaseId, WebhookId};
use async_trait::async_trait;
use basics::Clock;
use basics::digest::sha256_hex;
use metering::UsageTally;
use ports::{Key, Queue, Table, TableStore, from_item};
use serde_json::json;
use triggers::{InboundMessage, JobFailure, QueueConsumer};

use super::RecordHooks;
use super::hook_id::HookId;
use super::payloads::{Change, FieldNames, error_code, record_changes};
use super::pings::enqueue;
use super::store::{AirtableWebhook, Registration, Registrations};
use super::tenant_airtable::{TenantAirtable, from_airtable, is_not_found};
use crate::error::AutomationError;
use crate::model::{EventMessage, RecordChange, RunTrigger, Trigger, Workflow};
use crate::seams::RunStarter;

/// Pages of payloads (up to 50 each) one message reads before handing the rest of a backlog
/// to a follow-up message.
pub const MAX_PAGES_PER_MESSAGE: usize = 100;

#[derive(Debug, Clone)]
pub struct EventsWorker {
    registrations: Registrations,
    store: Arc<dyn TableStore>,
    queue: Arc<dyn Queue>,
    airtable: TenantAirtable,
    runs: Arc<dyn RunStarter>,
    clock: Arc<dyn Clock>,
    /// Payloads per page (`None`: Airtable's largest, 50).
    page_size: Option<u32>,
    max_pages: usize,
}

/// The trigger table as the worker needs it: its name (triggers may name it) and its fields.
struct TableView {
    name: Option<String>,
    fields: FieldNames,
}

impl EventsWorker {
    pub fn new(hooks: &RecordHooks, runs: Arc<dyn RunStarter>) -> Self {
        Self {
            registrations: hooks.registrations.clone(),
            store: Arc::clone(&hooks.store),
            queue: Arc::clone(&hooks.queue),
            airtable: hooks.airtable.clone(),
            runs,
            clock: Arc::clone(&hooks.clock),
            page_size: None,
            max_pages: MAX_PAGES_PER_MESSAGE,
        }
    }

    /// Smaller pages and batches than Airtable's, to exercise long backlogs in tests.
    pub fn with_batches(mut self, page_size: u32, max_pages: usize) -> Self {
        self.page_size = Some(page_size);
        self.max_pages = max_pages.max(1);
        self
    }

    /// Handles one message; returns how many runs it asked the starter for (repeats of an
    /// already started run included).
    pub async fn handle(&self, message: &EventMessage) -> Result<usize, AutomationError> {
        let hook = HookId::parse(&message.hook_id)
            .map_err(|err| AutomationError::invalid("/hook_id", err))?;
        let registration = self
            .registrations
            .get(hook.tenant_id(), hook.base_id(), hook.table_id())
            .await?
            .filter(|r| r.hook_id == message.hook_id);
        let Some((registration, webhook)) =
            registration.and_then(|r| r.webhook.clone().map(|w| (r, w)))
        else {
            tracing::info!(
                hook_id = message.hook_id,
                "no webhook registered any more; nothing to read"
            );
            return Ok(0);
        };
        let tally = UsageTally::new();
        let client = self
            .airtable
            .client(&registration.tenant_id, &tally)
            .await?;
        let result = self.drain(&client, &registration, &webhook).await;
        self.airtable.record(&registration.tenant_id, &tally).await;
        result
    }

    async fn drain(
        &self,
        client: &Airtable,
        registration: &Registration,
        webhook: &AirtableWebhook,
    ) -> Result<usize, AutomationError> {
        let invalid = |err: airtable::InvalidPath| {
            AutomationError::Store(ports::StoreError::InvalidItem(err.to_string()))
        };
        let base_id = BaseId::parse(&registration.base_id).map_err(invalid)?;
        let webhook_id = WebhookId::parse(&webhook.webhook_id).map_err(invalid)?;
        let mut cursor = webhook.cursor.max(1);
        let mut table: Option<TableView> = None;
        let mut workflows: Option<Vec<Workflow>> = None;
        let mut started = 0;
        let mut pages = 0;
        loop {
            let page = match client
                .webhook_payloads(&base_id, &webhook_id, Some(cursor), self.page_size)
                .await
            {
                Ok(page) => page,
                Err(err) if is_not_found(&err) => {
                    tracing::warn!(
                        hook_id = registration.hook_id,
                        "Airtable no longer knows the webhook; the refresh job re-creates it"
                    );
                    return Ok(started);
                }
                Err(err) => return Err(from_airtable(err)),
            };
            let touches_table = page
                .payloads
                .iter()
                .any(|p| p.changed_tables_by_id.contains_key(&registration.table_id));
            if touches_table && table.is_none() {
                table = Some(
                    self.table_view(client, &base_id, &registration.table_id)
                        .await?,
                );
            }
            let mut changes: Vec<Change> = Vec::new();
            if let Some(view) = &table {
                let now = self.clock.now();
                for payload in &page.payloads {
                    if let Some(code) = error_code(payload) {
                        tracing::warn!(
                            hook_id = registration.hook_id,
                            code,
                            "Airtable sent an error payload"
                        );
                        continue;
                    }
                    changes.extend(record_changes(
                        payload,
                        &registration.base_id,
                        &registration.table_id,
                        &view.fields,
                        now,
                    ));
                }
            }
            if !changes.is_empty() {
                if workflows.is_none() {
                    workflows = Some(self.workflows(registration).await?);
                }
                let view = table.as_ref();
                for change in &changes {
                    for workflow in workflows.iter().flatten() {
                        if matches(
                            workflow,
                            registration,
                            view.and_then(|v| v.name.as_deref()),
                            change,
                        ) {
                            self.start(workflow, change).await?;
                            started += 1;
                        }
                    }
                }
            }
            if page.cursor <= cursor {
                // Nothing new, whatever `mightHaveMore` says: asking again would spin.
                return Ok(started);
            }
            self.save_cursor(registration, webhook, page.cursor).await?;
            cursor = page.cursor;
            if !page.might_have_more {
                return Ok(started);
            }
            pages += 1;
            if pages >= self.max_pages {
                self.continue_later(registration, cursor).await?;
                return Ok(started);
            }
        }
    }

    /// Leaves the rest of a long backlog to a new message in the same group, so one message
    /// stays well inside the function's time limit and the queue's visibility timeout.
    async fn continue_later(
        &self,
        registration: &Registration,
        cursor: u64,
    ) -> Result<(), AutomationError> {
        let dedup = sha256_hex(format!("continue:{}:{cursor}", registration.hook_id));
        enqueue(self.queue.as_ref(), registration, dedup).await
    }

    /// One meta read: the table's name and field names.
    async fn table_view(
        &self,
        client: &Airtable,
        base_id: &BaseId,
        table_id: &str,
    ) -> Result<TableView, AutomationError> {
        let schema = client
            .base_schema(base_id, false)
            .await
            .map_err(from_airtable)?;
        Ok(schema.tables.iter().find(|t| t.id == table_id).map_or(
            TableView {
                name: None,
                fields: FieldNames::default(),
            },
            |t| TableView {
                name: Some(t.name.clone()),
                fields: FieldNames::of(t),
            },
        ))
    }

    /// The registration's workflows as stored by the workflows service (`TENANT#<tenant>` /
    /// `WORKFLOW#<id>`); gone or unreadable ones are skipped.
    async fn workflows(
        &self,
        registration: &Registration,
    ) -> Result<Vec<Workflow>, AutomationError> {
        let mut found = Vec::new();
        for id in &registration.workflow_ids {
            let key = Key::new(
                format!("TENANT#{}", registration.tenant_id),
                format!("WORKFLOW#{id}"),
            );
            let Some(item) = self.store.get(Table::Core, &key).await? else {
                continue;
            };
            match from_item::<Workflow>(item) {
                Ok(workflow) => found.push(workflow),
                Err(err) => {
                    tracing::warn!(workflow_id = id, error = %err, "skipping an unreadable workflow")
                }
            }
        }
        Ok(found)
    }

    async fn start(&self, workflow: &Workflow, change: &Change) -> Result<(), AutomationError> {
        let event = &change.event;
        let dedup_key = format!(
            "event:{}:{}:{}:{}:{}",
            workflow.id,
            event.base_id,
            event.transaction,
            event.record_id,
            change_name(event.change)
        );
        let data = serde_json::to_value(event).map_err(|err| {
            AutomationError::invalid("/trigger", format!("record event not serialisable: {err}"))
        })?;
        let trigger = RunTrigger {
            kind: workflow.spec.trigger.kind().to_string(),
            data,
        };
        self.runs
            .start(workflow, trigger, json!({}), Some(dedup_key))
            .await?;
        Ok(())
    }

    /// Saves the cursor after a handled page, unless the webhook was replaced meanwhile (then
    /// the new one's cursor stands) or a later cursor is already saved.
    async fn save_cursor(
        &self,
        registration: &Registration,
        webhook: &AirtableWebhook,
        next: u64,
    ) -> Result<(), AutomationError> {
        self.registrations
            .update_webhook(registration, self.clock.now(), |stored| {
                if stored.webhook_id != webhook.webhook_id || stored.cursor >= next {
                    return false;
                }
                stored.cursor = next;
                true
            })
            .await
    }
}

fn change_name(change: RecordChange) -> &'static str {
    match change {
        RecordChange::Created => "created",
        RecordChange::Updated => "updated",
        RecordChange::Deleted => "deleted",
    }
}

/// Whether `workflow` wants `change`: enabled, a record trigger of that kind on this base and
/// table (by id or name), and for updates with `fields`, one of them (by name or id) changed.
fn matches(
    workflow: &Workflow,
    registration: &Registration,
    table_name: Option<&str>,
    change: &Change,
) -> bool {
    if !workflow.spec.enabled {
        return false;
    }
    let Some((kind, base, table)) = workflow.spec.trigger.record_change() else {
        return false;
    };
    if kind != change.event.change
        || base != registration.base_id
        || (table != registration.table_id && Some(table) != table_name)
    {
        return false;
    }
    match &workflow.spec.trigger {
        Trigger::RecordUpdated { fields, .. } if !fields.is_empty() => fields.iter().any(|f| {
            change.changed_field_ids.contains(f) || change.event.changed_fields.contains(f)
        }),
        _ => true,
    }
}

#[async_trait]
impl QueueConsumer for EventsWorker {
    async fn consume(&self, message: &InboundMessage) -> Result<(), JobFailure> {
        let event: EventMessage = message.json()?;
        match self.handle(&event).await {
            Ok(started) => {
                tracing::debug!(hook_id = event.hook_id, started, "handled a webhook ping");
                Ok(())
            }
            Err(err) => {
                tracing::warn!(hook_id = event.hook_id, error = %err, "could not handle a webhook ping");
                Err(JobFailure::new(err.to_string()))
            }
        }
    }
}
