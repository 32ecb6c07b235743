//! The record that a base is connected: what the `connect-base` saga writes last, so that its
//! presence means every earlier step (schema snapshot, webhooks, record snapshot) is done. One
//! item per (tenant, base) in the core table, `TENANT#<t>` / `BASECONNECTION#<base>`.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use ports::{Key, StoreError, Table, TableStore, from_item, to_item};
use serde::{Deserialize, Serialize};

/// A table of a connected base, as the initial snapshot found it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectedTable {
    pub id: String,
    pub name: String,
    /// Records in the initial snapshot.
    pub records: usize,
}

/// A base connected by a `connect-base` saga.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaseConnection {
    pub base_id: String,
    /// The saga that connected it: its schema and record snapshots are that saga's parts.
    pub saga_id: String,
    pub tables: Vec<ConnectedTable>,
    /// The tables whose record-change webhook the connection holds.
    pub webhook_tables: Vec<String>,
    pub connected_at: DateTime<Utc>,
}

fn key(tenant_id: &str, base_id: &str) -> Key {
    Key::new(
        format!("TENANT#{tenant_id}"),
        format!("BASECONNECTION#{base_id}"),
    )
}

/// Typed access to the connection records.
#[derive(Debug, Clone)]
pub struct ConnectedBases {
    store: Arc<dyn TableStore>,
}

impl ConnectedBases {
    pub fn new(store: Arc<dyn TableStore>) -> Self {
        Self { store }
    }

    pub async fn get(
        &self,
        tenant_id: &str,
        base_id: &str,
    ) -> Result<Option<BaseConnection>, StoreError> {
        match self
            .store
            .get(Table::Core, &key(tenant_id, base_id))
            .await?
        {
            Some(item) => Ok(Some(from_item(item)?)),
            None => Ok(None),
        }
    }

    pub async fn put(
        &self,
        tenant_id: &str,
        connection: &BaseConnection,
    ) -> Result<(), StoreError> {
        let item = to_item(&key(tenant_id, &connection.base_id), connection)?;
        self.store.put(Table::Core, item, None).await
    }

    /// Deletes the record; none is fine.
    pub async fn delete(&self, tenant_id: &str, base_id: &str) -> Result<(), StoreError> {
        self.store
            .delete(Table::Core, &key(tenant_id, base_id), None)
            .await
            .map(|_| ())
    }
}
