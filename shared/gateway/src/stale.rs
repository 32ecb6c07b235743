//! Making cached reads stale after a write, whichever way the write reached Airtable: through
//! `/v0` (the gateway calls [`StaleReads::after`] itself) or through the shared client used by
//! chat and MCP tools (where [`StaleReads`] observes the client's calls). Both bump the same
//! generations for the same kind of write, so a tool's write is seen by the next `/v0` read
//! exactly as a `/v0` write is.

use airtable::{CallObserver, Change};

use crate::cache::{self, Invalidation, ReadCache, Scope};
use crate::operation::{BaseId, Operation, TableRef};

/// One tenant's cached reads under one Airtable token.
#[derive(Debug, Clone)]
pub struct StaleReads {
    cache: ReadCache,
    tenant_id: String,
    /// The token's fingerprint, to find the cached schema (see [`Self::table_aliases`]).
    token_key: String,
}

impl StaleReads {
    pub fn new(cache: ReadCache, tenant_id: &str, token_key: &str) -> Self {
        Self {
            cache,
            tenant_id: tenant_id.to_string(),
            token_key: token_key.to_string(),
        }
    }

    /// Makes the reads `change` affected unreachable: a table's records (by every name it goes
    /// by when the schema is cached, else all the base's records), or the schema and all
    /// records. A failure is logged, not returned: the write has happened, and stale reads end
    /// with the TTL.
    pub async fn after(&self, change: &Change) {
        if !self.cache.enabled() {
            return;
        }
        let invalidation = match change {
            Change::Schema { .. } => Invalidation::Schema,
            Change::Records { base, table } => match self.table_aliases(base, table).await {
                Some(names) => Invalidation::Tables(names),
                None => Invalidation::AllRecords,
            },
        };
        let base = change.base();
        if let Err(err) = self
            .cache
            .invalidate(&self.tenant_id, base, &invalidation)
            .await
        {
            tracing::error!(error = %err, base_id = %base, "could not invalidate cached reads after a write");
        }
    }

    /// Every name the table goes by, from the cached schema; `None` when the schema is not in
    /// the cache or does not list the table.
    async fn table_aliases(&self, base: &BaseId, table: &TableRef) -> Option<Vec<String>> {
        let generations = self.cache.generations(&self.tenant_id, base).await.ok()?;
        let schema = Operation::base_schema(base.clone());
        let key = self.cache.key(
            &self.tenant_id,
            &self.token_key,
            Scope::Schema { base },
            &generations,
            &crate::identity_of(&schema, None, None),
        );
        let cached = self.cache.get(&key).await.ok()??;
        let mut names = cache::table_aliases(&cached.body, table)?;
        names.push(table.as_str().to_string());
        Some(names)
    }
}

/// Attached to a client, the writes it sends make cached reads stale as they end.
#[async_trait::async_trait]
impl CallObserver for StaleReads {
    fn call_sent(&self, _base_id: Option<&str>) {}

    async fn write_ended(&self, change: &Change) {
        self.after(change).await;
    }
}
