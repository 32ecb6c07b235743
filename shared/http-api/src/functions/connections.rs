//! `api-connections`: the tenant's Airtable connection. The only function that writes tenants'
//! Airtable tokens. The token is verified with Airtable's whoami before it is stored, and is
//! never returned: reads show a masked form.

use crate::ApiError;
use accounts::Scope;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use secrecy::SecretString;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::routes;

use crate::json::ApiJson;
use crate::openapi::schemas;
use crate::{AppState, Caller, FunctionRoutes};

pub const FUNCTION: &str = "api-connections";

pub fn routes() -> FunctionRoutes {
    FunctionRoutes::new(FUNCTION)
        .route(Scope::Admin, routes!(connect))
        .route(Scope::Admin, routes!(show))
        .route(Scope::Admin, routes!(disconnect))
}

/// The body of a connect request. `Debug` is written by hand so the token cannot be logged.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ConnectBody {
    /// An Airtable personal access token (`pat…`), verified with Airtable before it is kept.
    #[schema(
        min_length = 1,
        max_length = 512,
        pattern = "^[^\\s\\x00-\\x1f\\x7f]+$"
    )]
    token: String,
}

impl std::fmt::Debug for ConnectBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConnectBody { token: [REDACTED] }")
    }
}

#[utoipa::path(
    put,
    path = "/v1/connections/airtable",
    tag = "connections",
    request_body = ConnectBody,
    responses(
        (status = 200, description = "Connected: the token was verified with Airtable's whoami and stored; it is shown masked", body = schemas::Connection),
        (status = 400, description = "No token, or one that cannot be an Airtable token (`INVALID_REQUEST`).", body = schemas::Error),
        (status = 409, description = "A concurrent change (`CONFLICT`).", body = schemas::Error),
        (status = 422, description = "Airtable refused the token (`AIRTABLE_TOKEN_REJECTED`), or refused the request (`INVALID_REQUEST_UNKNOWN`).", body = schemas::Error),
        (status = 502, description = "Airtable failed or could not be reached (`UPSTREAM_ERROR`).", body = schemas::Error),
        (status = 503, description = "A dependency is unavailable (`SERVICE_UNAVAILABLE`).", body = schemas::Error),
        (status = 504, description = "Airtable did not answer in time (`UPSTREAM_TIMEOUT`).", body = schemas::Error),
    )
)]
async fn connect(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<ConnectBody>,
) -> Result<Response, ApiError> {
    let principal = &caller.0;
    let view = state
        .connections()
        .connect(&principal.tenant_id, SecretString::from(body.token))
        .await?;
    Ok(Json(view).into_response())
}

#[utoipa::path(
    get,
    path = "/v1/connections/airtable",
    tag = "connections",
    responses(
        (status = 200, description = "The connection, with the token masked", body = schemas::Connection),
        (status = 404, description = "No Airtable connection yet (`NOT_CONNECTED`).", body = schemas::Error),
    )
)]
async fn show(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    // The Airtable account's email and the token's scopes are the tenant admin's business.
    let principal = &caller.0;
    let view = state.connections().get(&principal.tenant_id).await?;
    Ok(Json(view).into_response())
}

#[utoipa::path(
    delete,
    path = "/v1/connections/airtable",
    tag = "connections",
    responses(
        (status = 204, description = "Disconnected; every function instance stops using the token at once"),
        (status = 404, description = "No Airtable connection (`NOT_CONNECTED`).", body = schemas::Error),
    )
)]
async fn disconnect(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    let principal = &caller.0;
    state.connections().disconnect(&principal.tenant_id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
