//! `api-chat`: chat with your data (`POST /v1/chat`), its sessions, the models on offer, and the
//! tenant's budget. The loop itself lives in the `chat` crate; this module parses, authorizes,
//! builds the turn's model and Airtable client, and renders answers and errors.

use crate::{ApiError, ErrorKind};
use accounts::Scope;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chat::{BudgetSettings, CatalogError, ChatError, ChatRequest, TurnContext};
use llm::LlmError;
use metering::UsageTally;
use serde_json::json;
use tools::ToolContext;
use utoipa_axum::routes;

use crate::json::ApiJson;
use crate::openapi::schemas;
use crate::{AppState, Caller, FunctionRoutes};

pub const FUNCTION: &str = "api-chat";

pub fn routes() -> FunctionRoutes {
    FunctionRoutes::new(FUNCTION)
        .route(Scope::Chat, routes!(chat_turn))
        .route(Scope::Chat, routes!(list_sessions))
        .route(Scope::Chat, routes!(show_session))
        .route(Scope::Chat, routes!(delete_session))
        .route(Scope::Chat, routes!(list_models))
        .route(Scope::UsageRead, routes!(show_budget))
        .route(Scope::Admin, routes!(set_budget))
}

fn chat_error(err: ChatError) -> ApiError {
    match err {
        ChatError::Invalid(message) => ApiError::bad_request(message),
        ChatError::UnknownSession(_) => {
            ApiError::not_found(err.to_string()).with_type("SESSION_NOT_FOUND")
        }
        ChatError::BudgetExceeded { .. } => {
            ApiError::new(ErrorKind::PaymentRequired, err.to_string()).with_type("BUDGET_EXCEEDED")
        }
        ChatError::Model(LlmError::Refused { status, .. }) => {
            tracing::warn!(status, error = %err, "the model provider refused a request");
            ApiError::new(
                ErrorKind::BadGateway,
                format!("The model provider refused the request: {err}"),
            )
            .with_type("MODEL_REFUSED")
        }
        ChatError::Model(other) => ApiError::new(
            ErrorKind::BadGateway,
            format!("The model provider is unavailable: {other}"),
        )
        .with_type("MODEL_UNAVAILABLE"),
        ChatError::Store(err) => err.into(),
    }
}

fn catalog_error(err: CatalogError) -> ApiError {
    match err {
        CatalogError::UnknownModel(_) => {
            ApiError::bad_request(err.to_string()).with_type("UNKNOWN_MODEL")
        }
        CatalogError::NoKey(..) => {
            ApiError::unavailable(err.to_string()).with_type("MODEL_NOT_CONFIGURED")
        }
        CatalogError::Unavailable(detail) => ApiError::internal(detail),
    }
}

#[utoipa::path(
    post,
    path = "/v1/chat",
    tag = "chat",
    request_body = schemas::ChatRequest,
    responses(
        (status = 200, description = "The model's answer, the tool calls it made, tokens and cost", body = schemas::ChatReply),
        (status = 400, description = "An empty or too long message (`INVALID_REQUEST`), or an unknown model (`UNKNOWN_MODEL`).", body = schemas::Error),
        (status = 402, description = "The month's budget would be passed (`BUDGET_EXCEEDED`).", body = schemas::Error),
        (status = 404, description = "No such session (`SESSION_NOT_FOUND`).", body = schemas::Error),
        (status = 409, description = "No Airtable connection (`AIRTABLE_NOT_CONNECTED`), or a concurrent change (`CONFLICT`).", body = schemas::Error),
        (status = 502, description = "The model provider refused the request (`MODEL_REFUSED`) or is unavailable (`MODEL_UNAVAILABLE`), or Airtable failed (`UPSTREAM_ERROR`).", body = schemas::Error),
        (status = 503, description = "The model's provider is not set up here (`MODEL_NOT_CONFIGURED`), or a dependency is unavailable (`SERVICE_UNAVAILABLE`).", body = schemas::Error),
    )
)]
async fn chat_turn(
    State(state): State<AppState>,
    caller: Caller,
    usage: Option<Extension<UsageTally>>,
    ApiJson(request): ApiJson<ChatRequest>,
) -> Result<Response, ApiError> {
    let principal = &caller.0;
    let chat = state.chat();
    chat.validate(&request).map_err(chat_error)?;
    let (model, price) = state
        .model_catalog()
        .resolve(request.model.as_deref())
        .await
        .map_err(catalog_error)?;
    let token = state
        .connections()
        .token(&principal.tenant_id)
        .await
        .map_err(gateway::GatewayError::from)?;
    let client = state
        .airtable_clients()
        .client(&principal.tenant_id, token)
        .map_err(gateway::GatewayError::from)?;
    let tally = usage.map(|Extension(tally)| tally).unwrap_or_default();
    let context = TurnContext {
        principal,
        model,
        price,
        tools: ToolContext::new(state.gateway().client_for_tools(
            &principal.tenant_id,
            &client,
            &tally,
        )),
        usage: &tally,
    };
    let reply = chat.turn(context, request).await.map_err(chat_error)?;
    Ok(Json(reply).into_response())
}

#[utoipa::path(
    get,
    path = "/v1/chat/sessions",
    tag = "chat",
    responses((status = 200, description = "The tenant's chat sessions", body = schemas::SessionList))
)]
async fn list_sessions(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let principal = &caller.0;
    let sessions = state.chat().sessions().list(&principal.tenant_id).await?;
    Ok(Json(json!({"sessions": sessions})).into_response())
}

#[utoipa::path(
    get,
    path = "/v1/chat/sessions/{session_id}",
    tag = "chat",
    params(("session_id" = String, Path, description = "A session id from `POST /v1/chat` or the list")),
    responses(
        (status = 200, description = "The session and its history", body = schemas::ChatSession),
        (status = 404, description = "No such session in this tenant (`SESSION_NOT_FOUND`).", body = schemas::Error),
    )
)]
async fn show_session(
    State(state): State<AppState>,
    caller: Caller,
    Path(session_id): Path<String>,
) -> Result<Response, ApiError> {
    let principal = &caller.0;
    match state
        .chat()
        .sessions()
        .get(&principal.tenant_id, &session_id)
        .await?
    {
        Some(session) => Ok(Json(session).into_response()),
        None => Err(chat_error(ChatError::UnknownSession(session_id))),
    }
}

#[utoipa::path(
    delete,
    path = "/v1/chat/sessions/{session_id}",
    tag = "chat",
    params(("session_id" = String, Path, description = "A session id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such session in this tenant (`SESSION_NOT_FOUND`).", body = schemas::Error),
    )
)]
async fn delete_session(
    State(state): State<AppState>,
    caller: Caller,
    Path(session_id): Path<String>,
) -> Result<Response, ApiError> {
    let principal = &caller.0;
    if state
        .chat()
        .sessions()
        .delete(&principal.tenant_id, &session_id)
        .await?
    {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(chat_error(ChatError::UnknownSession(session_id)))
    }
}

#[utoipa::path(
    get,
    path = "/v1/models",
    tag = "chat",
    responses((status = 200, description = "The models on offer, their prices and whether their provider is set up", body = schemas::ModelList))
)]
async fn list_models(State(state): State<AppState>) -> Result<Response, ApiError> {
    Ok(Json(json!({"models": state.model_catalog().list().await})).into_response())
}

#[utoipa::path(
    get,
    path = "/v1/budget",
    tag = "usage",
    responses((status = 200, description = "The budget (null until set), this month's spend and alerts", body = schemas::Budget))
)]
async fn show_budget(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    let principal = &caller.0;
    let view = state
        .chat()
        .budgets()
        .view(&principal.tenant_id, None)
        .await?;
    Ok(Json(view).into_response())
}

#[utoipa::path(
    put,
    path = "/v1/budget",
    tag = "usage",
    request_body = schemas::BudgetSettings,
    responses(
        (status = 200, description = "The budget as set", body = schemas::BudgetSet),
        (status = 400, description = "`monthly_usd` not from 0 to 1e9, or `alert_threshold` not in (0, 1] (`INVALID_REQUEST`).", body = schemas::Error),
        (status = 409, description = "A concurrent change (`CONFLICT`).", body = schemas::Error),
    )
)]
async fn set_budget(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(settings): ApiJson<BudgetSettings>,
) -> Result<Response, ApiError> {
    let principal = &caller.0;
    settings.validate().map_err(ApiError::bad_request)?;
    state
        .chat()
        .budgets()
        .set(&principal.tenant_id, settings)
        .await?;
    Ok(Json(json!({
        "monthly_usd": settings.monthly_usd,
        "alert_threshold": settings.alert_threshold,
    }))
    .into_response())
}
