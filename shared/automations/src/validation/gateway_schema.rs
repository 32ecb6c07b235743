//! [`SchemaLookup`] over the tenant's Airtable connection: the platform's one client per
//! tenant ([`ClientPool`]), observed like chat's and MCP's tools ([`Gateway::client_for_tools`])
//! so every schema call counts in the tenant's usage and waits for the base's rate limit like
//! any other call.
//!
//! One `GET /v0/meta/bases/{base}/tables` per lookup; validation asks once per (base, table).

use std::sync::Arc;

use airtable::{AirtableError, BaseId};
use async_trait::async_trait;
use connections::{ConnectionError, Connections};
use gateway::{ClientPool, Gateway};
use metering::{UsageCounters, UsageTally};

use crate::error::AutomationError;
use crate::seams::SchemaLookup;

/// Reads table schemas with the tenant's connected token.
#[derive(Debug, Clone)]
pub struct GatewaySchema {
    gateway: Gateway,
    connections: Connections,
    clients: Arc<ClientPool>,
    usage: UsageCounters,
}

impl GatewaySchema {
    pub fn new(
        gateway: Gateway,
        connections: Connections,
        clients: Arc<ClientPool>,
        usage: UsageCounters,
    ) -> Self {
        Self {
            gateway,
            connections,
            clients,
            usage,
        }
    }

    async fn fields(
        &self,
        tenant_id: &str,
        base: &BaseId,
        table: &str,
        tally: &UsageTally,
    ) -> Result<Option<Vec<String>>, AutomationError> {
        let token = self
            .connections
            .token(tenant_id)
            .await
            .map_err(connection_error)?;
        let client = self
            .clients
            .client(tenant_id, token)
            .map_err(|err| airtable_error(base, err))?;
        let airtable = self.gateway.client_for_tools(tenant_id, &client, tally);
        let schema = airtable
            .base_schema(base, false)
            .await
            .map_err(|err| airtable_error(base, err))?;
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
        let base = BaseId::parse(base).map_err(|err| AutomationError::invalid("", err.0))?;
        let tally = UsageTally::new();
        let found = self.fields(tenant_id, &base, table, &tally).await;
        let used = tally.take();
        if !used.is_empty() {
            let counters: Vec<(&str, i64)> =
                used.iter().map(|(name, by)| (name.as_str(), *by)).collect();
            if let Err(err) = self.usage.add(tenant_id, &counters).await {
                tracing::warn!(tenant_id, error = %err, "could not count schema lookups in usage");
            }
        }
        found
    }
}

fn connection_error(err: ConnectionError) -> AutomationError {
    match err {
        ConnectionError::NotConnected => AutomationError::NotConnected(err.to_string()),
        ConnectionError::Store(err) => AutomationError::Store(err),
        other => AutomationError::NotConnected(format!(
            "the tenant's Airtable connection cannot be used: {other}"
        )),
    }
}

fn airtable_error(base: &BaseId, err: AirtableError) -> AutomationError {
    match err.status() {
        Some(401) => AutomationError::NotConnected(
            "Airtable refused the connected token; reconnect with PUT /v1/connections/airtable"
                .to_string(),
        ),
        Some(403 | 404) => AutomationError::Airtable(format!(
            "the base {base} does not exist or the connected token cannot read its schema"
        )),
        _ => AutomationError::Airtable(err.to_string()),
    }
}
