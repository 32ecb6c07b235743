//! Request limits: at most N requests per calendar minute per subject, where the subject is a
//! tenant (every authenticated route) or a client address (the public sign-in routes, which
//! cost a password hash each and have no tenant yet).
//!
//! A fixed window costs one atomic add per request, and DynamoDB's atomic counter makes the
//! limit hold across every concurrent function instance. A burst straddling a minute boundary
//! can reach 2N in 60 s; for a fairness limit (not Airtable's hard limit, which the Airtable
//! client paces separately) that is the right trade for one write per request.

use std::sync::Arc;

use basics::Clock;
use ports::{Key, StoreError, Table, TableStore, Update};
use serde_json::Value;

/// What a limit counts per.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitSubject {
    /// A tenant id.
    Tenant,
    /// A client's network address (stored hashed).
    Client,
}

#[derive(Debug, Clone)]
pub struct RequestRateLimit {
    store: Arc<dyn TableStore>,
    clock: Arc<dyn Clock>,
    per_minute: u32,
    subject: LimitSubject,
}

/// Over the limit: try again after this many seconds (the rest of the minute).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("over the tenant's request limit; retry in {retry_after} s")]
pub struct RateLimited {
    pub retry_after: u64,
    pub limit: u32,
}

impl RequestRateLimit {
    /// `per_minute == 0` turns the limit off.
    pub fn new(
        store: Arc<dyn TableStore>,
        clock: Arc<dyn Clock>,
        subject: LimitSubject,
        per_minute: u32,
    ) -> Self {
        Self {
            store,
            clock,
            per_minute,
            subject,
        }
    }

    pub fn per_minute(&self) -> u32 {
        self.per_minute
    }

    /// Counts one request for the subject (a tenant id or a client address); `Ok(Err(..))` when
    /// it is over the limit.
    pub async fn admit(&self, subject: &str) -> Result<Result<(), RateLimited>, StoreError> {
        self.admit_many(subject, 1).await
    }

    /// Counts `count` requests at once (one HTTP request that carries several, such as an MCP
    /// batch); `Ok(Err(..))` when they take the subject over the limit.
    pub async fn admit_many(
        &self,
        subject: &str,
        count: u32,
    ) -> Result<Result<(), RateLimited>, StoreError> {
        if self.per_minute == 0 || count == 0 {
            return Ok(Ok(()));
        }
        let now = self.clock.epoch_seconds();
        let minute = now.div_euclid(60);
        let pk = match self.subject {
            LimitSubject::Tenant => format!("TENANT#{subject}"),
            LimitSubject::Client => format!("CLIENT#{}", basics::digest::sha256_hex(subject)),
        };
        let key = Key::new(pk, format!("RATE#{minute}"));
        let item = self
            .store
            .update(
                Table::Ephemeral,
                &key,
                Update::new()
                    .add("count", i64::from(count))
                    .set_if_absent("expires_at", (minute + 2) * 60),
                None,
            )
            .await?;
        let count = item.get("count").and_then(Value::as_i64).unwrap_or(0);
        if count > i64::from(self.per_minute) {
            let retry_after = u64::try_from(60 - now.rem_euclid(60)).unwrap_or(1).max(1);
            return Ok(Err(RateLimited {
                retry_after,
                limit: self.per_minute,
            }));
        }
        Ok(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use basics::ManualClock;
    use chrono::{TimeZone, Utc};
    use embedded::{Database, SqliteStore};

    use super::*;

    #[tokio::test]
    async fn the_limit_holds_per_tenant_per_minute() {
        let clock = Arc::new(ManualClock::at(
            Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 15)
                .single()
                .expect("time"),
        ));
        let db = Database::in_memory().expect("db");
        let store = Arc::new(SqliteStore::new(db, clock.clone()));
        let limit = RequestRateLimit::new(store, clock.clone(), LimitSubject::Tenant, 3);
        for _ in 0..3 {
            assert_eq!(limit.admit("ten_a").await.expect("store"), Ok(()));
        }
        let refused = limit.admit("ten_a").await.expect("store");
        assert_eq!(
            refused,
            Err(RateLimited {
                retry_after: 45,
                limit: 3
            })
        );
        // Another tenant has its own budget.
        assert_eq!(limit.admit("ten_b").await.expect("store"), Ok(()));
        // The next minute starts afresh.
        clock.advance(chrono::Duration::seconds(45));
        assert_eq!(limit.admit("ten_a").await.expect("store"), Ok(()));
    }

    #[tokio::test]
    async fn several_requests_at_once_count_as_several() {
        let clock = Arc::new(ManualClock::at(
            Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 15)
                .single()
                .expect("time"),
        ));
        let db = Database::in_memory().expect("db");
        let store = Arc::new(SqliteStore::new(db, clock.clone()));
        let limit = RequestRateLimit::new(store, clock, LimitSubject::Tenant, 5);
        assert_eq!(limit.admit_many("ten_a", 4).await.expect("store"), Ok(()));
        assert!(limit.admit_many("ten_a", 2).await.expect("store").is_err());
        // Nothing is counted for nothing.
        assert_eq!(limit.admit_many("ten_b", 0).await.expect("store"), Ok(()));
        assert_eq!(limit.admit_many("ten_b", 5).await.expect("store"), Ok(()));
    }

    #[tokio::test]
    async fn clients_and_tenants_are_counted_apart() {
        let clock = Arc::new(ManualClock::at(Utc::now()));
        let db = Database::in_memory().expect("db");
        let store: Arc<dyn TableStore> = Arc::new(SqliteStore::new(db, clock.clone()));
        let tenants = RequestRateLimit::new(store.clone(), clock.clone(), LimitSubject::Tenant, 1);
        let clients = RequestRateLimit::new(store, clock, LimitSubject::Client, 1);
        assert_eq!(tenants.admit("x").await.expect("store"), Ok(()));
        assert_eq!(clients.admit("x").await.expect("store"), Ok(()));
        assert!(clients.admit("x").await.expect("store").is_err());
        assert_eq!(clients.admit("203.0.113.9").await.expect("store"), Ok(()));
    }

    #[tokio::test]
    async fn zero_means_no_limit() {
        let clock = Arc::new(ManualClock::at(Utc::now()));
        let db = Database::in_memory().expect("db");
        let store = Arc::new(SqliteStore::new(db, clock.clone()));
        let limit = RequestRateLimit::new(store, clock, LimitSubject::Client, 0);
        for _ in 0..10 {
            assert_eq!(limit.admit("ten_a").await.expect("store"), Ok(()));
        }
    }
}
