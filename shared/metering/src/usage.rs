//! Usage counters per tenant, per day and per month.

use std::collections::BTreeMap;
use std::sync::Arc;

use basics::Clock;
use chrono::{DateTime, Datelike, Utc};
use ports::{Item, Key, Query, StoreError, Table, TableStore, Update};
use serde::Serialize;
use serde_json::Value;

/// Day items are kept about 13 months; month items are kept.
const DAY_RETENTION_SECONDS: i64 = 400 * 24 * 60 * 60;

/// Attributes of a usage item that are not counters.
const NON_COUNTERS: [&str; 5] = ["pk", "sk", "expires_at", "version", "period"];

#[derive(Debug, Clone)]
pub struct UsageCounters {
    store: Arc<dyn TableStore>,
    clock: Arc<dyn Clock>,
}

/// One day's counters.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DayUsage {
    pub date: String,
    pub counters: BTreeMap<String, i64>,
}

/// A month's counters and its days so far.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MonthUsage {
    pub month: String,
    pub counters: BTreeMap<String, i64>,
    pub days: Vec<DayUsage>,
}

/// The counter for requests in one route group, e.g. `requests.records`.
pub fn route_group_counter(group: &str) -> String {
    format!("requests.{group}")
}

fn tenant_pk(tenant_id: &str) -> String {
    format!("TENANT#{tenant_id}")
}

fn day_sk(at: DateTime<Utc>) -> String {
    format!("DAY#{}", at.format("%Y-%m-%d"))
}

fn month_sk(month: &str) -> String {
    format!("MONTH#{month}")
}

/// `2026-11` for a time.
pub fn month_of(at: DateTime<Utc>) -> String {
    format!("{:04}-{:02}", at.year(), at.month())
}

fn counters_of(item: &Item) -> BTreeMap<String, i64> {
    item.iter()
        .filter(|(name, _)| !NON_COUNTERS.contains(&name.as_str()))
        .filter_map(|(name, value)| Some((name.clone(), value.as_i64()?)))
        .collect()
}

impl UsageCounters {
    pub fn new(store: Arc<dyn TableStore>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    /// Adds to counters for today and this month (two atomic updates, applied together).
    pub async fn add(&self, tenant_id: &str, counters: &[(&str, i64)]) -> Result<(), StoreError> {
        let now = self.clock.now();
        let mut day =
            Update::new().set_if_absent("expires_at", now.timestamp() + DAY_RETENTION_SECONDS);
        let mut month = Update::new();
        for (name, by) in counters {
            day = day.add(*name, *by);
            month = month.add(*name, *by);
        }
        let pk = tenant_pk(tenant_id);
        let day_key = Key::new(pk.clone(), day_sk(now));
        let month_key = Key::new(pk, month_sk(&month_of(now)));
        self.store
            .update_each(Table::Usage, vec![(day_key, day), (month_key, month)])
            .await
    }

    /// Counts one request in a route group.
    pub async fn record_request(&self, tenant_id: &str, group: &str) -> Result<(), StoreError> {
        self.record_request_with(tenant_id, group, &[]).await
    }

    /// Counts one request in a route group together with what serving it used (one write).
    pub async fn record_request_with(
        &self,
        tenant_id: &str,
        group: &str,
        used: &[(String, i64)],
    ) -> Result<(), StoreError> {
        let counter = route_group_counter(group);
        let mut counters: Vec<(&str, i64)> = vec![("requests", 1), (&counter, 1)];
        counters.extend(used.iter().map(|(name, by)| (name.as_str(), *by)));
        self.add(tenant_id, &counters).await
    }

    /// A month's counters without its days: one read.
    pub async fn month_totals(
        &self,
        tenant_id: &str,
        month: &str,
    ) -> Result<BTreeMap<String, i64>, StoreError> {
        Ok(self
            .store
            .get(
                Table::Usage,
                &Key::new(tenant_pk(tenant_id), month_sk(month)),
            )
            .await?
            .map(|item| counters_of(&item))
            .unwrap_or_default())
    }

    /// Month-to-date counters (the current month when `month` is `None`), with each day.
    pub async fn month(
        &self,
        tenant_id: &str,
        month: Option<&str>,
    ) -> Result<MonthUsage, StoreError> {
        let month = month.map_or_else(|| month_of(self.clock.now()), str::to_string);
        let pk = tenant_pk(tenant_id);
        let totals = self.month_totals(tenant_id, &month).await?;
        let mut days = Vec::new();
        let mut cursor = None;
        loop {
            let page = self
                .store
                .query(
                    Table::Usage,
                    Query::partition(pk.clone())
                        .begins_with(format!("DAY#{month}-"))
                        .after(cursor),
                )
                .await?;
            for item in page.items {
                let date = item
                    .get("sk")
                    .and_then(Value::as_str)
                    .and_then(|sk| sk.strip_prefix("DAY#"))
                    .unwrap_or_default()
                    .to_string();
                days.push(DayUsage {
                    date,
                    counters: counters_of(&item),
                });
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        Ok(MonthUsage {
            month,
            counters: totals,
            days,
        })
    }
}

#[cfg(test)]
mod tests {
    use basics::ManualClock;
    use chrono::TimeZone;
    use embedded::{Database, SqliteStore};

    use super::*;

    #[tokio::test]
    async fn counts_per_day_and_month_per_tenant() {
        let clock = Arc::new(ManualClock::at(
            Utc.with_ymd_and_hms(2026, 11, 21, 23, 59, 0)
                .single()
                .expect("time"),
        ));
        let db = Database::in_memory().expect("db");
        let usage =
            UsageCounters::new(Arc::new(SqliteStore::new(db, clock.clone())), clock.clone());
        usage.record_request("ten_a", "auth").await.expect("count");
        clock.advance(chrono::Duration::minutes(2));
        usage.record_request("ten_a", "auth").await.expect("count");
        usage.record_request("ten_a", "usage").await.expect("count");
        usage.record_request("ten_b", "auth").await.expect("count");

        let month = usage.month("ten_a", None).await.expect("month");
        assert_eq!(month.month, "2026-11");
        assert_eq!(month.counters["requests"], 3);
        assert_eq!(month.counters["requests.auth"], 2);
        assert_eq!(month.counters["requests.usage"], 1);
        assert!(!month.counters.contains_key("expires_at"));
        let days: Vec<(&str, i64)> = month
            .days
            .iter()
            .map(|d| (d.date.as_str(), d.counters["requests"]))
            .collect();
        assert_eq!(days, vec![("2026-11-21", 1), ("2026-11-22", 2)]);

        let other = usage.month("ten_b", None).await.expect("month");
        assert_eq!(other.counters["requests"], 1);
        let empty = usage.month("ten_a", Some("2026-10")).await.expect("month");
        assert!(empty.counters.is_empty() && empty.days.is_empty());
    }
}
