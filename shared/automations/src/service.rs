//! The automations as one service, built once per process from the platform's ports and
//! services: what the HTTP handlers call, and the handlers the queue and schedule functions run
//! (the same ones the dev server runs in-process).
//!
//! Building it does no I/O, so a function that never touches automations pays nothing for it.

use std::sync::Arc;

use async_trait::async_trait;
use basics::{Clock, IdGenerator};
use chat::{ChatService, ModelCatalog};
use connections::Connections;
use gateway::{ClientPool, Gateway};
use metering::UsageCounters;
use outbound_http::OutboundHttp;
use ports::{Queue, TableStore};
use triggers::{JobFailure, QueueConsumer, ScheduledJob, ScheduledTick};

use crate::error::AutomationError;
use crate::executor::{Executor, StepObserver};
use crate::inbound::InboundHooks;
use crate::model::{Trigger, Workflow};
use crate::record_hooks::{RecordHooks, TenantAirtable};
use crate::runs::{RunSettings, Runs};
use crate::schedules::Schedules;
use crate::seams::{RecordTriggerHooks, RunStarter, WorkflowSecrets};
use crate::settings::AutomationSettings;
use crate::steps::{AirtableSteps, HttpSteps, LlmSteps, StepServices};
use crate::validation::GatewaySchema;
use crate::worker::RunWorker;
use crate::workflows::Workflows;

/// How long one delivery of a run may start new steps: well inside worker-runs' 150 s timeout
/// with a step in flight (an `http` step takes up to 30 s, an Airtable call waits up to the
/// gateway's 20 s budget). The run goes on in a fresh message after it.
pub const DELIVERY_BUDGET: std::time::Duration = std::time::Duration::from_secs(90);

/// What the automations are built from: the platform's ports and services.
#[derive(Debug, Clone)]
pub struct AutomationDeps {
    pub store: Arc<dyn TableStore>,
    pub queue: Arc<dyn Queue>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGenerator>,
    pub gateway: Gateway,
    pub connections: Connections,
    pub clients: Arc<ClientPool>,
    pub usage: UsageCounters,
    pub chat: ChatService,
    pub catalog: ModelCatalog,
    /// The guarded client `http` steps send through.
    pub outbound: Arc<dyn OutboundHttp>,
    /// Told after each side effect, before its checkpoint (the dev server's crash drill).
    pub observer: Option<Arc<dyn StepObserver>>,
    pub settings: AutomationSettings,
}

/// Workflows, runs, schedules, record triggers and inbound hooks, wired together.
#[derive(Debug)]
pub struct Automations {
    workflows: Workflows,
    runs: Arc<Runs>,
    record_hooks: Arc<RecordHooks>,
    inbound: InboundHooks,
    schedules: Arc<Schedules>,
    run_worker: Arc<RunWorker>,
    public_url: Option<String>,
}

impl Automations {
    pub fn new(deps: AutomationDeps) -> Self {
        let AutomationDeps {
            store,
            queue,
            clock,
            ids,
            gateway,
            connections,
            clients,
            usage,
            chat,
            catalog,
            outbound,
            observer,
            settings,
        } = deps;
        let airtable = TenantAirtable::new(connections, clients, gateway.clone(), usage.clone());
        let record_hooks = Arc::new(RecordHooks::new(
            Arc::clone(&store),
            Arc::clone(&queue),
            airtable.clone(),
            Arc::clone(&clock),
            Arc::clone(&ids),
            settings.public_url.clone().unwrap_or_default(),
        ));
        let hooks: Arc<dyn RecordTriggerHooks> = Arc::new(NeedsPublicUrl {
            hooks: Arc::clone(&record_hooks),
            public_url: settings.public_url.is_some(),
        });
        let workflows = Workflows::new(
            Arc::clone(&store),
            Arc::clone(&clock),
            Arc::clone(&ids),
            hooks,
            Arc::new(GatewaySchema::new(airtable)),
        );
        let runs = Arc::new(Runs::new(
            Arc::clone(&store),
            Arc::clone(&queue),
            Arc::clone(&clock),
            Arc::clone(&ids),
            RunSettings::from(&settings),
        ));
        let starter: Arc<dyn RunStarter> = runs.clone();
        let secrets: Arc<dyn WorkflowSecrets> = Arc::new(workflows.store().clone());
        let steps = StepServices {
            airtable: Some(AirtableSteps::new(gateway, usage.clone())),
            llm: Some(LlmSteps::new(chat, catalog, usage)),
            http: Some(match &settings.public_url {
                Some(url) => {
                    HttpSteps::new(outbound, secrets, Arc::clone(&clock)).refusing_own_hooks(url)
                }
                None => HttpSteps::new(outbound, secrets, Arc::clone(&clock)),
            }),
        };
        let mut executor = Executor::new(
            Arc::clone(&store),
            Arc::clone(&queue),
            Arc::clone(&clock),
            steps,
        );
        if let Some(observer) = observer {
            executor = executor.with_observer(observer);
        }
        executor = executor.with_time_budget(DELIVERY_BUDGET);
        Self {
            inbound: InboundHooks::new(
                Arc::clone(&store),
                Arc::clone(&clock),
                Arc::clone(&starter),
            ),
            schedules: Arc::new(Schedules::new(Arc::clone(&store), starter)),
            run_worker: Arc::new(RunWorker::new(executor, queue)),
            workflows,
            runs,
            record_hooks,
            public_url: settings.public_url,
        }
    }

    /// Where Airtable reaches the platform (`PUBLIC_URL`), if it is set: record-change webhooks
    /// need it.
    pub fn public_url(&self) -> Option<&str> {
        self.public_url.as_deref()
    }

    pub fn workflows(&self) -> &Workflows {
        &self.workflows
    }

    pub fn runs(&self) -> &Runs {
        &self.runs
    }

    pub fn record_hooks(&self) -> &RecordHooks {
        &self.record_hooks
    }

    pub fn inbound(&self) -> &InboundHooks {
        &self.inbound
    }

    /// Where a webhook-triggered workflow takes signed requests.
    pub fn hook_url(&self, workflow: &Workflow) -> Option<String> {
        match (&workflow.spec.trigger, &self.public_url) {
            (Trigger::Webhook, Some(url)) => {
                Some(format!("{url}/v1/hooks/workflows/{}", workflow.id))
            }
            _ => None,
        }
    }

    /// The runs queue's consumer (`worker-runs`).
    pub fn run_worker(&self) -> Arc<dyn QueueConsumer> {
        self.run_worker.clone()
    }

    /// The events queue's consumer (`worker-events`).
    pub fn events_worker(&self) -> Arc<dyn QueueConsumer> {
        let starter: Arc<dyn RunStarter> = self.runs.clone();
        Arc::new(self.record_hooks.events_worker(starter))
    }

    /// The once-a-minute job (`scheduler`): due schedules, then webhook refreshes.
    pub fn scheduler_job(&self) -> Arc<dyn ScheduledJob> {
        Arc::new(SchedulerTick {
            schedules: Arc::clone(&self.schedules),
            record_hooks: Arc::clone(&self.record_hooks),
        })
    }
}

/// The scheduler's minute: start due schedules' runs, then refresh webhooks near expiry. The
/// refresh runs even when some schedule failed; the tick then fails so the minute is retried
/// (schedules' dedup keys make a retry start nothing twice).
#[derive(Debug)]
struct SchedulerTick {
    schedules: Arc<Schedules>,
    record_hooks: Arc<RecordHooks>,
}

#[async_trait]
impl ScheduledJob for SchedulerTick {
    async fn tick(&self, tick: &ScheduledTick) -> Result<(), JobFailure> {
        let fired = self.schedules.tick(tick).await;
        match self.record_hooks.refresh_expiring(tick.time).await {
            Ok(refreshed) if refreshed > 0 => tracing::info!(refreshed, "webhooks refreshed"),
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %err, "webhook refresh failed; next minute retries"),
        }
        fired
    }
}

/// Record triggers need a public URL for Airtable's pings; without one, saving such a workflow
/// is refused with the reason instead of creating a webhook that points nowhere.
#[derive(Debug)]
struct NeedsPublicUrl {
    hooks: Arc<RecordHooks>,
    public_url: bool,
}

#[async_trait]
impl RecordTriggerHooks for NeedsPublicUrl {
    async fn attach(&self, workflow: &Workflow) -> Result<(), AutomationError> {
        if !self.public_url && workflow.spec.trigger.record_change().is_some() {
            return Err(AutomationError::invalid(
                "/trigger",
                "record triggers need the platform's public URL (PUBLIC_URL) for Airtable to notify",
            ));
        }
        self.hooks.attach(workflow).await
    }

    async fn detach(&self, workflow: &Workflow) -> Result<(), AutomationError> {
        self.hooks.detach(workflow).await
    }
}
