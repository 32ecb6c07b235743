//! What the platform provides: the tools, prompts and resources of one authenticated caller.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::Serialize;
use serde_json::Value;

/// The platform side of the server. Build one per request, already scoped to the authenticated
/// tenant: this crate never sees credentials, and every method answers for that caller only.
///
/// Lists should be deterministic (same order for the same set), as 2026-07-28 asks of
/// `tools/list`.
#[async_trait]
pub trait McpBackend: Send + Sync {
    /// The tools this caller may use.
    async fn list_tools(&self) -> Vec<ToolDescriptor>;

    /// Runs a tool. `arguments` is always a JSON object (`{}` when the client sent none).
    ///
    /// A tool that ran and failed (Airtable said no, a record is missing, a value is out of
    /// range) returns `Ok` with [`ToolResult::is_error`] set, so that the model sees why and can
    /// correct itself; `Err` is for an unknown tool ([`CallError::NotFound`]), arguments that do
    /// not fit the tool's input schema ([`CallError::InvalidArguments`]) and server faults.
    async fn call_tool(&self, name: &str, arguments: Value) -> Result<ToolResult, CallError>;

    /// The prompt templates this caller may use.
    async fn list_prompts(&self) -> Vec<PromptDescriptor>;

    /// Renders a prompt template. Arguments are strings, as the protocol defines them; a
    /// missing required argument is [`CallError::InvalidArguments`].
    async fn get_prompt(
        &self,
        name: &str,
        arguments: BTreeMap<String, String>,
    ) -> Result<PromptMessages, CallError>;

    /// The resources this caller may read. `Err` (a message) when they cannot be listed now.
    async fn list_resources(&self) -> Result<Vec<ResourceDescriptor>, String>;

    /// Reads one resource by URI.
    async fn read_resource(&self, uri: &str) -> Result<ResourceContents, CallError>;
}

/// Why the backend could not answer a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// No tool, prompt or resource by that name or URI for this caller.
    NotFound,
    /// The arguments do not fit (the message says how, for the client and its model).
    InvalidArguments(String),
    /// A server fault. The message is sent to the client: keep secrets out of it.
    Internal(String),
}

/// A tool as `tools/list` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolDescriptor {
    pub name: String,
    /// Display name (2025-06-18 and later; dropped for 2025-03-26 clients).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub description: String,
    /// A JSON Schema object with `"type": "object"` at its root. No `x-mcp-header` annotations:
    /// this server does not mirror tool arguments into `Mcp-Param-*` headers.
    pub input_schema: Value,
    /// The shape of `structuredContent` (2025-06-18 and later). When set, every successful
    /// [`ToolResult`] of this tool must carry `structured`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotations: Option<ToolAnnotations>,
}

/// Hints about a tool's behaviour (all optional; clients treat them as untrusted hints).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolAnnotations {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_only_hint: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destructive_hint: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idempotent_hint: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub open_world_hint: Option<bool>,
}

/// What a tool call produced: `content: [{type: "text", text}]`, `structuredContent` and
/// `isError` on the wire.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolResult {
    /// Human- and model-readable result. With `structured`, conventionally its JSON text.
    pub text: String,
    /// Machine-readable result (`structuredContent`, 2025-06-18 and later).
    pub structured: Option<Value>,
    /// The tool ran but failed; `text` says why.
    pub is_error: bool,
}

impl ToolResult {
    /// A successful result with both forms: the JSON text of `value` and `value` itself.
    pub fn structured(value: Value) -> ToolResult {
        ToolResult {
            text: value.to_string(),
            structured: Some(value),
            is_error: false,
        }
    }

    /// A successful text-only result.
    pub fn text(text: impl Into<String>) -> ToolResult {
        ToolResult {
            text: text.into(),
            structured: None,
            is_error: false,
        }
    }

    /// A tool execution error the model can read and act on.
    pub fn error(message: impl Into<String>) -> ToolResult {
        ToolResult {
            text: message.into(),
            structured: None,
            is_error: true,
        }
    }
}

/// A prompt template as `prompts/list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PromptDescriptor {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub arguments: Vec<PromptArgument>,
}

/// One argument of a prompt template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PromptArgument {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub required: bool,
}

/// A rendered prompt (`prompts/get`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptMessages {
    pub description: Option<String>,
    pub messages: Vec<PromptMessage>,
}

/// One message of a rendered prompt; text content only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptMessage {
    pub role: Role,
    pub text: String,
}

/// Who speaks a prompt message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
}

/// A resource as `resources/list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceDescriptor {
    pub uri: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
}

/// The text contents of one resource (`resources/read`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceContents {
    pub uri: String,
    pub mime_type: Option<String>,
    pub text: String,
}
