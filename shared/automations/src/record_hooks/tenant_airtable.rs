//! The tenant's Airtable client for work done outside a request (webhook management, payload
//! reads), built the way chat and MCP tools get theirs: the token from [`Connections`], the
//! process's client from [`ClientPool`] (rate-limited with every other caller), observed by
//! [`Gateway::client_for_tools`] so each call is counted in a [`UsageTally`] and writes keep the
//! gateway's read cache honest. There is no request to carry the tally, so [`TenantAirtable::record`]
//! adds it to the tenant's usage counters when the work is done.

use std::sync::Arc;

use airtable::{Airtable, AirtableError};
use connections::{ConnectionError, Connections};
use gateway::{ClientPool, Gateway};
use metering::{UsageCounters, UsageTally};

use crate::error::AutomationError;

#[derive(Debug, Clone)]
pub struct TenantAirtable {
    connections: Connections,
    clients: Arc<ClientPool>,
    gateway: Gateway,
    usage: UsageCounters,
}

impl TenantAirtable {
    pub fn new(
        connections: Connections,
        clients: Arc<ClientPool>,
        gateway: Gateway,
        usage: UsageCounters,
    ) -> Self {
        Self {
            connections,
            clients,
            gateway,
            usage,
        }
    }

    /// The tenant's client, counting its calls into `tally`.
    pub async fn client(
        &self,
        tenant_id: &str,
        tally: &UsageTally,
    ) -> Result<Airtable, AutomationError> {
        let token = self
            .connections
            .token(tenant_id)
            .await
            .map_err(|err| match err {
                ConnectionError::NotConnected => AutomationError::NotConnected(
                    "the tenant has no Airtable connection".to_string(),
                ),
                ConnectionError::Store(err) => AutomationError::Store(err),
                other => AutomationError::Airtable(other.to_string()),
            })?;
        let client = self
            .clients
            .client(tenant_id, token)
            .map_err(|err| AutomationError::Airtable(err.to_string()))?;
        Ok(self.gateway.client_for_tools(tenant_id, &client, tally))
    }

    /// Adds what `tally` counted to the tenant's usage. A failure is logged, not returned: the
    /// work it measures is done and must not be redone for a counter.
    pub async fn record(&self, tenant_id: &str, tally: &UsageTally) {
        let used = tally.take();
        if used.is_empty() {
            return;
        }
        let counters: Vec<(&str, i64)> = used.iter().map(|(n, by)| (n.as_str(), *by)).collect();
        if let Err(err) = self.usage.add(tenant_id, &counters).await {
            tracing::warn!(tenant_id, error = %err, "could not record Airtable usage");
        }
    }
}

/// Airtable's refusal as the automations' error: a refused token (401) means the tenant must
/// reconnect; everything else carries Airtable's message (never a secret). A 403 is not a
/// refused token: Airtable says it for a base or scope the token lacks.
pub fn from_airtable(err: AirtableError) -> AutomationError {
    match err.status() {
        Some(401) => AutomationError::NotConnected(format!(
            "Airtable refused the tenant's connected token: {err}"
        )),
        Some(404) => AutomationError::NotFound(format!("Airtable: {err}")),
        _ => AutomationError::Airtable(err.to_string()),
    }
}

/// Whether Airtable said the thing is not there (a deleted or expired webhook).
pub fn is_not_found(err: &AirtableError) -> bool {
    err.status() == Some(404)
}
