//! [`SchemaLookup`] over the tenant's Airtable connection, through the same
//! [`TenantAirtable`] the record triggers use: the process's client for the tenant,
//! rate-limited with every other caller and counted in the tenant's usage like chat's and MCP's
//! tool calls ([`gateway::Gateway::client_for_tools`]).
//!
//! One `GET /v0/meta/bases/{base}/tables` per lookup; validation asks once per (base, table).

use airtable::{AirtableError, BaseId};
use async_trait::async_trait;
use metering::UsageTally;

use crate::error::AutomationError;
use crate::record_hooks::TenantAirtable;
use crate::seams::SchemaLookup;

/// Reads table schemas with the tenant's connected token.
#[derive(Debug, Clone)]
pub struct GatewaySchema {
    airtable: TenantAirtable,
}

impl GatewaySchema {
    pub fn new(airtable: TenantAirtable) -> Self {
        Self { airtable }
    }

    async fn fields(
        &self,
        tenant_id: &str,
        base: &BaseId,
        table: &str,
        tally: &UsageTally,
    ) -> Result<Option<Vec<String>>, AutomationError> {
        let client = self.airtable.client(tenant_id, tally).await?;
        let schema = client
            .base_schema(base, false)
            .await
            .map_err(|err| schema_error(base, err))?;
        Ok(schema
            .tables
            .into_iter()
            .find(|candidate| candidate.id == table || candidate.name == table)
            .map(|found| {
                found
                    .fields
                    .into_iter()
                    .flat_map(|field| [field.name, field.id])
                    .collect()
            }))
    }
}

#[async_trait]
impl SchemaLookup for GatewaySchema {
    /// The table's field names AND field ids (steps may name a field either way).
    async fn table_fields(
        &self,
        tenant_id: &str,
        base: &str,
        table: &str,
    ) -> Result<Option<Vec<String>>, AutomationError> {
        let base = BaseId::parse(base).map_err(|err| AutomationError::invalid("/", err.0))?;
        let tally = UsageTally::new();
        let found = self.fields(tenant_id, &base, table, &tally).await;
        self.airtable.record(tenant_id, &tally).await;
        found
    }
}

/// A base the token cannot see (Airtable answers 403 or 404 alike) is the user's to fix, and
/// says so; a refused token is a connection problem.
fn schema_error(base: &BaseId, err: AirtableError) -> AutomationError {
    match err.status() {
        Some(403 | 404) => AutomationError::Airtable(format!(
            "the base {base} does not exist or the connected token cannot read its schema"
        )),
        _ => crate::record_hooks::tenant_airtable::from_airtable(err),
    }
}
