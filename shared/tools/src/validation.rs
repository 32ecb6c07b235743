//! Checking a call's arguments against the tool's declared input schema before the tool runs.
//!
//! The schema a client or model is shown is the contract: every limit it states (`maxLength`,
//! `maxItems`, `minimum`, `maximum`, `enum`, `pattern`, `required`, no unknown arguments) is
//! enforced here, for MCP and chat alike, so nothing the schema refuses reaches a tool, let alone
//! Airtable. Each schema is compiled once, when the registry is built.

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{Draft, ValidationError, Validator};
use serde_json::Value;

use crate::registry::ToolError;
use crate::tools;

/// At most this many problems are listed in one refusal; the first few are enough to fix a
/// call, and a hostile argument list must not make a huge message.
const MAX_LISTED: usize = 5;

/// A tool's compiled input schema.
pub(crate) struct InputSchema {
    compiled: Result<Validator, String>,
}

impl std::fmt::Debug for InputSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InputSchema")
            .field("compiled", &self.compiled.is_ok())
            .finish()
    }
}

impl InputSchema {
    /// Compiles `schema` (draft 2020-12). A schema that does not compile is kept as an error:
    /// the tool then refuses every call rather than run unchecked (a test proves every tool's
    /// schema compiles).
    pub(crate) fn compile(schema: &Value) -> Self {
        let compiled = jsonschema::options()
            .with_draft(Draft::Draft202012)
            .build(schema)
            .map_err(|err| err.to_string());
        Self { compiled }
    }

    /// Why the schema did not compile, if it did not.
    pub(crate) fn compile_error(&self) -> Option<&str> {
        self.compiled.as_ref().err().map(String::as_str)
    }

    /// Refuses `arguments` that the schema refuses, naming each offending argument by its JSON
    /// pointer and the rule it breaks, e.g. `/query: longer than 500 characters`.
    pub(crate) fn check(&self, tool: &str, arguments: &Value) -> Result<(), ToolError> {
        let validator = match &self.compiled {
            Ok(validator) => validator,
            Err(err) => {
                tracing::error!(tool, error = %err, "a tool's input schema does not compile");
                return Err(ToolError::Failed(format!(
                    "the tool {tool} is unavailable: its input schema is invalid"
                )));
            }
        };
        let mut problems: Vec<String> = Vec::new();
        let mut more = 0usize;
        for error in validator.iter_errors(arguments) {
            if problems.len() < MAX_LISTED {
                problems.push(describe(&error));
            } else {
                more += 1;
            }
        }
        if problems.is_empty() {
            return Ok(());
        }
        let mut message = problems.join("; ");
        if more > 0 {
            message.push_str(&format!("; and {more} more"));
        }
        Err(ToolError::InvalidArguments(message))
    }
}

/// One problem as `<pointer>: <rule>`. The offending value itself is never quoted: it may be
/// long, or a secret pasted into the wrong argument.
fn describe(error: &ValidationError<'_>) -> String {
    let path = error.instance_path().to_string();
    let at = |path: &str| {
        if path.is_empty() {
            "arguments".to_string()
        } else {
            path.to_string()
        }
    };
    let plural = |n: u64, one: &str, many: &str| {
        if n == 1 {
            format!("{n} {one}")
        } else {
            format!("{n} {many}")
        }
    };
    let rule = match error.kind() {
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().unwrap_or_default();
            return format!("{path}/{name}: required");
        }
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            return unexpected
                .iter()
                .map(|name| format!("{path}/{name}: not an argument of this tool"))
                .collect::<Vec<_>>()
                .join("; ");
        }
        ValidationErrorKind::MaxLength { limit } => {
            format!("longer than {}", plural(*limit, "character", "characters"))
        }
        ValidationErrorKind::MinLength { limit } => {
            format!("shorter than {}", plural(*limit, "character", "characters"))
        }
        ValidationErrorKind::MaxItems { limit } => {
            format!("more than {}", plural(*limit, "item", "items"))
        }
        ValidationErrorKind::MinItems { limit } => {
            format!("fewer than {}", plural(*limit, "item", "items"))
        }
        ValidationErrorKind::Maximum { limit } => format!("greater than the maximum of {limit}"),
        ValidationErrorKind::Minimum { limit } => format!("less than the minimum of {limit}"),
        ValidationErrorKind::Enum { options } => format!("not one of {options}"),
        ValidationErrorKind::Pattern { pattern } => match tools::pattern_meaning(pattern) {
            Some(meaning) => meaning.to_string(),
            None => format!("does not match {pattern:?}"),
        },
        ValidationErrorKind::Type {
            kind: TypeKind::Single(kind),
        } => format!("not of type \"{kind}\""),
        // Anything else: the validator's own wording, with the value masked.
        _ => error.masked_with("the value").to_string(),
    };
    format!("{}: {rule}", at(&path))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn refusal(schema: &Value, arguments: Value) -> String {
        match InputSchema::compile(schema).check("t", &arguments) {
            Err(ToolError::InvalidArguments(message)) => message,
            other => panic!("{arguments}: {other:?}"),
        }
    }

    #[test]
    fn refusals_name_the_argument_and_the_rule_without_the_value() {
        let schema = json!({"type": "object", "properties": {
            "q": {"type": "string", "maxLength": 3},
            "n": {"type": "integer", "minimum": 1, "maximum": 9},
            "list": {"type": "array", "maxItems": 1, "items": {"type": "string", "enum": ["a", "b"]}}
        }, "required": ["q"], "additionalProperties": false});
        assert_eq!(
            refusal(&schema, json!({"q": "secret"})),
            "/q: longer than 3 characters"
        );
        assert_eq!(
            refusal(&schema, json!({"q": "a", "n": 10})),
            "/n: greater than the maximum of 9"
        );
        assert_eq!(
            refusal(&schema, json!({"q": "a", "list": ["c"]})),
            "/list/0: not one of [\"a\",\"b\"]"
        );
        assert_eq!(refusal(&schema, json!({})), "/q: required");
        assert_eq!(
            refusal(&schema, json!({"q": "a", "x": 1})),
            "/x: not an argument of this tool"
        );
        assert_eq!(
            refusal(&schema, json!(["a"])),
            "arguments: not of type \"object\""
        );
        let many = refusal(
            &schema,
            json!({"q": "long", "n": 0, "list": ["c", "d"], "x": 1, "y": 2, "z": 3}),
        );
        assert!(many.ends_with("more"), "{many}");
        assert!(!many.contains("long\""), "values are not quoted: {many}");
        assert!(
            InputSchema::compile(&schema)
                .check("t", &json!({"q": "abc", "n": 9, "list": ["b"]}))
                .is_ok()
        );
    }

    #[test]
    fn a_schema_that_does_not_compile_refuses_every_call() {
        let broken =
            InputSchema::compile(&json!({"type": "object", "properties": {"q": {"pattern": "("}}}));
        assert!(broken.compile_error().is_some());
        assert!(matches!(
            broken.check("t", &json!({})),
            Err(ToolError::Failed(_))
        ));
    }
}
