//! Record triggers through Airtable's webhooks.
//!
//! - [`store`]: one registration per (tenant, base, table), shared by every workflow with a
//!   record trigger on that table: our hook id, Airtable's webhook id, its MAC secret, the
//!   payload cursor, the expiry, the workflows served; plus the cross-tenant expiry index.
//! - [`lifecycle`]: [`RecordHooks`] as [`RecordTriggerHooks`]: attach creates the webhook for
//!   the first workflow on a table, detach deletes it after the last.
//! - [`pings`]: Airtable's pings, MAC-verified and turned into one events-queue message each,
//!   without calling Airtable.
//! - [`worker`]: [`EventsWorker`], the events queue's consumer: payloads from the stored cursor
//!   to record events to runs, exactly once per (workflow, record change) (see its doc).
//! - [`refresh`]: refreshing webhooks before Airtable's 7-day expiry, from the scheduler.
//!
//! The notification URL is `<public_url>/v1/hooks/airtable/<hook id>`; the hook id carries the
//! tenant, base and table ([`hook_id`]), so the unauthenticated ping route finds its
//! registration with one read in the tenant's own partition.

pub mod hook_id;
pub mod lifecycle;
pub mod payloads;
pub mod pings;
pub mod refresh;
pub mod store;
pub mod tenant_airtable;
pub mod worker;

use std::sync::Arc;

use async_trait::async_trait;
use basics::{Clock, IdGenerator};
use ports::{Queue, TableStore};

use crate::error::AutomationError;
use crate::model::Workflow;
use crate::seams::RecordTriggerHooks;

pub use hook_id::HookId;
pub use lifecycle::BASE_CONNECTION;
pub use store::{Registration, Registrations};
pub use tenant_airtable::TenantAirtable;
pub use worker::EventsWorker;

/// The path under the public URL where Airtable's pings arrive.
pub const PING_PATH: &str = "/v1/hooks/airtable";

/// Record triggers for one process: webhook lifecycle, pings and refresh. Cheap to clone.
#[derive(Debug, Clone)]
pub struct RecordHooks {
    registrations: Registrations,
    store: Arc<dyn TableStore>,
    queue: Arc<dyn Queue>,
    airtable: TenantAirtable,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
    public_url: String,
}

impl RecordHooks {
    /// `public_url` is where Airtable reaches us (`https://api.example.com`, or the dev server's
    /// address): notification URLs are built on it.
    pub fn new(
        store: Arc<dyn TableStore>,
        queue: Arc<dyn Queue>,
        airtable: TenantAirtable,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
        public_url: impl Into<String>,
    ) -> Self {
        let public_url = public_url.into().trim_end_matches('/').to_string();
        Self {
            registrations: Registrations::new(Arc::clone(&store)),
            store,
            queue,
            airtable,
            clock,
            ids,
            public_url,
        }
    }

    /// Where Airtable pings for this hook.
    pub fn notification_url(&self, hook: &HookId) -> String {
        format!("{}{PING_PATH}/{hook}", self.public_url)
    }

    /// The registrations, for inspection (tests, the dev server's diagnostics).
    pub fn registrations(&self) -> &Registrations {
        &self.registrations
    }

    /// The events queue's consumer, on the same store and clients.
    pub fn events_worker(&self, runs: Arc<dyn crate::seams::RunStarter>) -> EventsWorker {
        EventsWorker::new(self, runs)
    }
}

#[async_trait]
impl RecordTriggerHooks for RecordHooks {
    /// Resolves the trigger's table with one meta read, adds the workflow to the table's
    /// registration, and creates the Airtable webhook when the table had none; a registration of
    /// another table that still lists the workflow (its trigger moved) lets it go. A disabled
    /// workflow is detached instead. Not a record trigger: nothing to do.
    async fn attach(&self, workflow: &Workflow) -> Result<(), AutomationError> {
        self.attach_workflow(workflow).await
    }

    /// Removes the workflow from every registration of its tenant; a webhook left serving no
    /// workflow is deleted (already gone on Airtable is fine).
    async fn detach(&self, workflow: &Workflow) -> Result<(), AutomationError> {
        self.detach_workflow(workflow).await
    }
}
