//! Cost control: a tenant's monthly budget, the month's spend, and alerts.
//!
//! Spend is kept in the tenant's usage counters as integer micro-dollars (`llm.cost_micro_usd`),
//! which the usage summary and `GET /v1/budget` show. Admission against the budget is the
//! [`crate::admission`] ledger's: each model call reserves its estimated input cost with a
//! conditional write before the provider is called, so a turn that would pass the budget is
//! refused with 402 first, also when many turns race. Crossing the alert threshold, and reaching
//! the budget, each record one alert per month (a conditional put), which the usage summary lists.

use std::sync::Arc;

use basics::Clock;
use metering::UsageCounters;
use ports::{Condition, Item, Key, StoreError, Table, TableStore};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The usage counter holding the month's model spend.
pub const COST_COUNTER: &str = "llm.cost_micro_usd";

/// A tenant's budget settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BudgetSettings {
    /// US dollars per calendar month (UTC).
    pub monthly_usd: f64,
    /// The share of the budget (0 < t ≤ 1) at which an alert is recorded.
    pub alert_threshold: f64,
}

impl BudgetSettings {
    pub fn validate(&self) -> Result<(), String> {
        if !self.monthly_usd.is_finite() || self.monthly_usd < 0.0 || self.monthly_usd > 1e9 {
            return Err("monthly_usd must be a number from 0 to 1000000000".into());
        }
        if !self.alert_threshold.is_finite()
            || self.alert_threshold <= 0.0
            || self.alert_threshold > 1.0
        {
            return Err("alert_threshold must be more than 0 and at most 1 (e.g. 0.8)".into());
        }
        Ok(())
    }
}

/// A tenant's budget, its month's spend and alerts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BudgetView {
    pub monthly_usd: Option<f64>,
    pub alert_threshold: Option<f64>,
    pub month: String,
    pub spent_usd: f64,
    pub alerts: Vec<BudgetAlert>,
}

/// An alert recorded this month.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BudgetAlert {
    pub month: String,
    /// `threshold` (the alert share was crossed) or `exhausted` (the budget was reached).
    pub kind: String,
    pub at: String,
    pub spent_usd: f64,
    pub monthly_usd: f64,
}

#[derive(Debug, Clone)]
pub struct Budgets {
    store: Arc<dyn TableStore>,
    clock: Arc<dyn Clock>,
}

fn budget_key(tenant_id: &str) -> Key {
    Key::new(format!("TENANT#{tenant_id}"), "BUDGET")
}

fn alert_key(tenant_id: &str, month: &str, kind: &str) -> Key {
    Key::new(
        format!("TENANT#{tenant_id}"),
        format!("BUDGETALERT#{month}#{kind}"),
    )
}

/// Micro-dollars for a cost in dollars, rounded up so spend is never under-counted. A cost that
/// is a whole number of micro-dollars but lands a hair above it in floating point (1 200 tokens ×
/// $0.30 + 60 × $2.50 per million computes as 510.00000000000006 µ$) counts as that whole
/// number, not one more.
pub fn micro_usd(cost_usd: f64) -> i64 {
    whole_micro_usd(cost_usd, f64::ceil)
}

/// Micro-dollars of a budget, rounded down so that admission never allows more than the budget
/// (with the same tolerance for floating-point noise as [`micro_usd`]).
pub fn budget_micro_usd(budget_usd: f64) -> i64 {
    whole_micro_usd(budget_usd, f64::floor)
}

fn whole_micro_usd(usd: f64, round: fn(f64) -> f64) -> i64 {
    /// Far above the rounding error of a per-call cost, far below a micro-dollar.
    const NOISE_MICRO_USD: f64 = 1e-6;
    if !usd.is_finite() || usd <= 0.0 {
        return 0;
    }
    let micro = usd * 1_000_000.0;
    let nearest = micro.round();
    let whole = if (micro - nearest).abs() <= NOISE_MICRO_USD {
        nearest
    } else {
        round(micro)
    };
    whole.min(i64::MAX as f64) as i64
}

impl Budgets {
    pub fn new(store: Arc<dyn TableStore>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    pub async fn get(&self, tenant_id: &str) -> Result<Option<BudgetSettings>, StoreError> {
        match self.store.get(Table::Core, &budget_key(tenant_id)).await? {
            Some(item) => Ok(serde_json::from_value(Value::Object(item)).ok()),
            None => Ok(None),
        }
    }

    pub async fn set(&self, tenant_id: &str, settings: BudgetSettings) -> Result<(), StoreError> {
        let key = budget_key(tenant_id);
        let mut item = Item::new();
        item.insert("pk".into(), Value::String(key.pk));
        item.insert("sk".into(), Value::String(key.sk));
        item.insert("monthly_usd".into(), Value::from(settings.monthly_usd));
        item.insert(
            "alert_threshold".into(),
            Value::from(settings.alert_threshold),
        );
        self.store.put(Table::Core, item, None).await
    }

    /// The month's spend so far, in dollars (one read of the month's usage item).
    pub async fn spent_usd(&self, tenant_id: &str) -> Result<f64, StoreError> {
        self.spent_in(tenant_id, &metering::month_of(self.clock.now()))
            .await
    }

    async fn spent_in(&self, tenant_id: &str, month: &str) -> Result<f64, StoreError> {
        let usage = UsageCounters::new(Arc::clone(&self.store), Arc::clone(&self.clock));
        let totals = usage.month_totals(tenant_id, month).await?;
        Ok(totals.get(COST_COUNTER).copied().unwrap_or(0) as f64 / 1_000_000.0)
    }

    /// The budget as `GET /v1/budget` and the usage summary show it, for a month (`2026-12`;
    /// the current one when `None`).
    pub async fn view(
        &self,
        tenant_id: &str,
        month: Option<&str>,
    ) -> Result<BudgetView, StoreError> {
        let month = month.map_or_else(|| metering::month_of(self.clock.now()), str::to_string);
        let settings = self.get(tenant_id).await?;
        Ok(BudgetView {
            monthly_usd: settings.map(|s| s.monthly_usd),
            alert_threshold: settings.map(|s| s.alert_threshold),
            spent_usd: self.spent_in(tenant_id, &month).await?,
            alerts: self.alerts(tenant_id, &month).await?,
            month,
        })
    }

    /// Records the alerts a spend has earned this month, each once (a later call finds it).
    pub async fn record_alerts(
        &self,
        tenant_id: &str,
        settings: &BudgetSettings,
        spent_usd: f64,
    ) -> Result<(), StoreError> {
        let now = self.clock.now();
        let month = metering::month_of(now);
        let mut earned = Vec::new();
        if spent_usd >= settings.monthly_usd * settings.alert_threshold {
            earned.push("threshold");
        }
        if spent_usd >= settings.monthly_usd {
            earned.push("exhausted");
        }
        for kind in earned {
            let key = alert_key(tenant_id, &month, kind);
            let alert = BudgetAlert {
                month: month.clone(),
                kind: kind.to_string(),
                at: now.to_rfc3339(),
                spent_usd,
                monthly_usd: settings.monthly_usd,
            };
            let mut item = match serde_json::to_value(&alert) {
                Ok(Value::Object(map)) => map,
                _ => continue,
            };
            item.insert("pk".into(), Value::String(key.pk));
            item.insert("sk".into(), Value::String(key.sk));
            match self
                .store
                .put(Table::Core, item, Some(Condition::NotExists))
                .await
            {
                Ok(()) => tracing::warn!(tenant_id, kind, spent_usd, "budget alert"),
                Err(err) if err.is_condition_failure() => {}
                Err(err) => return Err(err),
            }
        }
        Ok(())
    }

    /// The alerts recorded in a month (`2026-12`).
    pub async fn alerts(
        &self,
        tenant_id: &str,
        month: &str,
    ) -> Result<Vec<BudgetAlert>, StoreError> {
        let page = self
            .store
            .query(
                Table::Core,
                ports::Query::partition(format!("TENANT#{tenant_id}"))
                    .begins_with(format!("BUDGETALERT#{month}#")),
            )
            .await?;
        Ok(page
            .items
            .into_iter()
            .filter_map(|item| serde_json::from_value(Value::Object(item)).ok())
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked() {
        assert!(
            BudgetSettings {
                monthly_usd: 10.0,
                alert_threshold: 0.8
            }
            .validate()
            .is_ok()
        );
        assert!(
            BudgetSettings {
                monthly_usd: -1.0,
                alert_threshold: 0.8
            }
            .validate()
            .is_err()
        );
        assert!(
            BudgetSettings {
                monthly_usd: 10.0,
                alert_threshold: 0.0
            }
            .validate()
            .is_err()
        );
        assert!(
            BudgetSettings {
                monthly_usd: 10.0,
                alert_threshold: 1.5
            }
            .validate()
            .is_err()
        );
        assert!(
            BudgetSettings {
                monthly_usd: f64::NAN,
                alert_threshold: 0.5
            }
            .validate()
            .is_err()
        );
    }

    #[test]
    fn micro_dollars_round_up() {
        assert_eq!(micro_usd(0.000_000_1), 1);
        assert_eq!(micro_usd(0.008), 8_000);
        assert_eq!(micro_usd(-1.0), 0);
        assert_eq!(micro_usd(0.000_000_5), 1);
        assert_eq!(micro_usd(0.000_001_000_1), 2);
    }

    #[test]
    fn budgets_round_down() {
        assert_eq!(budget_micro_usd(0.000_001), 1);
        assert_eq!(budget_micro_usd(25.0), 25_000_000);
        assert_eq!(budget_micro_usd(0.010_000_9), 10_000);
        assert_eq!(budget_micro_usd(0.0), 0);
        assert_eq!(budget_micro_usd(1e9), 1_000_000_000_000_000);
    }

    #[test]
    fn whole_micro_dollars_are_not_rounded_up_by_float_noise() {
        let price = |input_per_million, output_per_million| llm::ModelPrice {
            input_per_million,
            output_per_million,
        };
        assert_eq!(micro_usd(price(0.30, 2.50).cost(1_200, 60)), 510);
        assert_eq!(micro_usd(price(0.40, 1.60).cost(2_100, 90)), 984);
        assert_eq!(micro_usd(price(0.40, 1.60).cost(2, 7)), 12);
        assert_eq!(micro_usd(price(0.30, 2.50).cost(2_600, 25)), 843);
    }
}
