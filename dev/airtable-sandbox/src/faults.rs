//! Fault injection and request counters. Tests of retrying clients script exact sequences
//! ("429, 429, then succeed") or a random rate of failures per route, and then read counters to
//! assert, for instance, that the rate limiter never had to refuse them.

use rand::Rng;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

/// Matches every route in fault plans.
pub const ANY_ROUTE: &str = "*";

/// One scripted step: answer with `status` (after `delay_ms`), or only slow the request down and
/// then serve it normally when `status` is absent. JSON accepts `429`, `"ok"` or
/// `{"status":503,"delayMs":200}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", from = "FaultRepr")]
pub struct Fault {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
}

impl Fault {
    pub fn status(status: u16) -> Self {
        Self {
            status: Some(status),
            delay_ms: None,
        }
    }

    pub fn ok() -> Self {
        Self::default()
    }

    pub fn slow(delay: Duration) -> Self {
        Self {
            status: None,
            delay_ms: Some(u64::try_from(delay.as_millis()).unwrap_or(u64::MAX)),
        }
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum FaultRepr {
    Status(u16),
    Word(String),
    Full {
        #[serde(default)]
        status: Option<u16>,
        #[serde(default, rename = "delayMs")]
        delay_ms: Option<u64>,
    },
}

impl From<FaultRepr> for Fault {
    fn from(r: FaultRepr) -> Self {
        match r {
            FaultRepr::Status(s) => Fault::status(s),
            FaultRepr::Word(w) => w.trim().parse().map(Fault::status).unwrap_or_default(),
            FaultRepr::Full { status, delay_ms } => Fault { status, delay_ms },
        }
    }
}

/// The admin endpoint's body: a route (or `*`) plus any of a script, a random rate, a delay.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultPlan {
    #[serde(default = "any_route")]
    pub route: String,
    #[serde(default)]
    pub sequence: Vec<Fault>,
    #[serde(default)]
    pub rate: Option<f64>,
    #[serde(default)]
    pub rate_statuses: Vec<u16>,
    #[serde(default)]
    pub delay_ms: Option<u64>,
}

fn any_route() -> String {
    ANY_ROUTE.into()
}

#[derive(Debug, Default)]
struct RouteFaults {
    script: VecDeque<Fault>,
    rate: f64,
    rate_statuses: Vec<u16>,
    delay: Option<u64>,
}

/// Fault plans per route name.
#[derive(Debug, Default)]
pub struct Faults {
    routes: Mutex<HashMap<String, RouteFaults>>,
}

impl Faults {
    /// Appends steps to a route's script; each request to the route takes the next step.
    pub fn script(&self, route: &str, steps: impl IntoIterator<Item = Fault>) {
        self.with(route, |r| r.script.extend(steps));
    }

    /// After the script runs out, fail this fraction of requests with one of `statuses`
    /// (500 when empty).
    pub fn set_rate(&self, route: &str, rate: f64, statuses: Vec<u16>) {
        self.with(route, |r| {
            r.rate = rate.clamp(0.0, 1.0);
            r.rate_statuses = statuses;
        });
    }

    /// Slows every request to the route down.
    pub fn set_delay(&self, route: &str, delay: Option<Duration>) {
        self.with(route, |r| {
            r.delay = delay.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        });
    }

    pub fn apply(&self, plan: FaultPlan) {
        if !plan.sequence.is_empty() {
            self.script(&plan.route, plan.sequence);
        }
        if let Some(rate) = plan.rate {
            self.set_rate(&plan.route, rate, plan.rate_statuses);
        }
        if let Some(ms) = plan.delay_ms {
            self.set_delay(&plan.route, Some(Duration::from_millis(ms)));
        }
    }

    pub fn clear(&self) {
        if let Ok(mut routes) = self.routes.lock() {
            routes.clear();
        }
    }

    fn with(&self, route: &str, f: impl FnOnce(&mut RouteFaults)) {
        if let Ok(mut routes) = self.routes.lock() {
            f(routes.entry(route.to_string()).or_default());
        }
    }

    /// The fault for the next request to `route`, if any: its own plan first, then `*`.
    pub fn next(&self, route: &str) -> Option<Fault> {
        let mut routes = self.routes.lock().ok()?;
        for key in [route, ANY_ROUTE] {
            let Some(r) = routes.get_mut(key) else {
                continue;
            };
            if let Some(step) = r.script.pop_front() {
                return Some(step);
            }
            if r.rate > 0.0 && rand::rng().random_bool(r.rate) {
                let status = if r.rate_statuses.is_empty() {
                    500
                } else {
                    r.rate_statuses[rand::rng().random_range(0..r.rate_statuses.len())]
                };
                return Some(Fault {
                    status: Some(status),
                    delay_ms: r.delay,
                });
            }
            if let Some(ms) = r.delay {
                return Some(Fault {
                    status: None,
                    delay_ms: Some(ms),
                });
            }
        }
        None
    }
}

/// What one route has seen.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteCounters {
    pub requests: u64,
    /// Refused by the rate limiter (not injected).
    pub rate_limited: u64,
    /// Answered by a scripted or random fault.
    pub injected_faults: u64,
    /// Responses by status code.
    pub statuses: BTreeMap<u16, u64>,
}

/// Totals plus a breakdown per route, as `GET /_sandbox/counters` returns them.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CounterSnapshot {
    pub total_requests: u64,
    pub rate_limited: u64,
    pub injected_faults: u64,
    pub routes: BTreeMap<String, RouteCounters>,
}

#[derive(Debug, Default)]
pub struct Counters {
    inner: Mutex<CounterSnapshot>,
}

impl Counters {
    pub fn request(&self, route: &str) {
        if let Ok(mut c) = self.inner.lock() {
            c.total_requests += 1;
            c.routes.entry(route.to_string()).or_default().requests += 1;
        }
    }

    pub fn response(&self, route: &str, status: u16, rate_limited: bool, injected: bool) {
        if let Ok(mut c) = self.inner.lock() {
            c.rate_limited += u64::from(rate_limited);
            c.injected_faults += u64::from(injected);
            let r = c.routes.entry(route.to_string()).or_default();
            *r.statuses.entry(status).or_default() += 1;
            r.rate_limited += u64::from(rate_limited);
            r.injected_faults += u64::from(injected);
        }
    }

    pub fn snapshot(&self) -> CounterSnapshot {
        self.inner.lock().map(|c| c.clone()).unwrap_or_default()
    }

    pub fn clear(&self) {
        if let Ok(mut c) = self.inner.lock() {
            *c = CounterSnapshot::default();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_then_nothing() {
        let f = Faults::default();
        f.script("list_records", [Fault::status(429), Fault::ok()]);
        assert_eq!(f.next("list_records"), Some(Fault::status(429)));
        assert_eq!(f.next("list_records"), Some(Fault::ok()));
        assert_eq!(f.next("list_records"), None);
        assert_eq!(f.next("get_record"), None);
    }

    #[test]
    fn plan_json_forms() {
        let plan: FaultPlan = serde_json::from_str(
            r#"{"route":"*","sequence":[429,"ok",{"status":503,"delayMs":5}]}"#,
        )
        .unwrap();
        assert_eq!(
            plan.sequence,
            vec![
                Fault::status(429),
                Fault::ok(),
                Fault {
                    status: Some(503),
                    delay_ms: Some(5)
                }
            ]
        );
    }

    #[test]
    fn rate_one_always_fails() {
        let f = Faults::default();
        f.set_rate("*", 1.0, vec![503]);
        assert_eq!(f.next("x").and_then(|x| x.status), Some(503));
    }
}
