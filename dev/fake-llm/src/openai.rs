//! OpenAI Chat Completions (`POST /v1/chat/completions`): bearer key check, request validation,
//! responses and errors in OpenAI's shapes.
//!
//! - Request/response: <https://platform.openai.com/docs/api-reference/chat/create> and the
//!   chat completion object <https://platform.openai.com/docs/api-reference/chat/object>.
//! - Function calling: <https://platform.openai.com/docs/guides/function-calling>.
//! - Errors: `{"error": {"message", "type", "param", "code"}}`,
//!   <https://platform.openai.com/docs/guides/error-codes>.

use crate::conversation::openai_text;
use crate::script::{ErrorReply, ToolCall, Usage};
use crate::server::HttpReply;
use serde_json::{Value, json};
use std::collections::HashSet;

pub(crate) fn error(
    status: u16,
    message: impl Into<String>,
    kind: &str,
    param: Option<&str>,
    code: Option<&str>,
) -> HttpReply {
    HttpReply::json(
        status,
        json!({"error": {"message": message.into(), "type": kind, "param": param, "code": code}}),
    )
}

fn invalid(message: impl Into<String>, param: Option<&str>, code: Option<&str>) -> HttpReply {
    error(400, message, "invalid_request_error", param, code)
}

/// A scripted error turn.
pub(crate) fn scripted_error(e: &ErrorReply, model: &str) -> HttpReply {
    let (message, kind, code): (String, &str, Option<&str>) = match e.status {
        400 => ("Bad request.".into(), "invalid_request_error", None),
        401 => (
            "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.".into(),
            "invalid_request_error",
            Some("invalid_api_key"),
        ),
        403 => (
            "You are not allowed to sample from this model".into(),
            "invalid_request_error",
            None,
        ),
        404 => (
            format!("The model `{model}` does not exist or you do not have access to it."),
            "invalid_request_error",
            Some("model_not_found"),
        ),
        429 if e.code.as_deref() == Some("insufficient_quota") => (
            "You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.".into(),
            "insufficient_quota",
            Some("insufficient_quota"),
        ),
        429 => (
            format!(
                "Rate limit reached for {model} in organization org-fakellm on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in {}s. Visit https://platform.openai.com/account/rate-limits to learn more.",
                e.retry_after_secs.unwrap_or(20)
            ),
            "requests",
            Some("rate_limit_exceeded"),
        ),
        503 => (
            "The engine is currently overloaded, please try again later".into(),
            "server_error",
            None,
        ),
        _ => (
            "The server had an error while processing your request. Sorry about that!".into(),
            "server_error",
            None,
        ),
    };
    let message = e.message.clone().unwrap_or(message);
    let code = e.code.as_deref().or(code);
    let mut reply = error(e.status, message, kind, None, code);
    if let Some(secs) = e.retry_after_secs {
        reply.headers.push(("retry-after", secs.to_string()));
        reply
            .headers
            .push(("x-ratelimit-reset-requests", format!("{secs}s")));
    }
    reply
}

fn mask(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() <= 8 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 7))
}

/// `Authorization: Bearer KEY`: missing gives 401 with code null; wrong gives 401 `invalid_api_key`.
pub(crate) fn auth_error(provided: Option<&str>) -> HttpReply {
    match provided {
        None | Some("") => error(
            401,
            "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the API from your browser and are prompted for a username and password. You can obtain an API key from https://platform.openai.com/account/api-keys.",
            "invalid_request_error",
            None,
            None,
        ),
        Some(key) => error(
            401,
            format!(
                "Incorrect API key provided: {}. You can find your API key at https://platform.openai.com/account/api-keys.",
                mask(key)
            ),
            "invalid_request_error",
            None,
            Some("invalid_api_key"),
        ),
    }
}

pub(crate) fn unparsable_body() -> HttpReply {
    invalid(
        "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)",
        None,
        None,
    )
}

const REQUEST_FIELDS: &[&str] = &[
    "model",
    "messages",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "temperature",
    "top_p",
    "max_tokens",
    "max_completion_tokens",
    "n",
    "stop",
    "stream",
    "stream_options",
    "response_format",
    "seed",
    "user",
    "frequency_penalty",
    "presence_penalty",
    "logit_bias",
    "logprobs",
    "top_logprobs",
    "metadata",
    "store",
    "reasoning_effort",
    "service_tier",
    "modalities",
    "audio",
    "prediction",
    "web_search_options",
    "verbosity",
    "safety_identifier",
    "prompt_cache_key",
    "prompt_cache_retention",
    "functions",
    "function_call",
];

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn valid_function_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// The essentials the real API checks: known parameters, model, messages and roles, content
/// types, tool-call/tool-message pairing by `tool_call_id`, tool definitions and `tool_choice`.
pub(crate) fn validate(body: &Value) -> Result<(), HttpReply> {
    let Some(obj) = body.as_object() else {
        return Err(invalid(
            format!(
                "Invalid type for request body: expected an object, but got {} instead.",
                type_name(body)
            ),
            None,
            Some("invalid_type"),
        ));
    };
    for key in obj.keys() {
        if !REQUEST_FIELDS.contains(&key.as_str()) {
            return Err(invalid(
                format!("Unrecognized request argument supplied: {key}"),
                None,
                None,
            ));
        }
    }
    let model_ok = matches!(obj.get("model"), Some(Value::String(m)) if !m.is_empty());
    if !model_ok {
        return Err(invalid("you must provide a model parameter", None, None));
    }
    if obj.get("stream").and_then(Value::as_bool) == Some(true) {
        return Err(invalid(
            "fake-llm does not implement streaming (\"stream\": true); send a non-streaming request.",
            Some("stream"),
            None,
        ));
    }
    let messages = match obj.get("messages") {
        None => {
            return Err(invalid(
                "Missing required parameter: 'messages'.",
                Some("messages"),
                Some("missing_required_parameter"),
            ));
        }
        Some(Value::Array(m)) if m.is_empty() => {
            return Err(invalid(
                "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
                Some("messages"),
                Some("empty_array"),
            ));
        }
        Some(Value::Array(m)) => m,
        Some(other) => {
            return Err(invalid(
                format!(
                    "Invalid type for 'messages': expected an array of objects, but got {} instead.",
                    type_name(other)
                ),
                Some("messages"),
                Some("invalid_type"),
            ));
        }
    };
    validate_messages(messages)?;
    validate_tools(obj.get("tools"), obj.get("tool_choice"))
}

fn validate_messages(messages: &[Value]) -> Result<(), HttpReply> {
    // The tool_call ids of the assistant message the current run of tool messages answers.
    let mut open: Option<(usize, Vec<String>, HashSet<String>)> = None;
    let unanswered = |(i, ids, answered): &(usize, Vec<String>, HashSet<String>)| {
        let missing: Vec<&str> = ids
            .iter()
            .filter(|id| !answered.contains(*id))
            .map(String::as_str)
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(invalid(
                format!(
                    "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: {}",
                    missing.join(", ")
                ),
                Some(&format!("messages.[{i}].role")),
                None,
            ))
        }
    };

    for (i, m) in messages.iter().enumerate() {
        let Some(mobj) = m.as_object() else {
            return Err(invalid(
                format!(
                    "Invalid type for 'messages[{i}]': expected an object, but got {} instead.",
                    type_name(m)
                ),
                Some(&format!("messages[{i}]")),
                Some("invalid_type"),
            ));
        };
        let role = match mobj.get("role") {
            Some(Value::String(r)) => r.as_str(),
            None => {
                return Err(invalid(
                    format!("Missing required parameter: 'messages[{i}].role'."),
                    Some(&format!("messages[{i}].role")),
                    Some("missing_required_parameter"),
                ));
            }
            Some(other) => {
                return Err(invalid(
                    format!(
                        "Invalid type for 'messages[{i}].role': expected a string, but got {} instead.",
                        type_name(other)
                    ),
                    Some(&format!("messages[{i}].role")),
                    Some("invalid_type"),
                ));
            }
        };
        if !matches!(
            role,
            "system" | "developer" | "user" | "assistant" | "tool" | "function"
        ) {
            return Err(invalid(
                format!(
                    "Invalid value: '{role}'. Supported values are: 'system', 'assistant', 'user', 'tool', 'function', and 'developer'."
                ),
                Some(&format!("messages[{i}].role")),
                Some("invalid_value"),
            ));
        }

        if role != "tool"
            && let Some(o) = open.take()
        {
            unanswered(&o)?;
        }

        let content = mobj.get("content");
        let content_param = format!("messages[{i}].content");
        let has_calls = mobj.get("tool_calls").is_some_and(|c| !c.is_null());
        match content {
            None | Some(Value::Null) if role == "assistant" && has_calls => {}
            None => {
                return Err(invalid(
                    format!("Missing required parameter: '{content_param}'."),
                    Some(&content_param),
                    Some("missing_required_parameter"),
                ));
            }
            Some(Value::String(_)) => {}
            Some(Value::Array(parts)) => {
                for (j, p) in parts.iter().enumerate() {
                    if !p.get("type").is_some_and(Value::is_string) {
                        return Err(invalid(
                            format!("Missing required parameter: '{content_param}[{j}].type'."),
                            Some(&format!("{content_param}[{j}].type")),
                            Some("missing_required_parameter"),
                        ));
                    }
                }
                if role == "tool" && openai_text(&Value::Array(parts.clone())).is_none() {
                    return Err(invalid(
                        format!(
                            "Invalid '{content_param}': a tool message's content parts must be text parts."
                        ),
                        Some(&content_param),
                        Some("invalid_value"),
                    ));
                }
            }
            Some(other) => {
                return Err(invalid(
                    format!(
                        "Invalid type for '{content_param}': expected one of a string or array of objects, but got {} instead.",
                        type_name(other)
                    ),
                    Some(&content_param),
                    Some("invalid_type"),
                ));
            }
        }

        match role {
            "assistant" if has_calls => {
                let ids = tool_call_ids(mobj.get("tool_calls"), i)?;
                open = Some((i, ids, HashSet::new()));
            }
            "tool" => {
                let id = match mobj.get("tool_call_id") {
                    Some(Value::String(id)) => id.clone(),
                    _ => {
                        return Err(invalid(
                            format!("Missing required parameter: 'messages[{i}].tool_call_id'."),
                            Some(&format!("messages[{i}].tool_call_id")),
                            Some("missing_required_parameter"),
                        ));
                    }
                };
                let answers = open.as_mut().filter(|(_, ids, _)| ids.contains(&id));
                match answers {
                    Some((_, _, answered)) => {
                        answered.insert(id);
                    }
                    None => {
                        return Err(invalid(
                            "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.",
                            Some(&format!("messages.[{i}].role")),
                            None,
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    if let Some(o) = open.take() {
        unanswered(&o)?;
    }
    Ok(())
}

fn tool_call_ids(calls: Option<&Value>, i: usize) -> Result<Vec<String>, HttpReply> {
    let param = format!("messages[{i}].tool_calls");
    let calls = match calls {
        Some(Value::Array(c)) if c.is_empty() => {
            return Err(invalid(
                format!(
                    "Invalid '{param}': empty array. Expected an array with minimum length 1, but got an empty array instead."
                ),
                Some(&param),
                Some("empty_array"),
            ));
        }
        Some(Value::Array(c)) => c,
        other => {
            return Err(invalid(
                format!(
                    "Invalid type for '{param}': expected an array of objects, but got {} instead.",
                    type_name(other.unwrap_or(&Value::Null))
                ),
                Some(&param),
                Some("invalid_type"),
            ));
        }
    };
    let mut ids = Vec::with_capacity(calls.len());
    for (j, c) in calls.iter().enumerate() {
        let at = format!("{param}[{j}]");
        let missing = |what: &str| {
            invalid(
                format!("Missing required parameter: '{at}.{what}'."),
                Some(&format!("{at}.{what}")),
                Some("missing_required_parameter"),
            )
        };
        let id = c
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| missing("id"))?;
        match c.get("type").and_then(Value::as_str) {
            Some("function") => {}
            Some(other) => {
                return Err(invalid(
                    format!(
                        "Invalid value: '{other}'. Supported values are: 'function' and 'custom'."
                    ),
                    Some(&format!("{at}.type")),
                    Some("invalid_value"),
                ));
            }
            None => return Err(missing("type")),
        }
        c.pointer("/function/name")
            .and_then(Value::as_str)
            .ok_or_else(|| missing("function.name"))?;
        match c.pointer("/function/arguments") {
            Some(Value::String(_)) => {}
            None => return Err(missing("function.arguments")),
            Some(other) => {
                return Err(invalid(
                    format!(
                        "Invalid type for '{at}.function.arguments': expected a string, but got {} instead.",
                        type_name(other)
                    ),
                    Some(&format!("{at}.function.arguments")),
                    Some("invalid_type"),
                ));
            }
        }
        ids.push(id.to_string());
    }
    Ok(ids)
}

fn validate_tools(tools: Option<&Value>, choice: Option<&Value>) -> Result<(), HttpReply> {
    let mut names = Vec::new();
    match tools {
        None | Some(Value::Null) => {}
        Some(Value::Array(tools)) => {
            for (i, t) in tools.iter().enumerate() {
                match t.get("type").and_then(Value::as_str) {
                    Some("function") => {}
                    Some(other) => {
                        return Err(invalid(
                            format!(
                                "Invalid value: '{other}'. Supported values are: 'function' and 'custom'."
                            ),
                            Some(&format!("tools[{i}].type")),
                            Some("invalid_value"),
                        ));
                    }
                    None => {
                        return Err(invalid(
                            format!("Missing required parameter: 'tools[{i}].type'."),
                            Some(&format!("tools[{i}].type")),
                            Some("missing_required_parameter"),
                        ));
                    }
                }
                let Some(name) = t.pointer("/function/name").and_then(Value::as_str) else {
                    return Err(invalid(
                        format!("Missing required parameter: 'tools[{i}].function.name'."),
                        Some(&format!("tools[{i}].function.name")),
                        Some("missing_required_parameter"),
                    ));
                };
                if !valid_function_name(name) {
                    return Err(invalid(
                        format!(
                            "Invalid 'tools[{i}].function.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'."
                        ),
                        Some(&format!("tools[{i}].function.name")),
                        Some("invalid_value"),
                    ));
                }
                if let Some(p) = t.pointer("/function/parameters")
                    && !p.is_object()
                {
                    return Err(invalid(
                        format!(
                            "Invalid type for 'tools[{i}].function.parameters': expected an object, but got {} instead.",
                            type_name(p)
                        ),
                        Some(&format!("tools[{i}].function.parameters")),
                        Some("invalid_type"),
                    ));
                }
                names.push(name);
            }
        }
        Some(other) => {
            return Err(invalid(
                format!(
                    "Invalid type for 'tools': expected an array of objects, but got {} instead.",
                    type_name(other)
                ),
                Some("tools"),
                Some("invalid_type"),
            ));
        }
    }
    match choice {
        None | Some(Value::Null) => Ok(()),
        Some(_) if names.is_empty() => Err(invalid(
            "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
            Some("tool_choice"),
            None,
        )),
        Some(Value::String(s)) if matches!(s.as_str(), "none" | "auto" | "required") => Ok(()),
        Some(Value::Object(_)) => {
            let name = choice
                .and_then(|c| c.pointer("/function/name"))
                .and_then(Value::as_str);
            match name {
                Some(n) if names.contains(&n) => Ok(()),
                Some(n) => Err(invalid(
                    format!(
                        "Invalid value for 'tool_choice': no function named '{n}' was specified in the 'tools' parameter."
                    ),
                    Some("tool_choice"),
                    None,
                )),
                None => Err(invalid(
                    "Missing required parameter: 'tool_choice.function.name'.",
                    Some("tool_choice.function.name"),
                    Some("missing_required_parameter"),
                )),
            }
        }
        Some(other) => Err(invalid(
            format!(
                "Invalid value for 'tool_choice': expected 'none', 'auto', 'required' or a named function, but got {other}."
            ),
            Some("tool_choice"),
            Some("invalid_value"),
        )),
    }
}

pub(crate) struct Success<'a> {
    pub model: &'a str,
    pub usage: Usage,
    pub id: String,
    pub created: u64,
}

fn completion(message: Value, finish_reason: &str, s: &Success) -> Value {
    json!({
        "id": s.id,
        "object": "chat.completion",
        "created": s.created,
        "model": s.model,
        "choices": [{
            "index": 0,
            "message": message,
            "logprobs": null,
            "finish_reason": finish_reason
        }],
        "usage": {
            "prompt_tokens": s.usage.prompt_tokens,
            "completion_tokens": s.usage.completion_tokens,
            "total_tokens": s.usage.prompt_tokens + s.usage.completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0, "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}
        },
        "service_tier": "default",
        "system_fingerprint": "fp_fakellm"
    })
}

/// `finish_reason: "tool_calls"`, `content: null`, one entry per call with JSON-string arguments.
pub(crate) fn tool_calls(calls: &[ToolCall], ids: &[String], s: &Success) -> Value {
    let tool_calls: Vec<Value> = calls
        .iter()
        .zip(ids)
        .map(|(c, id)| {
            json!({
                "id": id,
                "type": "function",
                "function": {"name": c.name, "arguments": c.args.to_string()}
            })
        })
        .collect();
    completion(
        json!({"role": "assistant", "content": null, "tool_calls": tool_calls, "refusal": null, "annotations": []}),
        "tool_calls",
        s,
    )
}

pub(crate) fn text(answer: &str, s: &Success) -> Value {
    completion(
        json!({"role": "assistant", "content": answer, "refusal": null, "annotations": []}),
        "stop",
        s,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(body: Value) -> Result<(), Value> {
        validate(&body).map_err(|r| r.body)
    }

    fn call(id: &str, name: &str) -> Value {
        json!({"id": id, "type": "function", "function": {"name": name, "arguments": "{}"}})
    }

    #[test]
    fn good_conversation_passes() {
        check(json!({
            "model": "gpt-4o-mini",
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": null, "tool_calls": [call("a", "f"), call("b", "g")]},
                {"role": "tool", "tool_call_id": "b", "content": "2"},
                {"role": "tool", "tool_call_id": "a", "content": [{"type": "text", "text": "1"}]},
                {"role": "assistant", "content": "done"},
                {"role": "user", "content": [{"type": "text", "text": "more"}]}
            ],
            "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}, {"type": "function", "function": {"name": "g"}}],
            "tool_choice": "auto",
            "temperature": 0
        }))
        .unwrap();
    }

    #[test]
    fn bad_conversations_fail() {
        let user = json!({"role": "user", "content": "hi"});
        let cases = [
            (
                json!({"messages": [user]}),
                "you must provide a model parameter",
                Value::Null,
            ),
            (
                json!({"model": "m"}),
                "Missing required parameter: 'messages'.",
                json!("missing_required_parameter"),
            ),
            (
                json!({"model": "m", "messages": []}),
                "empty array",
                json!("empty_array"),
            ),
            (
                json!({"model": "m", "messages": [user], "max_output_tokens": 3}),
                "Unrecognized request argument supplied: max_output_tokens",
                Value::Null,
            ),
            (
                json!({"model": "m", "messages": [{"role": "bot", "content": "x"}]}),
                "Invalid value: 'bot'",
                json!("invalid_value"),
            ),
            (
                json!({"model": "m", "messages": [user, {"role": "tool", "tool_call_id": "x", "content": "r"}]}),
                "must be a response to a preceeding message with 'tool_calls'",
                Value::Null,
            ),
            (
                json!({"model": "m", "messages": [user, {"role": "assistant", "tool_calls": [call("a", "f")]}, {"role": "tool", "tool_call_id": "zzz", "content": "r"}]}),
                "must be a response to a preceeding message with 'tool_calls'",
                Value::Null,
            ),
            (
                json!({"model": "m", "messages": [user, {"role": "assistant", "tool_calls": [call("a", "f"), call("b", "f")]}, {"role": "tool", "tool_call_id": "a", "content": "r"}]}),
                "did not have response messages: b",
                Value::Null,
            ),
            (
                json!({"model": "m", "messages": [user, {"role": "assistant", "tool_calls": [call("a", "f")]}, user.clone()]}),
                "did not have response messages: a",
                Value::Null,
            ),
            (
                json!({"model": "m", "messages": [user, {"role": "assistant", "tool_calls": [call("a", "f")]}, {"role": "tool", "tool_call_id": "a", "content": {"rows": 1}}]}),
                "expected one of a string or array of objects, but got an object",
                json!("invalid_type"),
            ),
            (
                json!({"model": "m", "messages": [user, {"role": "assistant", "tool_calls": [{"id": "a", "type": "function", "function": {"name": "f", "arguments": {}}}]}, {"role": "tool", "tool_call_id": "a", "content": "r"}]}),
                "function.arguments': expected a string",
                json!("invalid_type"),
            ),
            (
                json!({"model": "m", "messages": [user, {"role": "tool", "content": "r"}]}),
                "tool_call_id",
                json!("missing_required_parameter"),
            ),
            (
                json!({"model": "m", "messages": [user], "tool_choice": "auto"}),
                "only allowed when 'tools' are specified",
                Value::Null,
            ),
            (
                json!({"model": "m", "messages": [user], "tools": [{"type": "function", "function": {"name": "has space"}}]}),
                "does not match pattern",
                json!("invalid_value"),
            ),
            (
                json!({"model": "m", "messages": [user], "tools": [{"function": {"name": "f"}}]}),
                "'tools[0].type'",
                json!("missing_required_parameter"),
            ),
            (
                json!({"model": "m", "messages": [user], "stream": true}),
                "streaming",
                Value::Null,
            ),
        ];
        for (body, message, code) in cases {
            let err = check(body.clone()).expect_err(&body.to_string());
            let e = &err["error"];
            assert!(
                e["message"].as_str().unwrap().contains(message),
                "{body}: {err}"
            );
            assert_eq!(e["type"], "invalid_request_error", "{body}");
            assert_eq!(e["code"], code, "{body}");
        }
    }

    #[test]
    fn keys_are_masked_in_401s() {
        let r = auth_error(Some("sk-test-wrong-key-1234"));
        assert_eq!(r.status, 401);
        let msg = r.body["error"]["message"].as_str().unwrap();
        assert!(msg.contains("sk-***************1234"), "{msg}");
        assert_eq!(r.body["error"]["code"], "invalid_api_key");
        assert_eq!(auth_error(None).body["error"]["code"], Value::Null);
    }
}
