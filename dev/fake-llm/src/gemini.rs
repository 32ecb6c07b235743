//! Gemini API `models.generateContent` (v1beta): key check, request validation, responses and
//! errors in Google's shapes.
//!
//! - Request/response: <https://ai.google.dev/api/generate-content> (GenerateContentRequest,
//!   GenerateContentResponse, Candidate, UsageMetadata); function calling:
//!   <https://ai.google.dev/gemini-api/docs/function-calling>.
//! - Thought signatures: <https://ai.google.dev/gemini-api/docs/thought-signatures>: a
//!   `functionCall` turn carries `thoughtSignature` on its first `functionCall` part, and Gemini 3
//!   models reject a request whose current turn replays a function call without it.
//! - Errors: `{"error": {"code", "message", "status", "details"?}}`, statuses per
//!   <https://ai.google.dev/gemini-api/docs/troubleshooting>.

use crate::conversation::field;
use crate::script::{ErrorReply, ToolCall, Usage};
use crate::server::HttpReply;
use serde_json::{Map, Value, json};
use std::collections::HashSet;

/// `lowerCamel` → `snake_case` (proto field names, which the JSON API also accepts).
pub(crate) fn snake(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for ch in name.chars() {
        if ch.is_ascii_uppercase() {
            out.push('_');
            out.push(ch.to_ascii_lowercase());
        } else {
            out.push(ch);
        }
    }
    out
}

fn status_name(code: u16) -> &'static str {
    match code {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ABORTED",
        429 => "RESOURCE_EXHAUSTED",
        499 => "CANCELLED",
        500 => "INTERNAL",
        501 => "UNIMPLEMENTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "UNKNOWN",
    }
}

fn default_message(code: u16, model: &str) -> String {
    match code {
        400 => "Request contains an invalid argument.".into(),
        401 => "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.".into(),
        403 => "The caller does not have permission".into(),
        404 => format!("models/{model} is not found for API version v1beta, or is not supported for generateContent. Call ListModels to see the list of available models and their supported methods."),
        429 => "You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.".into(),
        500 => "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting".into(),
        503 => "The model is overloaded. Please try again later.".into(),
        504 => "Deadline expired before operation could complete.".into(),
        _ => "Unknown error.".into(),
    }
}

pub(crate) fn error(code: u16, message: impl Into<String>) -> HttpReply {
    error_with(code, message.into(), status_name(code), Vec::new())
}

fn error_with(code: u16, message: String, status: &str, details: Vec<Value>) -> HttpReply {
    let mut e = json!({ "code": code, "message": message, "status": status });
    if !details.is_empty() {
        e["details"] = Value::Array(details);
    }
    HttpReply::json(code, json!({ "error": e }))
}

/// A scripted error turn.
pub(crate) fn scripted_error(e: &ErrorReply, model: &str) -> HttpReply {
    let message = e
        .message
        .clone()
        .unwrap_or_else(|| default_message(e.status, model));
    let status = e.code.as_deref().unwrap_or(status_name(e.status));
    let mut details = Vec::new();
    if e.status == 429 {
        details.push(json!({
            "@type": "type.googleapis.com/google.rpc.Help",
            "links": [{"description": "Learn more about Gemini API quotas", "url": "https://ai.google.dev/gemini-api/docs/rate-limits"}]
        }));
    }
    if let Some(secs) = e.retry_after_secs {
        details.push(json!({
            "@type": "type.googleapis.com/google.rpc.RetryInfo",
            "retryDelay": format!("{secs}s")
        }));
    }
    error_with(e.status, message, status, details)
}

/// The API key comes in `x-goog-api-key` or the `key` query parameter. Missing: 403
/// PERMISSION_DENIED; wrong: 400 INVALID_ARGUMENT with reason `API_KEY_INVALID` (what Google
/// answers, rather than a 401).
pub(crate) fn auth_error(provided: Option<&str>) -> HttpReply {
    match provided {
        None | Some("") => error(
            403,
            "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
        ),
        Some(_) => {
            let message = "API key not valid. Please pass a valid API key.";
            error_with(
                400,
                message.into(),
                "INVALID_ARGUMENT",
                vec![
                    json!({
                        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                        "reason": "API_KEY_INVALID",
                        "domain": "googleapis.com",
                        "metadata": {"service": "generativelanguage.googleapis.com"}
                    }),
                    json!({
                        "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
                        "locale": "en-US",
                        "message": message
                    }),
                ],
            )
        }
    }
}

pub(crate) fn unparsable_body(e: &serde_json::Error) -> HttpReply {
    error(
        400,
        format!("Invalid JSON payload received. Unexpected token.\n{e}"),
    )
}

fn invalid(message: impl Into<String>) -> HttpReply {
    error(400, message)
}

fn unknown_name(name: &str, at: &str) -> HttpReply {
    let at = if at.is_empty() {
        String::new()
    } else {
        format!(" at '{at}'")
    };
    invalid(format!(
        "Invalid JSON payload received. Unknown name \"{name}\"{at}: Cannot find field."
    ))
}

/// Rejects keys that are not fields of the message (either spelling), as the proto JSON parser does.
fn known_fields(obj: &Map<String, Value>, fields: &[&str], at: &str) -> Result<(), HttpReply> {
    for key in obj.keys() {
        let k = snake(key);
        if !fields.contains(&k.as_str()) {
            return Err(unknown_name(key, at));
        }
    }
    Ok(())
}

const REQUEST_FIELDS: &[&str] = &[
    "contents",
    "tools",
    "tool_config",
    "safety_settings",
    "system_instruction",
    "generation_config",
    "cached_content",
    "model",
];
const CONTENT_FIELDS: &[&str] = &["role", "parts"];
const PART_DATA: &[&str] = &[
    "text",
    "inline_data",
    "function_call",
    "function_response",
    "file_data",
    "executable_code",
    "code_execution_result",
];
const PART_EXTRA: &[&str] = &[
    "thought",
    "thought_signature",
    "video_metadata",
    "part_metadata",
    "media_resolution",
];
const GENERATION_CONFIG_FIELDS: &[&str] = &[
    "stop_sequences",
    "response_mime_type",
    "response_schema",
    "response_json_schema",
    "response_modalities",
    "candidate_count",
    "max_output_tokens",
    "temperature",
    "top_p",
    "top_k",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "response_logprobs",
    "logprobs",
    "enable_enhanced_civic_answers",
    "speech_config",
    "thinking_config",
    "image_config",
    "media_resolution",
];
const TOOL_FIELDS: &[&str] = &[
    "function_declarations",
    "google_search_retrieval",
    "code_execution",
    "google_search",
    "url_context",
    "file_search",
    "computer_use",
    "google_maps",
];

fn valid_function_name(name: &str) -> bool {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    first_ok
        && name.len() <= 64
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-'))
}

/// Whether the model is one that enforces thought signatures on function calls (Gemini 3).
pub(crate) fn enforces_signatures(model: &str) -> bool {
    model.trim_start_matches("models/").starts_with("gemini-3")
}

struct Turn<'a> {
    role: &'a str,
    has_text: bool,
    /// (part index, name, id, has thoughtSignature, signature)
    calls: Vec<(usize, String, Option<String>, Option<String>)>,
    responses: Vec<(String, Option<String>)>,
}

/// The essentials the real API checks: field names, roles, parts, function-call/response turn
/// order and counts, response objects, declaration names, and (Gemini 3) thought signatures.
pub(crate) fn validate(
    body: &Value,
    model: &str,
    issued_signatures: &HashSet<String>,
) -> Result<(), HttpReply> {
    let Some(obj) = body.as_object() else {
        return Err(invalid(
            "Invalid JSON payload received. Expected an object (GenerateContentRequest).",
        ));
    };
    known_fields(obj, REQUEST_FIELDS, "")?;

    let contents = match field(body, "contents") {
        None => {
            return Err(invalid(
                "* GenerateContentRequest.contents: contents is not specified\n",
            ));
        }
        Some(Value::Array(a)) if a.is_empty() => {
            return Err(invalid(
                "* GenerateContentRequest.contents: contents is not specified\n",
            ));
        }
        Some(Value::Array(a)) => a,
        Some(other) => {
            return Err(invalid(format!(
                "Invalid value at 'contents' (type.googleapis.com/google.ai.generativelanguage.v1beta.Content), {other}"
            )));
        }
    };

    let mut turns = Vec::with_capacity(contents.len());
    for (i, content) in contents.iter().enumerate() {
        let Some(cobj) = content.as_object() else {
            return Err(invalid(format!(
                "Invalid value at 'contents[{i}]' (type.googleapis.com/google.ai.generativelanguage.v1beta.Content), {content}"
            )));
        };
        known_fields(cobj, CONTENT_FIELDS, &format!("contents[{i}]"))?;
        let role = match field(content, "role") {
            None if contents.len() == 1 => "user",
            Some(Value::String(r)) if matches!(r.as_str(), "user" | "model" | "function") => {
                r.as_str()
            }
            _ => return Err(invalid("Please use a valid role: user, model.")),
        };
        let parts = match field(content, "parts").and_then(Value::as_array) {
            Some(p) if !p.is_empty() => p,
            _ => {
                return Err(invalid(format!(
                    "* GenerateContentRequest.contents[{i}].parts: contents.parts must not be empty.\n"
                )));
            }
        };
        let mut turn = Turn {
            role,
            has_text: false,
            calls: Vec::new(),
            responses: Vec::new(),
        };
        for (j, part) in parts.iter().enumerate() {
            let at = format!("contents[{i}].parts[{j}]");
            let Some(pobj) = part.as_object() else {
                return Err(invalid(format!(
                    "Invalid value at '{at}' (type.googleapis.com/google.ai.generativelanguage.v1beta.Part), {part}"
                )));
            };
            let mut data: Option<String> = None;
            for key in pobj.keys() {
                let k = snake(key);
                if PART_DATA.contains(&k.as_str()) {
                    if data.is_some() {
                        return Err(invalid(format!(
                            "Invalid value at '{at}': Oneof field 'data' is already set. Cannot set '{key}'"
                        )));
                    }
                    data = Some(k);
                } else if !PART_EXTRA.contains(&k.as_str()) {
                    return Err(unknown_name(key, &at));
                }
            }
            let signature = field(part, "thoughtSignature")
                .and_then(Value::as_str)
                .map(str::to_string);
            match data.as_deref() {
                None => {
                    return Err(invalid(format!(
                        "* GenerateContentRequest.{at}.data: required oneof field 'data' must have one initialized field\n"
                    )));
                }
                Some("text") => {
                    if !field(part, "text").is_some_and(Value::is_string) {
                        return Err(invalid(format!(
                            "Invalid value at '{at}.text' (TYPE_STRING)"
                        )));
                    }
                    turn.has_text = true;
                }
                Some("function_call") => {
                    let call = field(part, "functionCall").unwrap_or(&Value::Null);
                    let name = field(call, "name").and_then(Value::as_str).unwrap_or("");
                    if name.is_empty() {
                        return Err(invalid(format!(
                            "* GenerateContentRequest.{at}.function_call.name: Name cannot be empty.\n"
                        )));
                    }
                    if let Some(args) = field(call, "args")
                        && !args.is_object()
                    {
                        return Err(invalid(format!(
                            "Invalid value at '{at}.function_call.args' (type.googleapis.com/google.protobuf.Struct), {args}"
                        )));
                    }
                    let id = field(call, "id")
                        .and_then(Value::as_str)
                        .map(str::to_string);
                    turn.calls.push((j, name.to_string(), id, signature));
                }
                Some("function_response") => {
                    let resp = field(part, "functionResponse").unwrap_or(&Value::Null);
                    let name = field(resp, "name").and_then(Value::as_str).unwrap_or("");
                    if name.is_empty() {
                        return Err(invalid(format!(
                            "* GenerateContentRequest.{at}.function_response.name: Name cannot be empty.\n"
                        )));
                    }
                    match field(resp, "response") {
                        Some(Value::Object(_)) => {}
                        Some(other) => {
                            return Err(invalid(format!(
                                "Invalid value at '{at}.function_response.response' (type.googleapis.com/google.protobuf.Struct), {other}"
                            )));
                        }
                        None => {
                            return Err(invalid(format!(
                                "* GenerateContentRequest.{at}.function_response.response: required field is not set.\n"
                            )));
                        }
                    }
                    let id = field(resp, "id")
                        .and_then(Value::as_str)
                        .map(str::to_string);
                    turn.responses.push((name.to_string(), id));
                }
                Some(_) => {}
            }
        }
        if !turn.calls.is_empty() && role != "model" {
            return Err(invalid(format!(
                "* GenerateContentRequest.contents[{i}]: functionCall parts belong in a turn with role 'model', not '{role}'.\n"
            )));
        }
        if !turn.responses.is_empty() && role == "model" {
            return Err(invalid(format!(
                "* GenerateContentRequest.contents[{i}]: functionResponse parts belong in a turn with role 'user', not 'model'.\n"
            )));
        }
        turns.push(turn);
    }

    for (i, turn) in turns.iter().enumerate() {
        let prev = i.checked_sub(1).map(|p| &turns[p]);
        if !turn.calls.is_empty() && prev.is_none_or(|p| p.role == "model") {
            return Err(invalid(
                "Please ensure that function call turn comes immediately after a user turn or after a function response turn.",
            ));
        }
        if !turn.responses.is_empty() {
            let Some(p) = prev.filter(|p| !p.calls.is_empty()) else {
                return Err(invalid(
                    "Please ensure that function response turn comes immediately after a function call turn.",
                ));
            };
            check_responses_match(p, turn)?;
        }
        if !turn.calls.is_empty() {
            let next_has_responses = turns.get(i + 1).is_some_and(|n| !n.responses.is_empty());
            if !next_has_responses {
                return Err(invalid(
                    "Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn.",
                ));
            }
        }
    }

    if enforces_signatures(model) {
        let current = turns
            .iter()
            .rposition(|t| t.role != "model" && t.has_text)
            .unwrap_or(0);
        for turn in &turns[current..] {
            if let Some((position, name, _, signature)) = turn.calls.first() {
                match signature {
                    None => {
                        return Err(invalid(format!(
                            "Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly, and missing thought_signature may lead to degraded model performance. Additional data, function call `default_api:{name}` , position {}. Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more details.",
                            position + 1
                        )));
                    }
                    Some(s) if !issued_signatures.contains(s) => {
                        return Err(invalid("Corrupted thought signature."));
                    }
                    Some(_) => {}
                }
            }
        }
    }

    if let Some(system) = field(body, "systemInstruction") {
        let ok = system.is_object() && field(system, "parts").is_some_and(Value::is_array);
        if !ok {
            return Err(invalid(format!(
                "Invalid value at 'system_instruction' (type.googleapis.com/google.ai.generativelanguage.v1beta.Content), {system}"
            )));
        }
    }
    if let Some(config) = field(body, "generationConfig") {
        let Some(cobj) = config.as_object() else {
            return Err(invalid(format!(
                "Invalid value at 'generation_config' (type.googleapis.com/google.ai.generativelanguage.v1beta.GenerationConfig), {config}"
            )));
        };
        known_fields(cobj, GENERATION_CONFIG_FIELDS, "generation_config")?;
    }
    validate_tools(body)?;
    Ok(())
}

/// Same number of responses as calls; names (and ids, when the calls carried ids) must match.
fn check_responses_match(calls: &Turn, responses: &Turn) -> Result<(), HttpReply> {
    if calls.calls.len() != responses.responses.len() {
        return Err(invalid(
            "Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn.",
        ));
    }
    let mut wanted: Vec<&str> = calls.calls.iter().map(|c| c.1.as_str()).collect();
    let mut got: Vec<&str> = responses.responses.iter().map(|r| r.0.as_str()).collect();
    wanted.sort_unstable();
    got.sort_unstable();
    if wanted != got {
        return Err(invalid(format!(
            "Please ensure that the function response parts answer the function call parts of the function call turn by name: calls {wanted:?}, responses {got:?}."
        )));
    }
    let call_ids: HashSet<&str> = calls.calls.iter().filter_map(|c| c.2.as_deref()).collect();
    if !call_ids.is_empty() {
        for (name, id) in &responses.responses {
            if let Some(id) = id
                && !call_ids.contains(id.as_str())
            {
                return Err(invalid(format!(
                    "Please ensure that the function response id '{id}' (for '{name}') matches a function call id of the function call turn."
                )));
            }
        }
    }
    Ok(())
}

fn validate_tools(body: &Value) -> Result<(), HttpReply> {
    let Some(tools) = field(body, "tools") else {
        return Ok(());
    };
    let Some(tools) = tools.as_array() else {
        return Err(invalid(format!(
            "Invalid value at 'tools' (type.googleapis.com/google.ai.generativelanguage.v1beta.Tool), {tools}"
        )));
    };
    for (i, tool) in tools.iter().enumerate() {
        let Some(tobj) = tool.as_object() else {
            return Err(invalid(format!(
                "Invalid value at 'tools[{i}]' (type.googleapis.com/google.ai.generativelanguage.v1beta.Tool), {tool}"
            )));
        };
        known_fields(tobj, TOOL_FIELDS, &format!("tools[{i}]"))?;
        let Some(decls) = field(tool, "functionDeclarations") else {
            continue;
        };
        let Some(decls) = decls.as_array() else {
            return Err(invalid(format!(
                "Invalid value at 'tools[{i}].function_declarations', {decls}"
            )));
        };
        for (j, decl) in decls.iter().enumerate() {
            let at = format!("tools[{i}].function_declarations[{j}]");
            let name = field(decl, "name").and_then(Value::as_str).unwrap_or("");
            if !valid_function_name(name) {
                return Err(invalid(format!(
                    "* GenerateContentRequest.{at}.name: Invalid function name. Must start with a letter or an underscore. Must be alphameric (a-z, A-Z, 0-9), underscores (_), dots (.), colons (:), or dashes (-), with a maximum length of 64.\n"
                )));
            }
            for key in ["parameters", "parametersJsonSchema", "response"] {
                if let Some(p) = field(decl, key)
                    && !p.is_object()
                {
                    return Err(invalid(format!(
                        "Invalid value at '{at}.{}' (type.googleapis.com/google.ai.generativelanguage.v1beta.Schema), {p}",
                        snake(key)
                    )));
                }
            }
        }
    }
    Ok(())
}

pub(crate) struct Success<'a> {
    pub model: &'a str,
    pub usage: Usage,
    pub response_id: String,
}

fn usage_metadata(u: Usage) -> Value {
    json!({
        "promptTokenCount": u.prompt_tokens,
        "candidatesTokenCount": u.completion_tokens,
        "totalTokenCount": u.prompt_tokens + u.completion_tokens,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": u.prompt_tokens}]
    })
}

fn response(parts: Vec<Value>, s: &Success) -> Value {
    json!({
        "candidates": [{
            "content": {"parts": parts, "role": "model"},
            "finishReason": "STOP",
            "index": 0
        }],
        "usageMetadata": usage_metadata(s.usage),
        "modelVersion": s.model.trim_start_matches("models/"),
        "responseId": s.response_id
    })
}

/// A function-call turn: one `functionCall` part per call, the thought signature on the first.
pub(crate) fn tool_calls(
    calls: &[ToolCall],
    signature: &str,
    ids: Option<&[String]>,
    s: &Success,
) -> Value {
    let parts = calls
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut call = json!({"name": c.name, "args": c.args});
            if let Some(id) = ids.and_then(|ids| ids.get(i)) {
                call["id"] = json!(id);
            }
            let mut part = json!({ "functionCall": call });
            if i == 0 {
                part["thoughtSignature"] = json!(signature);
            }
            part
        })
        .collect();
    response(parts, s)
}

pub(crate) fn text(answer: &str, s: &Success) -> Value {
    response(vec![json!({ "text": answer })], s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(body: Value) -> Result<(), String> {
        validate(&body, "gemini-2.5-flash", &HashSet::new()).map_err(|r| {
            r.body["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
    }

    #[test]
    fn names() {
        assert_eq!(snake("functionCallingConfig"), "function_calling_config");
        assert!(valid_function_name("list_records"));
        assert!(valid_function_name("ns.tool:v-1"));
        assert!(!valid_function_name("1abc"));
        assert!(!valid_function_name("has space"));
        assert!(!valid_function_name(&"a".repeat(65)));
    }

    #[test]
    fn good_conversation_passes() {
        check(json!({
            "contents": [
                {"role": "user", "parts": [{"text": "hi"}]},
                {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {}}}, {"functionCall": {"name": "g"}}]},
                {"role": "user", "parts": [{"functionResponse": {"name": "g", "response": {"x": 1}}}, {"functionResponse": {"name": "f", "response": {}}}]},
                {"role": "model", "parts": [{"text": "done"}]},
                {"role": "user", "parts": [{"text": "again"}]}
            ],
            "systemInstruction": {"parts": [{"text": "be brief"}]},
            "generationConfig": {"temperature": 0.2, "max_output_tokens": 100},
            "tools": [{"functionDeclarations": [{"name": "f", "parameters": {"type": "object"}}, {"name": "g"}]}]
        }))
        .unwrap();
    }

    #[test]
    fn bad_conversations_fail() {
        let cases = [
            (json!({"contents": []}), "contents is not specified"),
            (
                json!({"contents": [{"role": "user", "parts": [{"text": "x"}]}], "generation_config": {"max_tokens": 5}}),
                "Unknown name \"max_tokens\"",
            ),
            (
                json!({"contents": [{"role": "assistant", "parts": [{"text": "x"}]}, {"role": "user", "parts": [{"text": "y"}]}]}),
                "valid role",
            ),
            (
                json!({"contents": [{"role": "user", "parts": []}]}),
                "must not be empty",
            ),
            (
                json!({"contents": [{"role": "user", "parts": [{"text": "a", "functionCall": {"name": "f"}}]}]}),
                "Oneof field",
            ),
            (
                json!({"contents": [
                    {"role": "user", "parts": [{"text": "hi"}]},
                    {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {}}}]}
                ]}),
                "function response turn comes immediately after a function call turn",
            ),
            (
                json!({"contents": [
                    {"role": "user", "parts": [{"text": "hi"}]},
                    {"role": "model", "parts": [{"functionCall": {"name": "f"}}, {"functionCall": {"name": "f"}}]},
                    {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {}}}]}
                ]}),
                "number of function response parts",
            ),
            (
                json!({"contents": [
                    {"role": "user", "parts": [{"text": "hi"}]},
                    {"role": "model", "parts": [{"functionCall": {"name": "f"}}]},
                    {"role": "user", "parts": [{"text": "no result"}]}
                ]}),
                "number of function response parts",
            ),
            (
                json!({"contents": [
                    {"role": "user", "parts": [{"text": "hi"}]},
                    {"role": "model", "parts": [{"functionCall": {"name": "f"}}]},
                    {"role": "user", "parts": [{"functionResponse": {"name": "g", "response": {}}}]}
                ]}),
                "by name",
            ),
            (
                json!({"contents": [
                    {"role": "user", "parts": [{"text": "hi"}]},
                    {"role": "model", "parts": [{"functionCall": {"name": "f"}}]},
                    {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": "plain text"}}]}
                ]}),
                "google.protobuf.Struct",
            ),
            (
                json!({"contents": [
                    {"role": "user", "parts": [{"text": "hi"}]},
                    {"role": "model", "parts": [{"text": "thinking"}]},
                    {"role": "model", "parts": [{"functionCall": {"name": "f"}}]},
                    {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {}}}]}
                ]}),
                "function call turn comes immediately after a user turn",
            ),
            (
                json!({"contents": [{"parts": [{"text": "x"}]}], "tools": [{"functionDeclarations": [{"name": "bad name"}]}]}),
                "Invalid function name",
            ),
            (
                json!({"contents": [{"parts": [{"text": "x"}]}], "systemInstruction": "be brief"}),
                "system_instruction",
            ),
        ];
        for (body, expected) in cases {
            let err = check(body.clone()).expect_err(&body.to_string());
            assert!(err.contains(expected), "{body}: {err}");
        }
    }

    #[test]
    fn gemini_3_needs_thought_signatures_in_the_current_turn() {
        let body = |sig: Option<&str>| {
            let mut call = json!({"functionCall": {"name": "f", "args": {}}});
            if let Some(s) = sig {
                call["thoughtSignature"] = json!(s);
            }
            json!({"contents": [
                {"role": "user", "parts": [{"text": "hi"}]},
                {"role": "model", "parts": [call]},
                {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {}}}]}
            ]})
        };
        let issued: HashSet<String> = ["sig1".to_string()].into();
        assert!(validate(&body(Some("sig1")), "gemini-3-flash-preview", &issued).is_ok());
        let missing = validate(&body(None), "gemini-3-flash-preview", &issued).unwrap_err();
        assert!(
            missing
                .body
                .to_string()
                .contains("missing a thought_signature")
        );
        let forged = validate(&body(Some("made-up")), "models/gemini-3-pro", &issued).unwrap_err();
        assert!(
            forged
                .body
                .to_string()
                .contains("Corrupted thought signature")
        );
        // Gemini 2.5 does not enforce them.
        assert!(validate(&body(None), "gemini-2.5-flash", &issued).is_ok());
    }
}
