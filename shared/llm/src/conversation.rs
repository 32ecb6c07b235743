//! The provider-neutral conversation.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A function the model may call: a tool from the registry, as providers declare them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionDeclaration {
    pub name: String,
    pub description: String,
    /// JSON Schema of the arguments object.
    pub parameters: Value,
}

/// A call the model asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The provider's id for the call (OpenAI `tool_calls[].id`, Gemini `functionCall.id`, or
    /// one we made up when Gemini sent none), echoed back with the result.
    pub id: String,
    pub name: String,
    /// The arguments object. A model that sent arguments that are not a JSON object gets them
    /// back as `{"_unparsed": "<text>"}`, which the tool then refuses with a clear message.
    pub arguments: Value,
    /// Gemini's `thoughtSignature` on the call's part, which Gemini 3 requires back unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum Message {
    User {
        text: String,
    },
    Assistant {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        tool_calls: Vec<ToolCall>,
    },
    /// A tool's answer to the call with `call_id`.
    Tool {
        call_id: String,
        name: String,
        content: Value,
    },
}

/// Tokens a call used, as the provider reported them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
}

impl std::ops::AddAssign for Usage {
    fn add_assign(&mut self, other: Self) {
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
    }
}

/// The model's answer to one turn.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    pub text: Option<String>,
    pub tool_calls: Vec<ToolCall>,
    pub usage: Usage,
    /// The provider's finish reason, for logs.
    pub finish_reason: Option<String>,
}

/// Parses a model's argument text into an object (see [`ToolCall::arguments`]).
pub(crate) fn arguments_from_text(text: &str) -> Value {
    match serde_json::from_str::<Value>(text) {
        Ok(value @ Value::Object(_)) => value,
        Ok(Value::Null) if text.trim() == "null" => Value::Object(Default::default()),
        _ if text.trim().is_empty() => Value::Object(Default::default()),
        _ => serde_json::json!({"_unparsed": text}),
    }
}
