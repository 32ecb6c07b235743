//! [`DynamoStore`]: the table store port on DynamoDB.
//!
//! TTL is enforced here, not by DynamoDB: its TTL sweeper runs lazily (up to days late) and moto
//! never deletes, so every read drops expired items and every condition treats them as absent
//! (see `expressions.rs`). An update must not build on a dead item (a counter would continue
//! from it), so an update's condition also requires "absent or live"; when that fails because
//! the item expired, the dead item is deleted (only if still expired) and the update retried.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, Put, ReturnValue, TransactWriteItem,
    Update as DynamoUpdate,
};
use basics::Clock;
use ports::table_store::{
    GSI1_PK, GSI1_SK, Item, PK, SK, is_expired, validate_item, validate_transaction,
};
use ports::{
    Condition, Index, Key, Page, Query, StoreError, Table, TableStore, TransactOp, Update,
};

use crate::provision::GSI1;

use super::convert::{Attributes, from_attributes, to_attributes};
use super::cursor;
use super::errors::{store_error, unreadable};
use super::expressions::Expressions;

/// How often an update (or transaction) is retried after removing an expired item in its way.
const EXPIRED_RETRIES: usize = 3;

/// How often a transaction is retried after DynamoDB cancelled it for a conflict with another
/// transaction on the same items.
const CONFLICT_RETRIES: u32 = 8;

/// The pause before the `n`th retry after a conflict: between half and all of 20 ms doubling
/// up to 640 ms, the share random so that the racers spread out (at most about 2.5 s in all).
fn conflict_backoff(n: u32) -> std::time::Duration {
    let base = 10u64 << n.min(6);
    let jitter = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::from(d.subsec_nanos()))
        % (base / 2 + 1);
    std::time::Duration::from_millis(base / 2 + jitter)
}

/// How many DynamoDB pages one limited query reads at most to fill its page: the TTL filter
/// runs after `Limit`, so a page can come back short.
const MAX_ROUNDS_PER_PAGE: usize = 5;

#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    tables: BTreeMap<Table, String>,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for DynamoStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DynamoStore")
            .field("tables", &self.tables)
            .finish_non_exhaustive()
    }
}

fn key_attributes(key: &Key) -> Attributes {
    Attributes::from([
        (PK.to_string(), AttributeValue::S(key.pk.clone())),
        (SK.to_string(), AttributeValue::S(key.sk.clone())),
    ])
}

/// Reads an item back, hiding it when its TTL has passed.
fn live_item(attributes: Option<&Attributes>, now: i64) -> Result<Option<Item>, StoreError> {
    let Some(attributes) = attributes.filter(|a| !a.is_empty()) else {
        return Ok(None);
    };
    let item = from_attributes(attributes).map_err(unreadable)?;
    Ok((!is_expired(&item, now)).then_some(item))
}

/// Checks what an update would write where that can be known up front: the index and TTL
/// attributes must keep their types (the embedded adapter checks the same via `validate_item`).
fn validate_update(key: &Key, update: &Update) -> Result<(), StoreError> {
    update.validate()?;
    validate_item(&update.apply(key, None)?)?;
    Ok(())
}

impl DynamoStore {
    /// `tables` maps each logical table to its physical name (from the SAM template's outputs
    /// or `provision::ensure_tables`); `clock` decides which items have expired.
    pub fn new(client: Client, tables: BTreeMap<Table, String>, clock: Arc<dyn Clock>) -> Self {
        Self {
            client,
            tables,
            clock,
        }
    }

    fn now(&self) -> i64 {
        self.clock.epoch_seconds()
    }

    fn table_name(&self, table: Table) -> Result<&str, StoreError> {
        self.tables.get(&table).map(String::as_str).ok_or_else(|| {
            StoreError::Unavailable(format!("no DynamoDB table is configured for {table}"))
        })
    }

    /// Deletes the item at `key` if (and only if) it exists and has expired; true when it did.
    async fn remove_if_expired(&self, table: Table, key: &Key) -> Result<bool, StoreError> {
        let mut e = Expressions::new();
        let condition = e.expired(self.now());
        let result = self
            .client
            .delete_item()
            .table_name(self.table_name(table)?)
            .set_key(Some(key_attributes(key)))
            .condition_expression(condition)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .send()
            .await;
        match result {
            Ok(_) => {
                tracing::debug!(%table, "removed an expired item before writing");
                Ok(true)
            }
            Err(err) => match store_error("DeleteItem", err) {
                StoreError::ConditionFailed => Ok(false),
                other => Err(other),
            },
        }
    }

    async fn try_update(
        &self,
        table: Table,
        key: &Key,
        update: &Update,
        condition: Option<&Condition>,
    ) -> Result<Item, StoreError> {
        let now = self.now();
        let mut e = Expressions::new();
        let update_expression = e.update(update);
        let guard = Some(e.absent_or_live(now));
        let condition = Expressions::and(guard, condition.and_then(|c| e.condition(c, now)));
        let out = self
            .client
            .update_item()
            .table_name(self.table_name(table)?)
            .set_key(Some(key_attributes(key)))
            .set_update_expression(update_expression)
            .set_condition_expression(condition)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(|err| store_error("UpdateItem", err))?;
        match out.attributes {
            Some(attributes) if !attributes.is_empty() => {
                from_attributes(&attributes).map_err(unreadable)
            }
            // An empty update of a missing item creates just its key.
            _ => update.apply(key, None),
        }
    }

    /// One transaction operation as DynamoDB's request type.
    fn transact_item(&self, op: &TransactOp, now: i64) -> Result<TransactWriteItem, StoreError> {
        let table = self.table_name(op.table())?;
        let mut e = Expressions::new();
        let built = match op {
            TransactOp::Put {
                item, condition, ..
            } => {
                let condition = condition.as_ref().and_then(|c| e.condition(c, now));
                let put = Put::builder()
                    .table_name(table)
                    .set_item(Some(to_attributes(item)))
                    .set_condition_expression(condition)
                    .set_expression_attribute_names(e.names())
                    .set_expression_attribute_values(e.values())
                    .build();
                put.map(|p| TransactWriteItem::builder().put(p).build())
            }
            TransactOp::Delete { key, condition, .. } => {
                let condition = condition.as_ref().and_then(|c| e.condition(c, now));
                let delete = Delete::builder()
                    .table_name(table)
                    .set_key(Some(key_attributes(key)))
                    .set_condition_expression(condition)
                    .set_expression_attribute_names(e.names())
                    .set_expression_attribute_values(e.values())
                    .build();
                delete.map(|d| TransactWriteItem::builder().delete(d).build())
            }
            TransactOp::Update {
                key,
                update,
                condition,
                ..
            } => {
                validate_update(key, update)?;
                let Some(update_expression) = e.update(update) else {
                    return Err(StoreError::InvalidItem(
                        "an update in a transaction must change something".to_string(),
                    ));
                };
                let guard = Some(e.absent_or_live(now));
                let condition =
                    Expressions::and(guard, condition.as_ref().and_then(|c| e.condition(c, now)));
                let update = DynamoUpdate::builder()
                    .table_name(table)
                    .set_key(Some(key_attributes(key)))
                    .update_expression(update_expression)
                    .set_condition_expression(condition)
                    .set_expression_attribute_names(e.names())
                    .set_expression_attribute_values(e.values())
                    .build();
                update.map(|u| TransactWriteItem::builder().update(u).build())
            }
            TransactOp::Check { key, condition, .. } => {
                // An always-true condition still needs an expression here.
                let condition = e.condition(condition, now).unwrap_or_else(|| {
                    let pk = e.name(PK);
                    format!("attribute_exists({pk}) OR attribute_not_exists({pk})")
                });
                let check = ConditionCheck::builder()
                    .table_name(table)
                    .set_key(Some(key_attributes(key)))
                    .condition_expression(condition)
                    .set_expression_attribute_names(e.names())
                    .set_expression_attribute_values(e.values())
                    .build();
                check.map(|c| TransactWriteItem::builder().condition_check(c).build())
            }
        };
        built.map_err(|err| StoreError::InvalidItem(format!("transaction operation: {err}")))
    }

    /// Sends the transaction once; `Err(Canceled(failed))` lists the operations whose
    /// conditions did not hold.
    async fn try_transaction(&self, ops: &[TransactOp]) -> Result<(), Attempt> {
        let now = self.now();
        let items = ops
            .iter()
            .map(|op| self.transact_item(op, now))
            .collect::<Result<Vec<_>, _>>()
            .map_err(Attempt::Failed)?;
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        let Err(err) = result else {
            return Ok(());
        };
        if let SdkError::ServiceError(service) = &err
            && let TransactWriteItemsError::TransactionCanceledException(canceled) = service.err()
        {
            let reasons = canceled.cancellation_reasons();
            let failed: Vec<usize> = reasons
                .iter()
                .enumerate()
                .filter(|(_, r)| r.code() == Some("ConditionalCheckFailed"))
                .map(|(i, _)| i)
                .collect();
            if !failed.is_empty() {
                return Err(Attempt::Canceled(failed));
            }
            let codes: Vec<&str> = reasons.iter().filter_map(|r| r.code()).collect();
            if codes.contains(&"TransactionConflict") {
                return Err(Attempt::Conflict);
            }
            return Err(Attempt::Failed(StoreError::Unavailable(format!(
                "DynamoDB TransactWriteItems was cancelled: {codes:?}"
            ))));
        }
        Err(Attempt::Failed(
            match store_error("TransactWriteItems", err) {
                StoreError::ConditionFailed => {
                    StoreError::TransactionCanceled { failed: Vec::new() }
                }
                other => other,
            },
        ))
    }
}

/// The outcome of one transaction attempt.
enum Attempt {
    Canceled(Vec<usize>),
    /// Another transaction held one of the items (DynamoDB refuses rather than waits): nothing
    /// was written, and trying again shortly is what AWS advises.
    Conflict,
    Failed(StoreError),
}

#[async_trait]
impl TableStore for DynamoStore {
    async fn get(&self, table: Table, key: &Key) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(self.table_name(table)?)
            .set_key(Some(key_attributes(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| store_error("GetItem", err))?;
        live_item(out.item.as_ref(), self.now())
    }

    async fn put(
        &self,
        table: Table,
        item: Item,
        condition: Option<Condition>,
    ) -> Result<(), StoreError> {
        validate_item(&item)?;
        let mut e = Expressions::new();
        let condition = condition.and_then(|c| e.condition(&c, self.now()));
        self.client
            .put_item()
            .table_name(self.table_name(table)?)
            .set_item(Some(to_attributes(&item)))
            .set_condition_expression(condition)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .send()
            .await
            .map_err(|err| store_error("PutItem", err))?;
        Ok(())
    }

    async fn delete(
        &self,
        table: Table,
        key: &Key,
        condition: Option<Condition>,
    ) -> Result<Option<Item>, StoreError> {
        let now = self.now();
        let mut e = Expressions::new();
        let condition = condition.and_then(|c| e.condition(&c, now));
        let out = self
            .client
            .delete_item()
            .table_name(self.table_name(table)?)
            .set_key(Some(key_attributes(key)))
            .set_condition_expression(condition)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|err| store_error("DeleteItem", err))?;
        live_item(out.attributes.as_ref(), now)
    }

    async fn update(
        &self,
        table: Table,
        key: &Key,
        update: Update,
        condition: Option<Condition>,
    ) -> Result<Item, StoreError> {
        validate_update(key, &update)?;
        for _ in 0..EXPIRED_RETRIES {
            match self
                .try_update(table, key, &update, condition.as_ref())
                .await
            {
                Err(StoreError::ConditionFailed) => {
                    // Either the caller's condition failed, or an expired item is in the way.
                    // Without a condition of the caller's only the latter can be, and when our
                    // removal found nothing to remove, a concurrent update removed it first: go
                    // again rather than fail (many adds meeting one expired counter at once).
                    let removed = self.remove_if_expired(table, key).await?;
                    if !removed && condition.is_some() {
                        return Err(StoreError::ConditionFailed);
                    }
                }
                other => return other,
            }
        }
        Err(StoreError::Unavailable(
            "UpdateItem: the item kept expiring between attempts".to_string(),
        ))
    }

    async fn query(&self, table: Table, query: Query) -> Result<Page, StoreError> {
        let (partition_attr, sort_attr, index_name) = match query.index {
            Index::Primary => (PK, SK, None),
            Index::Gsi1 if table.has_gsi1() => (GSI1_PK, GSI1_SK, Some(GSI1)),
            Index::Gsi1 => {
                return Err(StoreError::InvalidItem(format!(
                    "table {table} has no gsi1 index"
                )));
            }
        };
        if query.limit == Some(0) {
            return Err(StoreError::InvalidItem(
                "a query limit is at least 1".into(),
            ));
        }
        let mut start = query
            .cursor
            .as_ref()
            .map(|c| cursor::decode(c, query.index, &query.partition))
            .transpose()?;
        let table_name = self.table_name(table)?;
        let now = self.now();
        let mut items = Vec::new();
        for _ in 0..MAX_ROUNDS_PER_PAGE {
            let mut e = Expressions::new();
            let key_condition = e.key_condition(
                partition_attr,
                &query.partition,
                sort_attr,
                query.sort.as_ref(),
            );
            let filter = e.live_filter(now);
            let remaining = query
                .limit
                .map(|limit| limit.saturating_sub(items.len() as u32).max(1))
                .and_then(|n| i32::try_from(n).ok());
            let out = self
                .client
                .query()
                .table_name(table_name)
                .set_index_name(index_name.map(str::to_string))
                .key_condition_expression(key_condition)
                .filter_expression(filter)
                .set_expression_attribute_names(e.names())
                .set_expression_attribute_values(e.values())
                .scan_index_forward(query.forward)
                .set_limit(remaining)
                .set_exclusive_start_key(start.take())
                // Strongly consistent reads exist on the table only, not on a GSI.
                .set_consistent_read((index_name.is_none()).then_some(true))
                .send()
                .await
                .map_err(|err| store_error("Query", err))?;
            for attributes in out.items() {
                if let Some(item) = live_item(Some(attributes), now)? {
                    items.push(item);
                }
            }
            start = out.last_evaluated_key;
            let full = query
                .limit
                .is_none_or(|limit| items.len() >= limit as usize);
            if full || start.is_none() {
                break;
            }
        }
        let next = match start {
            Some(key) => Some(cursor::encode(&key).ok_or_else(|| {
                StoreError::Unavailable("DynamoDB returned a non-string key".to_string())
            })?),
            None => None,
        };
        Ok(Page { items, next })
    }

    async fn transact_write(&self, ops: Vec<TransactOp>) -> Result<(), StoreError> {
        validate_transaction(&ops)?;
        let mut conflicts = 0;
        let mut expired_rounds = 0;
        while expired_rounds < EXPIRED_RETRIES {
            match self.try_transaction(&ops).await {
                Ok(()) => return Ok(()),
                Err(Attempt::Failed(err)) => return Err(err),
                Err(Attempt::Conflict) => {
                    // Concurrent transactions on one item (a counter that caps a burst of
                    // creations) take turns instead of failing the request.
                    conflicts += 1;
                    if conflicts > CONFLICT_RETRIES {
                        return Err(StoreError::Unavailable(
                            "TransactWriteItems: the items stayed busy with other transactions"
                                .to_string(),
                        ));
                    }
                    tokio::time::sleep(conflict_backoff(conflicts)).await;
                }
                Err(Attempt::Canceled(failed)) => {
                    // An update's "absent or live" guard fails on an expired item: remove the
                    // dead items in the way and try again; otherwise the conditions really failed.
                    let mut removed = false;
                    for &index in &failed {
                        if let Some(TransactOp::Update { table, key, .. }) = ops.get(index) {
                            removed |= self.remove_if_expired(*table, key).await?;
                        }
                    }
                    if !removed {
                        return Err(StoreError::TransactionCanceled { failed });
                    }
                    expired_rounds += 1;
                }
            }
        }
        Err(StoreError::Unavailable(
            "TransactWriteItems: items kept expiring between attempts".to_string(),
        ))
    }
}
