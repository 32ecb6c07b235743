//! `api-auth`: accounts (`/v1/auth/*`) and API keys (`/v1/api-keys*`).

use accounts::{Credential, NewApiKey, ProfileChange, Scope};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use basics::ApiError;
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::json;
use utoipa_axum::routes;

use crate::json::ApiJson;
use crate::{AppState, Caller, FunctionRoutes, Needs};

pub const FUNCTION: &str = "api-auth";

pub fn routes() -> FunctionRoutes {
    FunctionRoutes::new(FUNCTION)
        .public_per_client_limit(routes!(register))
        .public_per_client_limit(routes!(login))
        .public_per_client_limit(routes!(refresh))
        .route(Needs::AUTHENTICATION, routes!(logout))
        .route(Needs::AUTHENTICATION, routes!(me))
        .route(Needs::AUTHENTICATION, routes!(update_me))
        .route(Needs::AUTHENTICATION, routes!(change_password))
        .route(Scope::Admin, routes!(create_key))
        .route(Scope::Admin, routes!(list_keys))
        .route(Scope::Admin, routes!(revoke_key))
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

#[utoipa::path(post, path = "/v1/auth/register")]
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

#[utoipa::path(post, path = "/v1/auth/login")]
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

#[utoipa::path(post, path = "/v1/auth/refresh")]
async fn refresh(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RefreshBody>,
) -> Result<Response, ApiError> {
    let tokens = state.accounts().refresh(&body.refresh_token).await?;
    Ok(Json(tokens).into_response())
}

#[utoipa::path(post, path = "/v1/auth/logout")]
async fn logout(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    state.accounts().logout(&caller).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Who is calling. For an API key: the tenant, the key and its scopes, but not the profile of
/// the user who created it.
#[utoipa::path(get, path = "/v1/auth/me")]
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

#[utoipa::path(patch, path = "/v1/auth/me")]
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

#[utoipa::path(post, path = "/v1/auth/password")]
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

#[utoipa::path(post, path = "/v1/api-keys")]
async fn create_key(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateKeyBody>,
) -> Result<Response, ApiError> {
    let principal = &caller.0;
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

#[utoipa::path(get, path = "/v1/api-keys")]
async fn list_keys(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    let principal = &caller.0;
    let keys = state.accounts().list_api_keys(principal).await?;
    Ok(Json(json!({ "api_keys": keys })).into_response())
}

#[utoipa::path(delete, path = "/v1/api-keys/{key_id}")]
async fn revoke_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(key_id): Path<String>,
) -> Result<Response, ApiError> {
    let principal = &caller.0;
    state.accounts().revoke_api_key(principal, &key_id).await?;
    Ok(Json(json!({ "id": key_id, "deleted": true })).into_response())
}
