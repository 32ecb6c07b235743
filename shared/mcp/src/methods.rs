//! The MCP methods: one request's params in, its result (or JSON-RPC error) out, shaped for the
//! protocol revision the request speaks.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::backend::{CallError, McpBackend, PromptMessages, ResourceContents, ToolResult};
use crate::jsonrpc::{RESOURCE_NOT_FOUND, RpcError};
use crate::version::{LATEST_INITIALIZE_VERSION, ProtocolVersion, supported_version_strings};

/// `_meta` key of the server's identity on 2026-07-28 results.
pub const SERVER_INFO_META_KEY: &str = "io.modelcontextprotocol/serverInfo";
/// `_meta` key of a 2026-07-28 request's protocol version.
pub const PROTOCOL_VERSION_META_KEY: &str = "io.modelcontextprotocol/protocolVersion";
/// `_meta` key of a 2026-07-28 request's client capabilities.
pub const CLIENT_CAPABILITIES_META_KEY: &str = "io.modelcontextprotocol/clientCapabilities";

/// Who this server says it is, and the hints it gives clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerInfo {
    /// `serverInfo.name`.
    pub name: String,
    /// `serverInfo.title`, a display name (2025-06-18 and later).
    pub title: Option<String>,
    /// `serverInfo.version`.
    pub version: String,
    /// `instructions`: guidance for the model on using this server.
    pub instructions: Option<String>,
    /// `ttlMs` on 2026-07-28 cacheable results (lists, `resources/read`, `server/discover`):
    /// how long a client may reuse them. 0, the default, means "re-fetch every time".
    /// `cacheScope` is always `"private"`: every answer is for one authenticated tenant.
    pub cache_ttl_ms: u64,
}

impl ServerInfo {
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> ServerInfo {
        ServerInfo {
            name: name.into(),
            title: None,
            version: version.into(),
            instructions: None,
            cache_ttl_ms: 0,
        }
    }

    fn implementation(&self, version: ProtocolVersion) -> Value {
        let mut implementation = Map::new();
        implementation.insert("name".into(), Value::from(self.name.clone()));
        if version.has_titles_and_structured_content()
            && let Some(title) = &self.title
        {
            implementation.insert("title".into(), Value::from(title.clone()));
        }
        implementation.insert("version".into(), Value::from(self.version.clone()));
        Value::Object(implementation)
    }
}

/// What the server offers. No list-change notifications or subscriptions: every request stands
/// alone and is answered with one JSON object.
fn capabilities() -> Value {
    json!({
        "tools": { "listChanged": false },
        "prompts": { "listChanged": false },
        "resources": { "subscribe": false, "listChanged": false },
    })
}

/// The methods whose 2026-07-28 results are `CacheableResult`s (`ttlMs`, `cacheScope`).
fn is_cacheable(method: &str) -> bool {
    matches!(
        method,
        "server/discover"
            | "tools/list"
            | "prompts/list"
            | "resources/list"
            | "resources/templates/list"
            | "resources/read"
    )
}

/// One request, in one protocol revision, for one caller.
pub(crate) struct Call<'a> {
    pub version: ProtocolVersion,
    pub backend: &'a dyn McpBackend,
    pub server: &'a ServerInfo,
}

type Params<'a> = Option<&'a Map<String, Value>>;

impl Call<'_> {
    /// Runs `method`. 2026-07-28 results get `resultType`, the server's identity in `_meta` and,
    /// where the schema asks, `ttlMs` and `cacheScope`.
    pub async fn run(&self, method: &str, params: Params<'_>) -> Result<Value, RpcError> {
        let modern = self.version.is_modern();
        let mut result = match method {
            "initialize" if !modern => self.initialize(params)?,
            "ping" if !modern => json!({}),
            "server/discover" if modern => self.discover(),
            "tools/list" => self.list_tools(params).await?,
            "tools/call" => self.call_tool(params).await?,
            "prompts/list" => self.list_prompts(params).await?,
            "prompts/get" => self.get_prompt(params).await?,
            "resources/list" => self.list_resources(params).await?,
            "resources/templates/list" => {
                no_cursor(params)?;
                json!({ "resourceTemplates": [] })
            }
            "resources/read" => self.read_resource(params).await?,
            _ => return Err(RpcError::method_not_found(method)),
        };
        if modern && let Value::Object(fields) = &mut result {
            fields.insert("resultType".into(), Value::from("complete"));
            if is_cacheable(method) {
                fields.insert("ttlMs".into(), Value::from(self.server.cache_ttl_ms));
                fields.insert("cacheScope".into(), Value::from("private"));
            }
            let mut meta = Map::new();
            meta.insert(
                SERVER_INFO_META_KEY.into(),
                self.server.implementation(self.version),
            );
            fields.insert("_meta".into(), Value::Object(meta));
        }
        Ok(result)
    }

    /// `initialize` (2025 era): answer the client's revision when it is one this server speaks
    /// through `initialize`, else the newest such revision (lifecycle, "Version Negotiation").
    fn initialize(&self, params: Params<'_>) -> Result<Value, RpcError> {
        let requested = params
            .and_then(|params| params.get("protocolVersion"))
            .and_then(Value::as_str)
            .ok_or_else(|| {
                RpcError::invalid_params("Invalid params: \"protocolVersion\" must be a string")
            })?;
        let negotiated = match ProtocolVersion::parse(requested) {
            Some(version) if !version.is_modern() => version,
            _ => LATEST_INITIALIZE_VERSION,
        };
        let mut result = Map::new();
        result.insert("protocolVersion".into(), Value::from(negotiated.as_str()));
        result.insert("capabilities".into(), capabilities());
        result.insert("serverInfo".into(), self.server.implementation(negotiated));
        if let Some(instructions) = &self.server.instructions {
            result.insert("instructions".into(), Value::from(instructions.clone()));
        }
        Ok(Value::Object(result))
    }

    /// `server/discover` (2026-07-28). The server's identity travels in the result's `_meta`.
    fn discover(&self) -> Value {
        let mut result = Map::new();
        result.insert(
            "supportedVersions".into(),
            json!(supported_version_strings()),
        );
        result.insert("capabilities".into(), capabilities());
        if let Some(instructions) = &self.server.instructions {
            result.insert("instructions".into(), Value::from(instructions.clone()));
        }
        Value::Object(result)
    }

    async fn list_tools(&self, params: Params<'_>) -> Result<Value, RpcError> {
        no_cursor(params)?;
        let tools = self.backend.list_tools().await;
        let tools = self.serialize_list(&tools, &["title", "outputSchema"])?;
        Ok(json!({ "tools": tools }))
    }

    async fn call_tool(&self, params: Params<'_>) -> Result<Value, RpcError> {
        let name = string_param(params, "name")?;
        let arguments = match params.and_then(|params| params.get("arguments")) {
            None | Some(Value::Null) => Value::Object(Map::new()),
            Some(Value::Object(arguments)) => Value::Object(arguments.clone()),
            Some(_) => {
                return Err(RpcError::invalid_params(
                    "Invalid params: \"arguments\" must be an object",
                ));
            }
        };
        match self.backend.call_tool(name, arguments).await {
            Ok(result) => Ok(self.tool_result(&result)),
            Err(CallError::NotFound) => {
                Err(RpcError::invalid_params(format!("Unknown tool: {name}")))
            }
            Err(CallError::InvalidArguments(message)) => {
                if self.version.argument_errors_are_tool_results() {
                    Ok(self.tool_result(&ToolResult::error(message)))
                } else {
                    Err(RpcError::invalid_params(format!(
                        "Invalid arguments for tool {name}: {message}"
                    )))
                }
            }
            Err(CallError::Internal(message)) => Err(internal(&message)),
        }
    }

    fn tool_result(&self, result: &ToolResult) -> Value {
        let mut fields = Map::new();
        fields.insert(
            "content".into(),
            json!([{ "type": "text", "text": result.text }]),
        );
        if self.version.has_titles_and_structured_content()
            && let Some(structured) = &result.structured
        {
            fields.insert("structuredContent".into(), structured.clone());
        }
        fields.insert("isError".into(), Value::from(result.is_error));
        Value::Object(fields)
    }

    async fn list_prompts(&self, params: Params<'_>) -> Result<Value, RpcError> {
        no_cursor(params)?;
        let prompts = self.backend.list_prompts().await;
        let mut prompts = self.serialize_list(&prompts, &["title"])?;
        if !self.version.has_titles_and_structured_content() {
            for prompt in &mut prompts {
                if let Some(Value::Array(arguments)) = prompt.get_mut("arguments") {
                    for argument in arguments {
                        if let Value::Object(argument) = argument {
                            argument.remove("title");
                        }
                    }
                }
            }
        }
        Ok(json!({ "prompts": prompts }))
    }

    async fn get_prompt(&self, params: Params<'_>) -> Result<Value, RpcError> {
        let name = string_param(params, "name")?;
        let mut arguments = BTreeMap::new();
        match params.and_then(|params| params.get("arguments")) {
            None | Some(Value::Null) => {}
            Some(Value::Object(given)) => {
                for (key, value) in given {
                    let Some(value) = value.as_str() else {
                        return Err(RpcError::invalid_params(format!(
                            "Invalid params: prompt argument \"{key}\" must be a string"
                        )));
                    };
                    arguments.insert(key.clone(), value.to_owned());
                }
            }
            Some(_) => {
                return Err(RpcError::invalid_params(
                    "Invalid params: \"arguments\" must be an object of strings",
                ));
            }
        }
        match self.backend.get_prompt(name, arguments).await {
            Ok(prompt) => Ok(prompt_result(&prompt)),
            Err(CallError::NotFound) => {
                Err(RpcError::invalid_params(format!("Unknown prompt: {name}")))
            }
            Err(CallError::InvalidArguments(message)) => Err(RpcError::invalid_params(format!(
                "Invalid arguments for prompt {name}: {message}"
            ))),
            Err(CallError::Internal(message)) => Err(internal(&message)),
        }
    }

    async fn list_resources(&self, params: Params<'_>) -> Result<Value, RpcError> {
        no_cursor(params)?;
        let resources = self
            .backend
            .list_resources()
            .await
            .map_err(|message| internal(&message))?;
        let resources = self.serialize_list(&resources, &["title"])?;
        Ok(json!({ "resources": resources }))
    }

    async fn read_resource(&self, params: Params<'_>) -> Result<Value, RpcError> {
        let uri = string_param(params, "uri")?;
        match self.backend.read_resource(uri).await {
            Ok(contents) => Ok(resource_result(&contents)),
            // 2025-11-25 and earlier: -32002; 2026-07-28 changed it to -32602 (changelog, minor 6).
            Err(CallError::NotFound) if self.version.is_modern() => Err(RpcError::invalid_params(
                format!("Resource not found: {uri}"),
            )
            .with_data(json!({ "uri": uri }))),
            Err(CallError::NotFound) => {
                Err(RpcError::new(RESOURCE_NOT_FOUND, "Resource not found")
                    .with_data(json!({ "uri": uri })))
            }
            Err(CallError::InvalidArguments(message)) => Err(RpcError::invalid_params(format!(
                "Invalid resource URI {uri}: {message}"
            ))),
            Err(CallError::Internal(message)) => Err(internal(&message)),
        }
    }

    /// Serializes descriptors, dropping fields the request's revision does not define.
    fn serialize_list<T: Serialize>(
        &self,
        items: &[T],
        newer_fields: &[&str],
    ) -> Result<Vec<Value>, RpcError> {
        items
            .iter()
            .map(|item| {
                let mut value = serde_json::to_value(item).map_err(|error| {
                    internal(&format!("cannot serialize a descriptor: {error}"))
                })?;
                if !self.version.has_titles_and_structured_content()
                    && let Value::Object(fields) = &mut value
                {
                    for field in newer_fields {
                        fields.remove(*field);
                    }
                }
                Ok(value)
            })
            .collect()
    }
}

fn prompt_result(prompt: &PromptMessages) -> Value {
    let messages: Vec<Value> = prompt
        .messages
        .iter()
        .map(|message| {
            json!({ "role": message.role, "content": { "type": "text", "text": message.text } })
        })
        .collect();
    let mut result = Map::new();
    if let Some(description) = &prompt.description {
        result.insert("description".into(), Value::from(description.clone()));
    }
    result.insert("messages".into(), Value::Array(messages));
    Value::Object(result)
}

fn resource_result(contents: &ResourceContents) -> Value {
    let mut content = Map::new();
    content.insert("uri".into(), Value::from(contents.uri.clone()));
    if let Some(mime_type) = &contents.mime_type {
        content.insert("mimeType".into(), Value::from(mime_type.clone()));
    }
    content.insert("text".into(), Value::from(contents.text.clone()));
    json!({ "contents": [Value::Object(content)] })
}

fn internal(message: &str) -> RpcError {
    tracing::warn!(message, "MCP backend error");
    RpcError::internal(format!("Internal error: {message}"))
}

fn string_param<'a>(params: Params<'a>, name: &str) -> Result<&'a str, RpcError> {
    params
        .and_then(|params| params.get(name))
        .and_then(Value::as_str)
        .ok_or_else(|| {
            RpcError::invalid_params(format!("Invalid params: \"{name}\" must be a string"))
        })
}

/// This server never paginates (it sends no `nextCursor`), so any cursor is one it did not issue:
/// "Invalid or expired cursor values" are -32602.
fn no_cursor(params: Params<'_>) -> Result<(), RpcError> {
    match params.and_then(|params| params.get("cursor")) {
        None | Some(Value::Null) => Ok(()),
        Some(_) => Err(RpcError::invalid_params("Invalid params: unknown cursor")),
    }
}
