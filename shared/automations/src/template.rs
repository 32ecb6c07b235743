//! Step values are templates: `"Onboard {{ trigger.fields.Name }}"`,
//! `"{{ steps.find.output.records[0].id }}"`. The engine is minijinja (Jinja2's syntax, a
//! well-kept crate by the author of Jinja2), run sandboxed:
//!
//! - no loader is configured, so `include`/`import`/`extends` cannot read a file, and the
//!   engine has no function that reaches the environment or the network;
//! - every render runs on [`FUEL`] units of fuel, so a template cannot loop for ever, and its
//!   output is capped at [`MAX_OUTPUT_BYTES`];
//! - nothing is HTML-escaped (values go to JSON and Airtable, not to a browser).
//!
//! A string that is exactly one expression (`"{{ steps.find.output.records }}"`) renders to the
//! expression's JSON value (a number stays a number, a list a list); any other string renders
//! to a string. Missing values are lenient in a chain (`trigger.fields.Notes` when Airtable
//! omitted the empty cell renders as empty, or `null` as a whole value), because Airtable omits
//! empty cells and a workflow should not fail on them.
//!
//! The context is `{"trigger", "input", "steps": {"<id>": {"output"}}, "run", "now"}`.
//! [`airtable_string`] is a filter that quotes a value as an Airtable formula string literal,
//! for templated `filter` formulas: `{Email} = {{ trigger.fields.Email | airtable_string }}`.

use std::sync::OnceLock;

use minijinja::{Environment, UndefinedBehavior, Value as TemplateValue};
use serde_json::Value;

/// The work one render may do (minijinja's instruction fuel).
pub const FUEL: u64 = 100_000;
/// The longest rendered string.
pub const MAX_OUTPUT_BYTES: usize = 256 * 1024;

fn environment() -> &'static Environment<'static> {
    static ENVIRONMENT: OnceLock<Environment<'static>> = OnceLock::new();
    ENVIRONMENT.get_or_init(|| {
        let mut env = Environment::new();
        env.set_fuel(Some(FUEL));
        env.set_undefined_behavior(UndefinedBehavior::Chainable);
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        env.add_filter("airtable_string", airtable_string);
        env
    })
}

/// Quotes a value as an Airtable formula string literal (escaping quotes and backslashes), so
/// a templated value cannot change a formula's meaning.
pub fn airtable_string(value: TemplateValue) -> String {
    let text = match value.as_str() {
        Some(text) => text.to_string(),
        None if value.is_undefined() || value.is_none() => String::new(),
        None => value.to_string(),
    };
    airtable::formula::string(&text).into_string()
}

/// Whether `source` uses template syntax at all.
pub fn is_template(source: &str) -> bool {
    source.contains("{{") || source.contains("{%") || source.contains("{#")
}

/// The expression of a string that is exactly `{{ expr }}`, if it is one.
fn sole_expression(source: &str) -> Option<&str> {
    let inner = source.trim().strip_prefix("{{")?.strip_suffix("}}")?.trim();
    let inner = inner.strip_prefix('-').unwrap_or(inner);
    let inner = inner.strip_suffix('-').unwrap_or(inner).trim();
    let nested = ["{{", "}}", "{%", "%}", "{#", "#}"]
        .iter()
        .any(|marker| inner.contains(marker));
    (!inner.is_empty() && !nested).then_some(inner)
}

/// Checks that a template compiles, with the engine's message (line and cause) otherwise.
pub fn check(source: &str) -> Result<(), String> {
    if !is_template(source) {
        return Ok(());
    }
    let env = environment();
    match sole_expression(source) {
        Some(expression) => env.compile_expression(expression).map(|_| ()),
        None => env.template_from_str(source).map(|_| ()),
    }
    .map_err(|err| describe(&err))
}

/// Checks every string in a JSON value (the values of objects, never their keys).
pub fn check_value(value: &Value) -> Result<(), String> {
    match value {
        Value::String(source) => check(source),
        Value::Array(items) => items.iter().try_for_each(check_value),
        Value::Object(map) => map.values().try_for_each(check_value),
        _ => Ok(()),
    }
}

/// Renders a template to a string.
pub fn render_str(source: &str, context: &Value) -> Result<String, String> {
    if !is_template(source) {
        return Ok(source.to_string());
    }
    let rendered = environment()
        .render_str(
            source,
            TemplateValue::from(minijinja::value::Serde(context)),
        )
        .map_err(|err| describe(&err))?;
    if rendered.len() > MAX_OUTPUT_BYTES {
        return Err(format!(
            "the template renders to more than {MAX_OUTPUT_BYTES} bytes"
        ));
    }
    Ok(rendered)
}

/// Renders every string in a JSON value. A string that is exactly one `{{ expression }}` becomes
/// the expression's value (`null` when it is undefined); other strings render to strings.
pub fn render_value(value: &Value, context: &Value) -> Result<Value, String> {
    match value {
        Value::String(source) => match sole_expression(source) {
            Some(expression) => evaluate(expression, context),
            None => render_str(source, context).map(Value::String),
        },
        Value::Array(items) => items
            .iter()
            .map(|item| render_value(item, context))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        Value::Object(map) => map
            .iter()
            .map(|(key, item)| Ok((key.clone(), render_value(item, context)?)))
            .collect::<Result<serde_json::Map<_, _>, String>>()
            .map(Value::Object),
        other => Ok(other.clone()),
    }
}

fn evaluate(expression: &str, context: &Value) -> Result<Value, String> {
    let compiled = environment()
        .compile_expression(expression)
        .map_err(|err| describe(&err))?;
    let value = compiled
        .eval(TemplateValue::from(minijinja::value::Serde(context)))
        .map_err(|err| describe(&err))?;
    if value.is_undefined() || value.is_none() {
        return Ok(Value::Null);
    }
    let json = serde_json::to_value(&value).map_err(|err| err.to_string())?;
    if json.to_string().len() > MAX_OUTPUT_BYTES {
        return Err(format!(
            "the expression's value is larger than {MAX_OUTPUT_BYTES} bytes"
        ));
    }
    Ok(json)
}

/// The engine's error as one line: its kind and detail, and the line when it has one.
fn describe(err: &minijinja::Error) -> String {
    let mut message = err.to_string();
    if let Some(line) = err.line()
        && !message.contains("line")
    {
        message.push_str(&format!(" (line {line})"));
    }
    message
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn context() -> Value {
        json!({
            "trigger": {"record_id": "recA", "fields": {"Name": "Acme", "Amount": 1200, "Tags": ["a", "b"]}},
            "input": {"note": "hi"},
            "steps": {"find": {"output": {"records": [{"id": "rec1"}, {"id": "rec2"}]}}},
        })
    }

    #[test]
    fn strings_render_and_sole_expressions_keep_their_type() {
        let rendered = render_value(
            &json!({
                "Name": "Onboard {{ trigger.fields.Name }}",
                "Amount": "{{ trigger.fields.Amount * 2 }}",
                "Tags": "{{ trigger.fields.Tags }}",
                "First": "{{ steps.find.output.records[0].id }}",
                "Missing": "{{ trigger.fields.Notes }}",
                "Text": "Notes: {{ trigger.fields.Notes }}.",
                "literal": 5,
                "nested": ["{{ input.note | upper }}"]
            }),
            &context(),
        )
        .expect("renders");
        assert_eq!(
            rendered,
            json!({
                "Name": "Onboard Acme",
                "Amount": 2400,
                "Tags": ["a", "b"],
                "First": "rec1",
                "Missing": null,
                "Text": "Notes: .",
                "literal": 5,
                "nested": ["HI"]
            })
        );
    }

    #[test]
    fn templates_that_do_not_compile_are_reported() {
        assert!(check("Hello {{ name").is_err());
        assert!(check("{% for x in %}{% endfor %}").is_err());
        assert!(check("{{ 1 + }}").is_err());
        assert!(check("plain text, no template").is_ok());
        assert!(check("{{ trigger.fields.Name | upper }}").is_ok());
        assert!(check_value(&json!({"a": ["ok", "{{ broken"]})).is_err());
    }

    #[test]
    fn the_sandbox_reads_no_files_and_stops_runaway_loops() {
        let include = render_str("{% include '/etc/passwd' %}", &json!({}));
        assert!(include.is_err(), "{include:?}");
        let runaway = render_str(
            "{% for a in range(1000) %}{% for b in range(1000) %}x{% endfor %}{% endfor %}",
            &json!({}),
        );
        assert!(runaway.is_err(), "a runaway loop must run out of fuel");
    }

    #[test]
    fn the_airtable_string_filter_quotes_and_escapes() {
        let formula = render_str(
            "{Name} = {{ input.name | airtable_string }}",
            &json!({"input": {"name": "a\" & 1=1 & \""}}),
        )
        .expect("renders");
        assert_eq!(formula, r#"{Name} = "a\" & 1=1 & \"""#);
    }
}
