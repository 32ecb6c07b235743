//! A table store that fails on the calls a test picks and passes the rest to a real store: the
//! one double for "the store is down" (every call) and "this one write fails" (one operation),
//! for any crate's tests (feature `testing`).

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;

use crate::table_store::{
    Condition, Item, Key, Page, Query, StoreError, Table, TableStore, TransactOp, Update,
};

/// The store operations a [`FailingStore`] can fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreCall {
    Get,
    Put,
    Delete,
    Update,
    Query,
    TransactWrite,
}

/// Fails the picked calls with `StoreError::Unavailable(message)`; passes the others to the
/// inner store, or fails them too when there is none ([`FailingStore::down`]).
pub struct FailingStore {
    inner: Option<Arc<dyn TableStore>>,
    fails: Box<dyn Fn(StoreCall, Table) -> bool + Send + Sync>,
    message: String,
    failed: AtomicUsize,
}

impl fmt::Debug for FailingStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FailingStore")
            .field("message", &self.message)
            .field("failed", &self.failures())
            .finish()
    }
}

impl FailingStore {
    /// A store whose backend is down: every call fails.
    pub fn down(message: &str) -> Self {
        Self {
            inner: None,
            fails: Box::new(|_, _| true),
            message: message.to_string(),
            failed: AtomicUsize::new(0),
        }
    }

    /// `inner`, with the calls `fails` picks (by operation and table) failing.
    pub fn wrapping(
        inner: Arc<dyn TableStore>,
        fails: impl Fn(StoreCall, Table) -> bool + Send + Sync + 'static,
    ) -> Self {
        Self {
            inner: Some(inner),
            fails: Box::new(fails),
            message: "injected failure".to_string(),
            failed: AtomicUsize::new(0),
        }
    }

    /// How many calls it failed: what a test reads to show the failure was reached.
    pub fn failures(&self) -> usize {
        self.failed.load(Ordering::Relaxed)
    }

    /// The inner store for this call, or the injected error.
    fn pass(&self, call: StoreCall, table: Table) -> Result<&dyn TableStore, StoreError> {
        match &self.inner {
            Some(inner) if !(self.fails)(call, table) => Ok(inner.as_ref()),
            _ => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                Err(StoreError::Unavailable(self.message.clone()))
            }
        }
    }
}

#[async_trait]
impl TableStore for FailingStore {
    async fn get(&self, table: Table, key: &Key) -> Result<Option<Item>, StoreError> {
        self.pass(StoreCall::Get, table)?.get(table, key).await
    }

    async fn put(
        &self,
        table: Table,
        item: Item,
        condition: Option<Condition>,
    ) -> Result<(), StoreError> {
        self.pass(StoreCall::Put, table)?
            .put(table, item, condition)
            .await
    }

    async fn delete(
        &self,
        table: Table,
        key: &Key,
        condition: Option<Condition>,
    ) -> Result<Option<Item>, StoreError> {
        self.pass(StoreCall::Delete, table)?
            .delete(table, key, condition)
            .await
    }

    async fn update(
        &self,
        table: Table,
        key: &Key,
        update: Update,
        condition: Option<Condition>,
    ) -> Result<Item, StoreError> {
        self.pass(StoreCall::Update, table)?
            .update(table, key, update, condition)
            .await
    }

    async fn query(&self, table: Table, query: Query) -> Result<Page, StoreError> {
        self.pass(StoreCall::Query, table)?
            .query(table, query)
            .await
    }

    /// Fails when the picker picks the first operation's table (a transaction fails whole).
    async fn transact_write(&self, ops: Vec<TransactOp>) -> Result<(), StoreError> {
        let table = ops.first().map_or(Table::Core, TransactOp::table);
        self.pass(StoreCall::TransactWrite, table)?
            .transact_write(ops)
            .await
    }
}
