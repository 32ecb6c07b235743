//! Where runs live in the runs table, and the only code that knows their keys.
//!
//! In the tenant's partition (`TENANT#<t>`):
//! - `RUN#<id>`: the [`Run`] itself, also on `gsi1` under `TENANT#<t>#WORKFLOW#<w>` sorted by
//!   creation time, so a workflow's runs list newest first;
//! - `RUN#<id>#STEP#<index:03>`: one [`StepRecord`] per executed step, so a long run's outputs are
//!   not bounded by one item's 400 KB;
//! - `RUNDEDUP#<sha256(workflow, key)>`: the run a dedup key started, written in the same
//!   transaction as the run, so one key can only ever make one run;
//! - `DEADLETTER#<id>`: a run the runs queue gave up on, until it is redriven;
//! - `RUNSTATS#<yyyy-mm-dd>`: atomic counters of runs by status for the day.
//!
//! Every key starts with the tenant, so no call here can reach another tenant's runs.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use ports::{
    Condition, Cursor, Item, Key, Query, StoreError, Table, TableStore, TransactOp, Update,
    from_item, to_item,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::{Run, RunId, RunStatus, StepRecord, WorkflowId};

/// How long a dedup key keeps its run: far longer than any redelivery or repeated tick.
const DEDUP_TTL_SECONDS: i64 = 30 * 24 * 60 * 60;

/// A dead-lettered run, as `GET /v1/runs/dead-letters` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    pub run_id: RunId,
    pub workflow_id: WorkflowId,
    pub error: String,
    pub dead_lettered_at: DateTime<Utc>,
}

/// The statuses counted per day (a run is counted once when created, then once per final
/// status it reaches; a redriven dead letter is counted again when it ends).
pub const COUNTED_STATUSES: [&str; 5] =
    ["created", "succeeded", "failed", "cancelled", "dead_letter"];

fn tenant_pk(tenant_id: &str) -> String {
    format!("TENANT#{tenant_id}")
}

fn run_key(tenant_id: &str, run_id: &RunId) -> Key {
    Key::new(tenant_pk(tenant_id), format!("RUN#{run_id}"))
}

fn step_prefix(run_id: &RunId) -> String {
    format!("RUN#{run_id}#STEP#")
}

fn step_key(tenant_id: &str, run_id: &RunId, index: usize) -> Key {
    Key::new(
        tenant_pk(tenant_id),
        format!("{}{index:03}", step_prefix(run_id)),
    )
}

fn dedup_key(tenant_id: &str, workflow_id: &WorkflowId, dedup: &str) -> Key {
    let digest = basics::digest::sha256_hex(format!("{workflow_id}\n{dedup}"));
    Key::new(tenant_pk(tenant_id), format!("RUNDEDUP#{digest}"))
}

fn dead_letter_key(tenant_id: &str, run_id: &RunId) -> Key {
    Key::new(tenant_pk(tenant_id), format!("DEADLETTER#{run_id}"))
}

fn stats_key(tenant_id: &str, day: NaiveDate) -> Key {
    Key::new(
        tenant_pk(tenant_id),
        format!("RUNSTATS#{}", day.format("%Y-%m-%d")),
    )
}

fn workflow_partition(tenant_id: &str, workflow_id: &WorkflowId) -> String {
    format!("TENANT#{tenant_id}#WORKFLOW#{workflow_id}")
}

/// The counter update that counts one run reaching `status` (or `created`) today.
fn count(status: &str) -> Update {
    Update::new().add(status, 1)
}

/// The stats counter a status is counted under, if any.
pub fn counted_as(status: RunStatus) -> Option<&'static str> {
    match status {
        RunStatus::Succeeded => Some("succeeded"),
        RunStatus::Failed => Some("failed"),
        RunStatus::Cancelled => Some("cancelled"),
        RunStatus::DeadLetter => Some("dead_letter"),
        RunStatus::Queued | RunStatus::Running | RunStatus::Waiting => None,
    }
}

/// The run's item: the serialised run with its index keys.
fn run_item(run: &Run) -> Result<Item, StoreError> {
    let mut item = to_item(&run_key(&run.tenant_id, &run.id), run)?;
    item.insert(
        "gsi1pk".into(),
        Value::String(workflow_partition(&run.tenant_id, &run.workflow_id)),
    );
    item.insert(
        "gsi1sk".into(),
        Value::String(format!(
            "{}#{}",
            run.created_at
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            run.id
        )),
    );
    Ok(item)
}

/// Typed access to runs, steps, dedup keys, dead letters and stats.
#[derive(Debug, Clone)]
pub struct RunStore {
    store: Arc<dyn TableStore>,
}

impl RunStore {
    pub fn new(store: Arc<dyn TableStore>) -> Self {
        Self { store }
    }

    pub async fn get(&self, tenant_id: &str, run_id: &RunId) -> Result<Option<Run>, StoreError> {
        match self
            .store
            .get(Table::Runs, &run_key(tenant_id, run_id))
            .await?
        {
            Some(item) => Ok(Some(from_item(item)?)),
            None => Ok(None),
        }
    }

    /// Creates a run (counted as created today). With a dedup key, the key is claimed in the
    /// same transaction: `Ok(Some(existing run id))` when it was already taken, and nothing is
    /// written.
    pub async fn create(
        &self,
        run: &Run,
        dedup: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Option<RunId>, StoreError> {
        let mut ops = vec![TransactOp::Put {
            table: Table::Runs,
            item: run_item(run)?,
            condition: Some(Condition::NotExists),
        }];
        let dedup_key = dedup.map(|d| dedup_key(&run.tenant_id, &run.workflow_id, d));
        if let Some(key) = &dedup_key {
            let mut item = Item::new();
            item.insert("pk".into(), Value::String(key.pk.clone()));
            item.insert("sk".into(), Value::String(key.sk.clone()));
            item.insert("run_id".into(), Value::String(run.id.to_string()));
            item.insert(
                "expires_at".into(),
                Value::from(now.timestamp() + DEDUP_TTL_SECONDS),
            );
            ops.push(TransactOp::Put {
                table: Table::Runs,
                item,
                condition: Some(Condition::NotExists),
            });
        }
        ops.push(TransactOp::Update {
            table: Table::Runs,
            key: stats_key(&run.tenant_id, now.date_naive()),
            update: count("created"),
            condition: None,
        });
        match self.store.transact_write(ops).await {
            Ok(()) => Ok(None),
            Err(err) if err.is_condition_failure() => {
                let Some(key) = dedup_key else {
                    return Err(err);
                };
                let existing = self
                    .store
                    .get(Table::Runs, &key)
                    .await?
                    .and_then(|item| {
                        item.get("run_id")
                            .and_then(Value::as_str)
                            .map(str::to_string)
                    })
                    .ok_or(err)?;
                RunId::parse(&existing)
                    .map(Some)
                    .map_err(StoreError::InvalidItem)
            }
            Err(err) => Err(err),
        }
    }

    /// Replaces the run if its stored version is still `previous_version` (the caller passes the
    /// run with its version already bumped), together with `extra` writes and, when the run
    /// reaches a counted status, today's counter: all in one transaction. `Ok(false)` when
    /// another writer got there first (nothing is written).
    pub async fn save(
        &self,
        run: &Run,
        previous_version: u64,
        counted: Option<&str>,
        now: DateTime<Utc>,
        extra: Vec<TransactOp>,
    ) -> Result<bool, StoreError> {
        let mut ops = vec![TransactOp::Put {
            table: Table::Runs,
            item: run_item(run)?,
            condition: Some(Condition::VersionEquals(previous_version as i64)),
        }];
        if let Some(status) = counted {
            ops.push(TransactOp::Update {
                table: Table::Runs,
                key: stats_key(&run.tenant_id, now.date_naive()),
                update: count(status),
                condition: None,
            });
        }
        ops.extend(extra);
        match self.store.transact_write(ops).await {
            Ok(()) => Ok(true),
            Err(StoreError::TransactionCanceled { failed }) if failed.contains(&0) => Ok(false),
            Err(StoreError::ConditionFailed) => Ok(false),
            Err(err) => Err(err),
        }
    }

    /// The write of a step record, for a transaction with the run's checkpoint.
    pub fn step_op(
        &self,
        tenant_id: &str,
        run_id: &RunId,
        record: &StepRecord,
    ) -> Result<TransactOp, StoreError> {
        Ok(TransactOp::Put {
            table: Table::Runs,
            item: to_item(&step_key(tenant_id, run_id, record.index), record)?,
            condition: None,
        })
    }

    pub async fn put_step(
        &self,
        tenant_id: &str,
        run_id: &RunId,
        record: &StepRecord,
    ) -> Result<(), StoreError> {
        let item = to_item(&step_key(tenant_id, run_id, record.index), record)?;
        self.store.put(Table::Runs, item, None).await
    }

    pub async fn get_step(
        &self,
        tenant_id: &str,
        run_id: &RunId,
        index: usize,
    ) -> Result<Option<StepRecord>, StoreError> {
        match self
            .store
            .get(Table::Runs, &step_key(tenant_id, run_id, index))
            .await?
        {
            Some(item) => Ok(Some(from_item(item)?)),
            None => Ok(None),
        }
    }

    /// Every step record of a run, in step order.
    pub async fn steps(
        &self,
        tenant_id: &str,
        run_id: &RunId,
    ) -> Result<Vec<StepRecord>, StoreError> {
        ports::typed::query_all(
            self.store.as_ref(),
            Table::Runs,
            Query::partition(tenant_pk(tenant_id)).begins_with(step_prefix(run_id)),
        )
        .await
    }

    /// One page of a workflow's runs, newest first.
    pub async fn list_for_workflow(
        &self,
        tenant_id: &str,
        workflow_id: &WorkflowId,
        limit: u32,
        cursor: Option<Cursor>,
    ) -> Result<(Vec<Run>, Option<Cursor>), StoreError> {
        let page = self
            .store
            .query(
                Table::Runs,
                Query::on_gsi1(workflow_partition(tenant_id, workflow_id))
                    .backward()
                    .limit(limit)
                    .after(cursor),
            )
            .await?;
        let runs = page
            .items
            .into_iter()
            .map(from_item)
            .collect::<Result<Vec<Run>, _>>()?;
        Ok((runs, page.next))
    }

    /// The write of a dead-letter marker, for the transaction that dead-letters the run.
    pub fn dead_letter_op(
        &self,
        tenant_id: &str,
        letter: &DeadLetter,
    ) -> Result<TransactOp, StoreError> {
        Ok(TransactOp::Put {
            table: Table::Runs,
            item: to_item(&dead_letter_key(tenant_id, &letter.run_id), letter)?,
            condition: None,
        })
    }

    /// The removal of a dead-letter marker, for the transaction that redrives the run.
    pub fn clear_dead_letter_op(&self, tenant_id: &str, run_id: &RunId) -> TransactOp {
        TransactOp::Delete {
            table: Table::Runs,
            key: dead_letter_key(tenant_id, run_id),
            condition: None,
        }
    }

    /// The tenant's dead letters, newest first.
    pub async fn dead_letters(&self, tenant_id: &str) -> Result<Vec<DeadLetter>, StoreError> {
        let mut letters: Vec<DeadLetter> = ports::typed::query_all(
            self.store.as_ref(),
            Table::Runs,
            Query::partition(tenant_pk(tenant_id)).begins_with("DEADLETTER#"),
        )
        .await?;
        letters.sort_by_key(|letter| std::cmp::Reverse(letter.dead_lettered_at));
        Ok(letters)
    }

    /// The counters of each day from `first` to `last` that has any.
    pub async fn stats(
        &self,
        tenant_id: &str,
        first: NaiveDate,
        last: NaiveDate,
    ) -> Result<Vec<(NaiveDate, Item)>, StoreError> {
        let low = stats_key(tenant_id, first).sk;
        let high = stats_key(tenant_id, last).sk;
        let mut days = Vec::new();
        let mut cursor = None;
        loop {
            let page = self
                .store
                .query(
                    Table::Runs,
                    Query::partition(tenant_pk(tenant_id))
                        .sort(ports::SortKeyCondition::Between(low.clone(), high.clone()))
                        .after(cursor),
                )
                .await?;
            for item in page.items {
                let day = item
                    .get("sk")
                    .and_then(Value::as_str)
                    .and_then(|sk| sk.strip_prefix("RUNSTATS#"))
                    .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
                if let Some(day) = day {
                    days.push((day, item));
                }
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => return Ok(days),
            }
        }
    }
}
