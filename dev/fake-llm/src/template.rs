//! Text answers are templates over the request's conversation, so that a test can check the
//! final answer was built from what the tools really returned.
//!
//! | placeholder | becomes |
//! |---|---|
//! | `{tool_result}` | every trailing tool result as text (OpenAI: the `tool` message content; Gemini: `functionResponse.response` as compact JSON), one per line |
//! | `{tool_result:NAME}` | the result(s) of the tool called NAME |
//! | `{tool_result/json/pointer}` | a value inside the first result (parsed as JSON), by JSON pointer; strings unquoted |
//! | `{tool_result:NAME/json/pointer}` | the same inside NAME's result |
//! | `{tool_name}` | the names of the tools whose results these are, comma-separated |
//! | `{tool_count}` | how many tool results the conversation ends with |
//! | `{user_text}` | the latest user text |
//!
//! Anything else in braces is left as it is; a placeholder that finds nothing becomes
//! `<no PLACEHOLDER>` so that a wrong path shows in the answer.

use crate::conversation::{Conversation, ToolResult};
use serde_json::Value;

pub fn render(template: &str, c: &Conversation) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) if !after[..close].contains('{') => {
                let key = &after[..close];
                match expand(key, c) {
                    Some(value) => out.push_str(&value),
                    None => {
                        out.push('{');
                        out.push_str(key);
                        out.push('}');
                    }
                }
                rest = &after[close + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn missing(key: &str) -> String {
    format!("<no {key}>")
}

/// `None` when `key` is not a placeholder (left as written).
fn expand(key: &str, c: &Conversation) -> Option<String> {
    match key {
        "tool_name" => {
            let names: Vec<&str> = c.tool_results.iter().map(|r| r.name.as_str()).collect();
            return Some(names.join(", "));
        }
        "tool_count" => return Some(c.tool_results.len().to_string()),
        "user_text" => {
            return Some(c.last_user_text.clone().unwrap_or_else(|| missing(key)));
        }
        _ => {}
    }
    let spec = key.strip_prefix("tool_result")?;
    let (name, pointer) = match spec.find('/') {
        Some(i) => (&spec[..i], Some(&spec[i..])),
        None => (spec, None),
    };
    let results: Vec<&ToolResult> = if name.is_empty() {
        c.tool_results.iter().collect()
    } else {
        let name = name.strip_prefix(':')?;
        c.tool_results.iter().filter(|r| r.name == name).collect()
    };
    if results.is_empty() {
        return Some(missing(key));
    }
    Some(match pointer {
        None => results
            .iter()
            .map(|r| r.raw.as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        Some(p) => match results[0].content.pointer(p) {
            Some(Value::String(s)) => s.clone(),
            Some(v) => v.to_string(),
            None => missing(key),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversation::Last;
    use serde_json::json;

    fn conv() -> Conversation {
        Conversation {
            last: Last::ToolResults,
            last_user_text: Some("list companies".into()),
            tool_results: vec![
                ToolResult {
                    name: "list_records".into(),
                    call_id: Some("call_1".into()),
                    content: json!({"records": [{"fields": {"Name": "Acme", "Size": 12}}]}),
                    raw: r#"{"records":[{"fields":{"Name":"Acme","Size":12}}]}"#.into(),
                },
                ToolResult {
                    name: "whoami".into(),
                    call_id: None,
                    content: json!("ada"),
                    raw: "ada".into(),
                },
            ],
            offered_tools: vec![],
            declared_tools: vec![],
        }
    }

    #[test]
    fn placeholders() {
        let c = conv();
        assert_eq!(
            render(
                "{tool_result:list_records/records/0/fields/Name} ({tool_result/records/0/fields/Size}) for {tool_result:whoami}",
                &c
            ),
            "Acme (12) for ada"
        );
        assert_eq!(
            render("{tool_result}", &c),
            "{\"records\":[{\"fields\":{\"Name\":\"Acme\",\"Size\":12}}]}\nada"
        );
        assert_eq!(
            render("{tool_name}; {tool_count}; {user_text}", &c),
            "list_records, whoami; 2; list companies"
        );
        assert_eq!(render("{tool_result/nope}", &c), "<no tool_result/nope>");
        assert_eq!(render("{tool_result:other}", &c), "<no tool_result:other>");
        assert_eq!(
            render("keep {this} and { and {{x}", &c),
            "keep {this} and { and {{x}"
        );
    }
}
