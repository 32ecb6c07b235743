//! OpenAI-compatible chat completions (OpenAI, Ollama, vLLM, …): `POST {base}/chat/completions`
//! with `Authorization: Bearer`, tools as `{type: "function", function}`, calls in the
//! assistant message's `tool_calls` (arguments as JSON text) and results as `tool` messages.

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use crate::ChatModel;
use crate::conversation::{
    Completion, FunctionDeclaration, Message, ToolCall, Usage, arguments_from_text,
};
use crate::error::LlmError;
use crate::http::{client, post_json};

const PROVIDER: &str = "OpenAI-compatible endpoint";
/// OpenAI's endpoint, unless `OPENAI_BASE_URL` says otherwise (e.g. `http://localhost:11434/v1`
/// for Ollama).
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";

#[derive(Debug, Clone)]
pub struct OpenAi {
    http: reqwest::Client,
    base_url: String,
    /// Local servers (Ollama, vLLM) often need no key.
    api_key: Option<SecretString>,
    model: String,
}

impl OpenAi {
    pub fn new(
        base_url: &str,
        api_key: Option<SecretString>,
        model: &str,
    ) -> Result<Self, LlmError> {
        Ok(Self {
            http: client()?,
            base_url: base_url.trim_end_matches('/').to_string(),
            api_key,
            model: model.to_string(),
        })
    }
}

/// The request body for a conversation.
pub fn request_body(
    model: &str,
    system: &str,
    messages: &[Message],
    tools: &[FunctionDeclaration],
) -> Value {
    let mut wire = vec![json!({"role": "system", "content": system})];
    for message in messages {
        wire.push(match message {
            Message::User { text } => json!({"role": "user", "content": text}),
            Message::Assistant { text, tool_calls } => {
                let mut assistant = json!({"role": "assistant", "content": text});
                if !tool_calls.is_empty() {
                    assistant["tool_calls"] = tool_calls
                        .iter()
                        .map(|call| json!({
                            "id": call.id,
                            "type": "function",
                            "function": {"name": call.name, "arguments": call.arguments.to_string()}
                        }))
                        .collect();
                }
                assistant
            }
            Message::Tool {
                call_id, content, ..
            } => {
                let text = match content {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                json!({"role": "tool", "tool_call_id": call_id, "content": text})
            }
        });
    }
    let mut body = json!({"model": model, "messages": wire});
    if !tools.is_empty() {
        body["tools"] = tools
            .iter()
            .map(|t| json!({"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}))
            .collect();
    }
    body
}

/// Reads a chat completion.
pub fn parse_response(answer: &Value) -> Result<Completion, LlmError> {
    let Some(choice) = answer["choices"].as_array().and_then(|c| c.first()) else {
        return Err(LlmError::Decode {
            provider: PROVIDER,
            message: "no choices in the answer".into(),
        });
    };
    let message = &choice["message"];
    let tool_calls = message["tool_calls"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(index, call)| {
            let name = call["function"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            ToolCall {
                id: call["id"]
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("call_{index}_{name}")),
                arguments: arguments_from_text(
                    call["function"]["arguments"].as_str().unwrap_or("{}"),
                ),
                name,
                signature: None,
            }
        })
        .collect();
    let usage = &answer["usage"];
    Ok(Completion {
        text: message["content"]
            .as_str()
            .filter(|t| !t.is_empty())
            .map(str::to_string),
        tool_calls,
        usage: Usage {
            input_tokens: usage["prompt_tokens"].as_u64().unwrap_or(0),
            output_tokens: usage["completion_tokens"].as_u64().unwrap_or(0),
        },
        finish_reason: choice["finish_reason"].as_str().map(str::to_string),
    })
}

#[async_trait]
impl ChatModel for OpenAi {
    fn model(&self) -> &str {
        &self.model
    }

    async fn complete(
        &self,
        system: &str,
        messages: &[Message],
        tools: &[FunctionDeclaration],
    ) -> Result<Completion, LlmError> {
        let mut request = self
            .http
            .post(format!("{}/chat/completions", self.base_url));
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key.expose_secret());
        }
        let body = request_body(&self.model, system, messages, tools);
        let answer = post_json(PROVIDER, request, &body).await?;
        parse_response(&answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_calls_and_results_use_openai_shapes() {
        let messages = vec![
            Message::User { text: "hi".into() },
            Message::Assistant {
                text: None,
                tool_calls: vec![ToolCall {
                    id: "call_1".into(),
                    name: "list_bases".into(),
                    arguments: json!({}),
                    signature: None,
                }],
            },
            Message::Tool {
                call_id: "call_1".into(),
                name: "list_bases".into(),
                content: json!({"count": 1}),
            },
        ];
        let body = request_body("gpt-test", "sys", &messages, &[]);
        let wire = body["messages"].as_array().cloned().unwrap_or_default();
        assert_eq!(wire[0]["role"], "system");
        assert_eq!(wire[2]["tool_calls"][0]["function"]["arguments"], "{}");
        assert_eq!(
            wire[3],
            json!({"role": "tool", "tool_call_id": "call_1", "content": "{\"count\":1}"})
        );
        assert!(body.get("tools").is_none());
    }

    #[test]
    fn answers_parse_calls_with_bad_arguments_kept_for_the_tool_to_refuse() {
        let answer = json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": null, "tool_calls": [
            {"id": "a", "type": "function", "function": {"name": "get_record", "arguments": "{\"record_id\": \"rec1\"}"}},
            {"id": "b", "type": "function", "function": {"name": "get_record", "arguments": "not json"}}
        ]}, "finish_reason": "tool_calls"}], "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}});
        let completion = parse_response(&answer).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(completion.text, None);
        assert_eq!(
            completion.tool_calls[0].arguments,
            json!({"record_id": "rec1"})
        );
        assert_eq!(
            completion.tool_calls[1].arguments,
            json!({"_unparsed": "not json"})
        );
        assert_eq!(
            completion.usage,
            Usage {
                input_tokens: 7,
                output_tokens: 3
            }
        );
    }
}
