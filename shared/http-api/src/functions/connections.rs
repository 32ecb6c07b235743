//! `api-connections`: the tenant's Airtable connection. The only function that writes tenants'
//! Airtable tokens. The token is verified with Airtable's whoami before it is stored, and is
//! never returned: reads show a masked form.

use accounts::Scope;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use basics::ApiError;
use secrecy::SecretString;
use serde::Deserialize;
use utoipa_axum::routes;

use crate::json::ApiJson;
use crate::{AppState, Caller, FunctionRoutes};

pub const FUNCTION: &str = "api-connections";

pub fn routes() -> FunctionRoutes {
    FunctionRoutes::new(FUNCTION)
        .route(Scope::Admin, routes!(connect))
        .route(Scope::Admin, routes!(show))
        .route(Scope::Admin, routes!(disconnect))
}

/// The body of a connect request. `Debug` is written by hand so the token cannot be logged.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConnectBody {
    token: String,
}

impl std::fmt::Debug for ConnectBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConnectBody { token: [REDACTED] }")
    }
}

#[utoipa::path(put, path = "/v1/connections/airtable")]
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

#[utoipa::path(get, path = "/v1/connections/airtable")]
async fn show(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    // The Airtable account's email and the token's scopes are the tenant admin's business.
    let principal = &caller.0;
    let view = state.connections().get(&principal.tenant_id).await?;
    Ok(Json(view).into_response())
}

#[utoipa::path(delete, path = "/v1/connections/airtable")]
async fn disconnect(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    let principal = &caller.0;
    state.connections().disconnect(&principal.tenant_id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
