//! The typed options a test starts the platform with, and how they become the dev server's
//! configuration. Everything not set here is the platform's own default, so a test states only
//! what it depends on.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use airtable::RateLimits;
use airtable_sandbox::{Sandbox, SandboxBuilder};
use basics::{Clock, Env};
use devserver::{DevServerConfig, StartOptions, Workers};
use fake_llm::{DEFAULT_GEMINI_KEY, DEFAULT_OPENAI_KEY, FakeLlmBuilder, Provider};
use llm::{ModelPrice, PriceTable};
use platform::BackendKind;
use platform::Platform;
use ports::Table;

use crate::app::TestApp;
use crate::moto::unique_label;

/// Which adapters the platform runs on.
#[derive(Debug, Clone)]
enum Backend {
    /// SQLite and files under the app's temporary `DATA_DIR`.
    Embedded,
    /// The AWS adapters against moto at `endpoint`, on tables, queues and secrets named after
    /// `label` and a number unique to the run.
    Moto { endpoint: String, label: String },
}

/// Where an app on moto keeps its resources: every secret's name starts with `secrets`, every
/// table's and queue's with `resources`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MotoNames {
    pub(crate) secrets: String,
    pub(crate) resources: String,
}

/// Options for [`TestApp`]; [`TestApp::builder`] starts one. By default: the embedded backend,
/// both request limits off (every test client is 127.0.0.1 and one tenant; the limits have
/// tests of their own that turn them on), the sandbox with Airtable's rate limits, the gateway
/// paced at Airtable's limits, no LLM.
pub struct TestAppBuilder {
    backend: Backend,
    tenant_requests_per_minute: u32,
    client_auth_requests_per_minute: u32,
    secrets_cache_ttl: Option<Duration>,
    records_cache_ttl: Option<Duration>,
    gateway_latency_budget: Option<Duration>,
    gateway_paced: bool,
    sandbox: SandboxBuilder,
    llm: Option<FakeLlmBuilder>,
    model_keys: Vec<Provider>,
    chat_model: Option<String>,
    model_prices: Option<Vec<(String, ModelPrice)>>,
    capture_logs: bool,
    outbound_allow: Vec<std::net::SocketAddr>,
    start: StartOptions,
}

impl Default for TestAppBuilder {
    fn default() -> Self {
        Self {
            backend: Backend::Embedded,
            tenant_requests_per_minute: 0,
            client_auth_requests_per_minute: 0,
            secrets_cache_ttl: None,
            records_cache_ttl: None,
            gateway_latency_budget: None,
            gateway_paced: true,
            sandbox: Sandbox::builder(),
            llm: None,
            model_keys: vec![Provider::Gemini, Provider::OpenAi],
            chat_model: None,
            model_prices: None,
            capture_logs: false,
            outbound_allow: Vec::new(),
            start: StartOptions::default(),
        }
    }
}

impl TestAppBuilder {
    /// Lets workflow `http` steps reach this exact address (a receiver the test runs on
    /// loopback), which the address guard refuses otherwise (`DEV_OUTBOUND_ALLOW`).
    pub fn outbound_allow(mut self, address: std::net::SocketAddr) -> Self {
        self.outbound_allow.push(address);
        self
    }

    /// The AWS adapters against moto at `endpoint` (from [`crate::moto_endpoint`]), with
    /// resources of this run's own (`<label>-<n>-…`, secrets under `<label>-<n>/`).
    pub fn on_moto(mut self, endpoint: &str, label: &str) -> Self {
        self.backend = Backend::Moto {
            endpoint: endpoint.trim_end_matches('/').to_string(),
            label: label.to_string(),
        };
        self
    }

    /// Each tenant's request limit per minute (`TENANT_REQUESTS_PER_MINUTE`); 0 is off.
    pub fn tenant_limit(mut self, per_minute: u32) -> Self {
        self.tenant_requests_per_minute = per_minute;
        self
    }

    /// Each client address's limit on the sign-in routes (`CLIENT_AUTH_REQUESTS_PER_MINUTE`);
    /// 0 is off.
    pub fn client_auth_limit(mut self, per_minute: u32) -> Self {
        self.client_auth_requests_per_minute = per_minute;
        self
    }

    /// How long a secret's value (or its absence) is reused (`SECRETS_CACHE_SECONDS`).
    pub fn secrets_cache_ttl(mut self, ttl: Duration) -> Self {
        self.secrets_cache_ttl = Some(ttl);
        self
    }

    /// The gateway's read-cache TTL (`RECORDS_CACHE_TTL_SECONDS`); zero turns the cache off.
    pub fn records_cache_ttl(mut self, ttl: Duration) -> Self {
        self.records_cache_ttl = Some(ttl);
        self
    }

    /// How long the gateway waits for an Airtable slot (`GATEWAY_LATENCY_BUDGET_MS`).
    pub fn gateway_latency_budget(mut self, budget: Duration) -> Self {
        self.gateway_latency_budget = Some(budget);
        self
    }

    /// The platform's calls to Airtable unpaced (`AIRTABLE_BASE_REQUESTS_PER_SECOND=0` and
    /// `AIRTABLE_TOKEN_REQUESTS_PER_SECOND=0`): for a benchmark against the sandbox with its
    /// limits off, where Airtable's 5 requests per second per base would be all it measured.
    pub fn without_gateway_pacing(mut self) -> Self {
        self.gateway_paced = false;
        self
    }

    /// The Airtable sandbox as `sandbox` builds it (seed, rate limits, offset TTL).
    pub fn sandbox(mut self, sandbox: SandboxBuilder) -> Self {
        self.sandbox = sandbox;
        self
    }

    /// The sandbox without Airtable's rate limits: for tests that also call it straight, where
    /// its per-base limit is not what they test.
    pub fn without_sandbox_rate_limits(mut self) -> Self {
        self.sandbox = self.sandbox.no_rate_limits();
        self
    }

    /// A fake LLM (see [`TestApp::llm`]) as both providers' endpoint, with its default keys
    /// stored as the platform's model keys (on the embedded backend; on moto, create them in
    /// Secrets Manager).
    pub fn fake_llm(mut self, llm: FakeLlmBuilder) -> Self {
        self.llm = Some(llm);
        self
    }

    /// Leaves `provider`'s model key unset: the "model not configured" path.
    pub fn without_model_key(mut self, provider: Provider) -> Self {
        self.model_keys.retain(|p| *p != provider);
        self
    }

    /// The model a chat turn uses when it names none (`CHAT_MODEL`).
    pub fn chat_model(mut self, model: &str) -> Self {
        self.chat_model = Some(model.to_string());
        self
    }

    /// The models offered and their prices in USD per million input and output tokens,
    /// replacing the defaults (`CHAT_MODEL_PRICES`).
    pub fn model_prices<'a>(
        mut self,
        prices: impl IntoIterator<Item = (&'a str, f64, f64)>,
    ) -> Self {
        self.model_prices = Some(
            prices
                .into_iter()
                .map(|(model, input, output)| {
                    (
                        model.to_string(),
                        ModelPrice {
                            input_per_million: input,
                            output_per_million: output,
                        },
                    )
                })
                .collect(),
        );
        self
    }

    /// Records the platform's logs at debug level, for [`TestApp::logs`]: what a test reads to
    /// show that no secret is ever logged.
    pub fn capture_logs(mut self) -> Self {
        self.capture_logs = true;
        self
    }

    /// The clock every port, service and worker reads (a `basics::ManualClock` to move time).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.start.clock = Some(clock);
        self
    }

    /// The in-process queue consumers and scheduled jobs, built on the platform once it exists.
    pub fn workers(
        mut self,
        workers: impl FnOnce(&Arc<Platform>) -> Workers + Send + 'static,
    ) -> Self {
        self.start.workers = Some(Box::new(workers));
        self
    }

    pub(crate) fn take_start_options(&mut self) -> StartOptions {
        std::mem::take(&mut self.start)
    }

    /// Starts the platform and its fixtures.
    pub async fn spawn(self) -> TestApp {
        TestApp::start(self).await
    }

    pub(crate) fn take_sandbox(&mut self) -> SandboxBuilder {
        std::mem::replace(&mut self.sandbox, Sandbox::builder())
    }

    pub(crate) fn has_llm(&self) -> bool {
        self.llm.is_some()
    }

    pub(crate) fn take_llm(&mut self) -> Option<FakeLlmBuilder> {
        self.llm.take()
    }

    pub(crate) fn captures_logs(&self) -> bool {
        self.capture_logs
    }

    /// The model keys to store before start, as `(secret name, value)`: the fake LLM's, on the
    /// embedded backend only.
    pub(crate) fn model_secrets(&self) -> Vec<(&'static str, &'static str)> {
        if self.llm.is_none() || matches!(self.backend, Backend::Moto { .. }) {
            return Vec::new();
        }
        self.model_keys
            .iter()
            .map(|provider| match provider {
                Provider::Gemini => ("llm/gemini-api-key", DEFAULT_GEMINI_KEY),
                Provider::OpenAi => ("llm/openai-api-key", DEFAULT_OPENAI_KEY),
            })
            .collect()
    }

    /// The dev server's configuration for these options: listening on a free port of
    /// 127.0.0.1, data in `data_dir`, Airtable at `airtable` (the kit's own sandbox), the
    /// models at `llm` when there is one. Answers it with the names' prefixes on moto.
    pub(crate) fn config(
        &self,
        data_dir: &Path,
        airtable: String,
        llm: Option<(String, String)>,
    ) -> (DevServerConfig, Option<MotoNames>) {
        // The platform's defaults come from its one reader of settings, given no variables at
        // all: never the process environment, which would make a test depend on the shell.
        let mut config = DevServerConfig::from_env(&Env::from_pairs([]))
            .unwrap_or_else(|err| panic!("the dev server's defaults: {err}"));
        config.host = IpAddr::V4(Ipv4Addr::LOCALHOST);
        config.port = 0;
        config.run_sandbox = false;
        config.outbound_allow = self.outbound_allow.clone();
        let backend = &mut config.backend;
        backend.data_dir = data_dir.to_path_buf();
        backend.airtable_api_url = airtable;
        if let Some(ttl) = self.secrets_cache_ttl {
            backend.secrets_cache_ttl = ttl;
        }
        let moto_names = match &self.backend {
            Backend::Embedded => None,
            Backend::Moto { endpoint, label } => {
                let label = unique_label(label);
                backend.kind = BackendKind::Aws;
                backend.aws.endpoint_url = Some(endpoint.clone());
                backend.aws.provision = true;
                backend.aws.resource_prefix = format!("{label}-");
                backend.aws.secrets_prefix = format!("{label}/");
                backend.aws.queue_urls.clear();
                backend.aws.tables = Table::ALL
                    .into_iter()
                    .map(|table| (table, format!("{label}-{}", table.logical_name())))
                    .collect();
                Some(MotoNames {
                    secrets: backend.aws.secrets_prefix.clone(),
                    resources: backend.aws.resource_prefix.clone(),
                })
            }
        };
        let platform = &mut backend.platform;
        platform.tenant_requests_per_minute = self.tenant_requests_per_minute;
        platform.client_auth_requests_per_minute = self.client_auth_requests_per_minute;
        if let Some(ttl) = self.records_cache_ttl {
            platform.gateway.cache_ttl = ttl;
        }
        if let Some(budget) = self.gateway_latency_budget {
            platform.gateway.latency_budget = budget;
        }
        if !self.gateway_paced {
            platform.gateway.airtable_limits = RateLimits::unlimited();
        }
        let models = &mut platform.models;
        if let Some((gemini, openai)) = llm {
            models.gemini_base_url = gemini;
            models.openai_base_url = openai;
        }
        if let Some(prices) = &self.model_prices {
            models.prices = PriceTable(prices.iter().cloned().collect());
        }
        if let Some(model) = &self.chat_model {
            models.default_model = model.clone();
        }
        (config, moto_names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_options_land_in_the_dev_servers_configuration() {
        let dir = Path::new("/tmp/kit");
        let (config, prefix) = TestAppBuilder::default()
            .tenant_limit(7)
            .client_auth_limit(3)
            .secrets_cache_ttl(Duration::ZERO)
            .chat_model("acme-chat-1")
            .model_prices([("acme-chat-1", 1.0, 2.0)])
            .without_gateway_pacing()
            .config(
                dir,
                "http://127.0.0.1:1".into(),
                Some(("http://g".into(), "http://o/v1".into())),
            );
        assert_eq!(prefix, None, "no moto names on the embedded backend");
        assert_eq!((config.port, config.run_sandbox), (0, false));
        assert_eq!(config.backend.kind, BackendKind::Embedded);
        assert_eq!(config.backend.data_dir, dir);
        assert_eq!(config.backend.airtable_api_url, "http://127.0.0.1:1");
        assert_eq!(config.backend.secrets_cache_ttl, Duration::ZERO);
        let platform = &config.backend.platform;
        assert_eq!(platform.tenant_requests_per_minute, 7);
        assert_eq!(platform.client_auth_requests_per_minute, 3);
        assert_eq!(platform.models.default_model, "acme-chat-1");
        assert_eq!(platform.models.openai_base_url, "http://o/v1");
        assert_eq!(platform.models.prices.0.len(), 1);
        assert!(platform.gateway.airtable_limits.is_unlimited());
        let (paced, _) = TestAppBuilder::default().config(dir, String::new(), None);
        assert!(
            !paced
                .backend
                .platform
                .gateway
                .airtable_limits
                .is_unlimited(),
            "paced at Airtable's limits unless told otherwise"
        );
    }

    #[test]
    fn each_app_on_moto_has_resources_of_its_own() {
        let on_moto = || {
            TestAppBuilder::default()
                .on_moto("http://127.0.0.1:5000/", "kit")
                .config(Path::new("/tmp/kit"), String::new(), None)
        };
        let ((first, first_prefix), (second, second_prefix)) = (on_moto(), on_moto());
        assert_eq!(first.backend.kind, BackendKind::Aws);
        assert_eq!(
            first.backend.aws.endpoint_url.as_deref(),
            Some("http://127.0.0.1:5000")
        );
        assert!(first.backend.aws.provision);
        assert_ne!(first_prefix, second_prefix);
        let prefix = first.backend.aws.resource_prefix.clone();
        assert_eq!(
            first_prefix.map(|names| names.resources),
            Some(prefix.clone())
        );
        assert!(prefix.starts_with("kit-"), "{prefix}");
        assert!(
            first
                .backend
                .aws
                .tables
                .values()
                .all(|name| name.starts_with(&prefix)),
            "{:?}",
            first.backend.aws.tables
        );
        assert_ne!(first.backend.aws.tables, second.backend.aws.tables);
    }
}
