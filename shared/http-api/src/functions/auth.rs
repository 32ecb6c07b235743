//! `api-auth`: accounts (`/v1/auth/*`) and API keys (`/v1/api-keys*`).

use accounts::{Credential, NewApiKey, ProfileChange, Scope};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post};
use basics::ApiError;
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::json;

use crate::json::ApiJson;
use crate::{AppState, Caller, FunctionRoutes};

pub const FUNCTION: &str = "api-auth";

pub fn routes() -> FunctionRoutes {
    FunctionRoutes::new(FUNCTION)
        .public_post_per_client_limit("/v1/auth/register", post(register))
        .public_post_per_client_limit("/v1/auth/login", post(login))
        .public_post_per_client_limit("/v1/auth/refresh", post(refresh))
        .post("/v1/auth/logout", post(logout))
        .get("/v1/auth/me", get(me))
        .patch("/v1/auth/me", patch(update_me))
        .post("/v1/auth/password", post(change_password))
        .post("/v1/api-keys", post(create_key))
        .get("/v1/api-keys", get(list_keys))
        .delete("/v1/api-keys/{key_id}", delete(revoke_key))
}

/// Request bodies that carry passwords or tokens have no `Debug`, so they cannot be logged.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterBody {
    email: String,
    password: String,
    #[serde(default)]
    name: Option<String>,
}

async fn register(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RegisterBody>,
) -> Result<Response, ApiError> {
    let signed_in = state
        .accounts()
        .register(&body.email, &body.password, body.name.as_deref())
        .await?;
    Ok((StatusCode::CREATED, Json(signed_in)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    email: String,
    password: String,
}

async fn login(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<Response, ApiError> {
    let signed_in = state.accounts().login(&body.email, &body.password).await?;
    Ok(Json(signed_in).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RefreshBody {
    refresh_token: String,
}

async fn refresh(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RefreshBody>,
) -> Result<Response, ApiError> {
    let tokens = state.accounts().refresh(&body.refresh_token).await?;
    Ok(Json(tokens).into_response())
}

async fn logout(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    state.accounts().logout(&caller).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Who is calling. For an API key: the tenant, the key and its scopes, but not the profile of
/// the user who created it.
async fn me(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    let (user, tenant) = state.accounts().me(&caller).await?;
    let body = match &caller.credential {
        Credential::Session { .. } => json!({
            "user": user,
            "tenant": tenant,
            "scopes": caller.scopes,
            "credential": "session",
        }),
        Credential::ApiKey { key_id } => json!({
            "tenant": tenant,
            "api_key": {"id": key_id},
            "scopes": caller.scopes,
            "credential": "api_key",
        }),
    };
    Ok(Json(body).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateMeBody {
    /// A new display name; an empty string clears it.
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    current_password: Option<String>,
}

async fn update_me(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<UpdateMeBody>,
) -> Result<Response, ApiError> {
    let change = ProfileChange {
        name: body.name,
        email: body.email,
        current_password: body.current_password.map(SecretString::from),
    };
    let user = state.accounts().update_profile(&caller, change).await?;
    Ok(Json(json!({ "user": user })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PasswordBody {
    current_password: String,
    new_password: String,
}

async fn change_password(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<PasswordBody>,
) -> Result<Response, ApiError> {
    state
        .accounts()
        .change_password(&caller, &body.current_password, &body.new_password)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateKeyBody {
    name: String,
    scopes: Vec<String>,
    #[serde(default)]
    expires_at: Option<String>,
}

async fn create_key(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateKeyBody>,
) -> Result<Response, ApiError> {
    let principal = caller.require(Scope::Admin)?;
    let created = state
        .accounts()
        .create_api_key(
            principal,
            NewApiKey {
                name: body.name,
                scopes: body.scopes,
                expires_at: body.expires_at,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

async fn list_keys(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    let principal = caller.require(Scope::Admin)?;
    let keys = state.accounts().list_api_keys(principal).await?;
    Ok(Json(json!({ "api_keys": keys })).into_response())
}

async fn revoke_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(key_id): Path<String>,
) -> Result<Response, ApiError> {
    let principal = caller.require(Scope::Admin)?;
    state.accounts().revoke_api_key(principal, &key_id).await?;
    Ok(Json(json!({ "id": key_id, "deleted": true })).into_response())
}
