//! Gemini: `POST {base}/v1beta/models/{model}:generateContent` with `x-goog-api-key`, function
//! declarations in `tools[].functionDeclarations`, calls in `functionCall` parts and results in
//! `functionResponse` parts.

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value, json};

use crate::ChatModel;
use crate::conversation::{Completion, FunctionDeclaration, Message, ToolCall, Usage};
use crate::error::LlmError;
use crate::http::{client, post_json};

const PROVIDER: &str = "Gemini";
/// Ids we give calls that Gemini sent without one; they are not sent back to Gemini.
const LOCAL_ID_PREFIX: &str = "local_";
/// Google's endpoint, unless `GEMINI_BASE_URL` says otherwise.
pub const DEFAULT_BASE_URL: &str = "https://generativelanguage.googleapis.com";

#[derive(Debug, Clone)]
pub struct Gemini {
    http: reqwest::Client,
    base_url: String,
    api_key: SecretString,
    model: String,
}

impl Gemini {
    pub fn new(base_url: &str, api_key: SecretString, model: &str) -> Result<Self, LlmError> {
        Ok(Self {
            http: client()?,
            base_url: base_url.trim_end_matches('/').to_string(),
            api_key,
            model: model.to_string(),
        })
    }
}

/// Gemini's `parameters` take an OpenAPI subset of JSON Schema without `additionalProperties`
/// or `$schema`; both are dropped, everywhere in the schema.
pub fn gemini_schema(schema: &Value) -> Value {
    match schema {
        Value::Object(object) => Value::Object(
            object
                .iter()
                .filter(|(key, _)| !matches!(key.as_str(), "additionalProperties" | "$schema"))
                .map(|(key, value)| (key.clone(), gemini_schema(value)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(gemini_schema).collect()),
        other => other.clone(),
    }
}

/// The request body for a conversation.
pub fn request_body(system: &str, messages: &[Message], tools: &[FunctionDeclaration]) -> Value {
    let mut contents: Vec<Value> = Vec::new();
    for message in messages {
        match message {
            Message::User { text } => {
                contents.push(json!({"role": "user", "parts": [{"text": text}]}));
            }
            Message::Assistant { text, tool_calls } => {
                let mut parts = Vec::new();
                if let Some(text) = text.as_ref().filter(|t| !t.is_empty()) {
                    parts.push(json!({"text": text}));
                }
                for call in tool_calls {
                    let mut function_call = json!({"name": call.name, "args": call.arguments});
                    if !call.id.starts_with(LOCAL_ID_PREFIX) {
                        function_call["id"] = json!(call.id);
                    }
                    let mut part = json!({"functionCall": function_call});
                    if let Some(signature) = &call.signature {
                        part["thoughtSignature"] = json!(signature);
                    }
                    parts.push(part);
                }
                contents.push(json!({"role": "model", "parts": parts}));
            }
            Message::Tool {
                call_id,
                name,
                content,
            } => {
                let response = match content {
                    Value::Object(_) => content.clone(),
                    other => json!({"result": other}),
                };
                let mut function_response = json!({"name": name, "response": response});
                if !call_id.starts_with(LOCAL_ID_PREFIX) {
                    function_response["id"] = json!(call_id);
                }
                let part = json!({"functionResponse": function_response});
                // All results of one model turn go back together, in one user turn.
                match contents.last_mut() {
                    Some(last)
                        if last["role"] == "user"
                            && last["parts"][0].get("functionResponse").is_some() =>
                    {
                        if let Some(parts) = last["parts"].as_array_mut() {
                            parts.push(part);
                        }
                    }
                    _ => contents.push(json!({"role": "user", "parts": [part]})),
                }
            }
        }
    }
    let mut body = json!({
        "systemInstruction": {"parts": [{"text": system}]},
        "contents": contents,
    });
    if !tools.is_empty() {
        let declarations: Vec<Value> = tools
            .iter()
            .map(|t| json!({"name": t.name, "description": t.description, "parameters": gemini_schema(&t.parameters)}))
            .collect();
        body["tools"] = json!([{"functionDeclarations": declarations}]);
    }
    body
}

/// Reads a `generateContent` answer.
pub fn parse_response(answer: &Value) -> Result<Completion, LlmError> {
    let Some(candidate) = answer["candidates"].as_array().and_then(|c| c.first()) else {
        let reason = answer["promptFeedback"]["blockReason"]
            .as_str()
            .unwrap_or("no candidates");
        return Err(LlmError::Refused {
            provider: PROVIDER,
            status: 200,
            message: format!("Gemini gave no answer ({reason})"),
        });
    };
    let mut text = String::new();
    let mut tool_calls = Vec::new();
    for (index, part) in candidate["content"]["parts"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        if let Some(piece) = part["text"].as_str()
            && part["thought"] != Value::Bool(true)
        {
            text.push_str(piece);
        }
        if let Some(call) = part.get("functionCall") {
            let name = call["name"].as_str().unwrap_or_default().to_string();
            let id = call["id"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| format!("{LOCAL_ID_PREFIX}{index}_{name}"));
            let arguments = match &call["args"] {
                Value::Object(_) => call["args"].clone(),
                Value::Null => Value::Object(Map::new()),
                other => json!({"_unparsed": other.to_string()}),
            };
            tool_calls.push(ToolCall {
                id,
                name,
                arguments,
                signature: part["thoughtSignature"].as_str().map(str::to_string),
            });
        }
    }
    let usage = &answer["usageMetadata"];
    let count = |key: &str| usage[key].as_u64().unwrap_or(0);
    Ok(Completion {
        text: (!text.is_empty()).then_some(text),
        tool_calls,
        usage: Usage {
            input_tokens: count("promptTokenCount"),
            // Thinking models bill their thoughts as output.
            output_tokens: count("candidatesTokenCount") + count("thoughtsTokenCount"),
        },
        finish_reason: candidate["finishReason"].as_str().map(str::to_string),
    })
}

#[async_trait]
impl ChatModel for Gemini {
    fn model(&self) -> &str {
        &self.model
    }

    async fn complete(
        &self,
        system: &str,
        messages: &[Message],
        tools: &[FunctionDeclaration],
    ) -> Result<Completion, LlmError> {
        let url = format!(
            "{}/v1beta/models/{}:generateContent",
            self.base_url, self.model
        );
        let request = self
            .http
            .post(url)
            .header("x-goog-api-key", self.api_key.expose_secret());
        let answer = post_json(PROVIDER, request, &request_body(system, messages, tools)).await?;
        parse_response(&answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tool_round_trip_becomes_model_and_user_turns() {
        let messages = vec![
            Message::User {
                text: "How many deals?".into(),
            },
            Message::Assistant {
                text: None,
                tool_calls: vec![
                    ToolCall {
                        id: "c1".into(),
                        name: "list_records".into(),
                        arguments: json!({"table": "Deals"}),
                        signature: None,
                    },
                    ToolCall {
                        id: "c2".into(),
                        name: "list_bases".into(),
                        arguments: json!({}),
                        signature: None,
                    },
                ],
            },
            Message::Tool {
                call_id: "c1".into(),
                name: "list_records".into(),
                content: json!({"count": 3}),
            },
            Message::Tool {
                call_id: "c2".into(),
                name: "list_bases".into(),
                content: json!("text"),
            },
        ];
        let tools = vec![FunctionDeclaration {
            name: "list_records".into(),
            description: "d".into(),
            parameters: json!({"type": "object", "properties": {"sort": {"type": "array", "items": {"type": "object", "additionalProperties": false}}}, "additionalProperties": false}),
        }];
        let body = request_body("be brief", &messages, &tools);
        assert_eq!(body["systemInstruction"]["parts"][0]["text"], "be brief");
        let contents = body["contents"].as_array().cloned().unwrap_or_default();
        assert_eq!(contents.len(), 3);
        assert_eq!(contents[1]["role"], "model");
        assert_eq!(
            contents[1]["parts"][1]["functionCall"]["name"],
            "list_bases"
        );
        assert_eq!(contents[2]["role"], "user");
        assert_eq!(contents[2]["parts"].as_array().map(Vec::len), Some(2));
        assert_eq!(
            contents[2]["parts"][1]["functionResponse"]["response"],
            json!({"result": "text"})
        );
        let parameters = &body["tools"][0]["functionDeclarations"][0]["parameters"];
        assert!(!parameters.to_string().contains("additionalProperties"));
    }

    #[test]
    fn answers_give_text_calls_and_usage() {
        let answer = json!({
            "candidates": [{"content": {"role": "model", "parts": [
                {"text": "Let me look."},
                {"functionCall": {"name": "list_bases", "args": {}}}
            ]}, "finishReason": "STOP"}],
            "usageMetadata": {"promptTokenCount": 100, "candidatesTokenCount": 20, "thoughtsTokenCount": 5, "totalTokenCount": 125}
        });
        let completion = parse_response(&answer).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(completion.text.as_deref(), Some("Let me look."));
        assert_eq!(completion.tool_calls[0].name, "list_bases");
        assert_eq!(
            completion.usage,
            Usage {
                input_tokens: 100,
                output_tokens: 25
            }
        );
        assert!(parse_response(&json!({"promptFeedback": {"blockReason": "SAFETY"}})).is_err());
    }
}
