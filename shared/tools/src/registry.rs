//! The registry: every tool once, looked up by name, listed by what a caller may use.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use accounts::Principal;
use airtable::{Airtable, AirtableError};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::output::{DEFAULT_MAX_OUTPUT_BYTES, ToolOutput};
use crate::spec::ToolSpec;
use crate::tools;
use crate::validation::InputSchema;

/// What a tool call runs with: the tenant's Airtable client and the output budget.
#[derive(Debug, Clone)]
pub struct ToolContext {
    pub airtable: Airtable,
    /// The most bytes a tool's structured answer may take.
    pub max_output_bytes: usize,
}

impl ToolContext {
    pub fn new(airtable: Airtable) -> Self {
        Self {
            airtable,
            max_output_bytes: DEFAULT_MAX_OUTPUT_BYTES,
        }
    }
}

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// No tool has this name (or the caller may not use it). MCP answers this as a protocol
    /// error; chat tells the model.
    #[error("unknown tool {0:?}")]
    UnknownTool(String),
    /// The arguments do not match the tool's input schema, or an id in them is not one (the
    /// message names the argument and the rule). Nothing was sent to Airtable.
    #[error("invalid arguments: {0}")]
    InvalidArguments(String),
    /// Airtable refused or failed; the message is Airtable's (never a secret).
    #[error("Airtable: {0}")]
    Airtable(#[from] AirtableError),
    /// The call was well formed but cannot be done (e.g. no such table).
    #[error("{0}")]
    Failed(String),
}

type ToolFuture = Pin<Box<dyn Future<Output = Result<ToolOutput, ToolError>> + Send>>;
type Handler = fn(ToolContext, Value) -> ToolFuture;

/// A tool: its definition, its compiled input schema, and what runs it.
#[derive(Clone)]
pub struct Tool {
    pub spec: ToolSpec,
    pub(crate) input: Arc<InputSchema>,
    run: Handler,
}

impl std::fmt::Debug for Tool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tool")
            .field("name", &self.spec.name)
            .finish()
    }
}

impl Tool {
    /// Compiles the spec's input schema, once for the life of the registry.
    pub(crate) fn new(spec: ToolSpec, run: Handler) -> Self {
        let input = Arc::new(InputSchema::compile(&spec.input_schema));
        Self { spec, input, run }
    }
}

/// Which tools a caller is offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer {
    /// Every tool the principal's scopes allow.
    All,
    /// Only read-only tools (chat with writes off).
    ReadOnly,
}

#[derive(Debug, Clone)]
pub struct Registry {
    tools: Vec<Tool>,
}

impl Registry {
    /// The platform's Airtable tools, each with its input schema compiled. A schema that does
    /// not compile is reported here, at start-up; that tool then refuses every call.
    pub fn standard() -> Self {
        let tools = tools::all();
        for tool in &tools {
            if let Some(err) = tool.input.compile_error() {
                tracing::error!(tool = tool.spec.name, error = %err, "a tool's input schema does not compile");
            }
        }
        Self { tools }
    }

    /// Every tool's definition.
    pub fn specs(&self) -> impl Iterator<Item = &ToolSpec> {
        self.tools.iter().map(|tool| &tool.spec)
    }

    /// The tools `principal` may use under `offer`, in registry order.
    pub fn offered<'a>(
        &'a self,
        principal: &'a Principal,
        offer: Offer,
    ) -> impl Iterator<Item = &'a ToolSpec> + 'a {
        self.specs().filter(move |spec| {
            principal.has(spec.scope) && (offer == Offer::All || !spec.is_write())
        })
    }

    /// Runs the tool `name` if `principal` may use it under `offer`; otherwise it is unknown to
    /// the caller (a tool that is not offered does not exist for it).
    pub async fn call(
        &self,
        principal: &Principal,
        offer: Offer,
        name: &str,
        arguments: Value,
        context: ToolContext,
    ) -> Result<ToolOutput, ToolError> {
        let tool = self
            .tools
            .iter()
            .find(|tool| tool.spec.name == name)
            .filter(|tool| {
                principal.has(tool.spec.scope) && (offer == Offer::All || !tool.spec.is_write())
            })
            .ok_or_else(|| ToolError::UnknownTool(name.chars().take(100).collect()))?;
        let arguments = absent_as_empty(arguments);
        tool.input.check(tool.spec.name, &arguments)?;
        (tool.run)(context, arguments).await
    }
}

/// Absent arguments (`null`) are no arguments: `{}`.
fn absent_as_empty(arguments: Value) -> Value {
    if arguments.is_null() {
        Value::Object(Default::default())
    } else {
        arguments
    }
}

/// Reads a tool's arguments, already checked against its schema, into its argument type
/// (which refuses unknown fields too, should a schema ever be looser than its type).
pub(crate) fn arguments<T: DeserializeOwned>(arguments: Value) -> Result<T, ToolError> {
    serde_json::from_value(absent_as_empty(arguments))
        .map_err(|err| ToolError::InvalidArguments(err.to_string()))
}
