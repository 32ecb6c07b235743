//! Idempotency-Key claims under a burst, on both backends: the embedded SQLite store and the
//! AWS adapters against moto (when `MOTO_ENDPOINT` is set, as `./scripts/test` sets it). One
//! key fired many times at once is claimed by exactly one request.

use std::sync::Arc;

use basics::{IdGenerator, ManualClock, RandomIds};
use embedded::{Database, SqliteStore};
use futures::future::join_all;
use gateway::{Claim, Idempotency, IdempotencyKey};
use ports::TableStore;

async fn backends(clock: &ManualClock) -> Vec<(&'static str, Arc<dyn TableStore>)> {
    let clock = Arc::new(clock.clone());
    let sqlite = SqliteStore::new(Database::in_memory().expect("db"), clock.clone());
    let mut stores: Vec<(&'static str, Arc<dyn TableStore>)> = vec![("sqlite", Arc::new(sqlite))];
    if let Some(moto) = aws_adapters::testing::moto_store("gateway-race-", clock).await {
        stores.push(("moto", Arc::new(moto)));
    }
    stores
}

async fn claim_at_once(
    idempotency: &Idempotency,
    tenant: &str,
    key: &IdempotencyKey,
) -> Vec<Claim> {
    let claims = (0..20).map(|_| {
        let (idempotency, tenant, key) = (idempotency.clone(), tenant.to_string(), key.clone());
        tokio::spawn(async move { idempotency.claim(&tenant, &key, "fingerprint").await })
    });
    join_all(claims)
        .await
        .into_iter()
        .map(|r| r.expect("task").expect("store"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_key_fired_at_once_is_claimed_once() {
    let clock = ManualClock::starting_now();
    for (backend, store) in backends(&clock).await {
        let idempotency = Idempotency::new(store, Arc::new(clock.clone()));
        let tenant = format!("ten_{}", RandomIds.random_token(10));
        let key = IdempotencyKey::parse("order-42").expect("key");

        let claims = claim_at_once(&idempotency, &tenant, &key).await;
        let proceed = claims.iter().filter(|c| **c == Claim::Proceed).count();
        let in_progress = claims.iter().filter(|c| **c == Claim::InProgress).count();
        assert_eq!((proceed, in_progress), (1, 19), "{backend}: {claims:?}");

        // Released (the write surely did not happen): again exactly one retry gets it.
        idempotency.release(&tenant, &key).await.expect("release");
        let claims = claim_at_once(&idempotency, &tenant, &key).await;
        let proceed = claims.iter().filter(|c| **c == Claim::Proceed).count();
        assert_eq!(proceed, 1, "{backend}: {claims:?}");

        // Answered: everyone gets the answer, nobody writes.
        idempotency
            .record(&tenant, &key, "fingerprint", 200, b"{\"records\":[]}")
            .await
            .expect("record");
        let claims = claim_at_once(&idempotency, &tenant, &key).await;
        assert!(
            claims
                .iter()
                .all(|c| matches!(c, Claim::Replay { status: 200, .. })),
            "{backend}: {claims:?}"
        );
    }
}
