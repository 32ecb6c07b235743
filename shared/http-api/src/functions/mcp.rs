//! `api-mcp`: the MCP server at `/mcp` for AI clients, over the same tool registry as chat.
//!
//! Every request stands alone (stateless Streamable HTTP with JSON answers, which is what a
//! Lambda function can serve): the protocol work is the `mcp` crate's; this module checks the
//! `Origin`, authenticates like every route (our access token or API key), and gives the
//! protocol a backend scoped to the caller's tenant: the tools the caller's scopes allow, two
//! prompt templates, and each connected base's schema as a resource.

use std::collections::BTreeMap;

use crate::ApiError;
use accounts::{Principal, Scope};
use async_trait::async_trait;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use mcp::{
    CallError, McpBackend, PromptArgument, PromptDescriptor, PromptMessage, PromptMessages,
    ResourceContents, ResourceDescriptor, Role, ServerInfo, ToolAnnotations, ToolDescriptor,
    ToolResult,
};
use serde_json::Value;
use tools::{Offer, Registry, ToolContext, ToolError};
use utoipa_axum::routes;

use crate::openapi::schemas;
use crate::{AppState, Caller, FunctionRoutes, Needs};

pub const FUNCTION: &str = "api-mcp";

pub fn routes() -> FunctionRoutes {
    FunctionRoutes::new(FUNCTION)
        .route(Needs::AUTHENTICATION, routes!(mcp_post))
        .route(Needs::AUTHENTICATION, routes!(mcp_get))
        .route(Needs::AUTHENTICATION, routes!(mcp_delete))
        .guarded_by(|state, request, next| Box::pin(origin_guard(state, request, next)))
}

/// A browser page may only talk to us from an allowed origin (DNS rebinding and cross-site
/// requests); clients without an `Origin` (every non-browser client) are fine. Checked before
/// authentication, as the spec requires ("MUST respond with HTTP 403 Forbidden").
async fn origin_guard(
    state: AppState,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let allowed = mcp::origin_header(request.headers())
        .and_then(|origin| mcp::check_origin(origin, &state.settings.mcp_allowed_origins));
    match allowed {
        Ok(()) => next.run(request).await,
        Err(forbidden) => reply(forbidden.reply()),
    }
}

fn reply(reply: mcp::HttpReply) -> Response {
    (reply.status, reply.headers, reply.body).into_response()
}

/// GET (an SSE stream) does not exist on a stateless server: 405.
#[utoipa::path(
    get,
    path = "/mcp",
    tag = "mcp",
    responses(
        (status = 403, description = "The `Origin` is not allowed (JSON-RPC error -32600).", body = schemas::JsonRpcError),
        (status = 405, description = "This server offers no SSE stream (JSON-RPC error); `Allow: POST`", body = schemas::JsonRpcError, headers(("Allow" = String, description = "POST"))),
    )
)]
async fn mcp_get() -> Response {
    reply(mcp::method_not_allowed())
}

/// DELETE (ending a session) does not exist on a stateless server: 405.
#[utoipa::path(
    delete,
    path = "/mcp",
    tag = "mcp",
    responses(
        (status = 403, description = "The `Origin` is not allowed (JSON-RPC error -32600).", body = schemas::JsonRpcError),
        (status = 405, description = "There are no sessions to end (JSON-RPC error); `Allow: POST`", body = schemas::JsonRpcError, headers(("Allow" = String, description = "POST"))),
    )
)]
async fn mcp_delete() -> Response {
    reply(mcp::method_not_allowed())
}

fn server_info(state: &AppState) -> ServerInfo {
    let mut info = ServerInfo::new("pyairtable-on-lambda", state.version);
    info.title = Some("Airtable via PyAirtable on Lambda".into());
    info.instructions = Some(
        "Tools to read, search, analyze and (with write scopes) change the user's Airtable bases. \
         Start with list_bases and list_tables; each base's schema is also a resource."
            .into(),
    );
    info
}

#[utoipa::path(
    post,
    path = "/mcp",
    tag = "mcp",
    request_body(content = schemas::McpRequest, content_type = "application/json", description = "A JSON-RPC message (MCP over stateless Streamable HTTP); send `Accept: application/json, text/event-stream`"),
    responses(
        (status = 200, description = "The JSON-RPC response (or batch of responses)", body = schemas::McpResponse),
        (status = 202, description = "A notification or client response was accepted; no body"),
        (status = 400, description = "A parse error, an invalid request or invalid params (JSON-RPC error -32700, -32600, -32602).", body = schemas::JsonRpcError),
        (status = 403, description = "The `Origin` is not allowed (JSON-RPC error -32600).", body = schemas::JsonRpcError),
        (status = 404, description = "An unknown method (JSON-RPC error -32601).", body = schemas::JsonRpcError),
        (status = 406, description = "The client does not accept `application/json` (JSON-RPC error -32600).", body = schemas::JsonRpcError),
        (status = 413, description = "The body is too large (JSON-RPC error -32600).", body = schemas::JsonRpcError),
        (status = 415, description = "The body is not `application/json` (JSON-RPC error -32600).", body = schemas::JsonRpcError),
        (status = 500, description = "The server failed (JSON-RPC error -32603).", body = schemas::JsonRpcError),
    )
)]
async fn mcp_post(
    State(state): State<AppState>,
    caller: Caller,
    usage: Option<axum::Extension<metering::UsageTally>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let usage = usage
        .map(|axum::Extension(tally)| tally)
        .unwrap_or_default();
    if let Err(refusal) = charge_batch(&state, &caller.0.tenant_id, &body).await {
        return refusal.into_response();
    }
    let backend = PlatformBackend::new(&state, caller.0, usage);
    reply(mcp::handle_post(&headers, &body, &backend, &server_info(&state)).await)
}

/// A batch carries several messages, each as much work as a request of its own (a tool call is
/// an Airtable call): the tenant's request limit counts every message, not the one HTTP request
/// (the authentication layer has counted the first). Batches past `mcp::MAX_BATCH_MESSAGES` are
/// refused whole by the protocol layer and cost nothing more.
async fn charge_batch(state: &AppState, tenant_id: &str, body: &Bytes) -> Result<(), ApiError> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'[') {
        return Ok(());
    }
    let Ok(messages) = serde_json::from_slice::<Vec<serde::de::IgnoredAny>>(body) else {
        return Ok(()); // not a well-formed batch: the protocol layer answers -32700
    };
    if messages.len() > mcp::MAX_BATCH_MESSAGES {
        return Ok(()); // refused whole by the protocol layer: no message will run
    }
    let extra = messages.len().saturating_sub(1);
    let extra = u32::try_from(extra).unwrap_or(u32::MAX);
    match state.tenant_rate_limit().admit_many(tenant_id, extra).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(limited)) => Err(ApiError::rate_limited(
            format!(
                "This batch of {} messages takes the tenant over its limit of {} requests per minute; retry in {} s",
                messages.len(),
                limited.limit,
                limited.retry_after
            ),
            limited.retry_after,
        )
        .with_type("TENANT_RATE_LIMITED")),
        Err(err) => Err(ApiError::from(err)),
    }
}

/// The MCP backend for one request: one tenant, one principal.
struct PlatformBackend {
    state: AppState,
    principal: Principal,
    usage: metering::UsageTally,
    /// The tenant's Airtable client, or why there is none (no connection yet), looked up on
    /// first use: most requests (initialize, lists, prompts) never need it.
    tools: tokio::sync::OnceCell<Result<ToolContext, String>>,
}

impl PlatformBackend {
    /// The backend for `principal`; the tools' Airtable calls are counted into `usage`.
    fn new(state: &AppState, principal: Principal, usage: metering::UsageTally) -> Self {
        Self {
            state: state.clone(),
            principal,
            usage,
            tools: tokio::sync::OnceCell::new(),
        }
    }

    fn registry(&self) -> &Registry {
        self.state.tools()
    }

    async fn context(&self) -> Result<ToolContext, String> {
        self.tools
            .get_or_init(|| async {
                let tenant_id = &self.principal.tenant_id;
                match self.state.connections().token(tenant_id).await {
                    Ok(token) => self
                        .state
                        .airtable_clients()
                        .client(tenant_id, token)
                        .map(|client| {
                            ToolContext::new(self.state.gateway().client_for_tools(
                                tenant_id,
                                &client,
                                &self.usage,
                            ))
                        })
                        .map_err(|e| e.to_string()),
                    Err(connections::ConnectionError::NotConnected) => Err(
                        "This account has no Airtable connection yet; an admin connects one with PUT /v1/connections/airtable"
                            .to_string(),
                    ),
                    Err(err) => Err(err.to_string()),
                }
            })
            .await
            .clone()
    }
}

const ANALYSIS_PROMPT: &str = "analyze_table";
const SUMMARY_PROMPT: &str = "summarize_records";
const SCHEMA_URI_PREFIX: &str = "airtable://bases/";
const SCHEMA_URI_SUFFIX: &str = "/schema";

fn prompt_argument(name: &str, description: &str, required: bool) -> PromptArgument {
    PromptArgument {
        name: name.into(),
        title: None,
        description: Some(description.into()),
        required,
    }
}

#[async_trait]
impl McpBackend for PlatformBackend {
    async fn list_tools(&self) -> Vec<ToolDescriptor> {
        self.registry()
            .offered(&self.principal, Offer::All)
            .map(|spec| ToolDescriptor {
                name: spec.name.to_string(),
                title: Some(spec.title.to_string()),
                description: spec.description.to_string(),
                input_schema: spec.input_schema.clone(),
                output_schema: Some(spec.output_schema.clone()),
                annotations: Some(ToolAnnotations {
                    title: Some(spec.title.to_string()),
                    read_only_hint: Some(spec.annotations.read_only),
                    destructive_hint: Some(spec.annotations.destructive),
                    idempotent_hint: Some(spec.annotations.idempotent),
                    open_world_hint: Some(false),
                }),
            })
            .collect()
    }

    async fn call_tool(&self, name: &str, arguments: Value) -> Result<ToolResult, CallError> {
        if !self
            .registry()
            .offered(&self.principal, Offer::All)
            .any(|spec| spec.name == name)
        {
            return Err(CallError::NotFound);
        }
        let context = match self.context().await {
            Ok(context) => context,
            Err(message) => return Ok(ToolResult::error(message)),
        };
        match self
            .registry()
            .call(&self.principal, Offer::All, name, arguments, context)
            .await
        {
            Ok(output) => Ok(ToolResult::structured(output.structured)),
            Err(ToolError::UnknownTool(_)) => Err(CallError::NotFound),
            Err(ToolError::InvalidArguments(message)) => Err(CallError::InvalidArguments(message)),
            Err(err) => Ok(ToolResult::error(err.to_string())),
        }
    }

    async fn list_prompts(&self) -> Vec<PromptDescriptor> {
        vec![
            PromptDescriptor {
                name: ANALYSIS_PROMPT.into(),
                title: Some("Analyze a table".into()),
                description: Some(
                    "Profile a table's data quality and distributions, and say what stands out."
                        .into(),
                ),
                arguments: vec![
                    prompt_argument("base_id", "The base id (app…)", true),
                    prompt_argument("table", "The table's name or id", true),
                    prompt_argument("focus", "What to look at especially (optional)", false),
                ],
            },
            PromptDescriptor {
                name: SUMMARY_PROMPT.into(),
                title: Some("Summarize records".into()),
                description: Some("Summarize the records of a table, optionally filtered.".into()),
                arguments: vec![
                    prompt_argument("base_id", "The base id (app…)", true),
                    prompt_argument("table", "The table's name or id", true),
                    prompt_argument(
                        "filter",
                        "An Airtable formula to select records (optional)",
                        false,
                    ),
                ],
            },
        ]
    }

    async fn get_prompt(
        &self,
        name: &str,
        arguments: BTreeMap<String, String>,
    ) -> Result<PromptMessages, CallError> {
        let required = |key: &str| {
            arguments
                .get(key)
                .filter(|v| !v.trim().is_empty())
                .cloned()
                .ok_or_else(|| {
                    CallError::InvalidArguments(format!("the {key} argument is required"))
                })
        };
        // The prompt's ids go into text a model will act on: they must be ids the tools would
        // take, or the model is sent after a table that cannot exist.
        let base_and_table = || -> Result<(gateway::BaseId, gateway::TableRef), CallError> {
            let base = gateway::BaseId::parse(&required("base_id")?)
                .map_err(|err| CallError::InvalidArguments(format!("base_id: {err}")))?;
            let table = gateway::TableRef::parse(&required("table")?)
                .map_err(|err| CallError::InvalidArguments(format!("table: {err}")))?;
            Ok((base, table))
        };
        let text = match name {
            ANALYSIS_PROMPT => {
                let (base, table) = base_and_table()?;
                let table = table.as_str();
                let focus = arguments
                    .get("focus")
                    .map(|f| format!(" Pay particular attention to: {f}."))
                    .unwrap_or_default();
                format!(
                    "Analyze the table {table:?} in base {base}. First call describe_table to learn its fields, then analyze_table for counts, empty rates, distinct values and numeric summaries, and find_duplicates on the fields that should be unique (emails, names). Report what stands out: missing data, outliers, duplicates, and suggestions to clean it up.{focus}"
                )
            }
            SUMMARY_PROMPT => {
                let (base, table) = base_and_table()?;
                let table = table.as_str();
                let filter = arguments
                    .get("filter")
                    .filter(|f| !f.trim().is_empty())
                    .map(|f| format!(" Only the records matching the formula {f}."))
                    .unwrap_or_default();
                format!(
                    "Summarize the records of the table {table:?} in base {base}.{filter} Use list_records with the fields that matter (describe_table tells you which), and analyze_table for totals. Give a short overview, then the notable records with their ids."
                )
            }
            _ => return Err(CallError::NotFound),
        };
        Ok(PromptMessages {
            description: None,
            messages: vec![PromptMessage {
                role: Role::User,
                text,
            }],
        })
    }

    async fn list_resources(&self) -> Result<Vec<ResourceDescriptor>, String> {
        if !self.principal.has(Scope::SchemaRead) {
            return Ok(Vec::new());
        }
        let context = self.context().await?;
        let bases = context.airtable.bases().await.map_err(|e| e.to_string())?;
        Ok(bases
            .into_iter()
            .map(|base| ResourceDescriptor {
                uri: format!("{SCHEMA_URI_PREFIX}{}{SCHEMA_URI_SUFFIX}", base.id),
                title: Some(format!("{} schema", base.name)),
                description: Some(format!(
                    "Tables, fields (with types and options) and views of the base {}",
                    base.name
                )),
                name: base.name,
                mime_type: Some("application/json".into()),
            })
            .collect())
    }

    async fn read_resource(&self, uri: &str) -> Result<ResourceContents, CallError> {
        let base_id = uri
            .strip_prefix(SCHEMA_URI_PREFIX)
            .and_then(|rest| rest.strip_suffix(SCHEMA_URI_SUFFIX))
            .and_then(|id| gateway::BaseId::parse(id).ok())
            .ok_or(CallError::NotFound)?;
        if !self.principal.has(Scope::SchemaRead) {
            return Err(CallError::NotFound);
        }
        let context = self.context().await.map_err(CallError::Internal)?;
        let schema = match context.airtable.base_schema(&base_id, false).await {
            Ok(schema) => schema,
            Err(err) if err.is_not_found() || err.status() == Some(403) => {
                return Err(CallError::NotFound);
            }
            Err(err) => return Err(CallError::Internal(err.to_string())),
        };
        Ok(ResourceContents {
            uri: uri.to_string(),
            mime_type: Some("application/json".into()),
            text: serde_json::to_string(&schema).unwrap_or_default(),
        })
    }
}
