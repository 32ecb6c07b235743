//! A provider-neutral view of a chat request, read leniently from either wire format: what the
//! last message is, the latest user text, the trailing tool results and the tools on offer.
//! Rules match on it, templates draw from it, and tests can read it from recorded requests.

use crate::script::Provider;
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;

/// What the conversation ends with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Last {
    UserText,
    ToolResults,
    Assistant,
    Other,
}

/// One tool result sent back to the model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolResult {
    /// The function's name (OpenAI: looked up from the assistant's `tool_calls` by id).
    pub name: String,
    /// OpenAI `tool_call_id`; Gemini `functionResponse.id` when sent.
    pub call_id: Option<String>,
    /// OpenAI: the content parsed as JSON when it is JSON, else a string; Gemini: `response`.
    pub content: Value,
    /// The result as text: OpenAI's content string; Gemini's `response` as compact JSON.
    pub raw: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Conversation {
    pub last: Last,
    pub last_user_text: Option<String>,
    /// The tool results the conversation ends with (empty unless `last` is `ToolResults`).
    pub tool_results: Vec<ToolResult>,
    /// Tools the model may call: declared, and not excluded by `tool_choice: "none"` /
    /// `functionCallingConfig.mode: NONE` / `allowedFunctionNames`.
    pub offered_tools: Vec<String>,
    /// Every tool declared in the request, callable or not.
    pub declared_tools: Vec<String>,
}

impl Conversation {
    pub fn read(provider: Provider, body: &Value) -> Conversation {
        match provider {
            Provider::OpenAi => openai(body),
            Provider::Gemini => gemini(body),
        }
    }
}

fn str_of(v: &Value) -> Option<&str> {
    v.as_str()
}

/// OpenAI content: a string or an array of parts with `{"type": "text", "text": ...}`.
pub(crate) fn openai_text(content: &Value) -> Option<String> {
    match content {
        Value::String(s) => Some(s.clone()),
        Value::Array(parts) => {
            let texts: Vec<&str> = parts
                .iter()
                .filter_map(|p| p.get("text").and_then(str_of))
                .collect();
            (!texts.is_empty()).then(|| texts.join("\n"))
        }
        _ => None,
    }
}

fn parse_maybe_json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
}

fn openai(body: &Value) -> Conversation {
    let empty = Vec::new();
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    let role = |m: &Value| m.get("role").and_then(str_of).unwrap_or("").to_string();

    let mut call_names: HashMap<String, String> = HashMap::new();
    for m in messages {
        if let Some(calls) = m.get("tool_calls").and_then(Value::as_array) {
            for c in calls {
                if let (Some(id), Some(name)) = (
                    c.get("id").and_then(str_of),
                    c.pointer("/function/name").and_then(str_of),
                ) {
                    call_names.insert(id.to_string(), name.to_string());
                }
            }
        }
    }

    let last = match messages.last().map(role).as_deref() {
        Some("user") => Last::UserText,
        Some("tool") => Last::ToolResults,
        Some("assistant") => Last::Assistant,
        _ => Last::Other,
    };
    let last_user_text = messages
        .iter()
        .rev()
        .find(|m| role(m) == "user")
        .and_then(|m| m.get("content"))
        .and_then(openai_text);

    let mut tool_results = Vec::new();
    if last == Last::ToolResults {
        let start = messages
            .iter()
            .rposition(|m| role(m) != "tool")
            .map_or(0, |i| i + 1);
        for m in &messages[start..] {
            let call_id = m.get("tool_call_id").and_then(str_of).map(str::to_string);
            let raw = m.get("content").and_then(openai_text).unwrap_or_default();
            tool_results.push(ToolResult {
                name: call_id
                    .as_ref()
                    .and_then(|id| call_names.get(id).cloned())
                    .unwrap_or_default(),
                call_id,
                content: parse_maybe_json(&raw),
                raw,
            });
        }
    }

    let declared_tools: Vec<String> = body
        .get("tools")
        .and_then(Value::as_array)
        .map(|tools| {
            tools
                .iter()
                .filter_map(|t| t.pointer("/function/name").and_then(str_of))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let offered_tools = match body.get("tool_choice") {
        Some(Value::String(s)) if s == "none" => Vec::new(),
        Some(choice @ Value::Object(_)) => {
            match choice.pointer("/function/name").and_then(str_of) {
                Some(name) => declared_tools
                    .iter()
                    .filter(|t| *t == name)
                    .cloned()
                    .collect(),
                None => declared_tools.clone(),
            }
        }
        _ => declared_tools.clone(),
    };

    Conversation {
        last,
        last_user_text,
        tool_results,
        offered_tools,
        declared_tools,
    }
}

/// Reads a Gemini field by its JSON (lowerCamel) or proto (snake_case) name; the API takes both.
pub(crate) fn field<'a>(v: &'a Value, camel: &str) -> Option<&'a Value> {
    let obj = v.as_object()?;
    obj.get(camel)
        .or_else(|| obj.get(crate::gemini::snake(camel).as_str()))
}

fn gemini(body: &Value) -> Conversation {
    let empty = Vec::new();
    let contents = field(body, "contents")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    let parts_of = |c: &'_ Value| -> Vec<Value> {
        field(c, "parts")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let role = |c: &Value| {
        field(c, "role")
            .and_then(str_of)
            .unwrap_or("user")
            .to_string()
    };
    let text_of = |parts: &[Value]| -> Option<String> {
        let texts: Vec<&str> = parts
            .iter()
            .filter_map(|p| field(p, "text").and_then(str_of))
            .collect();
        (!texts.is_empty()).then(|| texts.join("\n"))
    };

    let (last, tool_results) = match contents.last() {
        None => (Last::Other, Vec::new()),
        Some(c) => {
            let parts = parts_of(c);
            let responses: Vec<ToolResult> = parts
                .iter()
                .filter_map(|p| field(p, "functionResponse"))
                .map(|r| {
                    let content = field(r, "response").cloned().unwrap_or(Value::Null);
                    ToolResult {
                        name: field(r, "name")
                            .and_then(str_of)
                            .unwrap_or_default()
                            .to_string(),
                        call_id: field(r, "id").and_then(str_of).map(str::to_string),
                        raw: content.to_string(),
                        content,
                    }
                })
                .collect();
            if role(c) == "model" {
                (Last::Assistant, Vec::new())
            } else if !responses.is_empty() {
                (Last::ToolResults, responses)
            } else if text_of(&parts).is_some() {
                (Last::UserText, Vec::new())
            } else {
                (Last::Other, Vec::new())
            }
        }
    };
    let last_user_text = contents
        .iter()
        .rev()
        .filter(|c| role(c) != "model")
        .find_map(|c| text_of(&parts_of(c)));

    let mut declared_tools = Vec::new();
    for tool in field(body, "tools")
        .and_then(Value::as_array)
        .unwrap_or(&empty)
    {
        for decl in field(tool, "functionDeclarations")
            .and_then(Value::as_array)
            .unwrap_or(&empty)
        {
            if let Some(name) = field(decl, "name").and_then(str_of) {
                declared_tools.push(name.to_string());
            }
        }
    }
    let calling = field(body, "toolConfig").and_then(|t| field(t, "functionCallingConfig"));
    let mode = calling
        .and_then(|c| field(c, "mode"))
        .and_then(str_of)
        .unwrap_or("AUTO");
    let allowed: Option<Vec<&str>> = calling
        .and_then(|c| field(c, "allowedFunctionNames"))
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(str_of).collect());
    let offered_tools = if mode.eq_ignore_ascii_case("NONE") {
        Vec::new()
    } else {
        declared_tools
            .iter()
            .filter(|t| allowed.as_ref().is_none_or(|a| a.contains(&t.as_str())))
            .cloned()
            .collect()
    };

    Conversation {
        last,
        last_user_text,
        tool_results,
        offered_tools,
        declared_tools,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn openai_tool_results_are_named_from_the_calls() {
        let body = json!({
            "model": "gpt-x",
            "messages": [
                {"role": "user", "content": "How many companies?"},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "count", "arguments": "{}"}},
                    {"id": "call_2", "type": "function", "function": {"name": "list", "arguments": "{}"}}
                ]},
                {"role": "tool", "tool_call_id": "call_1", "content": "{\"n\": 3}"},
                {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "a, b"}]}
            ],
            "tools": [{"type": "function", "function": {"name": "count"}}, {"type": "function", "function": {"name": "list"}}],
            "tool_choice": {"type": "function", "function": {"name": "list"}}
        });
        let c = Conversation::read(Provider::OpenAi, &body);
        assert_eq!(c.last, Last::ToolResults);
        assert_eq!(c.last_user_text.as_deref(), Some("How many companies?"));
        assert_eq!(c.tool_results.len(), 2);
        assert_eq!(c.tool_results[0].name, "count");
        assert_eq!(c.tool_results[0].content, json!({"n": 3}));
        assert_eq!(c.tool_results[1].raw, "a, b");
        assert_eq!(c.offered_tools, vec!["list"]);
        assert_eq!(c.declared_tools, vec!["count", "list"]);
    }

    #[test]
    fn gemini_reads_camel_and_snake_case() {
        let body = json!({
            "contents": [
                {"role": "user", "parts": [{"text": "hi"}]},
                {"role": "model", "parts": [{"function_call": {"name": "f", "args": {}}}]},
                {"role": "user", "parts": [{"function_response": {"name": "f", "response": {"ok": true}}}]}
            ],
            "tools": [{"function_declarations": [{"name": "f"}, {"name": "g"}]}],
            "tool_config": {"function_calling_config": {"mode": "ANY", "allowed_function_names": ["g"]}}
        });
        let c = Conversation::read(Provider::Gemini, &body);
        assert_eq!(c.last, Last::ToolResults);
        assert_eq!(c.tool_results[0].raw, r#"{"ok":true}"#);
        assert_eq!(c.last_user_text.as_deref(), Some("hi"));
        assert_eq!(c.offered_tools, vec!["g"]);
    }
}
