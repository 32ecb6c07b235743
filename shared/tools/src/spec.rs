//! What a tool is, as both faces (chat's function declarations and MCP's tools/list) show it.

use accounts::Scope;
use serde_json::Value;

/// Hints about a tool's effects, as MCP's `ToolAnnotations` name them. Clients use them to ask
/// for confirmation before destructive calls; chat uses `read_only` to decide what to offer when
/// writes are off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Annotations {
    /// Never changes anything.
    pub read_only: bool,
    /// May delete or overwrite data (only meaningful when not read-only).
    pub destructive: bool,
    /// Calling it twice with the same arguments has no further effect.
    pub idempotent: bool,
}

impl Annotations {
    pub const READ: Self = Self {
        read_only: true,
        destructive: false,
        idempotent: true,
    };
    pub const ADDITIVE: Self = Self {
        read_only: false,
        destructive: false,
        idempotent: false,
    };
    pub const OVERWRITING: Self = Self {
        read_only: false,
        destructive: true,
        idempotent: true,
    };
}

/// One tool's definition.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolSpec {
    /// `snake_case`, unique in the registry.
    pub name: &'static str,
    /// A short human title.
    pub title: &'static str,
    /// Written for a model: what the tool does, when to use it, and what it returns.
    pub description: &'static str,
    /// JSON Schema (draft 2020-12 subset) of the arguments object.
    pub input_schema: Value,
    /// JSON Schema of the structured result.
    pub output_schema: Value,
    pub annotations: Annotations,
    /// The scope a caller needs to see and call the tool.
    pub scope: Scope,
}

impl ToolSpec {
    pub fn is_write(&self) -> bool {
        !self.annotations.read_only
    }
}
