//! Where sagas live in the runs table, and the only code that knows their keys.
//!
//! In the tenant's partition (`TENANT#<t>`):
//! - `SAGA#<id>`: the [`SagaRecord`], also on `gsi1` under `TENANT#<t>#SAGAS` sorted by creation
//!   time, so a tenant's sagas list newest first;
//! - `SAGA#<id>#PLAN`: the plan's size and what undo needs of the schema ([`Plan`]);
//! - `SAGA#<id>#CHUNK#<k>`: chunk k's operations ([`Chunk`]);
//! - `SAGA#<id>#IMAGE#<k>`: the before-images of the records chunk k touches;
//! - `SAGA#<id>#APPLIED#<k>`: what chunk k's write did (the ids it created);
//! - `SAGA#<id>#UNDO`: the chunks to undo, last first;
//! - `SAGA#<id>#STEP#<kind>#<action>#<k>`: one [`StepRecord`] per action (and compensation),
//!   the mark that makes a retried task answer without redoing its effect;
//! - `SAGA#<id>#SEQ`: the counter that orders the step records as they ran;
//! - `SAGA#<id>#CONNECT#...`: connect-base's own parts (the schema snapshot, the record
//!   snapshot's pages, the connection it replaced), through [`SagaStore::put_extra`].
//!
//! Every key starts with the tenant, so no call here can reach another tenant's sagas. The
//! saga record is changed attribute by attribute ([`Update`]), never replaced, so a cancel and a
//! step's status change cannot overwrite each other.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use ports::{
    Condition, Cursor, Key, Query, StoreError, Table, TableStore, Update, from_item, to_item,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::{ErrorInfo, SagaRecord, SagaStatus, StepEntry, StepKind};
use crate::plan::{Chunk, Fields};

fn tenant_pk(tenant_id: &str) -> String {
    format!("TENANT#{tenant_id}")
}

fn saga_sk(saga_id: &str) -> String {
    format!("SAGA#{saga_id}")
}

fn saga_key(tenant_id: &str, saga_id: &str) -> Key {
    Key::new(tenant_pk(tenant_id), saga_sk(saga_id))
}

fn part_key(tenant_id: &str, saga_id: &str, part: &str) -> Key {
    Key::new(tenant_pk(tenant_id), format!("SAGA#{saga_id}#{part}"))
}

fn step_prefix(saga_id: &str) -> String {
    format!("SAGA#{saga_id}#STEP#")
}

fn sagas_partition(tenant_id: &str) -> String {
    format!("TENANT#{tenant_id}#SAGAS")
}

fn kind_name(kind: StepKind) -> &'static str {
    match kind {
        StepKind::Step => "step",
        StepKind::Compensation => "compensation",
    }
}

/// The plan's size, and what the compensation needs to know of the tables.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub chunks: u32,
    pub operations: usize,
    /// Per table (as the operations name it), the fields Airtable computes and so cannot be
    /// written back when a deleted record is recreated.
    #[serde(default)]
    pub computed_fields: BTreeMap<String, Vec<String>>,
    /// A table-sync's report: counts and the first keys of each kind of change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<Value>,
}

/// One record as it was before a chunk touched it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BeforeImage {
    pub id: String,
    #[serde(default)]
    pub fields: Fields,
}

/// The before-images of one chunk.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Images {
    pub records: Vec<BeforeImage>,
}

/// What one chunk's write did at Airtable.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Applied {
    /// Records the write created (creates, and upserts that matched nothing).
    #[serde(default)]
    pub created: Vec<String>,
    /// Records it changed in place (updates, and upserts that matched).
    #[serde(default)]
    pub updated: Vec<String>,
    /// Records it deleted.
    #[serde(default)]
    pub deleted: Vec<String>,
    /// The write reached Airtable and its answer was lost: it may or may not have happened.
    #[serde(default)]
    pub outcome_unknown: bool,
    /// The record each of the chunk's operations wrote, in operation order.
    #[serde(default)]
    pub records: Vec<String>,
}

/// The chunks the compensation undoes, last applied first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UndoPlan {
    pub chunks: Vec<u32>,
}

/// A stored step: the entry the API shows, its position in the run order, and the task's
/// answer (a small cursor) to give again when a finished action is invoked again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    #[serde(flatten)]
    pub entry: StepEntry,
    pub seq: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<Value>,
}

/// Typed access to sagas, their plans and their steps.
#[derive(Debug, Clone)]
pub struct SagaStore {
    store: Arc<dyn TableStore>,
}

impl SagaStore {
    pub fn new(store: Arc<dyn TableStore>) -> Self {
        Self { store }
    }

    /// The connection records connect-base writes, on the same store.
    pub fn connected_bases(&self) -> crate::connected_bases::ConnectedBases {
        crate::connected_bases::ConnectedBases::new(Arc::clone(&self.store))
    }

    fn saga_item(record: &SagaRecord) -> Result<ports::Item, StoreError> {
        let mut item = to_item(&saga_key(&record.tenant_id, &record.id), record)?;
        item.insert(
            "gsi1pk".into(),
            Value::String(sagas_partition(&record.tenant_id)),
        );
        item.insert(
            "gsi1sk".into(),
            Value::String(format!(
                "{}#{}",
                record
                    .created_at
                    .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                record.id
            )),
        );
        Ok(item)
    }

    /// Writes a new saga. `Ok(false)` when one with this id exists already (nothing written).
    pub async fn create(&self, record: &SagaRecord) -> Result<bool, StoreError> {
        match self
            .store
            .put(
                Table::Runs,
                Self::saga_item(record)?,
                Some(Condition::NotExists),
            )
            .await
        {
            Ok(()) => Ok(true),
            Err(err) if err.is_condition_failure() => Ok(false),
            Err(err) => Err(err),
        }
    }

    pub async fn get(
        &self,
        tenant_id: &str,
        saga_id: &str,
    ) -> Result<Option<SagaRecord>, StoreError> {
        match self
            .store
            .get(Table::Runs, &saga_key(tenant_id, saga_id))
            .await?
        {
            Some(item) => Ok(Some(from_item(item)?)),
            None => Ok(None),
        }
    }

    /// Changes some attributes of an existing saga (and its `updated_at`), if `condition` (on
    /// top of existing) holds. `Ok(None)` when it does not.
    pub async fn change(
        &self,
        tenant_id: &str,
        saga_id: &str,
        update: Update,
        condition: Option<Condition>,
        now: DateTime<Utc>,
    ) -> Result<Option<SagaRecord>, StoreError> {
        let update = update.set("updated_at", serde_json::to_value(now).unwrap_or_default());
        let condition = match condition {
            Some(extra) => Condition::All(vec![Condition::Exists, extra]),
            None => Condition::Exists,
        };
        match self
            .store
            .update(
                Table::Runs,
                &saga_key(tenant_id, saga_id),
                update,
                Some(condition),
            )
            .await
        {
            Ok(item) => Ok(Some(from_item(item)?)),
            Err(err) if err.is_condition_failure() => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// One page of the tenant's sagas, newest first, keeping those `keep` accepts. The store
    /// is read in pages no larger than what is still needed, so the cursor returned is exactly
    /// where this page stopped, whatever the filter skipped.
    pub async fn list(
        &self,
        tenant_id: &str,
        page_size: u32,
        cursor: Option<Cursor>,
        keep: impl Fn(&SagaRecord) -> bool,
    ) -> Result<(Vec<SagaRecord>, Option<Cursor>), StoreError> {
        let mut found = Vec::new();
        let mut cursor = cursor;
        loop {
            let need = page_size.saturating_sub(u32::try_from(found.len()).unwrap_or(u32::MAX));
            let page = self
                .store
                .query(
                    Table::Runs,
                    Query::on_gsi1(sagas_partition(tenant_id))
                        .backward()
                        .limit(need.max(1))
                        .after(cursor),
                )
                .await?;
            for item in page.items {
                let record: SagaRecord = from_item(item)?;
                if keep(&record) {
                    found.push(record);
                }
            }
            cursor = page.next;
            if cursor.is_none() || found.len() >= page_size as usize {
                return Ok((found, cursor));
            }
        }
    }

    /// A part one saga type keeps of its own (`SAGA#<id>#<part>`), e.g. connect-base's schema
    /// and record snapshots.
    pub async fn put_extra<T: Serialize>(
        &self,
        tenant: &str,
        saga: &str,
        part: &str,
        value: &T,
    ) -> Result<(), StoreError> {
        self.put_part(tenant, saga, part, value).await
    }

    pub async fn extra<T: serde::de::DeserializeOwned>(
        &self,
        tenant: &str,
        saga: &str,
        part: &str,
    ) -> Result<Option<T>, StoreError> {
        self.get_part(tenant, saga, part).await
    }

    /// Deletes a part; one already gone is fine (compensations run again after a crash).
    pub async fn delete_extra(
        &self,
        tenant: &str,
        saga: &str,
        part: &str,
    ) -> Result<(), StoreError> {
        self.store
            .delete(Table::Runs, &part_key(tenant, saga, part), None)
            .await
            .map(|_| ())
    }

    async fn put_part<T: Serialize>(
        &self,
        tenant_id: &str,
        saga_id: &str,
        part: &str,
        value: &T,
    ) -> Result<(), StoreError> {
        let item = to_item(&part_key(tenant_id, saga_id, part), value)?;
        self.store.put(Table::Runs, item, None).await
    }

    async fn get_part<T: serde::de::DeserializeOwned>(
        &self,
        tenant_id: &str,
        saga_id: &str,
        part: &str,
    ) -> Result<Option<T>, StoreError> {
        match self
            .store
            .get(Table::Runs, &part_key(tenant_id, saga_id, part))
            .await?
        {
            Some(item) => Ok(Some(from_item(item)?)),
            None => Ok(None),
        }
    }

    pub async fn put_plan(&self, tenant: &str, saga: &str, plan: &Plan) -> Result<(), StoreError> {
        self.put_part(tenant, saga, "PLAN", plan).await
    }

    pub async fn plan(&self, tenant: &str, saga: &str) -> Result<Option<Plan>, StoreError> {
        self.get_part(tenant, saga, "PLAN").await
    }

    pub async fn put_chunk(
        &self,
        tenant: &str,
        saga: &str,
        chunk: &Chunk,
    ) -> Result<(), StoreError> {
        self.put_part(tenant, saga, &format!("CHUNK#{:05}", chunk.index), chunk)
            .await
    }

    pub async fn chunk(
        &self,
        tenant: &str,
        saga: &str,
        index: u32,
    ) -> Result<Option<Chunk>, StoreError> {
        self.get_part(tenant, saga, &format!("CHUNK#{index:05}"))
            .await
    }

    pub async fn put_images(
        &self,
        tenant: &str,
        saga: &str,
        index: u32,
        images: &Images,
    ) -> Result<(), StoreError> {
        self.put_part(tenant, saga, &format!("IMAGE#{index:05}"), images)
            .await
    }

    pub async fn images(
        &self,
        tenant: &str,
        saga: &str,
        index: u32,
    ) -> Result<Option<Images>, StoreError> {
        self.get_part(tenant, saga, &format!("IMAGE#{index:05}"))
            .await
    }

    pub async fn put_applied(
        &self,
        tenant: &str,
        saga: &str,
        index: u32,
        applied: &Applied,
    ) -> Result<(), StoreError> {
        self.put_part(tenant, saga, &format!("APPLIED#{index:05}"), applied)
            .await
    }

    pub async fn applied(
        &self,
        tenant: &str,
        saga: &str,
        index: u32,
    ) -> Result<Option<Applied>, StoreError> {
        self.get_part(tenant, saga, &format!("APPLIED#{index:05}"))
            .await
    }

    /// The chunks whose write happened, in chunk order.
    pub async fn applied_indexes(&self, tenant: &str, saga: &str) -> Result<Vec<u32>, StoreError> {
        let prefix = format!("SAGA#{saga}#APPLIED#");
        let mut indexes = Vec::new();
        let mut query = Query::partition(tenant_pk(tenant)).begins_with(prefix.clone());
        loop {
            let page = self.store.query(Table::Runs, query.clone()).await?;
            indexes.extend(page.items.iter().filter_map(|item| {
                item.get("sk")
                    .and_then(Value::as_str)
                    .and_then(|sk| sk.strip_prefix(prefix.as_str()))
                    .and_then(|k| k.parse::<u32>().ok())
            }));
            match page.next {
                Some(next) => query = query.after(Some(next)),
                None => break,
            }
        }
        indexes.sort_unstable();
        Ok(indexes)
    }

    pub async fn put_undo_plan(
        &self,
        tenant: &str,
        saga: &str,
        undo: &UndoPlan,
    ) -> Result<(), StoreError> {
        self.put_part(tenant, saga, "UNDO", undo).await
    }

    pub async fn undo_plan(
        &self,
        tenant: &str,
        saga: &str,
    ) -> Result<Option<UndoPlan>, StoreError> {
        self.get_part(tenant, saga, "UNDO").await
    }

    fn step_part(kind: StepKind, action: &str, index: Option<u32>) -> String {
        match index {
            Some(k) => format!("STEP#{}#{action}#{k:05}", kind_name(kind)),
            None => format!("STEP#{}#{action}#-", kind_name(kind)),
        }
    }

    pub async fn step(
        &self,
        tenant: &str,
        saga: &str,
        kind: StepKind,
        action: &str,
        index: Option<u32>,
    ) -> Result<Option<StepRecord>, StoreError> {
        self.get_part(tenant, saga, &Self::step_part(kind, action, index))
            .await
    }

    pub async fn put_step(
        &self,
        tenant: &str,
        saga: &str,
        record: &StepRecord,
    ) -> Result<(), StoreError> {
        let part = Self::step_part(record.entry.kind, &record.entry.name, record.entry.index);
        self.put_part(tenant, saga, &part, record).await
    }

    /// The next position in the saga's run order.
    pub async fn next_seq(&self, tenant: &str, saga: &str) -> Result<i64, StoreError> {
        let item = self
            .store
            .update(
                Table::Runs,
                &part_key(tenant, saga, "SEQ"),
                Update::new().add("seq", 1),
                None,
            )
            .await?;
        Ok(item.get("seq").and_then(Value::as_i64).unwrap_or(0))
    }

    /// Every step of a saga, in the order they first ran.
    pub async fn steps(&self, tenant: &str, saga: &str) -> Result<Vec<StepEntry>, StoreError> {
        let mut records: Vec<StepRecord> = ports::typed::query_all(
            self.store.as_ref(),
            Table::Runs,
            Query::partition(tenant_pk(tenant)).begins_with(step_prefix(saga)),
        )
        .await?;
        records.sort_by_key(|record| record.seq);
        Ok(records.into_iter().map(|record| record.entry).collect())
    }
}

/// The update that moves a saga to `status`.
pub fn set_status(status: SagaStatus) -> Update {
    Update::new().set("status", status.as_str())
}

/// The update that moves a saga to `status` with `error` as its error.
pub fn set_status_with_error(status: SagaStatus, error: &ErrorInfo) -> Update {
    set_status(status).set(
        "error",
        serde_json::json!({"error": error.error, "cause": error.cause}),
    )
}
