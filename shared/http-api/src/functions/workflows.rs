//! `api-workflows`: workflows (`/v1/workflows*`) and their runs (`/v1/runs*`). The logic lives in
//! the `automations` crate; this module parses paths and bodies, and shapes the answers.
//!
//! A workflow's signing secret is in the answer to its creation only (as `signing_secret`);
//! later reads never show it.

use crate::ApiError;
use accounts::Scope;
use automations::{RunId, RunStarter, RunTrigger, Workflow, WorkflowId};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::IntoParams;
use utoipa_axum::routes;

use crate::json::ApiJson;
use crate::openapi::schemas;
use crate::{AppState, Caller, FunctionRoutes};

pub const FUNCTION: &str = "api-workflows";

pub fn routes() -> FunctionRoutes {
    FunctionRoutes::new(FUNCTION)
        .route(Scope::Workflows, routes!(create_workflow))
        .route(Scope::Workflows, routes!(list_workflows))
        .route(Scope::Workflows, routes!(validate_workflow))
        .route(Scope::Workflows, routes!(workflow_stats))
        .route(Scope::Workflows, routes!(show_workflow))
        .route(Scope::Workflows, routes!(replace_workflow))
        .route(Scope::Workflows, routes!(patch_workflow))
        .route(Scope::Workflows, routes!(delete_workflow))
        .route(Scope::Workflows, routes!(start_run))
        .route(Scope::Workflows, routes!(list_runs))
        .route(Scope::Workflows, routes!(list_dead_letters))
        .route(Scope::Workflows, routes!(redrive_dead_letter))
        .route(Scope::Workflows, routes!(show_run))
        .route(Scope::Workflows, routes!(cancel_run))
}

/// A path's workflow id; one that cannot be an id names no workflow.
fn workflow_id(raw: &str) -> Result<WorkflowId, ApiError> {
    WorkflowId::parse(raw).map_err(|_| ApiError::not_found("No such workflow"))
}

fn run_id(raw: &str) -> Result<RunId, ApiError> {
    RunId::parse(raw).map_err(|_| ApiError::not_found("No such run"))
}

/// A workflow as the API shows it: its fields, and where its inbound hook is.
fn workflow_view(state: &AppState, workflow: &Workflow) -> Value {
    let mut view = serde_json::to_value(workflow).unwrap_or_else(|_| json!({}));
    if let Some(object) = view.as_object_mut() {
        object.remove("tenant_id");
        if let Some(url) = state.automations().hook_url(workflow) {
            object.insert("hook_url".into(), Value::String(url));
        }
    }
    view
}

#[utoipa::path(
    post,
    path = "/v1/workflows",
    tag = "workflows",
    request_body = schemas::WorkflowSpec,
    responses(
        (status = 201, description = "Saved (and, for a record trigger, the Airtable webhook created). `signing_secret` is shown this once", body = schemas::Workflow),
        (status = 400, description = "The body is not a JSON object (`INVALID_REQUEST`).", body = schemas::Error),
        (status = 409, description = "No Airtable connection for a record trigger (`AIRTABLE_NOT_CONNECTED`).", body = schemas::Error),
        (status = 422, description = "The workflow is invalid; `error.problems` lists each problem with its path (`INVALID_WORKFLOW`).", body = schemas::Error),
        (status = 502, description = "Airtable failed (`UPSTREAM_ERROR`).", body = schemas::Error),
        (status = 503, description = "A dependency is unavailable (`SERVICE_UNAVAILABLE`).", body = schemas::Error),
    )
)]
async fn create_workflow(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(document): ApiJson<Value>,
) -> Result<Response, ApiError> {
    let spec = automations::parse::workflow_spec(document)?;
    let created = state
        .automations()
        .workflows()
        .create(&caller.tenant_id, spec)
        .await?;
    let mut view = workflow_view(&state, &created.workflow);
    view["signing_secret"] = Value::String(created.signing_secret);
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

#[utoipa::path(
    get,
    path = "/v1/workflows",
    tag = "workflows",
    responses(
        (status = 200, description = "The tenant's workflows", body = schemas::WorkflowList),
    )
)]
async fn list_workflows(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let workflows = state
        .automations()
        .workflows()
        .list(&caller.tenant_id)
        .await?;
    let views: Vec<Value> = workflows.iter().map(|w| workflow_view(&state, w)).collect();
    Ok(Json(json!({ "workflows": views })).into_response())
}

#[utoipa::path(
    post,
    path = "/v1/workflows/validate",
    tag = "workflows",
    request_body = schemas::ValidateWorkflow,
    responses(
        (status = 200, description = "Whether the workflow (or the cron expression alone) is valid, its problems with their paths, and a schedule's next five fire times in its time zone", body = schemas::ValidationReport),
        (status = 400, description = "The body is not a JSON object (`INVALID_REQUEST`).", body = schemas::Error),
        (status = 422, description = "The body is neither a workflow nor `{cron, timezone}` (`INVALID_WORKFLOW`, with the path of what does not fit).", body = schemas::Error),
    )
)]
async fn validate_workflow(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(document): ApiJson<Value>,
) -> Result<Response, ApiError> {
    let report = state
        .automations()
        .workflows()
        .validate(
            &caller.tenant_id,
            automations::ValidateRequest::from_json(document)?,
        )
        .await?;
    Ok(Json(report).into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct StatsQuery {
    /// How many days back from today (1 to 90; 30 when absent).
    #[serde(default)]
    #[param(minimum = 1, maximum = 90)]
    days: Option<u32>,
}

#[utoipa::path(
    get,
    path = "/v1/workflows/stats",
    tag = "workflows",
    params(StatsQuery),
    responses(
        (status = 200, description = "Runs by status per day, oldest first", body = schemas::WorkflowStats),
        (status = 400, description = "`days` is not 1 to 90 (`INVALID_REQUEST`).", body = schemas::Error),
    )
)]
async fn workflow_stats(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<StatsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|err| ApiError::bad_request(err.body_text()))?;
    let days = query.days.unwrap_or(30);
    if !(1..=90).contains(&days) {
        return Err(ApiError::bad_request("days must be between 1 and 90"));
    }
    let stats = state
        .automations()
        .runs()
        .stats(&caller.tenant_id, days)
        .await?;
    Ok(Json(json!({ "days": stats })).into_response())
}

#[utoipa::path(
    get,
    path = "/v1/workflows/{workflow_id}",
    tag = "workflows",
    params(("workflow_id" = String, Path, description = "`wfl_…`")),
    responses(
        (status = 200, description = "The workflow", body = schemas::Workflow),
        (status = 404, description = "No such workflow (`NOT_FOUND`).", body = schemas::Error),
    )
)]
async fn show_workflow(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = workflow_id(&id)?;
    let workflow = state
        .automations()
        .workflows()
        .get(&caller.tenant_id, &id)
        .await?;
    Ok(Json(workflow_view(&state, &workflow)).into_response())
}

#[utoipa::path(
    put,
    path = "/v1/workflows/{workflow_id}",
    tag = "workflows",
    params(("workflow_id" = String, Path, description = "`wfl_…`")),
    request_body = schemas::WorkflowSpec,
    responses(
        (status = 200, description = "Replaced", body = schemas::Workflow),
        (status = 400, description = "The body is not a JSON object (`INVALID_REQUEST`).", body = schemas::Error),
        (status = 404, description = "No such workflow (`NOT_FOUND`).", body = schemas::Error),
        (status = 409, description = "A concurrent change (`CONFLICT`), or no Airtable connection (`AIRTABLE_NOT_CONNECTED`).", body = schemas::Error),
        (status = 422, description = "The workflow is invalid; nothing was changed (`INVALID_WORKFLOW`).", body = schemas::Error),
        (status = 502, description = "Airtable failed (`UPSTREAM_ERROR`).", body = schemas::Error),
    )
)]
async fn replace_workflow(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(document): ApiJson<Value>,
) -> Result<Response, ApiError> {
    let id = workflow_id(&id)?;
    let spec = automations::parse::workflow_spec(document)?;
    let workflow = state
        .automations()
        .workflows()
        .replace(&caller.tenant_id, &id, spec)
        .await?;
    Ok(Json(workflow_view(&state, &workflow)).into_response())
}

#[utoipa::path(
    patch,
    path = "/v1/workflows/{workflow_id}",
    tag = "workflows",
    params(("workflow_id" = String, Path, description = "`wfl_…`")),
    request_body(content = schemas::WorkflowPatch, description = "A JSON merge patch (RFC 7386) of the workflow, e.g. `{\"enabled\": false}`"),
    responses(
        (status = 200, description = "Changed", body = schemas::Workflow),
        (status = 400, description = "The body is not a JSON object (`INVALID_REQUEST`).", body = schemas::Error),
        (status = 404, description = "No such workflow (`NOT_FOUND`).", body = schemas::Error),
        (status = 409, description = "A concurrent change (`CONFLICT`), or no Airtable connection (`AIRTABLE_NOT_CONNECTED`).", body = schemas::Error),
        (status = 422, description = "The patched workflow is invalid; nothing was changed (`INVALID_WORKFLOW`).", body = schemas::Error),
        (status = 502, description = "Airtable failed (`UPSTREAM_ERROR`).", body = schemas::Error),
    )
)]
async fn patch_workflow(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<Value>,
) -> Result<Response, ApiError> {
    let id = workflow_id(&id)?;
    let workflow = state
        .automations()
        .workflows()
        .patch(&caller.tenant_id, &id, patch)
        .await?;
    Ok(Json(workflow_view(&state, &workflow)).into_response())
}

#[utoipa::path(
    delete,
    path = "/v1/workflows/{workflow_id}",
    tag = "workflows",
    params(("workflow_id" = String, Path, description = "`wfl_…`")),
    responses(
        (status = 204, description = "Deleted (its Airtable webhook too, when no other workflow uses it); its runs are kept"),
        (status = 404, description = "No such workflow (`NOT_FOUND`).", body = schemas::Error),
        (status = 502, description = "Airtable failed (`UPSTREAM_ERROR`).", body = schemas::Error),
    )
)]
async fn delete_workflow(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = workflow_id(&id)?;
    state
        .automations()
        .workflows()
        .delete(&caller.tenant_id, &id)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct StartRunBody {
    /// `input` in the steps' templates.
    #[serde(default)]
    #[schema(value_type = Object)]
    input: Option<Value>,
}

#[utoipa::path(
    post,
    path = "/v1/workflows/{workflow_id}/runs",
    tag = "workflows",
    params(("workflow_id" = String, Path, description = "`wfl_…`")),
    request_body = StartRunBody,
    responses(
        (status = 202, description = "Queued; follow it at /v1/runs/{id}", body = schemas::RunStarted),
        (status = 400, description = "The body is not a JSON object, or `input` is not one (`INVALID_REQUEST`).", body = schemas::Error),
        (status = 404, description = "No such workflow (`NOT_FOUND`).", body = schemas::Error),
        (status = 422, description = "`input` is larger than 128 KiB of JSON (`INVALID_WORKFLOW`, at `/input`).", body = schemas::Error),
        (status = 503, description = "A dependency is unavailable (`SERVICE_UNAVAILABLE`).", body = schemas::Error),
    )
)]
async fn start_run(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<StartRunBody>,
) -> Result<Response, ApiError> {
    let id = workflow_id(&id)?;
    let input = body.input.unwrap_or_else(|| json!({}));
    if !input.is_object() {
        return Err(ApiError::bad_request("input must be a JSON object"));
    }
    let automations = state.automations();
    let workflow = automations.workflows().get(&caller.tenant_id, &id).await?;
    let trigger = RunTrigger {
        kind: "manual".to_string(),
        data: json!({}),
    };
    let run_id = automations
        .runs()
        .start(&workflow, trigger, input, None)
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "id": run_id, "status": "queued", "workflow_id": workflow.id })),
    )
        .into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListRunsQuery {
    /// At most this many runs (1 to 100; 20 when absent).
    #[serde(default)]
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// The `offset` of the previous page.
    #[serde(default)]
    #[param(max_length = 1024)]
    offset: Option<String>,
}

#[utoipa::path(
    get,
    path = "/v1/workflows/{workflow_id}/runs",
    tag = "workflows",
    params(("workflow_id" = String, Path, description = "`wfl_…`"), ListRunsQuery),
    responses(
        (status = 200, description = "The workflow's runs, newest first; `offset` when there are more", body = schemas::RunList),
        (status = 400, description = "A bad `limit` (`INVALID_REQUEST`).", body = schemas::Error),
        (status = 404, description = "No such workflow (`NOT_FOUND`).", body = schemas::Error),
        (status = 422, description = "An `offset` this API did not give (`INVALID_WORKFLOW`, at `/offset`).", body = schemas::Error),
    )
)]
async fn list_runs(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    query: Result<Query<ListRunsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let id = workflow_id(&id)?;
    let Query(query) = query.map_err(|err| ApiError::bad_request(err.body_text()))?;
    let limit = query.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::bad_request("limit must be between 1 and 100"));
    }
    let automations = state.automations();
    // 404 for a workflow that does not exist (or is another tenant's), not an empty list.
    automations.workflows().get(&caller.tenant_id, &id).await?;
    let (runs, offset) = automations
        .runs()
        .list_for_workflow(&caller.tenant_id, &id, limit, query.offset)
        .await?;
    let runs: Vec<Value> = runs.iter().map(run_summary).collect();
    let mut body = json!({ "runs": runs });
    if let Some(offset) = offset {
        body["offset"] = Value::String(offset);
    }
    Ok(Json(body).into_response())
}

/// A run without its steps, as lists show it.
fn run_summary(run: &automations::Run) -> Value {
    let mut view = serde_json::to_value(run).unwrap_or_else(|_| json!({}));
    if let Some(object) = view.as_object_mut() {
        for private in ["tenant_id", "steps_snapshot", "version"] {
            object.remove(private);
        }
    }
    view
}

#[utoipa::path(
    get,
    path = "/v1/runs/{run_id}",
    tag = "workflows",
    params(("run_id" = String, Path, description = "`run_…`")),
    responses(
        (status = 200, description = "The run: status, trigger, and each step's input, output, error, attempts and duration", body = schemas::Run),
        (status = 404, description = "No such run (`NOT_FOUND`).", body = schemas::Error),
    )
)]
async fn show_run(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = run_id(&id)?;
    let view = state
        .automations()
        .runs()
        .get(&caller.tenant_id, &id)
        .await?;
    let mut body = run_summary(&view.run);
    let mut steps = serde_json::to_value(&view.steps).unwrap_or_else(|_| json!([]));
    fit_steps(&mut steps, MAX_RUN_VIEW_BYTES);
    body["steps"] = steps;
    Ok(Json(body).into_response())
}

/// The most a run's step records take in `GET /v1/runs/{id}`: well inside Lambda's 6 MB
/// response (50 steps may each record up to 160 KiB of input and of output).
const MAX_RUN_VIEW_BYTES: usize = 4 * 1024 * 1024;

fn json_len(value: &Value) -> usize {
    serde_json::to_string(value).map_or(0, |text| text.len())
}

/// Replaces the largest step inputs and outputs with a note of their size until the steps fit
/// `limit` bytes of JSON.
fn fit_steps(steps: &mut Value, limit: usize) {
    let Some(records) = steps.as_array_mut() else {
        return;
    };
    let mut total: usize = records.iter().map(json_len).sum();
    if total <= limit {
        return;
    }
    let mut parts: Vec<(usize, &'static str, usize)> = records
        .iter()
        .enumerate()
        .flat_map(|(index, record)| {
            ["input", "output"]
                .into_iter()
                .map(move |field| (index, field, json_len(&record[field])))
        })
        .collect();
    parts.sort_by_key(|part| std::cmp::Reverse(part.2));
    for (index, field, bytes) in parts {
        if total <= limit {
            break;
        }
        let note = json!({
            "omitted": true,
            "bytes": bytes,
            "reason": "the run's steps are too large to show together",
        });
        total = total.saturating_sub(bytes) + json_len(&note);
        records[index][field] = note;
    }
}

#[utoipa::path(
    post,
    path = "/v1/runs/{run_id}/cancel",
    tag = "workflows",
    params(("run_id" = String, Path, description = "`run_…`")),
    responses(
        (status = 200, description = "Cancelled, or (for a run in a step) to stop before its next step", body = schemas::Run),
        (status = 404, description = "No such run (`NOT_FOUND`).", body = schemas::Error),
        (status = 409, description = "The run has already finished (`CONFLICT`).", body = schemas::Error),
    )
)]
async fn cancel_run(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = run_id(&id)?;
    let run = state
        .automations()
        .runs()
        .cancel(&caller.tenant_id, &id)
        .await?;
    Ok(Json(run_summary(&run)).into_response())
}

#[utoipa::path(
    get,
    path = "/v1/runs/dead-letters",
    tag = "workflows",
    responses(
        (status = 200, description = "Runs the runs queue gave up on (their message went to the dead-letter queue), newest first", body = schemas::DeadLetterList),
    )
)]
async fn list_dead_letters(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let dead_letters = state
        .automations()
        .runs()
        .dead_letters(&caller.tenant_id)
        .await?;
    Ok(Json(json!({ "dead_letters": dead_letters })).into_response())
}

#[utoipa::path(
    post,
    path = "/v1/runs/dead-letters/{run_id}/redrive",
    tag = "workflows",
    params(("run_id" = String, Path, description = "`run_…`")),
    responses(
        (status = 202, description = "Queued again; it resumes after its last completed step", body = schemas::Run),
        (status = 404, description = "No such dead-lettered run (`NOT_FOUND`).", body = schemas::Error),
        (status = 409, description = "The run is not dead-lettered (`CONFLICT`).", body = schemas::Error),
    )
)]
async fn redrive_dead_letter(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = run_id(&id)?;
    let run = state
        .automations()
        .runs()
        .redrive(&caller.tenant_id, &id)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(run_summary(&run))).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_step_records_are_cut_largest_first_until_they_fit() {
        let big = "x".repeat(1000);
        let mut steps = json!([
            {"index": 0, "input": {"a": big}, "output": "small"},
            {"index": 1, "input": "small", "output": {"b": big, "c": big}},
        ]);
        fit_steps(&mut steps, 1000);
        assert_eq!(steps[1]["output"]["omitted"], true);
        assert_eq!(steps[0]["input"]["omitted"], true);
        assert_eq!(steps[0]["output"], "small");
        let mut fits = json!([{"input": 1, "output": 2}]);
        fit_steps(&mut fits, 1000);
        assert_eq!(fits, json!([{"input": 1, "output": 2}]));
    }
}
