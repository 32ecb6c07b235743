//! Chat models behind one interface ([`ChatModel`]): Gemini's `generateContent` with function
//! declarations, and any OpenAI-compatible `chat/completions` endpoint (OpenAI, Ollama, vLLM)
//! with tools. The chat orchestrator speaks [`Message`]s and [`FunctionDeclaration`]s; each
//! provider module translates them to its wire format and back, including token usage, which
//! [`prices`] turns into cost.

pub mod conversation;
pub mod error;
pub mod gemini;
mod http;
pub mod openai;
pub mod prices;

pub use conversation::{Completion, FunctionDeclaration, Message, ToolCall, Usage};
pub use error::LlmError;
pub use prices::{ModelPrice, PriceTable};

use async_trait::async_trait;

/// One chat model at one provider.
#[async_trait]
pub trait ChatModel: Send + Sync + std::fmt::Debug {
    /// The model's name as the provider knows it.
    fn model(&self) -> &str;

    /// One turn: the model's answer (text, tool calls, or both) to the conversation so far.
    async fn complete(
        &self,
        system: &str,
        messages: &[Message],
        tools: &[FunctionDeclaration],
    ) -> Result<Completion, LlmError>;
}
