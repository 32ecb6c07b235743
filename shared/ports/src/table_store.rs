//! The table store port: a DynamoDB-shaped key-value store.
//!
//! Items are JSON objects. Every item has a string partition key `pk` and sort key `sk`; items on
//! tables with a secondary index may carry `gsi1pk`/`gsi1sk`; an item with a numeric `expires_at`
//! (epoch seconds) is dead from that second on. DynamoDB deletes expired items lazily (and moto
//! never), so both adapters filter them on every read and treat them as absent in conditions.
//!
//! Every key that holds tenant data starts with `TENANT#<id>`, so no query can cross tenants.

use std::fmt;

use async_trait::async_trait;
use serde_json::{Map, Value};

/// An item: a JSON object with at least `pk` and `sk` strings.
pub type Item = Map<String, Value>;

/// The partition key attribute.
pub const PK: &str = "pk";
/// The sort key attribute.
pub const SK: &str = "sk";
/// The first secondary index's partition and sort key attributes.
pub const GSI1_PK: &str = "gsi1pk";
pub const GSI1_SK: &str = "gsi1sk";
/// The TTL attribute: epoch seconds after which the item no longer exists.
pub const EXPIRES_AT: &str = "expires_at";
/// The optimistic-concurrency attribute that [`Condition::VersionEquals`] checks.
pub const VERSION: &str = "version";

/// DynamoDB's limit on operations in one transaction.
pub const MAX_TRANSACT_OPS: usize = 100;

/// Logical tables, grouped by lifecycle. Their physical names come from configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    /// Long-lived records: tenants, users, API keys, connections, workflows, budgets.
    Core,
    /// Short-lived, TTL-driven: cache entries, idempotency keys, rate-limit windows, refresh tokens.
    Ephemeral,
    /// Usage counters per tenant, day and month.
    Usage,
    /// Workflow runs, saga executions, step checkpoints, chat sessions.
    Runs,
}

impl Table {
    pub const ALL: [Table; 4] = [Table::Core, Table::Ephemeral, Table::Usage, Table::Runs];

    /// The logical name: `core`, `ephemeral`, `usage`, `runs`.
    pub fn logical_name(self) -> &'static str {
        match self {
            Table::Core => "core",
            Table::Ephemeral => "ephemeral",
            Table::Usage => "usage",
            Table::Runs => "runs",
        }
    }

    /// Whether the table has the `gsi1` index (only where an access pattern needs it).
    pub fn has_gsi1(self) -> bool {
        matches!(self, Table::Core | Table::Runs)
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.logical_name())
    }
}

/// An item's primary key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Self {
            pk: pk.into(),
            sk: sk.into(),
        }
    }

    /// Reads the key out of an item.
    pub fn of(item: &Item) -> Result<Self, StoreError> {
        let pk = string_attr(item, PK)?;
        let sk = string_attr(item, SK)?;
        Ok(Self::new(pk, sk))
    }
}

fn string_attr(item: &Item, name: &str) -> Result<String, StoreError> {
    match item.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        _ => Err(StoreError::InvalidItem(format!(
            "attribute {name:?} must be a non-empty string"
        ))),
    }
}

/// DynamoDB's limit on one item's size (we count the JSON text, a close upper bound).
pub const MAX_ITEM_BYTES: usize = 400 * 1024;

/// Checks what both adapters require of an item: string keys, string index keys, a numeric TTL,
/// and at most [`MAX_ITEM_BYTES`]. Returns its key.
pub fn validate_item(item: &Item) -> Result<Key, StoreError> {
    let key = Key::of(item)?;
    for name in [GSI1_PK, GSI1_SK] {
        if let Some(value) = item.get(name)
            && !matches!(value, Value::String(s) if !s.is_empty())
        {
            return Err(StoreError::InvalidItem(format!(
                "index attribute {name:?} must be a non-empty string"
            )));
        }
    }
    if let Some(value) = item.get(EXPIRES_AT)
        && !value.is_number()
    {
        return Err(StoreError::InvalidItem(format!(
            "{EXPIRES_AT:?} must be epoch seconds"
        )));
    }
    let size = serde_json::to_string(item)
        .map(|s| s.len())
        .unwrap_or(usize::MAX);
    if size > MAX_ITEM_BYTES {
        return Err(StoreError::InvalidItem(format!(
            "the item is {size} bytes; the limit is {MAX_ITEM_BYTES}"
        )));
    }
    Ok(key)
}

/// A condition an existing item must meet for a write to happen.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// No live item has this key.
    NotExists,
    /// A live item has this key.
    Exists,
    /// The item exists and `name` equals `value`.
    AttributeEquals { name: String, value: Value },
    /// The item exists and its `version` attribute equals this number.
    VersionEquals(i64),
    /// The item exists and its numeric attribute `name` is less than `limit`: a counter that
    /// may only move while it is below a cap (an absent attribute does not hold, as in DynamoDB,
    /// where comparing a missing attribute is false).
    NumberBelow { name: String, limit: i64 },
    /// Every condition holds.
    All(Vec<Condition>),
}

impl Condition {
    pub fn equals(name: impl Into<String>, value: impl Into<Value>) -> Self {
        Condition::AttributeEquals {
            name: name.into(),
            value: value.into(),
        }
    }

    pub fn number_below(name: impl Into<String>, limit: i64) -> Self {
        Condition::NumberBelow {
            name: name.into(),
            limit,
        }
    }

    /// Evaluates the condition against the current live item (or `None`). The embedded adapter
    /// uses this directly; the DynamoDB adapter compiles the same semantics to an expression.
    pub fn holds_for(&self, current: Option<&Item>) -> bool {
        match self {
            Condition::NotExists => current.is_none(),
            Condition::Exists => current.is_some(),
            Condition::AttributeEquals { name, value } => current
                .and_then(|item| item.get(name))
                .is_some_and(|v| json_equal(v, value)),
            Condition::VersionEquals(expected) => current
                .and_then(|item| item.get(VERSION))
                .and_then(Value::as_f64)
                .is_some_and(|v| v == *expected as f64),
            Condition::NumberBelow { name, limit } => current
                .and_then(|item| item.get(name))
                .and_then(Value::as_f64)
                .is_some_and(|v| v < *limit as f64),
            Condition::All(conditions) => conditions.iter().all(|c| c.holds_for(current)),
        }
    }
}

/// Equality as DynamoDB sees it: numbers compare by value (1 == 1.0).
pub fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

/// An in-place change to one item. Applied to a missing item it creates it (as DynamoDB's
/// UpdateItem does), unless a condition forbids that.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Update {
    /// Attributes to set.
    pub set: Vec<(String, Value)>,
    /// Attributes to set only when absent (e.g. `created_at`).
    pub set_if_absent: Vec<(String, Value)>,
    /// Atomic counters: added to the current number (absent counts as 0).
    pub add: Vec<(String, i64)>,
    /// Attributes to remove.
    pub remove: Vec<String>,
}

impl Update {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn set(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.set.push((name.into(), value.into()));
        self
    }

    pub fn set_if_absent(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.set_if_absent.push((name.into(), value.into()));
        self
    }

    pub fn add(mut self, name: impl Into<String>, by: i64) -> Self {
        self.add.push((name.into(), by));
        self
    }

    pub fn remove(mut self, name: impl Into<String>) -> Self {
        self.remove.push(name.into());
        self
    }

    /// Checks that the update names no key attribute and no attribute twice.
    pub fn validate(&self) -> Result<(), StoreError> {
        let mut seen = std::collections::HashSet::new();
        let names = self
            .set
            .iter()
            .map(|(n, _)| n)
            .chain(self.set_if_absent.iter().map(|(n, _)| n))
            .chain(self.add.iter().map(|(n, _)| n))
            .chain(self.remove.iter());
        for name in names {
            if name == PK || name == SK {
                return Err(StoreError::InvalidItem(format!(
                    "an update cannot change the key attribute {name:?}"
                )));
            }
            if name.is_empty() || !seen.insert(name.as_str()) {
                return Err(StoreError::InvalidItem(format!(
                    "attribute {name:?} is empty or named twice in one update"
                )));
            }
        }
        Ok(())
    }

    /// Applies the update to the current item (the embedded adapter's semantics, which the
    /// DynamoDB adapter's expression reproduces).
    pub fn apply(&self, key: &Key, current: Option<Item>) -> Result<Item, StoreError> {
        let mut item = current.unwrap_or_default();
        item.insert(PK.to_string(), Value::String(key.pk.clone()));
        item.insert(SK.to_string(), Value::String(key.sk.clone()));
        for (name, value) in &self.set {
            item.insert(name.clone(), value.clone());
        }
        for (name, value) in &self.set_if_absent {
            item.entry(name.clone()).or_insert_with(|| value.clone());
        }
        for (name, by) in &self.add {
            let current = match item.get(name) {
                None => 0,
                Some(Value::Number(n)) => n.as_i64().ok_or_else(|| {
                    StoreError::InvalidItem(format!("counter {name:?} is not an integer"))
                })?,
                Some(_) => {
                    return Err(StoreError::InvalidItem(format!(
                        "counter {name:?} is not a number"
                    )));
                }
            };
            let next = current.checked_add(*by).ok_or_else(|| {
                StoreError::InvalidItem(format!("counter {name:?} would overflow"))
            })?;
            item.insert(name.clone(), Value::from(next));
        }
        for name in &self.remove {
            item.remove(name);
        }
        Ok(item)
    }
}

/// Which key a query runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Index {
    /// The table's own `pk`/`sk`.
    Primary,
    /// The `gsi1` index over `gsi1pk`/`gsi1sk` (tables where [`Table::has_gsi1`]).
    Gsi1,
}

/// A condition on the sort key of a query (byte-wise string order, as DynamoDB compares).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortKeyCondition {
    Equals(String),
    BeginsWith(String),
    /// Inclusive on both ends.
    Between(String, String),
    GreaterThan(String),
    LessThan(String),
}

impl SortKeyCondition {
    pub fn matches(&self, sk: &str) -> bool {
        match self {
            SortKeyCondition::Equals(v) => sk == v,
            SortKeyCondition::BeginsWith(prefix) => sk.starts_with(prefix.as_str()),
            SortKeyCondition::Between(low, high) => low.as_str() <= sk && sk <= high.as_str(),
            SortKeyCondition::GreaterThan(v) => sk > v.as_str(),
            SortKeyCondition::LessThan(v) => sk < v.as_str(),
        }
    }
}

/// An opaque pagination cursor; only the adapter that issued it can read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor(pub String);

/// A query over one partition.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub index: Index,
    /// The partition key value (`pk`, or `gsi1pk` on the index).
    pub partition: String,
    pub sort: Option<SortKeyCondition>,
    /// At most this many items per page.
    pub limit: Option<u32>,
    /// Ascending sort-key order when true.
    pub forward: bool,
    /// Where the previous page stopped.
    pub cursor: Option<Cursor>,
}

impl Query {
    pub fn partition(partition: impl Into<String>) -> Self {
        Self {
            index: Index::Primary,
            partition: partition.into(),
            sort: None,
            limit: None,
            forward: true,
            cursor: None,
        }
    }

    pub fn on_gsi1(partition: impl Into<String>) -> Self {
        Self {
            index: Index::Gsi1,
            ..Self::partition(partition)
        }
    }

    pub fn sort(mut self, condition: SortKeyCondition) -> Self {
        self.sort = Some(condition);
        self
    }

    pub fn begins_with(self, prefix: impl Into<String>) -> Self {
        self.sort(SortKeyCondition::BeginsWith(prefix.into()))
    }

    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    pub fn backward(mut self) -> Self {
        self.forward = false;
        self
    }

    pub fn after(mut self, cursor: Option<Cursor>) -> Self {
        self.cursor = cursor;
        self
    }
}

/// One page of query results. `next` is present when more items may follow.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Page {
    pub items: Vec<Item>,
    pub next: Option<Cursor>,
}

/// One write in an all-or-nothing transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum TransactOp {
    Put {
        table: Table,
        item: Item,
        condition: Option<Condition>,
    },
    Delete {
        table: Table,
        key: Key,
        condition: Option<Condition>,
    },
    Update {
        table: Table,
        key: Key,
        update: Update,
        condition: Option<Condition>,
    },
    /// Writes nothing; the transaction fails unless the condition holds.
    Check {
        table: Table,
        key: Key,
        condition: Condition,
    },
}

impl TransactOp {
    pub fn table(&self) -> Table {
        match self {
            TransactOp::Put { table, .. }
            | TransactOp::Delete { table, .. }
            | TransactOp::Update { table, .. }
            | TransactOp::Check { table, .. } => *table,
        }
    }

    pub fn key(&self) -> Result<Key, StoreError> {
        match self {
            TransactOp::Put { item, .. } => Key::of(item),
            TransactOp::Delete { key, .. }
            | TransactOp::Update { key, .. }
            | TransactOp::Check { key, .. } => Ok(key.clone()),
        }
    }

    pub fn condition(&self) -> Option<&Condition> {
        match self {
            TransactOp::Put { condition, .. }
            | TransactOp::Delete { condition, .. }
            | TransactOp::Update { condition, .. } => condition.as_ref(),
            TransactOp::Check { condition, .. } => Some(condition),
        }
    }
}

/// Checks what both adapters require of a transaction before sending it.
pub fn validate_transaction(ops: &[TransactOp]) -> Result<(), StoreError> {
    if ops.is_empty() || ops.len() > MAX_TRANSACT_OPS {
        return Err(StoreError::InvalidItem(format!(
            "a transaction holds 1 to {MAX_TRANSACT_OPS} operations, not {}",
            ops.len()
        )));
    }
    let mut keys = std::collections::HashSet::new();
    for op in ops {
        if !keys.insert((op.table(), op.key()?)) {
            return Err(StoreError::InvalidItem(
                "a transaction cannot touch the same item twice".to_string(),
            ));
        }
        match op {
            TransactOp::Update { update, .. } => update.validate()?,
            TransactOp::Put { item, .. } => {
                validate_item(item)?;
            }
            TransactOp::Delete { .. } | TransactOp::Check { .. } => {}
        }
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A write's condition did not hold; nothing was written.
    #[error("the condition on the write did not hold")]
    ConditionFailed,
    /// A transaction was cancelled; nothing was written. `failed` lists the indexes of the
    /// operations whose conditions did not hold.
    #[error("the transaction was cancelled (conditions failed at {failed:?})")]
    TransactionCanceled { failed: Vec<usize> },
    /// The item or request is malformed (missing key, bad cursor, too large).
    #[error("invalid item or request: {0}")]
    InvalidItem(String),
    /// The backend refused or failed; details for the log, not for callers.
    #[error("table store unavailable: {0}")]
    Unavailable(String),
}

impl StoreError {
    pub fn is_condition_failure(&self) -> bool {
        matches!(
            self,
            StoreError::ConditionFailed | StoreError::TransactionCanceled { .. }
        )
    }
}

/// Whether an item's TTL has passed at `now` (epoch seconds).
pub fn is_expired(item: &Item, now: i64) -> bool {
    item.get(EXPIRES_AT)
        .and_then(Value::as_f64)
        .is_some_and(|at| at <= now as f64)
}

/// The table store port.
#[async_trait]
pub trait TableStore: Send + Sync + fmt::Debug {
    /// The live item with this key, if any.
    async fn get(&self, table: Table, key: &Key) -> Result<Option<Item>, StoreError>;

    /// Writes a whole item, replacing any existing one, if the condition holds.
    async fn put(
        &self,
        table: Table,
        item: Item,
        condition: Option<Condition>,
    ) -> Result<(), StoreError>;

    /// Deletes an item if the condition holds; returns the live item it removed, if any.
    async fn delete(
        &self,
        table: Table,
        key: &Key,
        condition: Option<Condition>,
    ) -> Result<Option<Item>, StoreError>;

    /// Changes an item in place (creating it if missing) if the condition holds; returns the new
    /// item.
    async fn update(
        &self,
        table: Table,
        key: &Key,
        update: Update,
        condition: Option<Condition>,
    ) -> Result<Item, StoreError>;

    /// One page of live items from one partition, in sort-key order.
    async fn query(&self, table: Table, query: Query) -> Result<Page, StoreError>;

    /// Applies every operation or none.
    async fn transact_write(&self, ops: Vec<TransactOp>) -> Result<(), StoreError>;

    /// Applies several unconditional updates to items of one table, each on its own (not as a
    /// transaction: a failure may leave some applied). For counters kept in more than one item,
    /// such as usage per day and per month. The default runs them concurrently (DynamoDB: one
    /// UpdateItem each); a backend that can apply them in one round trip overrides it.
    async fn update_each(
        &self,
        table: Table,
        updates: Vec<(Key, Update)>,
    ) -> Result<(), StoreError> {
        let results = futures::future::join_all(
            updates
                .iter()
                .map(|(key, update)| self.update(table, key, update.clone(), None)),
        )
        .await;
        results
            .into_iter()
            .try_for_each(|result| result.map(|_| ()))
    }

    /// A real round trip to the backend, for health checks.
    async fn ping(&self) -> Result<(), StoreError> {
        self.get(Table::Ephemeral, &Key::new("HEALTH", "PING"))
            .await
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn item(v: Value) -> Item {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn update_applies_set_add_and_remove() {
        let key = Key::new("P", "S");
        let current = item(json!({"pk":"P","sk":"S","n":2,"gone":true,"created":"old"}));
        let update = Update::new()
            .set("name", "x")
            .add("n", 3)
            .add("fresh", 1)
            .set_if_absent("created", "new")
            .remove("gone");
        let next = update.apply(&key, Some(current)).unwrap_or_default();
        assert_eq!(
            Value::Object(next),
            json!({"pk":"P","sk":"S","n":5,"fresh":1,"created":"old","name":"x"})
        );
    }

    #[test]
    fn conditions_follow_dynamodb_semantics() {
        let current = item(json!({"pk":"P","sk":"S","version":3,"state":"open"}));
        assert!(Condition::Exists.holds_for(Some(&current)));
        assert!(!Condition::NotExists.holds_for(Some(&current)));
        assert!(Condition::VersionEquals(3).holds_for(Some(&current)));
        assert!(!Condition::VersionEquals(3).holds_for(None));
        assert!(Condition::equals("state", "open").holds_for(Some(&current)));
        assert!(!Condition::equals("state", "shut").holds_for(Some(&current)));
        assert!(Condition::number_below("version", 4).holds_for(Some(&current)));
        assert!(!Condition::number_below("version", 3).holds_for(Some(&current)));
        assert!(!Condition::number_below("absent", 3).holds_for(Some(&current)));
        assert!(!Condition::number_below("state", 3).holds_for(Some(&current)));
        assert!(!Condition::number_below("version", 4).holds_for(None));
    }

    #[test]
    fn updates_cannot_touch_keys() {
        assert!(Update::new().set("pk", "x").validate().is_err());
        assert!(Update::new().set("a", 1).add("a", 1).validate().is_err());
    }
}
