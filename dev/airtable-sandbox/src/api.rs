//! The Airtable API dispatcher. Routing is done by hand rather than with axum routes so that one
//! pipeline applies to every endpoint in Airtable's order — fault injection, authentication, rate
//! limits, permissions, then the handler — and so unknown paths get Airtable's bare
//! `{"error":"NOT_FOUND"}` body. Each route has a stable name used by fault plans and counters.

use crate::auth;
use crate::errors::{ApiError, ApiResult};
use crate::faults::Fault;
use crate::meta;
use crate::records::{list, query, write};
use crate::state::{Data, Shared, lock};
use crate::webhooks::{self, Ping};
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Airtable refuses bodies above roughly this size (413).
const MAX_BODY: usize = 10 * 1024 * 1024;

/// One endpoint with its path parameters (already percent-decoded).
#[derive(Debug, Clone, PartialEq)]
pub enum Route {
    Whoami,
    ListBases,
    Schema {
        base: String,
    },
    CreateTable {
        base: String,
    },
    UpdateTable {
        base: String,
        table: String,
    },
    CreateField {
        base: String,
        table: String,
    },
    UpdateField {
        base: String,
        table: String,
        field: String,
    },
    ListWebhooks {
        base: String,
    },
    CreateWebhook {
        base: String,
    },
    DeleteWebhook {
        base: String,
        hook: String,
    },
    RefreshWebhook {
        base: String,
        hook: String,
    },
    EnableWebhookNotifications {
        base: String,
        hook: String,
    },
    ListWebhookPayloads {
        base: String,
        hook: String,
    },
    ListRecords {
        base: String,
        table: String,
        post: bool,
    },
    GetRecord {
        base: String,
        table: String,
        record: String,
    },
    CreateRecords {
        base: String,
        table: String,
    },
    UpdateRecords {
        base: String,
        table: String,
        replace: bool,
    },
    UpdateRecord {
        base: String,
        table: String,
        record: String,
        replace: bool,
    },
    DeleteRecords {
        base: String,
        table: String,
    },
    DeleteRecord {
        base: String,
        table: String,
        record: String,
    },
}

impl Route {
    /// The stable name used by fault plans and counters.
    pub fn name(&self) -> &'static str {
        match self {
            Route::Whoami => "whoami",
            Route::ListBases => "list_bases",
            Route::Schema { .. } => "get_schema",
            Route::CreateTable { .. } => "create_table",
            Route::UpdateTable { .. } => "update_table",
            Route::CreateField { .. } => "create_field",
            Route::UpdateField { .. } => "update_field",
            Route::ListWebhooks { .. } => "list_webhooks",
            Route::CreateWebhook { .. } => "create_webhook",
            Route::DeleteWebhook { .. } => "delete_webhook",
            Route::RefreshWebhook { .. } => "refresh_webhook",
            Route::EnableWebhookNotifications { .. } => "enable_webhook_notifications",
            Route::ListWebhookPayloads { .. } => "list_webhook_payloads",
            Route::ListRecords { .. } => "list_records",
            Route::GetRecord { .. } => "get_record",
            Route::CreateRecords { .. } => "create_records",
            Route::UpdateRecords { .. } => "update_records",
            Route::UpdateRecord { .. } => "update_record",
            Route::DeleteRecords { .. } => "delete_records",
            Route::DeleteRecord { .. } => "delete_record",
        }
    }

    fn base(&self) -> Option<&str> {
        match self {
            Route::Whoami | Route::ListBases => None,
            Route::Schema { base }
            | Route::CreateTable { base }
            | Route::UpdateTable { base, .. }
            | Route::CreateField { base, .. }
            | Route::UpdateField { base, .. }
            | Route::ListWebhooks { base }
            | Route::CreateWebhook { base }
            | Route::DeleteWebhook { base, .. }
            | Route::RefreshWebhook { base, .. }
            | Route::EnableWebhookNotifications { base, .. }
            | Route::ListWebhookPayloads { base, .. }
            | Route::ListRecords { base, .. }
            | Route::GetRecord { base, .. }
            | Route::CreateRecords { base, .. }
            | Route::UpdateRecords { base, .. }
            | Route::UpdateRecord { base, .. }
            | Route::DeleteRecords { base, .. }
            | Route::DeleteRecord { base, .. } => Some(base),
        }
    }

    fn scope(&self) -> Option<&'static str> {
        match self {
            Route::Whoami => None,
            Route::ListBases | Route::Schema { .. } => Some("schema.bases:read"),
            Route::CreateTable { .. }
            | Route::UpdateTable { .. }
            | Route::CreateField { .. }
            | Route::UpdateField { .. } => Some("schema.bases:write"),
            Route::ListWebhooks { .. }
            | Route::CreateWebhook { .. }
            | Route::DeleteWebhook { .. }
            | Route::RefreshWebhook { .. }
            | Route::EnableWebhookNotifications { .. }
            | Route::ListWebhookPayloads { .. } => Some("webhook:manage"),
            Route::ListRecords { .. } | Route::GetRecord { .. } => Some("data.records:read"),
            Route::CreateRecords { .. }
            | Route::UpdateRecords { .. }
            | Route::UpdateRecord { .. }
            | Route::DeleteRecords { .. }
            | Route::DeleteRecord { .. } => Some("data.records:write"),
        }
    }

    fn writes(&self) -> bool {
        !matches!(
            self,
            Route::Whoami
                | Route::ListBases
                | Route::Schema { .. }
                | Route::ListWebhooks { .. }
                | Route::ListWebhookPayloads { .. }
                | Route::ListRecords { .. }
                | Route::GetRecord { .. }
        )
    }
}

fn decode(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8_lossy()
        .into_owned()
}

/// Maps a method and a path to a route; `None` for anything Airtable would not serve.
pub fn resolve(method: &Method, path: &str) -> Option<Route> {
    let rest = path.strip_prefix("/v0/")?;
    let mut segs: Vec<String> = rest.split('/').map(decode).collect();
    if segs.last().is_some_and(String::is_empty) {
        segs.pop();
    }
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    let m = method.clone();
    let own = |x: &str| x.to_string();
    let route = match (s.as_slice(), m) {
        (["meta", "whoami"], Method::GET) => Route::Whoami,
        (["meta", "bases"], Method::GET) => Route::ListBases,
        (["meta", "bases", b, "tables"], Method::GET) => Route::Schema { base: own(b) },
        (["meta", "bases", b, "tables"], Method::POST) => Route::CreateTable { base: own(b) },
        (["meta", "bases", b, "tables", t], Method::PATCH) => Route::UpdateTable {
            base: own(b),
            table: own(t),
        },
        (["meta", "bases", b, "tables", t, "fields"], Method::POST) => Route::CreateField {
            base: own(b),
            table: own(t),
        },
        (["meta", "bases", b, "tables", t, "fields", f], Method::PATCH) => Route::UpdateField {
            base: own(b),
            table: own(t),
            field: own(f),
        },
        (["meta", ..], _) => return None,
        (["bases", b, "webhooks"], Method::GET) => Route::ListWebhooks { base: own(b) },
        (["bases", b, "webhooks"], Method::POST) => Route::CreateWebhook { base: own(b) },
        (["bases", b, "webhooks", h], Method::DELETE) => Route::DeleteWebhook {
            base: own(b),
            hook: own(h),
        },
        (["bases", b, "webhooks", h, "refresh"], Method::POST) => Route::RefreshWebhook {
            base: own(b),
            hook: own(h),
        },
        (["bases", b, "webhooks", h, "enableNotifications"], Method::POST) => {
            Route::EnableWebhookNotifications {
                base: own(b),
                hook: own(h),
            }
        }
        (["bases", b, "webhooks", h, "payloads"], Method::GET) => Route::ListWebhookPayloads {
            base: own(b),
            hook: own(h),
        },
        (["bases", _, "webhooks", ..], _) => return None,
        ([b, t], Method::GET) => Route::ListRecords {
            base: own(b),
            table: own(t),
            post: false,
        },
        ([b, t], Method::POST) => Route::CreateRecords {
            base: own(b),
            table: own(t),
        },
        ([b, t], Method::PATCH) => Route::UpdateRecords {
            base: own(b),
            table: own(t),
            replace: false,
        },
        ([b, t], Method::PUT) => Route::UpdateRecords {
            base: own(b),
            table: own(t),
            replace: true,
        },
        ([b, t], Method::DELETE) => Route::DeleteRecords {
            base: own(b),
            table: own(t),
        },
        ([b, t, "listRecords"], Method::POST) => Route::ListRecords {
            base: own(b),
            table: own(t),
            post: true,
        },
        ([b, t, r], Method::GET) => Route::GetRecord {
            base: own(b),
            table: own(t),
            record: own(r),
        },
        ([b, t, r], Method::PATCH) => Route::UpdateRecord {
            base: own(b),
            table: own(t),
            record: own(r),
            replace: false,
        },
        ([b, t, r], Method::PUT) => Route::UpdateRecord {
            base: own(b),
            table: own(t),
            record: own(r),
            replace: true,
        },
        ([b, t, r], Method::DELETE) => Route::DeleteRecord {
            base: own(b),
            table: own(t),
            record: own(r),
        },
        _ => return None,
    };
    Some(route)
}

/// What processing a request produced besides its response.
#[derive(Default)]
struct Effects {
    rate_limited: bool,
    mutated: bool,
    pings: Vec<Ping>,
}

/// The fallback handler serving every `/v0/…` request.
pub async fn handle(State(shared): State<Arc<Shared>>, request: Request<Body>) -> Response {
    let (parts, body) = request.into_parts();
    let Some(route) = resolve(&parts.method, parts.uri.path()) else {
        shared.counters.request("unknown");
        shared.counters.response("unknown", 404, false, false);
        return ApiError::route_not_found().into_response();
    };
    let name = route.name();
    shared.counters.request(name);
    if let Some(Fault { status, delay_ms }) = shared.faults.next(name) {
        if let Some(ms) = delay_ms {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        if let Some(code) = status
            .and_then(|s| StatusCode::from_u16(s).ok())
            .filter(|s| !s.is_success())
        {
            shared.counters.response(name, code.as_u16(), false, true);
            return ApiError::injected(code).into_response();
        }
    }
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            let err = ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "REQUEST_TOO_LARGE",
                "Request body is too large",
            );
            shared.counters.response(name, 413, false, false);
            return err.into_response();
        }
    };
    let query = parts.uri.query().unwrap_or("");
    let mut effects = Effects::default();
    let result = process(&shared, &route, &parts.headers, query, &bytes, &mut effects);
    let (status, response) = match result {
        Ok(value) => (
            StatusCode::OK,
            (StatusCode::OK, axum::Json(value)).into_response(),
        ),
        Err(err) => (err.status, err.into_response()),
    };
    shared
        .counters
        .response(name, status.as_u16(), effects.rate_limited, false);
    if effects.mutated {
        shared.save();
    }
    for ping in effects.pings {
        let shared = shared.clone();
        tokio::spawn(async move {
            let (success, result) = webhooks::send_ping(&shared.http, &ping).await;
            let mut data = lock(&shared.data);
            if let Some(hook) = data.webhooks.iter_mut().find(|h| h.id == ping.webhook_id) {
                if success {
                    hook.last_successful_notification_time = Some(chrono::Utc::now());
                }
                hook.last_notification_result = Some(result);
            }
        });
    }
    response
}

fn json_body(bytes: &[u8]) -> ApiResult<Value> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    serde_json::from_slice(bytes).map_err(|_| ApiError::invalid_body())
}

fn process(
    shared: &Shared,
    route: &Route,
    headers: &HeaderMap,
    raw_query: &str,
    bytes: &[u8],
    fx: &mut Effects,
) -> ApiResult<Value> {
    let mut data = lock(&shared.data);
    let token = auth::authenticate(&data.snap, headers)?;
    let limits = lock(&shared.limits).clone();
    if !lock(&shared.limiter).check(&limits, &token.token, route.base(), Instant::now()) {
        fx.rate_limited = true;
        return Err(ApiError::rate_limited());
    }
    auth::authorize(
        &data.snap,
        &token,
        route.scope(),
        route.base(),
        route.writes(),
    )?;
    let pairs = query::pairs(raw_query);
    let ttl = *lock(&shared.offset_ttl);
    let by_id = pairs
        .iter()
        .any(|(k, v)| k == "returnFieldsByFieldId" && query::flag(v).unwrap_or(false));
    let data = &mut *data;
    match route {
        Route::Whoami => Ok(meta::whoami(&data.snap, &token)),
        Route::ListBases => Ok(meta::list_bases(&data.snap, &token)),
        Route::Schema { base } => {
            let visible = pairs
                .iter()
                .any(|(k, v)| k.starts_with("include") && v == "visibleFieldIds");
            Ok(meta::schema(base_ref(data, base)?, visible))
        }
        Route::CreateTable { base } => mutate(
            fx,
            meta::create_table(base_mut(data, base)?, &json_body(bytes)?),
        ),
        Route::UpdateTable { base, table } => mutate(
            fx,
            meta::update_table(base_mut(data, base)?, table, &json_body(bytes)?),
        ),
        Route::CreateField { base, table } => mutate(
            fx,
            meta::create_field(base_mut(data, base)?, table, &json_body(bytes)?),
        ),
        Route::UpdateField { base, table, field } => mutate(
            fx,
            meta::update_field(base_mut(data, base)?, table, field, &json_body(bytes)?),
        ),
        Route::ListWebhooks { base } => Ok(webhooks::list(&data.webhooks, base)),
        Route::CreateWebhook { base } => {
            webhooks::create(&mut data.webhooks, base, &json_body(bytes)?)
        }
        Route::DeleteWebhook { base, hook } => webhooks::delete(&mut data.webhooks, base, hook),
        Route::RefreshWebhook { base, hook } => webhooks::refresh(&mut data.webhooks, base, hook),
        Route::EnableWebhookNotifications { base, hook } => {
            webhooks::enable_notifications(&mut data.webhooks, base, hook, &json_body(bytes)?)
        }
        Route::ListWebhookPayloads { base, hook } => {
            let number = |key: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| k == key)
                    .and_then(|(_, v)| v.parse::<usize>().ok())
            };
            webhooks::payloads(
                &mut data.webhooks,
                base,
                hook,
                number("cursor"),
                number("limit"),
            )
        }
        Route::ListRecords { base, table, post } => {
            let params = if *post {
                query::from_body(&json_body(bytes)?, &pairs)?
            } else {
                query::from_query(&pairs)?
            };
            list::list(data, base, table, &params, ttl)
        }
        Route::GetRecord {
            base,
            table,
            record,
        } => list::get(data, base, table, record, by_id),
        Route::CreateRecords { base, table } => {
            let body = json_body(bytes)?;
            record_write(data, base, fx, |b| write::create(b, table, &body))
        }
        Route::UpdateRecords {
            base,
            table,
            replace,
        } => {
            let body = json_body(bytes)?;
            record_write(data, base, fx, |b| {
                write::update_many(b, table, &body, *replace)
            })
        }
        Route::UpdateRecord {
            base,
            table,
            record,
            replace,
        } => {
            let body = json_body(bytes)?;
            record_write(data, base, fx, |b| {
                write::update_one(b, table, record, &body, *replace)
            })
        }
        Route::DeleteRecords { base, table } => {
            let ids: Vec<String> = pairs
                .iter()
                .filter(|(k, _)| k == "records" || (k.starts_with("records[") && k.ends_with(']')))
                .map(|(_, v)| v.clone())
                .collect();
            record_write(data, base, fx, |b| {
                write::delete(b, table, &ids).map(|(records, c)| (json!({ "records": records }), c))
            })
        }
        Route::DeleteRecord {
            base,
            table,
            record,
        } => record_write(data, base, fx, |b| {
            write::delete(b, table, std::slice::from_ref(record))
                .map(|(_, c)| (json!({ "id": record, "deleted": true }), c))
        }),
    }
}

fn mutate(fx: &mut Effects, result: ApiResult<Value>) -> ApiResult<Value> {
    fx.mutated |= result.is_ok();
    result
}

fn base_ref<'a>(data: &'a Data, id: &str) -> ApiResult<&'a crate::model::Base> {
    data.snap
        .bases
        .iter()
        .find(|b| b.id == id)
        .ok_or_else(ApiError::model_not_found)
}

fn base_mut<'a>(data: &'a mut Data, id: &str) -> ApiResult<&'a mut crate::model::Base> {
    data.snap
        .bases
        .iter_mut()
        .find(|b| b.id == id)
        .ok_or_else(ApiError::model_not_found)
}

/// Runs a record write, then turns its change set into webhook payloads and pings.
fn record_write(
    data: &mut Data,
    base_id: &str,
    fx: &mut Effects,
    op: impl FnOnce(&mut crate::model::Base) -> ApiResult<(Value, write::ChangeSet)>,
) -> ApiResult<Value> {
    let (out, changes) = op(base_mut(data, base_id)?)?;
    fx.mutated = true;
    if !changes.is_empty() && data.webhooks.iter().any(|h| h.base_id == base_id) {
        let transaction = data.next_transaction(base_id);
        let Data { snap, webhooks, .. } = data;
        if let Some(base) = snap.bases.iter().find(|b| b.id == base_id) {
            fx.pings.extend(webhooks::record_change(
                webhooks,
                base,
                transaction,
                &changes,
            ));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(
            resolve(&Method::GET, "/v0/appX/My%20Table"),
            Some(Route::ListRecords {
                base: "appX".into(),
                table: "My Table".into(),
                post: false
            })
        );
        assert_eq!(
            resolve(&Method::POST, "/v0/appX/tblY/listRecords"),
            Some(Route::ListRecords {
                base: "appX".into(),
                table: "tblY".into(),
                post: true
            })
        );
        assert_eq!(
            resolve(&Method::GET, "/v0/meta/bases"),
            Some(Route::ListBases)
        );
        assert_eq!(
            resolve(&Method::GET, "/v0/bases/appX/webhooks/achY/payloads"),
            Some(Route::ListWebhookPayloads {
                base: "appX".into(),
                hook: "achY".into()
            })
        );
        assert_eq!(resolve(&Method::GET, "/v1/appX/tbl"), None);
        assert_eq!(resolve(&Method::GET, "/v0/appX"), None);
    }
}
