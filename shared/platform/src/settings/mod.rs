//! Every setting a process reads, read here and only here: which backend, where its
//! resources are, and the platform's limits, tokens, gateway and models. A wrong value becomes a
//! [`ConfigError`] naming the variable; mains print it as one line and exit.

mod automation_variables;
mod gateway_variables;
mod model_variables;
mod state_machine_variables;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use accounts::TokenSettings;
use automations::AutomationSettings;
use basics::{ConfigError, Env};
use chat::CatalogSettings;
use gateway::GatewaySettings;
use ports::{QueueName, Table};

pub use automation_variables::automation_settings;
pub use gateway_variables::gateway_settings;
pub use model_variables::model_settings;
pub use state_machine_variables::{STATE_MACHINE_ARNS, state_machine_arns};

/// The platform's own settings (beside where its adapters are): limits, tokens, the gateway
/// and the models.
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
    /// `PUBLIC_URL`, `RUN_DEADLINE_SECONDS`.
    pub automations: AutomationSettings,
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
            automations: AutomationSettings::default(),
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    /// SQLite and files under `DATA_DIR`: the local default.
    Embedded,
    /// DynamoDB, SQS, Secrets Manager (and Step Functions), on AWS or an emulator.
    Aws,
}

impl FromStr for BackendKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "embedded" => Ok(BackendKind::Embedded),
            "aws" => Ok(BackendKind::Aws),
            _ => Err("expected \"embedded\" or \"aws\"".to_string()),
        }
    }
}

/// Where the AWS resources are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsSettings {
    /// `AWS_ENDPOINT_URL`: an emulator such as moto, or unset for AWS itself.
    pub endpoint_url: Option<String>,
    /// `AWS_PROVISION`: create missing tables and queues at start (for emulators).
    pub provision: bool,
    /// Physical table names: `TABLE_CORE`, `TABLE_EPHEMERAL`, `TABLE_USAGE`, `TABLE_RUNS`.
    pub tables: BTreeMap<Table, String>,
    /// Queue URLs: `QUEUE_RUNS_URL`, `QUEUE_RUNS_DLQ_URL`, `QUEUE_EVENTS_URL`,
    /// `QUEUE_EVENTS_DLQ_URL` (found by provisioning when absent and `AWS_PROVISION` is on).
    pub queue_urls: BTreeMap<QueueName, String>,
    /// `RESOURCE_PREFIX`: prefixes default table names and provisioned queue names.
    pub resource_prefix: String,
    /// `SECRETS_PREFIX`: prefixes every secret's name in Secrets Manager.
    pub secrets_prefix: String,
    /// `STATE_MACHINE_ARNS`: each saga state machine's ARN by logical name (a JSON object);
    /// machines missing here are provisioned when `AWS_PROVISION` is on.
    pub state_machine_arns: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// `BACKEND`: `embedded` or `aws`.
    pub kind: BackendKind,
    /// `DATA_DIR`: where the embedded backend keeps its SQLite file and secrets file.
    pub data_dir: PathBuf,
    /// `SECRETS_CACHE_SECONDS`: how long a secret value is reused before asking again.
    pub secrets_cache_ttl: Duration,
    /// `AIRTABLE_API_URL`: Airtable's API origin (the dev server points it at its sandbox).
    pub airtable_api_url: String,
    pub aws: AwsSettings,
    /// `JWT_ISSUER`, `JWT_AUDIENCE`, `TENANT_REQUESTS_PER_MINUTE`,
    /// `CLIENT_AUTH_REQUESTS_PER_MINUTE`.
    pub platform: PlatformSettings,
}

/// Airtable's real API origin.
pub const AIRTABLE_API_URL: &str = "https://api.airtable.com";

/// The environment variable holding each table's physical name.
pub fn table_variable(table: Table) -> &'static str {
    match table {
        Table::Core => "TABLE_CORE",
        Table::Ephemeral => "TABLE_EPHEMERAL",
        Table::Usage => "TABLE_USAGE",
        Table::Runs => "TABLE_RUNS",
    }
}

/// The environment variable holding each queue's URL.
pub fn queue_variable(queue: QueueName) -> &'static str {
    match queue {
        QueueName::Runs => "QUEUE_RUNS_URL",
        QueueName::RunsDlq => "QUEUE_RUNS_DLQ_URL",
        QueueName::Events => "QUEUE_EVENTS_URL",
        QueueName::EventsDlq => "QUEUE_EVENTS_DLQ_URL",
    }
}

impl Settings {
    /// Reads the configuration; `default_kind` applies when `BACKEND` is unset (embedded for
    /// the dev server, AWS inside Lambda).
    pub fn from_env(env: &Env, default_kind: BackendKind) -> Result<Self, ConfigError> {
        let kind = env.or("BACKEND", default_kind)?;
        let data_dir = env.or("DATA_DIR", PathBuf::from("./.data"))?;
        let secrets_cache_ttl = Duration::from_secs(env.or("SECRETS_CACHE_SECONDS", 300u64)?);
        let airtable_api_url = env.or("AIRTABLE_API_URL", AIRTABLE_API_URL.to_string())?;
        let endpoint_url = env.optional::<String>("AWS_ENDPOINT_URL")?;
        let provision = env.or("AWS_PROVISION", endpoint_url.is_some())?;
        let resource_prefix = env.or("RESOURCE_PREFIX", "pyairtable-".to_string())?;
        let secrets_prefix = env.or("SECRETS_PREFIX", "pyairtable/".to_string())?;
        let mut tables = BTreeMap::new();
        for table in Table::ALL {
            let default = format!("{resource_prefix}{}", table.logical_name());
            tables.insert(table, env.or(table_variable(table), default)?);
        }
        let mut queue_urls = BTreeMap::new();
        for queue in QueueName::ALL {
            let variable = queue_variable(queue);
            let url = if kind == BackendKind::Aws && !provision {
                Some(env.required::<String>(variable)?)
            } else {
                env.optional::<String>(variable)?
            };
            if let Some(url) = url {
                queue_urls.insert(queue, url);
            }
        }
        let defaults = PlatformSettings::default();
        let platform = PlatformSettings {
            tokens: TokenSettings {
                issuer: env.or("JWT_ISSUER", defaults.tokens.issuer.clone())?,
                audience: env.or("JWT_AUDIENCE", defaults.tokens.audience.clone())?,
                ..defaults.tokens
            },
            tenant_requests_per_minute: env.or(
                "TENANT_REQUESTS_PER_MINUTE",
                defaults.tenant_requests_per_minute,
            )?,
            client_auth_requests_per_minute: env.or(
                "CLIENT_AUTH_REQUESTS_PER_MINUTE",
                defaults.client_auth_requests_per_minute,
            )?,
            gateway: gateway_settings(env)?,
            models: model_settings(env)?,
            mcp_allowed_origins: env
                .raw("MCP_ALLOWED_ORIGINS")
                .map(|list| {
                    list.split(',')
                        .map(|o| o.trim().trim_end_matches('/').to_string())
                        .filter(|o| !o.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            automations: automation_settings(env)?,
        };
        Ok(Self {
            platform,
            kind,
            data_dir,
            secrets_cache_ttl,
            airtable_api_url: airtable_api_url.trim_end_matches('/').to_string(),
            aws: AwsSettings {
                endpoint_url,
                provision,
                tables,
                queue_urls,
                resource_prefix,
                secrets_prefix,
                state_machine_arns: state_machine_arns(env)?,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_needs_nothing() {
        let config =
            Settings::from_env(&Env::from_pairs([]), BackendKind::Embedded).expect("defaults");
        assert_eq!(config.kind, BackendKind::Embedded);
        assert_eq!(config.data_dir, PathBuf::from("./.data"));
        assert_eq!(config.aws.tables[&Table::Core], "pyairtable-core");
    }

    #[test]
    fn aws_without_provisioning_requires_queue_urls() {
        let err = Settings::from_env(&Env::from_pairs([]), BackendKind::Aws)
            .expect_err("queue urls are required");
        assert_eq!(err.var, "QUEUE_RUNS_URL");
    }

    #[test]
    fn an_emulator_endpoint_turns_provisioning_on() {
        let env = Env::from_pairs([
            ("BACKEND", "aws"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
        ]);
        let config = Settings::from_env(&env, BackendKind::Embedded).expect("config");
        assert_eq!(config.kind, BackendKind::Aws);
        assert!(config.aws.provision);
    }

    #[test]
    fn a_bad_backend_is_named() {
        let err = Settings::from_env(&Env::from_pairs([("BACKEND", "mysql")]), BackendKind::Aws)
            .expect_err("bad backend");
        assert_eq!(err.var, "BACKEND");
    }
}
