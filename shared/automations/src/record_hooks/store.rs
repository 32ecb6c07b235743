//! The registrations: one item per (tenant, base, table) in `Table::Core`, shared by every
//! workflow with a record trigger on that table.
//!
//! Key: `TENANT#<tenant>` / `RECORDHOOK#<base>#<table id>`, so "one webhook per table" is the
//! primary key itself (a create is a put on `NotExists`), and the ping handler finds the item
//! from the hook id alone (see [`super::hook_id`]).
//!
//! The refresh job needs the opposite view: every registration, across tenants, by expiry. That
//! is the `gsi1` index with one partition, [`EXPIRY_PARTITION`], sorted by
//! `<expiration>#<hook id>`; the job queries "sort key below now + 2 days". One partition is
//! enough: a base holds at most 10 webhooks and each item is rewritten about once a week, far
//! below a partition's limits. A registration still waiting for its Airtable webhook sorts at
//! the epoch, so the job also finishes creations that an attach left undone.
//!
//! Every change is conditional on `version` (optimistic concurrency), and the MAC secret is
//! skipped by `Debug` so no log line can print it.
//!
//! Why the MAC secret lives in the item and not in the secrets port: the ping route is public
//! and must answer fast, so a Secrets Manager read per ping would add latency and cost that
//! anyone could make us pay by pinging; the item is read anyway to find the registration. The
//! table is encrypted at rest, and the secret grants nothing but the right to sign pings for
//! this one webhook (it is not an Airtable credential).

use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use ports::{
    Condition, Key, Query, SortKeyCondition, StoreError, Table, TableStore, from_item, to_item,
};
use serde::{Deserialize, Serialize};

use super::hook_id::HookId;

/// The `gsi1` partition holding every registration, sorted by expiry.
pub const EXPIRY_PARTITION: &str = "RECORDHOOKS#EXPIRY";

/// The Airtable side of a registration, known once the webhook exists.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AirtableWebhook {
    /// Airtable's webhook id (`ach…`).
    pub webhook_id: String,
    /// The base64 MAC secret Airtable showed once; verifies pings. Never logged or returned.
    pub mac_secret_base64: String,
    /// The next payload to read (Airtable numbers them from 1).
    pub cursor: u64,
    pub expiration_time: DateTime<Utc>,
}

impl std::fmt::Debug for AirtableWebhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AirtableWebhook")
            .field("webhook_id", &self.webhook_id)
            .field("mac_secret_base64", &"<redacted>")
            .field("cursor", &self.cursor)
            .field("expiration_time", &self.expiration_time)
            .finish()
    }
}

/// Who is creating the Airtable webhook, until when (so a crashed creator does not block the
/// registration for ever).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreationLease {
    pub owner: String,
    pub until: DateTime<Utc>,
}

/// One registration as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Registration {
    pub hook_id: String,
    pub tenant_id: String,
    pub base_id: String,
    pub table_id: String,
    /// Its subscribers, in attach order, without duplicates: the workflows it serves, and
    /// [`super::lifecycle::BASE_CONNECTION`] for a base connected by the `connect-base` saga.
    pub workflow_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<AirtableWebhook>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creating: Option<CreationLease>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Registration {
    pub fn hook_id(&self) -> Result<HookId, StoreError> {
        HookId::parse(&self.hook_id).map_err(StoreError::InvalidItem)
    }

    /// The sort key in the expiry index: the epoch while the webhook does not exist yet.
    fn expiry_sort_key(&self) -> String {
        let at = self
            .webhook
            .as_ref()
            .map_or(DateTime::<Utc>::UNIX_EPOCH, |w| w.expiration_time);
        format!("{}#{}", expiry_bound(at), self.hook_id)
    }
}

/// The index's sort-key form of an instant: fixed width, so string order is time order.
pub fn expiry_bound(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub fn key(tenant_id: &str, base_id: &str, table_id: &str) -> Key {
    Key::new(
        format!("TENANT#{tenant_id}"),
        format!("RECORDHOOK#{base_id}#{table_id}"),
    )
}

/// Reads and writes registrations.
#[derive(Debug, Clone)]
pub struct Registrations {
    store: Arc<dyn TableStore>,
}

impl Registrations {
    pub fn new(store: Arc<dyn TableStore>) -> Self {
        Self { store }
    }

    /// Changes the webhook of `registration` as it is stored now: `change` edits it and
    /// answers whether to write (false leaves it alone, e.g. a later cursor is already saved).
    /// Nothing happens when the registration or its webhook was replaced meanwhile; a
    /// concurrent write is retried on the fresh item. The cursor save and the expiry refresh
    /// both go through here.
    pub async fn update_webhook(
        &self,
        registration: &Registration,
        now: DateTime<Utc>,
        mut change: impl FnMut(&mut AirtableWebhook) -> bool,
    ) -> Result<(), crate::error::AutomationError> {
        const ATTEMPTS: usize = 8;
        for _ in 0..ATTEMPTS {
            let Some(mut current) = self
                .get(
                    &registration.tenant_id,
                    &registration.base_id,
                    &registration.table_id,
                )
                .await?
                .filter(|r| r.hook_id == registration.hook_id)
            else {
                return Ok(());
            };
            let expected = current.version;
            let Some(stored) = current.webhook.as_mut() else {
                return Ok(());
            };
            if !change(stored) {
                return Ok(());
            }
            current.version += 1;
            current.updated_at = now;
            match self.replace(&current, expected).await {
                Ok(()) => return Ok(()),
                Err(err) if err.is_condition_failure() => continue,
                Err(err) => return Err(err.into()),
            }
        }
        Err(crate::error::AutomationError::Conflict(
            "the webhook registration kept changing; try again".to_string(),
        ))
    }

    pub async fn get(
        &self,
        tenant_id: &str,
        base_id: &str,
        table_id: &str,
    ) -> Result<Option<Registration>, StoreError> {
        self.store
            .get(Table::Core, &key(tenant_id, base_id, table_id))
            .await?
            .map(from_item)
            .transpose()
    }

    /// Writes a new registration, failing with a condition failure when the table has one.
    pub async fn create(&self, registration: &Registration) -> Result<(), StoreError> {
        self.put(registration, Condition::NotExists).await
    }

    /// Replaces `registration` if it is still at `expected_version`; the caller has bumped
    /// `version`.
    pub async fn replace(
        &self,
        registration: &Registration,
        expected_version: i64,
    ) -> Result<(), StoreError> {
        self.put(registration, Condition::VersionEquals(expected_version))
            .await
    }

    /// Deletes the registration if it is still at `expected_version`.
    pub async fn delete(
        &self,
        registration: &Registration,
        expected_version: i64,
    ) -> Result<(), StoreError> {
        self.store
            .delete(
                Table::Core,
                &key(
                    &registration.tenant_id,
                    &registration.base_id,
                    &registration.table_id,
                ),
                Some(Condition::VersionEquals(expected_version)),
            )
            .await
            .map(|_| ())
    }

    async fn put(
        &self,
        registration: &Registration,
        condition: Condition,
    ) -> Result<(), StoreError> {
        let mut item = to_item(
            &key(
                &registration.tenant_id,
                &registration.base_id,
                &registration.table_id,
            ),
            registration,
        )?;
        item.insert("gsi1pk".into(), EXPIRY_PARTITION.into());
        item.insert("gsi1sk".into(), registration.expiry_sort_key().into());
        self.store.put(Table::Core, item, Some(condition)).await
    }

    /// The tenant's registrations (a handful: one per table with record triggers).
    pub async fn of_tenant(&self, tenant_id: &str) -> Result<Vec<Registration>, StoreError> {
        ports::typed::query_all(
            self.store.as_ref(),
            Table::Core,
            Query::partition(format!("TENANT#{tenant_id}")).begins_with("RECORDHOOK#"),
        )
        .await
    }

    /// Every registration whose webhook expires before `before` (and every one still without a
    /// webhook), across tenants, soonest first.
    pub async fn expiring_before(
        &self,
        before: DateTime<Utc>,
    ) -> Result<Vec<Registration>, StoreError> {
        let mut found = Vec::new();
        let mut cursor = None;
        loop {
            let page = self
                .store
                .query(
                    Table::Core,
                    Query::on_gsi1(EXPIRY_PARTITION)
                        .sort(SortKeyCondition::LessThan(expiry_bound(before)))
                        .after(cursor),
                )
                .await?;
            for item in page.items {
                match from_item::<Registration>(item) {
                    Ok(registration) => found.push(registration),
                    Err(err) => {
                        tracing::warn!(error = %err, "skipping an unreadable webhook registration")
                    }
                }
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => return Ok(found),
            }
        }
    }
}
