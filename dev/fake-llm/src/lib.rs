//! Scripted fake LLM servers for tests: one HTTP server that speaks Gemini's
//! `generateContent` and OpenAI's Chat Completions wire formats at once, checks API keys,
//! validates conversations the way the real APIs do in the essentials (a bad conversation gets
//! the provider's 400), answers from a script (queued turns and rules) and records every request.
//!
//! ```no_run
//! # async fn demo() -> Result<(), fake_llm::FakeLlmError> {
//! use fake_llm::{FakeLlm, Provider, Rule, Turn};
//! use serde_json::json;
//! let llm = FakeLlm::builder().start("127.0.0.1:0".parse().unwrap()).await?;
//! llm.push_turn(Provider::OpenAi, Turn::tool_call("list_records", json!({"table": "Companies"})));
//! llm.add_rule(Rule::answer_tool_results("The first company is {tool_result/records/0/fields/Name}."));
//! // point the client at llm.openai_base_url() with key fake_llm::DEFAULT_OPENAI_KEY …
//! assert_eq!(llm.requests().len(), 0);
//! llm.shutdown().await;
//! # Ok(()) }
//! ```

pub mod conversation;
mod gemini;
mod openai;
pub mod script;
mod server;
pub mod template;

pub use conversation::{Conversation, Last, ToolResult};
pub use script::{Condition, ErrorReply, Provider, Reply, Rule, Script, ToolCall, Turn, Usage};
pub use server::{
    DEFAULT_GEMINI_KEY, DEFAULT_OPENAI_KEY, FakeLlm, FakeLlmBuilder, FakeLlmControl, FakeLlmError,
    FakeLlmHandle, KeyCheck, RecordedRequest,
};
