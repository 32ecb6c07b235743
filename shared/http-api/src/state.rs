//! The state every handler shares: the ports, the clock and the id generator, built once per
//! process (at Lambda init, or at dev-server start), plus the platform settings.

use std::sync::Arc;

use accounts::{Accounts, TokenService, TokenSettings};
use basics::{Clock, IdGenerator};
use chat::{CatalogSettings, ChatLimits, ChatService, ModelCatalog};
use connections::Connections;
use gateway::{ClientPool, Gateway, GatewaySettings};
use metering::{LimitSubject, RequestRateLimit, UsageCounters};
use ports::{Queue, Secrets, TableStore};
use tools::Registry;

/// Settings read from the environment at start (see the README's configuration table).
#[derive(Debug, Clone, PartialEq)]
pub struct PlatformSettings {
    /// `JWT_ISSUER`, `JWT_AUDIENCE`; lifetimes are fixed (15 minutes, 30 days).
    pub tokens: TokenSettings,
    /// `TENANT_REQUESTS_PER_MINUTE`: each tenant's request limit; 0 turns it off.
    pub tenant_requests_per_minute: u32,
    /// `CLIENT_AUTH_REQUESTS_PER_MINUTE`: each client address's limit on the public sign-in
    /// routes (register, login, refresh); 0 turns it off.
    pub client_auth_requests_per_minute: u32,
    /// `RECORDS_CACHE_TTL_SECONDS`, `GATEWAY_LATENCY_BUDGET_MS`, and the Airtable pacing.
    pub gateway: GatewaySettings,
    /// `CHAT_MODEL`, `GEMINI_BASE_URL`, `OPENAI_BASE_URL`, `CHAT_MODEL_PRICES`.
    pub models: CatalogSettings,
    /// `MCP_ALLOWED_ORIGINS`: browser origins allowed to call `/mcp` (comma-separated).
    pub mcp_allowed_origins: Vec<String>,
}

impl Default for PlatformSettings {
    fn default() -> Self {
        Self {
            tokens: TokenSettings::default(),
            tenant_requests_per_minute: DEFAULT_TENANT_REQUESTS_PER_MINUTE,
            client_auth_requests_per_minute: DEFAULT_CLIENT_AUTH_REQUESTS_PER_MINUTE,
            gateway: GatewaySettings::default(),
            models: CatalogSettings::default(),
            mcp_allowed_origins: Vec::new(),
        }
    }
}

/// Ten requests a second on average per tenant: generous for people and scripts, and a ceiling
/// on what one runaway client can cost everyone else.
pub const DEFAULT_TENANT_REQUESTS_PER_MINUTE: u32 = 600;

/// One sign-in attempt every two seconds per address on average: plenty for people and for a
/// script that logs in once, and a brake on password spraying across many emails (which the
/// per-email lockout alone cannot see) and on mass sign-ups, each of which costs a password hash.
pub const DEFAULT_CLIENT_AUTH_REQUESTS_PER_MINUTE: u32 = 30;

#[derive(Clone, Debug)]
pub struct AppState {
    pub store: Arc<dyn TableStore>,
    pub queue: Arc<dyn Queue>,
    pub secrets: Arc<dyn Secrets>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGenerator>,
    /// Mints and verifies access tokens; caches keys for the process.
    pub tokens: Arc<TokenService>,
    /// The platform version reported by health.
    pub version: &'static str,
    /// Airtable's API origin: `https://api.airtable.com`, or the local sandbox.
    pub airtable_api_url: String,
    pub tenant_requests_per_minute: u32,
    pub client_auth_requests_per_minute: u32,
    pub gateway_settings: GatewaySettings,
    /// The `/v0` gateway's Airtable clients, one per tenant, kept for the process (chat and MCP
    /// tools use them too).
    pub airtable_clients: Arc<ClientPool>,
    pub models: CatalogSettings,
    /// The one tool registry chat and MCP share.
    pub tools: Arc<Registry>,
    pub mcp_allowed_origins: Vec<String>,
}

impl AppState {
    /// State over the given ports with these settings.
    pub fn new(
        store: Arc<dyn TableStore>,
        queue: Arc<dyn Queue>,
        secrets: Arc<dyn Secrets>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
        airtable_api_url: String,
        settings: PlatformSettings,
    ) -> Self {
        let airtable_clients = Arc::new(ClientPool::new(
            Arc::clone(&store),
            Arc::clone(&clock),
            airtable_api_url.clone(),
            settings.gateway.latency_budget,
            settings.gateway.airtable_limits,
        ));
        Self {
            store,
            queue,
            secrets,
            clock,
            ids,
            tokens: Arc::new(TokenService::new(settings.tokens)),
            version: VERSION,
            airtable_api_url,
            tenant_requests_per_minute: settings.tenant_requests_per_minute,
            client_auth_requests_per_minute: settings.client_auth_requests_per_minute,
            gateway_settings: settings.gateway,
            airtable_clients,
            models: settings.models.clone(),
            tools: Arc::new(Registry::standard()),
            mcp_allowed_origins: settings.mcp_allowed_origins,
        }
    }

    pub fn accounts(&self) -> Accounts {
        Accounts::new(
            Arc::clone(&self.store),
            Arc::clone(&self.secrets),
            Arc::clone(&self.clock),
            Arc::clone(&self.ids),
            Arc::clone(&self.tokens),
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
            self.tenant_requests_per_minute,
        )
    }

    pub fn client_auth_rate_limit(&self) -> RequestRateLimit {
        RequestRateLimit::new(
            Arc::clone(&self.store),
            Arc::clone(&self.clock),
            LimitSubject::Client,
            self.client_auth_requests_per_minute,
        )
    }

    pub fn gateway(&self) -> Gateway {
        Gateway::new(
            Arc::clone(&self.store),
            Arc::clone(&self.clock),
            self.connections(),
            Arc::clone(&self.airtable_clients),
            &self.gateway_settings,
        )
    }

    pub fn chat(&self) -> ChatService {
        ChatService::new(
            Arc::clone(&self.store),
            Arc::clone(&self.clock),
            Arc::clone(&self.ids),
            Arc::clone(&self.tools),
            ChatLimits::default(),
        )
    }

    pub fn model_catalog(&self) -> ModelCatalog {
        ModelCatalog::new(self.models.clone(), Arc::clone(&self.secrets))
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

/// This build's version, from Cargo.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
