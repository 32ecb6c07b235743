//! Where workflows live in the table store, and the writes that keep their items consistent.
//!
//! All in [`Table::Core`]:
//!
//! | item | pk | sk | what |
//! |---|---|---|---|
//! | workflow | `TENANT#<tenant>` | `WORKFLOW#<id>` | [`Workflow`] as `ports::to_item` writes it, plus `schedule_entry` (the sort key of its schedule index entry, when it has one); writes are conditional on `version` |
//! | signing secret | `TENANT#<tenant>` | `WORKFLOW_SECRET#<id>` | `signing_secret`: its own item, so that reading or listing workflows never carries it |
//! | pointer | `WORKFLOW#<id>` | `TENANT` | `tenant_id` |
//! | schedule index | `SCHEDULES` | `<next fire, RFC 3339 UTC>#<tenant>#<id>` | one entry per enabled schedule workflow |
//!
//! Two items break the rule that every key starts with `TENANT#`, each because its reader has
//! no tenant to start from, and neither holds tenant data beyond ids:
//!
//! - the **pointer**: an inbound hook's URL carries only the workflow id
//!   (`POST /v1/hooks/workflows/{id}`, called by a third party without our credentials), so the
//!   tenant is found from the id; the workflow itself is then read under its tenant's key;
//! - the **schedule index**: the once-a-minute scheduler asks "which schedules are due?" across
//!   all tenants. Sort keys begin with the fire time in a fixed-width UTC format, so one range
//!   query (`sk < "<now>$"`) returns exactly the due entries, oldest first, without scanning
//!   tenants. It is a single partition: fine for thousands of schedules a minute; past that it
//!   would be split into `SCHEDULES#<n>` shards.
//!
//! Every change that touches more than one item is one transaction, so a workflow is never
//! half-saved: created with its secret, pointer and index entry; replaced together with the
//! move of its index entry; deleted with all of them. The scheduler moves an entry in a
//! transaction that also checks the workflow still points at it ([`WorkflowStore::move_entry`]).

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ports::{
    Condition, Cursor, Item, Key, Query, SortKeyCondition, StoreError, Table, TableStore,
    TransactOp, Update, from_item, to_item,
};
use serde_json::Value;

use crate::error::AutomationError;
use crate::model::{Workflow, WorkflowId};
use crate::seams::WorkflowSecrets;

const SCHEDULE_PARTITION: &str = "SCHEDULES";
/// The workflow item's attribute naming its schedule index entry.
const SCHEDULE_ENTRY: &str = "schedule_entry";
const SIGNING_SECRET: &str = "signing_secret";
/// How many due entries one query page returns.
const DUE_PAGE: u32 = 100;

pub fn workflow_key(tenant_id: &str, id: &WorkflowId) -> Key {
    Key::new(format!("TENANT#{tenant_id}"), format!("WORKFLOW#{id}"))
}

fn secret_key(tenant_id: &str, id: &WorkflowId) -> Key {
    Key::new(
        format!("TENANT#{tenant_id}"),
        format!("WORKFLOW_SECRET#{id}"),
    )
}

fn pointer_key(id: &WorkflowId) -> Key {
    Key::new(format!("WORKFLOW#{id}"), "TENANT")
}

/// A fire time as sort keys hold it: fixed width, UTC, so string order is time order.
pub fn fire_time_text(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn entry_sort_key(at: DateTime<Utc>, tenant_id: &str, id: &WorkflowId) -> String {
    format!("{}#{tenant_id}#{id}", fire_time_text(at))
}

/// A workflow as stored, with the schedule index entry it points at.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredWorkflow {
    pub workflow: Workflow,
    pub schedule_entry: Option<String>,
}

/// One schedule index entry: `workflow_id` of `tenant_id` fires next at `fire_at`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ScheduleEntry {
    #[serde(rename = "sk")]
    pub sort_key: String,
    pub fire_at: DateTime<Utc>,
    pub tenant_id: String,
    pub workflow_id: WorkflowId,
}

impl ScheduleEntry {
    fn new(at: DateTime<Utc>, tenant_id: &str, id: &WorkflowId) -> Self {
        Self {
            sort_key: entry_sort_key(at, tenant_id, id),
            fire_at: at,
            tenant_id: tenant_id.to_string(),
            workflow_id: id.clone(),
        }
    }

    fn key(&self) -> Key {
        Key::new(SCHEDULE_PARTITION, self.sort_key.clone())
    }

    fn item(&self) -> Result<Item, StoreError> {
        to_item(&self.key(), self)
    }
}

/// The workflows' items in the table store.
#[derive(Debug, Clone)]
pub struct WorkflowStore {
    store: Arc<dyn TableStore>,
}

impl WorkflowStore {
    pub fn new(store: Arc<dyn TableStore>) -> Self {
        Self { store }
    }

    pub async fn get(
        &self,
        tenant_id: &str,
        id: &WorkflowId,
    ) -> Result<Option<StoredWorkflow>, StoreError> {
        match self
            .store
            .get(Table::Core, &workflow_key(tenant_id, id))
            .await?
        {
            Some(item) => stored(item).map(Some),
            None => Ok(None),
        }
    }

    /// Every workflow of the tenant, in id order.
    pub async fn list(&self, tenant_id: &str) -> Result<Vec<Workflow>, StoreError> {
        ports::typed::query_all(
            self.store.as_ref(),
            Table::Core,
            Query::partition(format!("TENANT#{tenant_id}")).begins_with("WORKFLOW#"),
        )
        .await
    }

    /// Saves a new workflow with its secret, its pointer and (when it is scheduled) its index
    /// entry, all or nothing. Fails with a condition error if the id is taken.
    pub async fn insert(
        &self,
        workflow: &Workflow,
        signing_secret: &str,
        next_fire: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        let tenant_id = &workflow.tenant_id;
        let id = &workflow.id;
        let entry = next_fire.map(|at| ScheduleEntry::new(at, tenant_id, id));
        let mut secret = Item::new();
        secret.insert(SIGNING_SECRET.into(), Value::from(signing_secret));
        let mut pointer = Item::new();
        pointer.insert("tenant_id".into(), Value::from(tenant_id.as_str()));
        let mut ops = vec![
            TransactOp::Put {
                table: Table::Core,
                item: workflow_item(workflow, entry.as_ref())?,
                condition: Some(Condition::NotExists),
            },
            TransactOp::Put {
                table: Table::Core,
                item: to_item(&secret_key(tenant_id, id), &secret)?,
                condition: Some(Condition::NotExists),
            },
            TransactOp::Put {
                table: Table::Core,
                item: to_item(&pointer_key(id), &pointer)?,
                condition: Some(Condition::NotExists),
            },
        ];
        if let Some(entry) = &entry {
            ops.push(put_entry(entry)?);
        }
        self.store.transact_write(ops).await
    }

    /// Replaces `old` with `new` if nobody changed it since it was read (its `version`), moving
    /// the schedule index entry with it.
    pub async fn replace(
        &self,
        old: &StoredWorkflow,
        new: &Workflow,
        next_fire: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        let entry = next_fire.map(|at| ScheduleEntry::new(at, &new.tenant_id, &new.id));
        let mut ops = vec![TransactOp::Put {
            table: Table::Core,
            item: workflow_item(new, entry.as_ref())?,
            condition: Some(version_is(&old.workflow)),
        }];
        let new_sort_key = entry.as_ref().map(|e| e.sort_key.as_str());
        if let Some(old_sort_key) = &old.schedule_entry
            && Some(old_sort_key.as_str()) != new_sort_key
        {
            ops.push(TransactOp::Delete {
                table: Table::Core,
                key: Key::new(SCHEDULE_PARTITION, old_sort_key.clone()),
                condition: None,
            });
        }
        if let Some(entry) = &entry {
            ops.push(put_entry(entry)?);
        }
        self.store.transact_write(ops).await
    }

    /// Deletes the workflow (if still at the version read) with its secret, pointer and index
    /// entry.
    pub async fn remove(&self, old: &StoredWorkflow) -> Result<(), StoreError> {
        let workflow = &old.workflow;
        let mut ops = vec![
            TransactOp::Delete {
                table: Table::Core,
                key: workflow_key(&workflow.tenant_id, &workflow.id),
                condition: Some(version_is(workflow)),
            },
            TransactOp::Delete {
                table: Table::Core,
                key: secret_key(&workflow.tenant_id, &workflow.id),
                condition: None,
            },
            TransactOp::Delete {
                table: Table::Core,
                key: pointer_key(&workflow.id),
                condition: None,
            },
        ];
        if let Some(sort_key) = &old.schedule_entry {
            ops.push(TransactOp::Delete {
                table: Table::Core,
                key: Key::new(SCHEDULE_PARTITION, sort_key.clone()),
                condition: None,
            });
        }
        self.store.transact_write(ops).await
    }

    pub async fn signing_secret(
        &self,
        tenant_id: &str,
        id: &WorkflowId,
    ) -> Result<Option<String>, StoreError> {
        let item = self
            .store
            .get(Table::Core, &secret_key(tenant_id, id))
            .await?;
        Ok(item
            .and_then(|item| item.get(SIGNING_SECRET).cloned())
            .and_then(|value| value.as_str().map(str::to_string)))
    }

    /// The tenant a workflow id belongs to (for inbound hooks, whose URL names only the id).
    pub async fn tenant_of(&self, id: &WorkflowId) -> Result<Option<String>, StoreError> {
        let item = self.store.get(Table::Core, &pointer_key(id)).await?;
        Ok(item
            .and_then(|item| item.get("tenant_id").cloned())
            .and_then(|value| value.as_str().map(str::to_string)))
    }

    /// One page of schedule entries due at or before `now`, oldest first.
    pub async fn due_entries(
        &self,
        now: DateTime<Utc>,
        cursor: Option<Cursor>,
    ) -> Result<(Vec<ScheduleEntry>, Option<Cursor>), StoreError> {
        // `$` sorts just after `#`, so this takes every entry whose time is <= now.
        let below = format!("{}$", fire_time_text(now));
        let page = self
            .store
            .query(
                Table::Core,
                Query::partition(SCHEDULE_PARTITION)
                    .sort(SortKeyCondition::LessThan(below))
                    .limit(DUE_PAGE)
                    .after(cursor),
            )
            .await?;
        let entries = page
            .items
            .into_iter()
            .map(from_item)
            .collect::<Result<Vec<ScheduleEntry>, _>>()?;
        Ok((entries, page.next))
    }

    /// Moves `entry` to `next` (or drops it when there is none), provided the workflow still
    /// points at it. `Ok(false)` when another writer got there first (a concurrent tick, or an
    /// edit of the workflow): nothing was changed.
    pub async fn move_entry(
        &self,
        entry: &ScheduleEntry,
        next: Option<DateTime<Utc>>,
    ) -> Result<bool, StoreError> {
        let next = next.map(|at| ScheduleEntry::new(at, &entry.tenant_id, &entry.workflow_id));
        if next
            .as_ref()
            .is_some_and(|next| next.sort_key == entry.sort_key)
        {
            return Ok(true);
        }
        let mut update = Update::new();
        update = match &next {
            Some(next) => update.set(SCHEDULE_ENTRY, next.sort_key.clone()),
            None => update.remove(SCHEDULE_ENTRY),
        };
        let mut ops = vec![
            TransactOp::Delete {
                table: Table::Core,
                key: entry.key(),
                condition: Some(Condition::Exists),
            },
            TransactOp::Update {
                table: Table::Core,
                key: workflow_key(&entry.tenant_id, &entry.workflow_id),
                update,
                condition: Some(Condition::equals(SCHEDULE_ENTRY, entry.sort_key.clone())),
            },
        ];
        if let Some(next) = &next {
            ops.push(put_entry(next)?);
        }
        match self.store.transact_write(ops).await {
            Ok(()) => Ok(true),
            Err(err) if err.is_condition_failure() => Ok(false),
            Err(err) => Err(err),
        }
    }

    /// Deletes an index entry no workflow points at any more (the workflow was deleted,
    /// disabled or rescheduled after the entry was read).
    pub async fn drop_stale_entry(&self, entry: &ScheduleEntry) -> Result<(), StoreError> {
        self.store
            .delete(Table::Core, &entry.key(), None)
            .await
            .map(|_| ())
    }
}

/// The secret alone, for the runs worker's signed `http` steps (which need no other part of
/// the workflows service).
#[async_trait]
impl WorkflowSecrets for WorkflowStore {
    async fn signing_secret(
        &self,
        tenant_id: &str,
        workflow_id: &WorkflowId,
    ) -> Result<String, AutomationError> {
        WorkflowStore::signing_secret(self, tenant_id, workflow_id)
            .await?
            .ok_or_else(|| AutomationError::NotFound(format!("workflow {workflow_id}")))
    }
}

fn version_is(workflow: &Workflow) -> Condition {
    Condition::VersionEquals(i64::try_from(workflow.version).unwrap_or(i64::MAX))
}

fn put_entry(entry: &ScheduleEntry) -> Result<TransactOp, StoreError> {
    Ok(TransactOp::Put {
        table: Table::Core,
        item: entry.item()?,
        condition: None,
    })
}

fn workflow_item(workflow: &Workflow, entry: Option<&ScheduleEntry>) -> Result<Item, StoreError> {
    let mut item = to_item(&workflow_key(&workflow.tenant_id, &workflow.id), workflow)?;
    if let Some(entry) = entry {
        item.insert(SCHEDULE_ENTRY.into(), Value::from(entry.sort_key.clone()));
    }
    Ok(item)
}

fn stored(item: Item) -> Result<StoredWorkflow, StoreError> {
    let schedule_entry = item
        .get(SCHEDULE_ENTRY)
        .and_then(Value::as_str)
        .map(str::to_string);
    Ok(StoredWorkflow {
        workflow: from_item(item)?,
        schedule_entry,
    })
}
