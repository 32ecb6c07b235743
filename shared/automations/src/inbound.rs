//! Inbound webhook triggers: `POST /v1/hooks/workflows/{id}`, called by a third party that
//! holds the workflow's signing secret instead of our credentials.
//!
//! A request is believed only when `X-PyAirtable-Signature` is the HMAC-SHA256 of
//! `"<timestamp>.<body>"` under the workflow's secret and `X-PyAirtable-Timestamp` is within five
//! minutes of now (`basics::signature`). The signature is checked before anything about the
//! workflow (trigger type, enabled) is revealed, so an unauthenticated caller learns nothing
//! beyond whether an id exists. The run's dedup key is the signature: the same signed request
//! replayed (a retrying sender, a captured request) within its five minutes starts nothing new,
//! and after them it is refused as stale.

use std::sync::Arc;

use basics::Clock;
use basics::signature;
use ports::TableStore;
use serde_json::{Value, json};

use crate::error::AutomationError;
use crate::model::{RunId, RunTrigger, Trigger, WorkflowId};
use crate::seams::RunStarter;
use crate::workflows::store::WorkflowStore;

#[derive(Debug, Clone)]
pub struct InboundHooks {
    store: WorkflowStore,
    clock: Arc<dyn Clock>,
    starter: Arc<dyn RunStarter>,
}

impl InboundHooks {
    pub fn new(
        store: Arc<dyn TableStore>,
        clock: Arc<dyn Clock>,
        starter: Arc<dyn RunStarter>,
    ) -> Self {
        Self {
            store: WorkflowStore::new(store),
            clock,
            starter,
        }
    }

    /// Verifies a signed request for the workflow `workflow_id` and starts its run.
    ///
    /// Errors: `NotFound` for an unknown workflow or one not triggered by a webhook,
    /// `Unauthorized` for a missing, wrong or stale signature, `Conflict` for a disabled
    /// workflow, `Invalid` (at `/body`) for a body that is not JSON.
    pub async fn receive(
        &self,
        workflow_id: &str,
        signature: Option<&str>,
        timestamp: Option<&str>,
        body: &[u8],
    ) -> Result<RunId, AutomationError> {
        let not_found = || AutomationError::NotFound(format!("workflow {workflow_id:.64}"));
        let id = WorkflowId::parse(workflow_id).map_err(|_| not_found())?;
        let tenant_id = self.store.tenant_of(&id).await?.ok_or_else(not_found)?;
        let stored = self
            .store
            .get(&tenant_id, &id)
            .await?
            .ok_or_else(not_found)?;
        let secret = self
            .store
            .signing_secret(&tenant_id, &id)
            .await?
            .ok_or_else(not_found)?;
        signature::verify(
            &secret,
            signature,
            timestamp,
            body,
            self.clock.epoch_seconds(),
        )
        .map_err(|err| AutomationError::Unauthorized(err.to_string()))?;
        let workflow = stored.workflow;
        if workflow.spec.trigger != Trigger::Webhook {
            return Err(AutomationError::NotFound(format!(
                "workflow {id} is not triggered by an inbound webhook"
            )));
        }
        if !workflow.spec.enabled {
            return Err(AutomationError::Conflict(format!(
                "workflow {id} is disabled"
            )));
        }
        if body.len() > crate::runs::MAX_TRIGGER_DATA_BYTES {
            return Err(AutomationError::invalid(
                "/body",
                format!(
                    "the body is larger than {} bytes",
                    crate::runs::MAX_TRIGGER_DATA_BYTES
                ),
            ));
        }
        let body: Value = serde_json::from_slice(body).map_err(|err| {
            AutomationError::invalid("/body", format!("the body is not JSON: {err}"))
        })?;
        let dedup_key = signature.map(|signature| format!("webhook:{id}:{}", signature.trim()));
        let trigger = RunTrigger {
            kind: workflow.spec.trigger.kind().to_string(),
            data: json!({ "body": body }),
        };
        self.starter
            .start(&workflow, trigger, json!({}), dedup_key)
            .await
    }
}
