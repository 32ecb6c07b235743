//! The ports a process runs on and the services over them.

use std::sync::{Arc, OnceLock};

use accounts::{Accounts, TokenService};
use automations::executor::StepObserver;
use automations::service::{AutomationDeps, Automations};
use basics::{Clock, IdGenerator};
use chat::{Budgets, ChatLimits, ChatService, ModelCatalog};
use connections::Connections;
use gateway::{ClientPool, Gateway};
use metering::{LimitSubject, RequestRateLimit, UsageCounters};
use outbound_http::{
    GuardedClient, OutboundError, OutboundHttp, OutboundRequest, OutboundResponse,
};
use ports::{Queue, Secrets, StateMachines, TableStore};
use sagas::{SagaDeps, Sagas};
use tools::Registry;

use crate::settings::PlatformSettings;

/// This build's version, from Cargo.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The adapters behind the ports, as the composition root (`backend`, or a test) built them.
#[derive(Debug, Clone)]
pub struct Ports {
    pub store: Arc<dyn TableStore>,
    pub queue: Arc<dyn Queue>,
    pub secrets: Arc<dyn Secrets>,
    /// The saga state machines: Step Functions, or the local runner of the same ASL files.
    pub state_machines: Arc<dyn StateMachines>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGenerator>,
}

/// Everything a handler of any trigger needs: the ports, the settings, and the services, each
/// built once per process on first use. Shared behind an `Arc`.
#[derive(Debug)]
pub struct Platform {
    pub store: Arc<dyn TableStore>,
    pub queue: Arc<dyn Queue>,
    pub secrets: Arc<dyn Secrets>,
    pub state_machines: Arc<dyn StateMachines>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGenerator>,
    /// Airtable's API origin: `https://api.airtable.com`, or the local sandbox.
    pub airtable_api_url: String,
    pub settings: PlatformSettings,
    /// The platform version reported by health and MCP.
    pub version: &'static str,
    tokens: OnceLock<Arc<TokenService>>,
    airtable_clients: OnceLock<Arc<ClientPool>>,
    tools: OnceLock<Arc<Registry>>,
    automations: OnceLock<Arc<Automations>>,
    sagas: OnceLock<Arc<Sagas>>,
    outbound_http: OnceLock<Arc<dyn OutboundHttp>>,
    step_observer: OnceLock<Arc<dyn StepObserver>>,
}

impl Platform {
    pub fn new(ports: Ports, airtable_api_url: String, settings: PlatformSettings) -> Self {
        Self {
            store: ports.store,
            queue: ports.queue,
            secrets: ports.secrets,
            state_machines: ports.state_machines,
            clock: ports.clock,
            ids: ports.ids,
            airtable_api_url,
            settings,
            version: VERSION,
            tokens: OnceLock::new(),
            airtable_clients: OnceLock::new(),
            tools: OnceLock::new(),
            automations: OnceLock::new(),
            sagas: OnceLock::new(),
            outbound_http: OnceLock::new(),
            step_observer: OnceLock::new(),
        }
    }

    /// Workflows, runs, schedules, record triggers and inbound hooks, built on first use.
    pub fn automations(&self) -> &Arc<Automations> {
        self.automations.get_or_init(|| {
            Arc::new(Automations::new(AutomationDeps {
                store: Arc::clone(&self.store),
                queue: Arc::clone(&self.queue),
                clock: Arc::clone(&self.clock),
                ids: Arc::clone(&self.ids),
                gateway: self.gateway(),
                connections: self.connections(),
                clients: Arc::clone(self.airtable_clients()),
                usage: self.usage(),
                chat: self.chat(),
                catalog: self.model_catalog(),
                outbound: Arc::clone(self.outbound_http()),
                observer: self.step_observer.get().cloned(),
                settings: self.settings.automations.clone(),
            }))
        })
    }

    /// Sagas (transaction, table-sync, connect-base) and the saga-step task handler, built on
    /// first use over the state-machine port: the HTTP API starts and follows executions, the
    /// saga-step function runs their steps.
    pub fn sagas(&self) -> &Arc<Sagas> {
        self.sagas.get_or_init(|| {
            Arc::new(Sagas::new(SagaDeps {
                store: Arc::clone(&self.store),
                machines: Arc::clone(&self.state_machines),
                clock: Arc::clone(&self.clock),
                ids: Arc::clone(&self.ids),
                gateway: self.gateway(),
                usage: self.usage(),
                automations: Arc::clone(self.automations()),
            }))
        })
    }

    /// The guarded client workflow `http` steps send through.
    pub fn outbound_http(&self) -> &Arc<dyn OutboundHttp> {
        self.outbound_http.get_or_init(|| match GuardedClient::builder().build() {
            Ok(client) => Arc::new(client),
            Err(err) => {
                tracing::error!(error = %err, "cannot build the outbound HTTP client; http steps will fail");
                Arc::new(NoOutbound(err.to_string()))
            }
        })
    }

    /// Uses `client` for `http` steps instead of the default guarded client (the dev server's,
    /// with its exact-address allowances). Only before the automations are first used; answers
    /// whether it took effect.
    pub fn use_outbound_http(&self, client: Arc<dyn OutboundHttp>) -> bool {
        self.outbound_http.set(client).is_ok()
    }

    /// Tells `observer` of every side effect before its checkpoint (the dev server's crash
    /// drill). Only before the automations are first used; answers whether it took effect.
    pub fn use_step_observer(&self, observer: Arc<dyn StepObserver>) -> bool {
        self.step_observer.set(observer).is_ok()
    }

    /// Mints and verifies access tokens; caches keys for the process.
    pub fn tokens(&self) -> &Arc<TokenService> {
        self.tokens
            .get_or_init(|| Arc::new(TokenService::new(self.settings.tokens.clone())))
    }

    /// The Airtable clients, one per tenant, kept for the process: the `/v0` gateway, chat and
    /// MCP tools share them, so they share one rate limiter and one read cache.
    pub fn airtable_clients(&self) -> &Arc<ClientPool> {
        self.airtable_clients.get_or_init(|| {
            Arc::new(ClientPool::new(
                Arc::clone(&self.store),
                Arc::clone(&self.clock),
                self.airtable_api_url.clone(),
                self.settings.gateway.latency_budget,
                self.settings.gateway.airtable_limits,
            ))
        })
    }

    /// The one tool registry chat and MCP share (its argument schemas are compiled once).
    pub fn tools(&self) -> &Arc<Registry> {
        self.tools.get_or_init(|| Arc::new(Registry::standard()))
    }

    pub fn accounts(&self) -> Accounts {
        Accounts::new(
            Arc::clone(&self.store),
            Arc::clone(&self.secrets),
            Arc::clone(&self.clock),
            Arc::clone(&self.ids),
            Arc::clone(self.tokens()),
        )
    }

    pub fn usage(&self) -> UsageCounters {
        UsageCounters::new(Arc::clone(&self.store), Arc::clone(&self.clock))
    }

    pub fn tenant_rate_limit(&self) -> RequestRateLimit {
        RequestRateLimit::new(
            Arc::clone(&self.store),
            Arc::clone(&self.clock),
            LimitSubject::Tenant,
            self.settings.tenant_requests_per_minute,
        )
    }

    pub fn client_auth_rate_limit(&self) -> RequestRateLimit {
        RequestRateLimit::new(
            Arc::clone(&self.store),
            Arc::clone(&self.clock),
            LimitSubject::Client,
            self.settings.client_auth_requests_per_minute,
        )
    }

    pub fn gateway(&self) -> Gateway {
        Gateway::new(
            Arc::clone(&self.store),
            Arc::clone(&self.clock),
            self.connections(),
            Arc::clone(self.airtable_clients()),
            &self.settings.gateway,
        )
    }

    pub fn chat(&self) -> ChatService {
        ChatService::new(
            Arc::clone(&self.store),
            Arc::clone(&self.clock),
            Arc::clone(&self.ids),
            Arc::clone(self.tools()),
            ChatLimits::default(),
        )
    }

    /// The tenants' model budgets alone, for callers that read or show them without running
    /// chat (usage): building them does not build the tool registry.
    pub fn budgets(&self) -> Budgets {
        Budgets::new(Arc::clone(&self.store), Arc::clone(&self.clock))
    }

    pub fn model_catalog(&self) -> ModelCatalog {
        ModelCatalog::new(self.settings.models.clone(), Arc::clone(&self.secrets))
    }

    pub fn connections(&self) -> Connections {
        Connections::new(
            Arc::clone(&self.store),
            Arc::clone(&self.secrets),
            Arc::clone(&self.clock),
            self.airtable_api_url.clone(),
        )
    }
}

/// Stands in for an outbound client that could not be built: every request fails, saying why.
#[derive(Debug)]
struct NoOutbound(String);

#[async_trait::async_trait]
impl OutboundHttp for NoOutbound {
    async fn send(&self, _request: OutboundRequest) -> Result<OutboundResponse, OutboundError> {
        // Invalid, not Network: a client that could not be built will not be built by a
        // retry, so the step fails at once instead of using up the queue's receives.
        Err(OutboundError::Invalid(format!(
            "outbound HTTP is unavailable here: {}",
            self.0
        )))
    }
}
