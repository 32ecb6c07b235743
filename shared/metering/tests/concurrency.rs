//! The request limits under a burst, on both backends: the embedded SQLite store and the AWS
//! adapters against moto (when `MOTO_ENDPOINT` is set, as `./scripts/test` sets it).

use std::sync::Arc;

use basics::{IdGenerator, ManualClock, RandomIds};
use chrono::{TimeZone, Utc};
use embedded::{Database, SqliteStore};
use futures::future::join_all;
use metering::{LimitSubject, RequestRateLimit};
use ports::TableStore;

/// The stores a case runs on, by name, all reading time from `clock`.
async fn backends(clock: &ManualClock) -> Vec<(&'static str, Arc<dyn TableStore>)> {
    let clock = Arc::new(clock.clone());
    let sqlite = SqliteStore::new(Database::in_memory().expect("db"), clock.clone());
    let mut stores: Vec<(&'static str, Arc<dyn TableStore>)> = vec![("sqlite", Arc::new(sqlite))];
    if let Some(moto) = aws_adapters::testing::moto_store("metering-race-", clock).await {
        stores.push(("moto", Arc::new(moto)));
    }
    stores
}

/// 45 requests at once against a limit of 30, for a client address and for a tenant: exactly
/// 30 are admitted, whatever order the store applies them in.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_admits_exactly_the_limit() {
    let clock = ManualClock::at(
        Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 15)
            .single()
            .expect("time"),
    );
    for (backend, store) in backends(&clock).await {
        for subject in [LimitSubject::Client, LimitSubject::Tenant] {
            let limit =
                RequestRateLimit::new(Arc::clone(&store), Arc::new(clock.clone()), subject, 30);
            // A subject no earlier run on a shared moto has counted.
            let who = format!("203.0.113.{}", RandomIds.random_token(8));
            let burst = (0..45).map(|_| {
                let (limit, who) = (limit.clone(), who.clone());
                tokio::spawn(async move { limit.admit(&who).await })
            });
            let mut admitted = 0;
            for result in join_all(burst).await {
                if result.expect("task").expect("store").is_ok() {
                    admitted += 1;
                }
            }
            assert_eq!(admitted, 30, "{backend} {subject:?}");
        }
    }
}
