//! `api-auth`: accounts (`/v1/auth/*`) and API keys (`/v1/api-keys*`).

use crate::ApiError;
use accounts::{Credential, NewApiKey, ProfileChange, Scope};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::routes;

use crate::json::ApiJson;
use crate::openapi::schemas;
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
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RegisterBody {
    #[schema(format = Email, max_length = 254)]
    email: String,
    /// 8 to 256 characters, counted after NFKC normalisation (so no raw length bound is
    /// exact: normalising can join or split characters).
    password: String,
    /// A display name, up to 100 characters without control characters.
    #[serde(default)]
    #[schema(max_length = 100)]
    name: Option<String>,
}

#[utoipa::path(
    post,
    path = "/v1/auth/register",
    tag = "auth",
    request_body = RegisterBody,
    responses(
        (status = 201, description = "A new tenant with the caller as owner, signed in", body = schemas::SignedIn),
        (status = 400, description = "A bad email, password or name (`INVALID_REQUEST`).", body = schemas::Error),
        (status = 409, description = "The email is taken (`EMAIL_TAKEN`).", body = schemas::Error),
    )
)]
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

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    #[schema(format = Email, max_length = 254)]
    email: String,
    #[schema(max_length = 4096)]
    password: String,
}

#[utoipa::path(
    post,
    path = "/v1/auth/login",
    tag = "auth",
    request_body = LoginBody,
    responses(
        (status = 200, description = "Signed in", body = schemas::SignedIn),
        (status = 400, description = "A malformed email or password (`INVALID_REQUEST`).", body = schemas::Error),
        (status = 401, description = "Wrong email or password, the same for an unknown email (`INVALID_CREDENTIALS`).", body = schemas::Error),
        (status = 429, description = "Five failures in 15 minutes lock the email for 15 minutes (`ACCOUNT_LOCKED`), with `Retry-After`.", body = schemas::Error),
    )
)]
async fn login(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<Response, ApiError> {
    let signed_in = state.accounts().login(&body.email, &body.password).await?;
    Ok(Json(signed_in).into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RefreshBody {
    /// The `prt_…` token from login, register or the previous refresh.
    refresh_token: String,
}

#[utoipa::path(
    post,
    path = "/v1/auth/refresh",
    tag = "auth",
    request_body = RefreshBody,
    responses(
        (status = 200, description = "A new token pair; the refresh token presented is spent", body = schemas::TokenPair),
        (status = 401, description = "An unknown, expired or spent refresh token; a spent one also ends its session (`AUTHENTICATION_REQUIRED`).", body = schemas::Error),
    )
)]
async fn refresh(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RefreshBody>,
) -> Result<Response, ApiError> {
    let tokens = state.accounts().refresh(&body.refresh_token).await?;
    Ok(Json(tokens).into_response())
}

#[utoipa::path(
    post,
    path = "/v1/auth/logout",
    tag = "auth",
    responses(
        (status = 204, description = "The session is over: its access and refresh tokens stop working at once"),
        (status = 403, description = "An API key has no session to end (`FORBIDDEN`).", body = schemas::Error),
    )
)]
async fn logout(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    state.accounts().logout(&caller).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Who is calling. For an API key: the tenant, the key and its scopes, but not the profile of
/// the user who created it.
#[utoipa::path(
    get,
    path = "/v1/auth/me",
    tag = "auth",
    responses(
        (status = 200, description = "Who is calling: the user and tenant, or for an API key the tenant, the key and its scopes", body = schemas::Me),
        (status = 404, description = "The user or tenant is gone (`NOT_FOUND`).", body = schemas::Error),
    )
)]
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

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateMeBody {
    /// A new display name; an empty string clears it.
    #[serde(default)]
    #[schema(max_length = 100)]
    name: Option<String>,
    /// A new email; needs `current_password`.
    #[serde(default)]
    #[schema(format = Email, max_length = 254)]
    email: Option<String>,
    #[serde(default)]
    current_password: Option<String>,
}

#[utoipa::path(
    patch,
    path = "/v1/auth/me",
    tag = "auth",
    request_body = UpdateMeBody,
    responses(
        (status = 200, description = "The updated profile", body = schemas::UserOnly),
        (status = 400, description = "A bad name or email (`INVALID_REQUEST`).", body = schemas::Error),
        (status = 401, description = "An email change with a wrong `current_password` (`INVALID_CREDENTIALS`).", body = schemas::Error),
        (status = 403, description = "API keys cannot change a profile (`FORBIDDEN`).", body = schemas::Error),
        (status = 404, description = "The user is gone (`NOT_FOUND`).", body = schemas::Error),
        (status = 409, description = "The new email is taken (`EMAIL_TAKEN`), or the profile changed concurrently (`CONFLICT`).", body = schemas::Error),
    )
)]
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

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PasswordBody {
    current_password: String,
    /// 8 to 256 characters, counted after NFKC normalisation (so no raw length bound is
    /// exact: normalising can join or split characters).
    new_password: String,
}

#[utoipa::path(
    post,
    path = "/v1/auth/password",
    tag = "auth",
    request_body = PasswordBody,
    responses(
        (status = 204, description = "Changed; every other session of the user is over"),
        (status = 400, description = "The new password is not 8 to 256 characters (`INVALID_REQUEST`).", body = schemas::Error),
        (status = 401, description = "The current password is wrong (`INVALID_CREDENTIALS`).", body = schemas::Error),
        (status = 403, description = "API keys cannot change passwords (`FORBIDDEN`).", body = schemas::Error),
        (status = 404, description = "The user is gone (`NOT_FOUND`).", body = schemas::Error),
    )
)]
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

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateKeyBody {
    /// 1 to 100 characters.
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
    name: String,
    /// Scopes the creating user holds.
    #[schema(value_type = Vec<schemas::Scope>, min_items = 1)]
    scopes: Vec<String>,
    /// An RFC 3339 time in the future; never expires when absent.
    #[serde(default)]
    #[schema(format = DateTime)]
    expires_at: Option<String>,
}

#[utoipa::path(
    post,
    path = "/v1/api-keys",
    tag = "api-keys",
    request_body = CreateKeyBody,
    responses(
        (status = 201, description = "The key, shown this once", body = schemas::CreatedApiKey),
        (status = 400, description = "A bad name, scope or expiry (`INVALID_REQUEST`).", body = schemas::Error),
        (status = 403, description = "Keys are created by a signed-in user, never by another key, and never with scopes the user lacks (`FORBIDDEN`).", body = schemas::Error),
        (status = 409, description = "The tenant has its maximum of 100 keys, or a concurrent change (`CONFLICT`).", body = schemas::Error),
    )
)]
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

#[utoipa::path(
    get,
    path = "/v1/api-keys",
    tag = "api-keys",
    responses(
        (status = 200, description = "The tenant's keys (never the keys themselves)", body = schemas::ApiKeyList),
    )
)]
async fn list_keys(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    let principal = &caller.0;
    let keys = state.accounts().list_api_keys(principal).await?;
    Ok(Json(json!({ "api_keys": keys })).into_response())
}

#[utoipa::path(
    delete,
    path = "/v1/api-keys/{key_id}",
    tag = "api-keys",
    params(("key_id" = String, Path, description = "The key's id, as listed")),
    responses(
        (status = 200, description = "Revoked at once", body = schemas::Deleted),
        (status = 404, description = "No such key in this tenant (`NOT_FOUND`).", body = schemas::Error),
    )
)]
async fn revoke_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(key_id): Path<String>,
) -> Result<Response, ApiError> {
    let principal = &caller.0;
    state.accounts().revoke_api_key(principal, &key_id).await?;
    Ok(Json(json!({ "id": key_id, "deleted": true })).into_response())
}
