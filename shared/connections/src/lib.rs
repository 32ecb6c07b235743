//! A tenant's Airtable connection.
//!
//! Connecting verifies the token with Airtable's `GET /v0/meta/whoami` (through the one
//! Airtable client, so even verification respects the rate limits), then stores the token in the
//! secrets port under `tenants/<tenant>/airtable-token` and what whoami said (user id, scopes)
//! in the table store. The token is a `SecretString` from the moment it is parsed: no response,
//! `Debug` output or log line can show it. Reading back gives a masked form only.

use std::sync::Arc;
use std::time::Duration;

use airtable::{Airtable, AirtableError, ClientConfig, RateLimiter, RetryPolicy};
use basics::Clock;
use ports::{Condition, Key, Secrets, Table, TableStore, from_item, to_item};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// How long verification may take before we give up: well inside API Gateway's 30 s.
const VERIFY_BUDGET: Duration = Duration::from_secs(8);
/// The longest token accepted; Airtable's are under 100 characters.
const MAX_TOKEN_LEN: usize = 512;

/// The secret holding a tenant's Airtable token. Only api-connections writes these.
pub fn token_secret_name(tenant_id: &str) -> String {
    format!("tenants/{tenant_id}/airtable-token")
}

fn record_key(tenant_id: &str) -> Key {
    Key::new(format!("TENANT#{tenant_id}"), "CONNECTION#airtable")
}

/// What is stored about a connection besides the token itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectionRecord {
    /// Airtable's user id for the token (`usr…`).
    pub airtable_user_id: String,
    #[serde(default)]
    pub airtable_email: Option<String>,
    /// The token's scopes as whoami reported them (absent for OAuth tokens without scopes).
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// The masked token, e.g. `pat…f3c9`.
    pub token_hint: String,
    pub connected_at: String,
    /// The SHA-256 of the token (never the token): how a function instance whose secrets cache
    /// still holds an earlier token notices a reconnect. Absent on records written before it.
    #[serde(default)]
    pub token_sha256: Option<String>,
}

/// The connection as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConnectionView {
    pub provider: &'static str,
    pub airtable_user_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub airtable_email: Option<String>,
    pub scopes: Option<Vec<String>>,
    /// The token masked: its first three characters and last four.
    pub token: String,
    pub connected_at: String,
}

impl ConnectionView {
    fn of(record: ConnectionRecord) -> Self {
        Self {
            provider: "airtable",
            airtable_user_id: record.airtable_user_id,
            airtable_email: record.airtable_email,
            scopes: record.scopes,
            token: record.token_hint,
            connected_at: record.connected_at,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    #[error("{0}")]
    Invalid(String),
    /// Airtable said the token is not valid.
    #[error("Airtable refused this token: {0}")]
    Refused(String),
    #[error("No Airtable connection; connect one with PUT /v1/connections/airtable")]
    NotConnected,
    #[error(transparent)]
    Airtable(AirtableError),
    #[error(transparent)]
    Store(#[from] ports::StoreError),
    #[error(transparent)]
    Secrets(#[from] ports::SecretError),
}

/// Masks a token for display: `pat…f3c9`. Short tokens show nothing but the ellipsis.
pub fn mask(token: &SecretString) -> String {
    let chars: Vec<char> = token.expose_secret().chars().collect();
    if chars.len() < 16 {
        return "…".to_string();
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}…{tail}")
}

/// Connection operations for one process.
#[derive(Debug, Clone)]
pub struct Connections {
    store: Arc<dyn TableStore>,
    secrets: Arc<dyn Secrets>,
    clock: Arc<dyn Clock>,
    airtable_api_url: String,
}

impl Connections {
    pub fn new(
        store: Arc<dyn TableStore>,
        secrets: Arc<dyn Secrets>,
        clock: Arc<dyn Clock>,
        airtable_api_url: impl Into<String>,
    ) -> Self {
        Self {
            store,
            secrets,
            clock,
            airtable_api_url: airtable_api_url.into(),
        }
    }

    /// Verifies the token with whoami, then stores it (replacing any previous one).
    pub async fn connect(
        &self,
        tenant_id: &str,
        token: SecretString,
    ) -> Result<ConnectionView, ConnectionError> {
        // Surrounding whitespace is a copy-and-paste accident, as with emails.
        let token = SecretString::from(token.expose_secret().trim().to_string());
        let raw = token.expose_secret();
        if raw.is_empty() {
            return Err(ConnectionError::Invalid("token is required".into()));
        }
        if raw.len() > MAX_TOKEN_LEN || raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(ConnectionError::Invalid(
                "token does not look like an Airtable token".into(),
            ));
        }
        let client = self.client(token.clone())?;
        let whoami = match client.whoami().await {
            Ok(whoami) => whoami,
            Err(AirtableError::Api {
                status: 401 | 403,
                message,
                error_type,
                ..
            }) => {
                let reason = if message.is_empty() {
                    error_type
                } else {
                    message
                };
                return Err(ConnectionError::Refused(reason));
            }
            Err(err) => return Err(ConnectionError::Airtable(err)),
        };
        let record = ConnectionRecord {
            airtable_user_id: whoami.id,
            airtable_email: whoami.email,
            scopes: whoami.scopes,
            token_hint: mask(&token),
            token_sha256: Some(basics::digest::sha256_hex(token.expose_secret())),
            connected_at: self
                .clock
                .now()
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        };
        // The secret first: a record without its secret would claim a connection that cannot
        // be used, while a secret without its record is simply replaced on the next connect.
        self.secrets
            .put(&token_secret_name(tenant_id), token)
            .await?;
        self.store
            .put(Table::Core, to_item(&record_key(tenant_id), &record)?, None)
            .await?;
        tracing::info!(
            tenant_id,
            airtable_user_id = record.airtable_user_id,
            "connected Airtable"
        );
        Ok(ConnectionView::of(record))
    }

    /// The connection, masked.
    pub async fn get(&self, tenant_id: &str) -> Result<ConnectionView, ConnectionError> {
        match self.store.get(Table::Core, &record_key(tenant_id)).await? {
            Some(item) => Ok(ConnectionView::of(from_item(item)?)),
            None => Err(ConnectionError::NotConnected),
        }
    }

    /// Removes the connection and its secret.
    pub async fn disconnect(&self, tenant_id: &str) -> Result<(), ConnectionError> {
        let removed = self
            .store
            .delete(Table::Core, &record_key(tenant_id), Some(Condition::Exists))
            .await;
        self.secrets.delete(&token_secret_name(tenant_id)).await?;
        match removed {
            Ok(_) => {
                tracing::info!(tenant_id, "disconnected Airtable");
                Ok(())
            }
            Err(err) if err.is_condition_failure() => Err(ConnectionError::NotConnected),
            Err(err) => Err(err.into()),
        }
    }

    /// The tenant's Airtable token, for the functions that call Airtable on its behalf.
    ///
    /// The connection record decides whether the tenant is connected, and with which token: the
    /// token itself comes from the secrets port, whose per-instance cache could otherwise keep
    /// serving a disconnected or replaced token for minutes. So a disconnect takes effect at
    /// once everywhere, and a token that no longer matches the record is read again past the
    /// cache. The price is one store read per call.
    pub async fn token(&self, tenant_id: &str) -> Result<SecretString, ConnectionError> {
        let record: ConnectionRecord =
            match self.store.get(Table::Core, &record_key(tenant_id)).await? {
                Some(item) => from_item(item)?,
                None => return Err(ConnectionError::NotConnected),
            };
        let name = token_secret_name(tenant_id);
        let token = self
            .secrets
            .get(&name)
            .await?
            .ok_or(ConnectionError::NotConnected)?;
        let matches = |token: &SecretString| {
            record.token_sha256.as_deref().is_none_or(|expected| {
                basics::digest::constant_time_eq(
                    &basics::digest::sha256_hex(token.expose_secret()),
                    expected,
                )
            })
        };
        if matches(&token) {
            return Ok(token);
        }
        let fresh = self
            .secrets
            .get_fresh(&name)
            .await?
            .ok_or(ConnectionError::NotConnected)?;
        if matches(&fresh) {
            Ok(fresh)
        } else {
            // The record and the secret disagree even uncached: a connect is half-way through
            // (it writes the secret first, then the record). The newest secret is the one to use.
            tracing::warn!(
                tenant_id,
                "the Airtable token does not match its connection record"
            );
            Ok(fresh)
        }
    }

    fn client(&self, token: SecretString) -> Result<Airtable, ConnectionError> {
        let config = ClientConfig::new(token)
            .with_base_url(self.airtable_api_url.clone())
            .with_latency_budget(VERIFY_BUDGET)
            .with_timeout(VERIFY_BUDGET)
            .with_retry(RetryPolicy::default());
        let limiter = RateLimiter::new(Arc::clone(&self.store), Arc::clone(&self.clock));
        Airtable::with_clock(config, limiter, Arc::clone(&self.clock))
            .map_err(ConnectionError::Airtable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keep_only_the_ends() {
        let token = SecretString::from("patAbCdEfGh123456.0123456789abcdef".to_string());
        assert_eq!(mask(&token), "pat…cdef");
        assert_eq!(mask(&SecretString::from("short".to_string())), "…");
    }
}
