//! The secrets port: signing keys and tenants' Airtable tokens. Values are `SecretString`, whose
//! `Debug` prints a placeholder, so a secret cannot end up in a log line by accident.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use basics::Clock;
use chrono::{DateTime, Duration, Utc};
use secrecy::SecretString;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("invalid secret name {0:?}: use letters, digits and / _ + = . @ -")]
    InvalidName(String),
    #[error("secrets unavailable: {0}")]
    Unavailable(String),
}

/// Checks a secret name against what Secrets Manager accepts (and what is safe as a file key).
pub fn validate_name(name: &str) -> Result<(), SecretError> {
    let ok = !name.is_empty()
        && name.len() <= 512
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/_+=.@-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(SecretError::InvalidName(name.to_string()))
    }
}

/// The secrets port.
#[async_trait]
pub trait Secrets: Send + Sync + fmt::Debug {
    async fn get(&self, name: &str) -> Result<Option<SecretString>, SecretError>;
    /// Like `get`, but past any cache: for a caller that has reason to believe the cached value
    /// is stale (a token signed by a key it has not seen yet). Callers must bound how often they
    /// ask, since every call reaches the backend.
    async fn get_fresh(&self, name: &str) -> Result<Option<SecretString>, SecretError> {
        self.get(name).await
    }
    /// Creates or replaces a secret.
    async fn put(&self, name: &str, value: SecretString) -> Result<(), SecretError>;
    /// Removes a secret; removing a missing one is not an error.
    async fn delete(&self, name: &str) -> Result<(), SecretError>;
}

/// When a value was fetched, and the value (`None` when the secret does not exist).
type CacheEntry = (DateTime<Utc>, Option<SecretString>);

/// Caches values of any [`Secrets`] for a TTL: Secrets Manager calls cost money and time, so a
/// function instance asks once per TTL. Writes through this wrapper update the cache at once.
#[derive(Debug)]
pub struct CachedSecrets<S> {
    inner: S,
    ttl: Duration,
    clock: Arc<dyn Clock>,
    cache: Mutex<HashMap<String, CacheEntry>>,
}

impl<S: Secrets> CachedSecrets<S> {
    pub fn new(inner: S, ttl: std::time::Duration, clock: Arc<dyn Clock>) -> Self {
        Self {
            inner,
            ttl: Duration::from_std(ttl).unwrap_or(Duration::minutes(5)),
            clock,
            cache: Mutex::new(HashMap::new()),
        }
    }

    fn cached(&self, name: &str) -> Option<Option<SecretString>> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        let (fetched_at, value) = cache.get(name)?;
        (self.clock.now() - *fetched_at < self.ttl).then(|| value.clone())
    }

    fn remember(&self, name: &str, value: Option<SecretString>) {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.insert(name.to_string(), (self.clock.now(), value));
    }
}

#[async_trait]
impl<S: Secrets> Secrets for CachedSecrets<S> {
    async fn get(&self, name: &str) -> Result<Option<SecretString>, SecretError> {
        if let Some(value) = self.cached(name) {
            return Ok(value);
        }
        let value = self.inner.get(name).await?;
        self.remember(name, value.clone());
        Ok(value)
    }

    async fn get_fresh(&self, name: &str) -> Result<Option<SecretString>, SecretError> {
        let value = self.inner.get(name).await?;
        self.remember(name, value.clone());
        Ok(value)
    }

    async fn put(&self, name: &str, value: SecretString) -> Result<(), SecretError> {
        self.inner.put(name, value.clone()).await?;
        self.remember(name, Some(value));
        Ok(())
    }

    async fn delete(&self, name: &str) -> Result<(), SecretError> {
        self.inner.delete(name).await?;
        self.remember(name, None);
        Ok(())
    }
}

#[async_trait]
impl<T: Secrets + ?Sized> Secrets for std::sync::Arc<T> {
    async fn get(&self, name: &str) -> Result<Option<SecretString>, SecretError> {
        (**self).get(name).await
    }

    async fn get_fresh(&self, name: &str) -> Result<Option<SecretString>, SecretError> {
        (**self).get_fresh(name).await
    }

    async fn put(&self, name: &str, value: SecretString) -> Result<(), SecretError> {
        (**self).put(name, value).await
    }

    async fn delete(&self, name: &str) -> Result<(), SecretError> {
        (**self).delete(name).await
    }
}
