//! `api-hooks`: what other systems call without a bearer token, each proving itself another way.
//!
//! - `POST /v1/hooks/airtable/{hook_id}`: Airtable's webhook ping, verified by its
//!   `X-Airtable-Content-MAC` (HMAC-SHA256 of the raw body with the webhook's secret). A good
//!   ping is queued for `worker-events` and answered at once with 204: Airtable wants a fast
//!   answer, and the payloads are fetched by the worker.
//! - `POST /v1/hooks/workflows/{workflow_id}`: another system starting a workflow, signed with the
//!   workflow's secret (`X-PyAirtable-Signature: sha256=HMAC(secret, "<timestamp>.<body>")`,
//!   `X-PyAirtable-Timestamp` within 5 minutes). Answers 202 with the run's id.
//!
//! A wrong MAC or signature gets 401 and nothing is queued or started. The raw body is read as
//! bytes: the MAC is over the exact bytes sent.

use crate::ApiError;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use utoipa_axum::routes;

use crate::openapi::schemas;
use crate::{AppState, FunctionRoutes};

pub const FUNCTION: &str = "api-hooks";

/// Airtable's MAC header.
pub const CONTENT_MAC_HEADER: &str = "X-Airtable-Content-MAC";

pub fn routes() -> FunctionRoutes {
    FunctionRoutes::new(FUNCTION)
        .public(routes!(airtable_ping))
        .public(routes!(workflow_hook))
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

#[utoipa::path(
    post,
    path = "/v1/hooks/airtable/{hook_id}",
    tag = "hooks",
    params(
        ("hook_id" = String, Path, description = "The hook id of the notification URL the platform gave Airtable"),
        ("X-Airtable-Content-MAC" = String, Header, description = "`hmac-sha256=<hex>` of the raw body"),
    ),
    request_body(content = schemas::AirtablePing, description = "Airtable's notification: `{base: {id}, webhook: {id}, timestamp}`"),
    responses(
        (status = 204, description = "Verified and queued; the payloads are read by worker-events"),
        (status = 401, description = "The MAC is missing or wrong; nothing was queued (`INVALID_SIGNATURE`).", body = schemas::Error),
        (status = 404, description = "No such hook (`NOT_FOUND`).", body = schemas::Error),
        (status = 503, description = "The queue is unavailable; Airtable retries (`SERVICE_UNAVAILABLE`).", body = schemas::Error),
    ),
    security(())
)]
async fn airtable_ping(
    State(state): State<AppState>,
    Path(hook_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    state
        .automations()
        .record_hooks()
        .receive_ping(&hook_id, header(&headers, CONTENT_MAC_HEADER), &body)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[utoipa::path(
    post,
    path = "/v1/hooks/workflows/{workflow_id}",
    tag = "hooks",
    params(
        ("workflow_id" = String, Path, description = "`wfl_…`, a workflow with a `webhook` trigger"),
        ("X-PyAirtable-Signature" = String, Header, description = "`sha256=<hex HMAC-SHA256(secret, \"<timestamp>.<body>\")>`"),
        ("X-PyAirtable-Timestamp" = String, Header, description = "Unix seconds, within 5 minutes of now"),
    ),
    request_body(content = Object, description = "Any JSON value: `trigger.body` in the steps' templates"),
    responses(
        (status = 202, description = "Verified; a run was queued (a replay of the same signed request returns the first run)", body = schemas::RunStarted),
        (status = 401, description = "The signature is missing, wrong or stale; nothing was started (`INVALID_SIGNATURE`).", body = schemas::Error),
        (status = 404, description = "No such workflow, or it has no webhook trigger (`NOT_FOUND`).", body = schemas::Error),
        (status = 409, description = "The workflow is disabled (`CONFLICT`).", body = schemas::Error),
        (status = 422, description = "The body is not JSON, or is larger than 128 KiB (`INVALID_WORKFLOW`, at `/body`).", body = schemas::Error),
    ),
    security(())
)]
async fn workflow_hook(
    State(state): State<AppState>,
    Path(workflow_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let run_id = state
        .automations()
        .inbound()
        .receive(
            &workflow_id,
            header(&headers, basics::signature::SIGNATURE_HEADER),
            header(&headers, basics::signature::TIMESTAMP_HEADER),
            &body,
        )
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "id": run_id, "status": "queued", "workflow_id": workflow_id })),
    )
        .into_response())
}
