//! The seams between the automations' parts, so each part is built and tested alone: saving a
//! workflow attaches its record trigger ([`RecordTriggerHooks`]); schedules, record events and
//! inbound hooks start runs ([`RunStarter`]); signed `http` steps read the workflow's secret
//! ([`WorkflowSecrets`]); saving checks field names against the table's schema
//! ([`SchemaLookup`]).

use std::fmt::Debug;

use async_trait::async_trait;
use serde_json::Value;

use crate::error::AutomationError;
use crate::model::{RunId, RunTrigger, Workflow, WorkflowId};

/// Keeps Airtable notifying us of the record changes a workflow listens for.
#[async_trait]
pub trait RecordTriggerHooks: Send + Sync + Debug {
    /// Makes sure the base has a webhook for the workflow's trigger table and that it leads to
    /// this workflow (creating the webhook when none exists yet).
    async fn attach(&self, workflow: &Workflow) -> Result<(), AutomationError>;

    /// Stops notifying this workflow; deletes the webhook when no workflow needs it any more.
    async fn detach(&self, workflow: &Workflow) -> Result<(), AutomationError>;
}

/// Creates a run and enqueues it.
#[async_trait]
pub trait RunStarter: Send + Sync + Debug {
    /// Starts `workflow` once per `dedup_key`: a second call with the same key (a repeated
    /// schedule tick, a redelivered record event) returns the first run's id and enqueues
    /// nothing new unless that run was never enqueued.
    async fn start(
        &self,
        workflow: &Workflow,
        trigger: RunTrigger,
        input: Value,
        dedup_key: Option<String>,
    ) -> Result<RunId, AutomationError>;
}

/// A workflow's signing secret (inbound hooks verify with it, signed `http` steps sign with it).
#[async_trait]
pub trait WorkflowSecrets: Send + Sync + Debug {
    async fn signing_secret(
        &self,
        tenant_id: &str,
        workflow_id: &WorkflowId,
    ) -> Result<String, AutomationError>;
}

/// A table's field names, to refuse steps that name fields the table does not have.
#[async_trait]
pub trait SchemaLookup: Send + Sync + Debug {
    /// The field names of `table` (an id or a name) in `base`, or `None` when the base has no
    /// such table.
    async fn table_fields(
        &self,
        tenant_id: &str,
        base: &str,
        table: &str,
    ) -> Result<Option<Vec<String>>, AutomationError>;
}
