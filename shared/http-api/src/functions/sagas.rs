//! `api-sagas`: sagas (`/v1/sagas*`), multi-step Airtable changes that undo themselves when a
//! step fails. The logic lives in the `sagas` crate (which starts a state machine per saga and
//! answers from its records); this module parses paths, queries and bodies, and serves the
//! crate's views as they are.
//!
//! A start answers 202 as soon as the saga is recorded and its execution started: the work
//! happens in the state machine's steps, which `GET /v1/sagas/{id}` follows.

use accounts::Scope;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::IntoParams;
use utoipa_axum::routes;

use crate::json::ApiJson;
use crate::openapi::schemas;
use crate::{ApiError, AppState, Caller, FunctionRoutes};

pub const FUNCTION: &str = "api-sagas";

pub fn routes() -> FunctionRoutes {
    FunctionRoutes::new(FUNCTION)
        .route(Scope::Sagas, routes!(start_saga))
        .route(Scope::Sagas, routes!(list_sagas))
        .route(Scope::Sagas, routes!(saga_types))
        .route(Scope::Sagas, routes!(show_saga))
        .route(Scope::Sagas, routes!(cancel_saga))
}

/// The longest saga id a path may carry: a Step Functions execution name (the saga id is the
/// execution's name) has at most 80 characters.
const MAX_SAGA_ID_LEN: usize = 80;

/// A path's saga id. One that cannot be a saga id (`sag_` and letters, digits, `-` or `_`)
/// names no saga: 404 without a store read.
fn saga_id(raw: &str) -> Result<&str, ApiError> {
    let well_formed = raw.len() <= MAX_SAGA_ID_LEN
        && raw.strip_prefix("sag_").is_some_and(|rest| {
            !rest.is_empty()
                && rest
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        });
    if well_formed {
        Ok(raw)
    } else {
        Err(ApiError::not_found("No such saga"))
    }
}

/// A view as JSON; the sagas crate's views always serialize.
fn to_json(view: &impl serde::Serialize) -> Value {
    serde_json::to_value(view).unwrap_or_else(|_| json!({}))
}

/// The body of `POST /v1/sagas`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct StartSagaBody {
    /// `transaction`, `table-sync` or `connect-base` (`GET /v1/sagas/types`).
    #[serde(rename = "type")]
    #[schema(value_type = schemas::SagaType)]
    saga_type: String,
    /// The type's input, as its `input_schema` describes it.
    #[schema(value_type = Object)]
    input: Value,
    /// Makes a retried start safe: the same key with the same type and input answers with the
    /// first saga; with another input it is refused (409).
    #[serde(default)]
    #[schema(min_length = 1, max_length = 255)]
    idempotency_key: Option<String>,
}

#[utoipa::path(
    post,
    path = "/v1/sagas",
    tag = "sagas",
    request_body = StartSagaBody,
    responses(
        (status = 202, description = "Recorded and started; follow it at /v1/sagas/{id}. A repeated `idempotency_key` answers with the first saga", body = schemas::SagaStarted),
        (status = 400, description = "The body is not a JSON object with `type` and `input` (`INVALID_REQUEST`).", body = schemas::Error),
        (status = 409, description = "The `idempotency_key` already started a saga with another type or input (`IDEMPOTENCY_KEY_REUSED`).", body = schemas::Error),
        (status = 422, description = "The input does not fit the type's schema; `error.problems` gives each problem with its JSON pointer into `input` (`INVALID_SAGA_INPUT`); a transaction of more than 1,000 operations (`TOO_MANY_OPERATIONS`); an unknown type (`UNKNOWN_SAGA_TYPE`).", body = schemas::Error),
        (status = 503, description = "The store or the state machines are unavailable; nothing was started (`SERVICE_UNAVAILABLE`).", body = schemas::Error),
    )
)]
async fn start_saga(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<StartSagaBody>,
) -> Result<Response, ApiError> {
    let request = sagas::StartSaga {
        saga_type: body.saga_type,
        input: body.input,
        idempotency_key: body.idempotency_key,
    };
    let started = state.sagas().start(&caller.tenant_id, request).await?;
    Ok((StatusCode::ACCEPTED, Json(to_json(&started))).into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListSagasQuery {
    /// Only sagas of this type.
    #[serde(default, rename = "type")]
    #[param(value_type = Option<schemas::SagaType>)]
    saga_type: Option<String>,
    /// Only sagas with this status.
    #[serde(default)]
    #[param(value_type = Option<schemas::SagaStatus>)]
    status: Option<String>,
    /// At most this many sagas (1 to 100; 20 when absent).
    #[serde(default)]
    #[param(minimum = 1, maximum = 100)]
    page_size: Option<u32>,
    /// The `offset` of the previous page.
    #[serde(default)]
    #[param(max_length = 1024)]
    offset: Option<String>,
}

#[utoipa::path(
    get,
    path = "/v1/sagas",
    tag = "sagas",
    params(ListSagasQuery),
    responses(
        (status = 200, description = "The tenant's sagas, newest first; `offset` when there are more", body = schemas::SagaPage),
        (status = 400, description = "A `page_size` that is not a number (`INVALID_REQUEST`).", body = schemas::Error),
        (status = 422, description = "An unknown `type` or `status`, a `page_size` outside 1 to 100, or an `offset` this API did not give (`INVALID_SAGA_INPUT`, with the parameter as the problem's path).", body = schemas::Error),
        (status = 503, description = "The store is unavailable (`SERVICE_UNAVAILABLE`).", body = schemas::Error),
    )
)]
async fn list_sagas(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<ListSagasQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|err| ApiError::bad_request(err.body_text()))?;
    let filter = sagas::SagaFilter {
        saga_type: query.saga_type,
        status: query.status,
        page_size: query.page_size,
        offset: query.offset,
    };
    let page = state.sagas().list(&caller.tenant_id, filter).await?;
    Ok(Json(to_json(&page)).into_response())
}

#[utoipa::path(
    get,
    path = "/v1/sagas/types",
    tag = "sagas",
    responses(
        (status = 200, description = "Each saga type with what it does and its input's JSON Schema", body = schemas::SagaTypeList),
    )
)]
async fn saga_types(_caller: Caller) -> Result<Response, ApiError> {
    Ok(Json(json!({ "types": to_json(&sagas::Sagas::types()) })).into_response())
}

#[utoipa::path(
    get,
    path = "/v1/sagas/{saga_id}",
    tag = "sagas",
    params(("saga_id" = String, Path, description = "`sag_…`")),
    responses(
        (status = 200, description = "The saga: status, input, output or error, and each step and compensation with its times, attempts and result, in the order they ran", body = schemas::SagaDetail),
        (status = 404, description = "No such saga (`NOT_FOUND`).", body = schemas::Error),
        (status = 503, description = "The store is unavailable (`SERVICE_UNAVAILABLE`).", body = schemas::Error),
    )
)]
async fn show_saga(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let detail = state.sagas().get(&caller.tenant_id, saga_id(&id)?).await?;
    Ok(Json(to_json(&detail)).into_response())
}

#[utoipa::path(
    post,
    path = "/v1/sagas/{saga_id}/cancel",
    tag = "sagas",
    params(("saga_id" = String, Path, description = "`sag_…`")),
    responses(
        (status = 200, description = "Cancel requested (`cancel_requested: true`): the saga stops before its next step and undoes the steps it has done, ending `cancelled`", body = schemas::SagaDetail),
        (status = 404, description = "No such saga (`NOT_FOUND`).", body = schemas::Error),
        (status = 409, description = "The saga has already finished (`SAGA_FINISHED`).", body = schemas::Error),
        (status = 503, description = "The store is unavailable (`SERVICE_UNAVAILABLE`).", body = schemas::Error),
    )
)]
async fn cancel_saga(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let detail = state
        .sagas()
        .cancel(&caller.tenant_id, saga_id(&id)?)
        .await?;
    Ok(Json(to_json(&detail)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_well_formed_saga_ids_reach_the_store() {
        assert!(saga_id("sag_AbC123_x-y").is_ok());
        for bad in [
            "",
            "sag_",
            "run_AbC",
            "sag_a/b",
            "sag_a b",
            &format!("sag_{}", "a".repeat(77)),
        ] {
            let err = saga_id(bad).expect_err(bad);
            assert_eq!(err.status(), StatusCode::NOT_FOUND, "{bad}");
        }
    }
}
