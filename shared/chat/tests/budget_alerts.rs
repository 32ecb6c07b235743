//! Budget alerts under concurrency, on both backends: the embedded SQLite store and the AWS
//! adapters against moto (when `MOTO_ENDPOINT` is set, as `./scripts/test` sets it). Turns that
//! cross the threshold at once record one alert per kind and month, and the first one stays.

use std::sync::Arc;

use basics::{IdGenerator, ManualClock, RandomIds};
use chat::{BudgetSettings, Budgets};
use embedded::{Database, SqliteStore};
use futures::future::join_all;
use ports::TableStore;

async fn backends(clock: &ManualClock) -> Vec<(&'static str, Arc<dyn TableStore>)> {
    let clock = Arc::new(clock.clone());
    let sqlite = SqliteStore::new(Database::in_memory().expect("db"), clock.clone());
    let mut stores: Vec<(&'static str, Arc<dyn TableStore>)> = vec![("sqlite", Arc::new(sqlite))];
    if let Some(moto) = aws_adapters::testing::moto_store("chat-race-", clock).await {
        stores.push(("moto", Arc::new(moto)));
    }
    stores
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn turns_crossing_the_threshold_at_once_record_one_alert() {
    let clock = ManualClock::starting_now();
    let settings = BudgetSettings {
        monthly_usd: 10.0,
        alert_threshold: 0.8,
    };
    for (backend, store) in backends(&clock).await {
        let budgets = Budgets::new(store, Arc::new(clock.clone()));
        let tenant = format!("ten_{}", RandomIds.random_token(10));
        let spends: Vec<f64> = (0..20).map(|n| 8.0 + f64::from(n) / 100.0).collect();
        let records = spends.iter().map(|&spent| {
            let (budgets, tenant) = (budgets.clone(), tenant.clone());
            tokio::spawn(async move { budgets.record_alerts(&tenant, &settings, spent).await })
        });
        for record in join_all(records).await {
            record.expect("task").expect("store");
        }
        let month = metering::month_of(chrono::Utc::now());
        let alerts = budgets.alerts(&tenant, &month).await.expect("alerts");
        assert_eq!(alerts.len(), 1, "{backend}: {alerts:?}");
        assert_eq!(alerts[0].kind, "threshold");
        let first = alerts[0].clone();
        assert!(spends.contains(&first.spent_usd), "{backend}: {first:?}");

        // Later turns neither repeat nor move the threshold alert; reaching the budget adds
        // the one `exhausted` alert, once, however many turns reach it at once.
        let records = (0..10).map(|n| {
            let (budgets, tenant) = (budgets.clone(), tenant.clone());
            let spent = 10.0 + f64::from(n);
            tokio::spawn(async move { budgets.record_alerts(&tenant, &settings, spent).await })
        });
        for record in join_all(records).await {
            record.expect("task").expect("store");
        }
        let alerts = budgets.alerts(&tenant, &month).await.expect("alerts");
        assert_eq!(alerts.len(), 2, "{backend}: {alerts:?}");
        assert!(alerts.contains(&first), "{backend}: {alerts:?}");
        assert_eq!(
            alerts.iter().filter(|a| a.kind == "exhausted").count(),
            1,
            "{backend}: {alerts:?}"
        );
    }
}
