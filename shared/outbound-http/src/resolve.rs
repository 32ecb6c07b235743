//! Name resolution, as a seam: production asks the system resolver, tests and the dev server
//! answer from a table (tests must never send a DNS query off the machine).

use std::collections::HashMap;
use std::net::IpAddr;

use async_trait::async_trait;

/// Resolves a host name to its addresses. Every address returned is vetted by the guard, and
/// only vetted addresses are dialled.
#[async_trait]
pub trait Resolver: Send + Sync + std::fmt::Debug {
    /// The addresses of `host` (a domain name, never an IP literal), or why there are none.
    async fn resolve(&self, host: &str) -> Result<Vec<IpAddr>, String>;
}

/// The system resolver (`getaddrinfo` through tokio), as every other HTTP client here uses.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

#[async_trait]
impl Resolver for SystemResolver {
    async fn resolve(&self, host: &str) -> Result<Vec<IpAddr>, String> {
        let addrs = tokio::net::lookup_host((host, 0))
            .await
            .map_err(|e| format!("cannot resolve {host}: {e}"))?;
        Ok(addrs.map(|addr| addr.ip()).collect())
    }
}

/// Answers from a fixed table; unknown names do not resolve. For tests and the dev server.
#[derive(Debug, Clone, Default)]
pub struct StaticResolver {
    table: HashMap<String, Vec<IpAddr>>,
}

impl StaticResolver {
    pub fn new() -> Self {
        Self::default()
    }

    /// `host` resolves to `addrs` (names compare case-insensitively, trailing dot ignored).
    pub fn with(mut self, host: &str, addrs: impl IntoIterator<Item = IpAddr>) -> Self {
        self.table
            .insert(normalise(host), addrs.into_iter().collect());
        self
    }
}

fn normalise(host: &str) -> String {
    host.trim_end_matches('.').to_ascii_lowercase()
}

#[async_trait]
impl Resolver for StaticResolver {
    async fn resolve(&self, host: &str) -> Result<Vec<IpAddr>, String> {
        self.table
            .get(&normalise(host))
            .cloned()
            .ok_or_else(|| format!("cannot resolve {host}: unknown name"))
    }
}
