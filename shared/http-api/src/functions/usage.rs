//! `api-usage`: the tenant's month-to-date usage.

use std::collections::BTreeMap;

use crate::ApiError;
use accounts::Scope;
use axum::Json;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::IntoParams;
use utoipa_axum::routes;

use crate::openapi::schemas;
use crate::{AppState, Caller, FunctionRoutes};

pub const FUNCTION: &str = "api-usage";

pub fn routes() -> FunctionRoutes {
    FunctionRoutes::new(FUNCTION).route(Scope::UsageRead, routes!(summary))
}

/// Unknown query parameters are ignored (cache-busters and the like), unlike unknown body fields.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct SummaryQuery {
    /// `YYYY-MM`; the current month when absent.
    #[serde(default)]
    #[param(pattern = "^[0-9]{4}-(0[1-9]|1[0-2])$")]
    month: Option<String>,
}

fn valid_month(month: &str) -> bool {
    let bytes = month.as_bytes();
    bytes.len() == 7
        && bytes[4] == b'-'
        && bytes[..4].iter().all(u8::is_ascii_digit)
        && bytes[5..].iter().all(u8::is_ascii_digit)
        && matches!(month[5..].parse::<u32>(), Ok(1..=12))
}

/// `{"total": n, "by_group": {"auth": n, …}}` from counters named `requests` and `requests.<group>`.
fn requests_of(counters: &BTreeMap<String, i64>) -> Value {
    let by_group: BTreeMap<&str, i64> = counters
        .iter()
        .filter_map(|(name, value)| Some((name.strip_prefix("requests.")?, *value)))
        .collect();
    json!({
        "total": counters.get("requests").copied().unwrap_or(0),
        "by_group": by_group,
    })
}

/// The gateway's Airtable calls, in all and per base, and its cache hits.
fn airtable_of(counters: &BTreeMap<String, i64>) -> Value {
    let prefix = format!("{}.", gateway::counters::AIRTABLE_CALLS);
    let by_base: BTreeMap<&str, i64> = counters
        .iter()
        .filter_map(|(name, value)| Some((name.strip_prefix(prefix.as_str())?, *value)))
        .collect();
    let counter = |name: &str| counters.get(name).copied().unwrap_or(0);
    json!({
        "calls": counter(gateway::counters::AIRTABLE_CALLS),
        "calls_by_base": by_base,
        "cache_hits": counter(gateway::counters::CACHE_HITS),
    })
}

/// Model calls, tokens and cost (from integer micro-dollars).
fn llm_of(counters: &BTreeMap<String, i64>) -> Value {
    let counter = |name: &str| counters.get(name).copied().unwrap_or(0);
    json!({
        "calls": counter(chat::counters::CALLS),
        "input_tokens": counter(chat::counters::INPUT_TOKENS),
        "output_tokens": counter(chat::counters::OUTPUT_TOKENS),
        "cost_usd": counter(chat::counters::COST_MICRO_USD) as f64 / 1_000_000.0,
    })
}

#[utoipa::path(
    get,
    path = "/v1/usage/summary",
    tag = "usage",
    params(SummaryQuery),
    responses(
        (status = 200, description = "Month-to-date requests per route group and per day, Airtable and model use, the budget and the limits", body = schemas::UsageSummary),
        (status = 400, description = "`month` is not `YYYY-MM` (`INVALID_REQUEST`).", body = schemas::Error),
    )
)]
async fn summary(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<SummaryQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let principal = &caller.0;
    let Query(query) = query.map_err(|err| ApiError::bad_request(err.body_text()))?;
    if let Some(month) = query.month.as_deref()
        && !valid_month(month)
    {
        let shown: String = month.chars().take(20).collect();
        return Err(ApiError::bad_request(format!(
            "month must look like 2026-11, not {shown:?}"
        )));
    }
    let usage = state
        .usage()
        .month(&principal.tenant_id, query.month.as_deref())
        .await?;
    let budget = state
        .budgets()
        .view(&principal.tenant_id, Some(&usage.month))
        .await?;
    let days: Vec<Value> = usage
        .days
        .iter()
        .map(|day| {
            json!({
                "date": day.date,
                "requests": requests_of(&day.counters),
                "airtable": airtable_of(&day.counters),
                "llm": llm_of(&day.counters),
            })
        })
        .collect();
    Ok(Json(json!({
        "tenant_id": principal.tenant_id,
        "month": usage.month,
        "requests": requests_of(&usage.counters),
        "airtable": airtable_of(&usage.counters),
        "llm": llm_of(&usage.counters),
        "budget": budget,
        "days": days,
        "counters": usage.counters,
        "limits": {"requests_per_minute": state.settings.tenant_requests_per_minute},
    }))
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn airtable_calls_are_grouped_by_base() {
        let counters: BTreeMap<String, i64> = [
            ("airtable.calls", 5),
            ("airtable.calls.appA", 3),
            ("airtable.calls.appB", 1),
            ("records.cache_hits", 7),
            ("requests", 12),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        assert_eq!(
            airtable_of(&counters),
            json!({"calls": 5, "calls_by_base": {"appA": 3, "appB": 1}, "cache_hits": 7})
        );
    }

    #[test]
    fn months_are_checked() {
        assert!(valid_month("2026-11"));
        assert!(!valid_month("2026-13"));
        assert!(!valid_month("2026-1"));
        assert!(!valid_month("26-11-01"));
    }
}
