//! What the fake model answers: turns (queued per provider, or for either), and rules that match
//! the conversation. The same types are the JSON script format of `POST /_fake/script`.

use crate::conversation::{Conversation, Last};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Which wire format a request arrived in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Provider {
    /// `POST /v1beta/models/{model}:generateContent`
    #[serde(rename = "gemini")]
    Gemini,
    /// `POST /v1/chat/completions` (and `/chat/completions`)
    #[serde(rename = "openai")]
    OpenAi,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Gemini => "gemini",
            Provider::OpenAi => "openai",
        }
    }
}

impl std::fmt::Display for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One function call the model makes: a tool name and its arguments (a JSON object).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolCall {
    pub name: String,
    #[serde(default = "empty_object")]
    pub args: Value,
}

fn empty_object() -> Value {
    Value::Object(Map::new())
}

/// An error turn: the provider's error shape for this HTTP status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "ErrorRepr")]
pub struct ErrorReply {
    pub status: u16,
    /// Replaces the provider's usual message for this status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// OpenAI: `error.code` (e.g. `insufficient_quota`, which also sets `error.type`);
    /// Gemini: `error.status` (e.g. `UNAVAILABLE`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// OpenAI: a `retry-after` header; Gemini: a `google.rpc.RetryInfo` detail (`"retryDelay": "Ns"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_secs: Option<u64>,
}

/// `{"error": 429}` or `{"error": {"status": 429, ...}}`.
#[derive(Deserialize)]
#[serde(untagged)]
enum ErrorRepr {
    Status(u16),
    #[serde(rename_all = "snake_case")]
    Full {
        status: u16,
        #[serde(default)]
        message: Option<String>,
        #[serde(default)]
        code: Option<String>,
        #[serde(default)]
        retry_after_secs: Option<u64>,
    },
}

impl From<ErrorRepr> for ErrorReply {
    fn from(r: ErrorRepr) -> Self {
        match r {
            ErrorRepr::Status(status) => ErrorReply {
                status,
                message: None,
                code: None,
                retry_after_secs: None,
            },
            ErrorRepr::Full {
                status,
                message,
                code,
                retry_after_secs,
            } => ErrorReply {
                status,
                message,
                code,
                retry_after_secs,
            },
        }
    }
}

/// What the model does in one turn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reply {
    /// One or more function calls in one model turn (several = parallel calls).
    ToolCalls(Vec<ToolCall>),
    /// A final text answer; a template (see [`crate::template`]: `{tool_result}`, `{user_text}`, …).
    Text(String),
    /// An HTTP error in the provider's shape.
    Error(ErrorReply),
}

/// Token counts reported for a turn. Left out, they are estimated (about 4 bytes a token).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

/// One scripted answer. JSON: `{"tool_calls": [{"name": "...", "args": {...}}]}`,
/// `{"text": "..."}` or `{"error": 429}`, plus optional `"usage": {"prompt_tokens": N,
/// "completion_tokens": M}` and `"delay_ms": N`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Turn {
    #[serde(flatten)]
    pub reply: Reply,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// Waits this long before answering (the request is recorded on arrival).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
}

impl Turn {
    pub fn new(reply: Reply) -> Self {
        Turn {
            reply,
            usage: None,
            delay_ms: None,
        }
    }

    /// One turn with several function calls: `Turn::tool_calls([("list_records", json!({...}))])`.
    pub fn tool_calls<N: Into<String>>(calls: impl IntoIterator<Item = (N, Value)>) -> Self {
        Turn::new(Reply::ToolCalls(
            calls
                .into_iter()
                .map(|(name, args)| ToolCall {
                    name: name.into(),
                    args,
                })
                .collect(),
        ))
    }

    pub fn tool_call(name: impl Into<String>, args: Value) -> Self {
        Turn::tool_calls([(name.into(), args)])
    }

    /// A final answer; may use template placeholders such as `{tool_result}`.
    pub fn text(answer: impl Into<String>) -> Self {
        Turn::new(Reply::Text(answer.into()))
    }

    /// An error with this HTTP status in the provider's shape.
    pub fn error(status: u16) -> Self {
        Turn::new(Reply::Error(ErrorReply {
            status,
            message: None,
            code: None,
            retry_after_secs: None,
        }))
    }

    pub fn with_usage(mut self, prompt_tokens: u64, completion_tokens: u64) -> Self {
        self.usage = Some(Usage {
            prompt_tokens,
            completion_tokens,
        });
        self
    }

    pub fn with_delay(mut self, delay: std::time::Duration) -> Self {
        self.delay_ms = Some(u64::try_from(delay.as_millis()).unwrap_or(u64::MAX));
        self
    }

    /// For error turns: replaces the provider's message.
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        if let Reply::Error(e) = &mut self.reply {
            e.message = Some(message.into());
        }
        self
    }

    /// For error turns: OpenAI `error.code` / Gemini `error.status`.
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        if let Reply::Error(e) = &mut self.reply {
            e.code = Some(code.into());
        }
        self
    }

    /// For error turns: how long the client is told to wait.
    pub fn with_retry_after(mut self, secs: u64) -> Self {
        if let Reply::Error(e) = &mut self.reply {
            e.retry_after_secs = Some(secs);
        }
        self
    }
}

/// When a rule applies, judged on the request's conversation.
/// JSON: `"always"`, `"last_is_tool_result"`, `"last_is_user_text"`,
/// `{"last_user_text_contains": "..."}`, `{"tool_offered": "name"}`,
/// `{"tool_result_contains": "..."}`, `{"all": [ ... ]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    Always,
    /// The last message carries tool results (OpenAI `tool` messages; Gemini `functionResponse` parts).
    LastIsToolResult,
    /// The last message is the user's text.
    LastIsUserText,
    /// The most recent user text contains this (case-insensitive).
    LastUserTextContains(String),
    /// The request offers a tool of this name (and does not forbid calling it).
    ToolOffered(String),
    /// One of the trailing tool results contains this text (case-insensitive).
    ToolResultContains(String),
    All(Vec<Condition>),
}

impl Condition {
    pub fn matches(&self, c: &Conversation) -> bool {
        match self {
            Condition::Always => true,
            Condition::LastIsToolResult => c.last == Last::ToolResults,
            Condition::LastIsUserText => c.last == Last::UserText,
            Condition::LastUserTextContains(s) => c
                .last_user_text
                .as_deref()
                .is_some_and(|t| t.to_lowercase().contains(&s.to_lowercase())),
            Condition::ToolOffered(name) => c.offered_tools.iter().any(|t| t == name),
            Condition::ToolResultContains(s) => {
                let s = s.to_lowercase();
                c.tool_results
                    .iter()
                    .any(|r| r.raw.to_lowercase().contains(&s))
            }
            Condition::All(all) => all.iter().all(|x| x.matches(c)),
        }
    }
}

/// A standing answer used when no queued turn is left: the first rule (in order) whose
/// provider and condition match answers. JSON: `{"when": "last_is_tool_result",
/// "text": "Found {tool_result}", "provider": "openai", "times": 1}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    /// Only for this provider (both when left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<Provider>,
    pub when: Condition,
    #[serde(flatten)]
    pub turn: Turn,
    /// How many times the rule may answer (unlimited when left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
}

impl Rule {
    pub fn new(when: Condition, turn: Turn) -> Self {
        Rule {
            provider: None,
            when,
            turn,
            times: None,
        }
    }

    /// "If the last message is a tool result, answer with this text" (a template).
    pub fn answer_tool_results(template: impl Into<String>) -> Self {
        Rule::new(Condition::LastIsToolResult, Turn::text(template))
    }

    pub fn for_provider(mut self, provider: Provider) -> Self {
        self.provider = Some(provider);
        self
    }

    pub fn times(mut self, n: u32) -> Self {
        self.times = Some(n);
        self
    }
}

/// A whole script: queued turns per provider (`any` serves either, after the provider's own
/// queue), then rules. The body of `POST /_fake/script` (plus `"append": true` to add rather
/// than replace).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Script {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gemini: Vec<Turn>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub openai: Vec<Turn>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub any: Vec<Turn>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<Rule>,
}

impl Script {
    pub fn from_json(text: &str) -> Result<Script, serde_json::Error> {
        serde_json::from_str(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn script_json_round_trips() {
        let text = json!({
            "openai": [
                {"tool_calls": [{"name": "list_records", "args": {"table": "Companies"}}, {"name": "whoami"}],
                 "usage": {"prompt_tokens": 100, "completion_tokens": 7}},
                {"text": "Done: {tool_result}"},
                {"error": 429},
                {"error": {"status": 503, "message": "busy", "retry_after_secs": 2}, "delay_ms": 5}
            ],
            "rules": [
                {"when": "last_is_tool_result", "text": "Answer {tool_result}", "provider": "gemini", "times": 1},
                {"when": {"last_user_text_contains": "hello"}, "tool_calls": [{"name": "x"}]},
                {"when": {"all": ["last_is_user_text", {"tool_offered": "x"}]}, "error": 500}
            ]
        })
        .to_string();
        let script = Script::from_json(&text).unwrap();
        assert_eq!(script.openai.len(), 4);
        assert_eq!(
            script.openai[0].reply,
            Reply::ToolCalls(vec![
                ToolCall {
                    name: "list_records".into(),
                    args: json!({"table": "Companies"})
                },
                ToolCall {
                    name: "whoami".into(),
                    args: json!({})
                },
            ])
        );
        assert_eq!(
            script.openai[0].usage,
            Some(Usage {
                prompt_tokens: 100,
                completion_tokens: 7
            })
        );
        assert_eq!(script.openai[2], Turn::error(429));
        assert_eq!(
            script.openai[3],
            Turn::error(503)
                .with_message("busy")
                .with_retry_after(2)
                .with_delay(std::time::Duration::from_millis(5))
        );
        assert_eq!(
            script.rules[0],
            Rule::answer_tool_results("Answer {tool_result}")
                .for_provider(Provider::Gemini)
                .times(1)
        );
        assert_eq!(
            script.rules[2].when,
            Condition::All(vec![
                Condition::LastIsUserText,
                Condition::ToolOffered("x".into())
            ])
        );
        let again: Script = serde_json::from_value(serde_json::to_value(&script).unwrap()).unwrap();
        assert_eq!(again, script);
    }

    #[test]
    fn bad_scripts_are_rejected() {
        assert!(Script::from_json(r#"{"open_ai": []}"#).is_err());
        assert!(Script::from_json(r#"{"openai": [{"txt": "x"}]}"#).is_err());
        assert!(Script::from_json(r#"{"rules": [{"when": "sometimes", "text": "x"}]}"#).is_err());
    }
}
