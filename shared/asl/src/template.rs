//! Payload templates: the JSON of Parameters, ResultSelector and ItemSelector, where a key
//! ending in `.$` takes its value from a path (`$.x`, `$$.Execution.Id`) or an intrinsic call,
//! and drops the suffix. Compiled when the definition loads, so a bad path is a load error
//! naming its field, not a surprise half-way through an execution.

use serde_json::{Map, Value};

use crate::error::StatesError;
use crate::intrinsics::Call;
use crate::path::Path;

#[derive(Debug, Clone, PartialEq)]
pub enum Template {
    Literal(Value),
    Path { key: String, path: Path },
    Call(Call),
    Object(Vec<(String, Template)>),
    Array(Vec<Template>),
}

impl Template {
    /// Compiles a payload template; the error names the offending key.
    pub fn compile(value: &Value) -> Result<Template, String> {
        match value {
            Value::Object(map) => {
                let mut fields = Vec::with_capacity(map.len());
                for (key, value) in map {
                    if let Some(name) = key.strip_suffix(".$") {
                        let Value::String(text) = value else {
                            return Err(format!(
                                "'{key}' must be a string (a path or an intrinsic function)"
                            ));
                        };
                        let template = if text.starts_with('$') {
                            Template::Path {
                                key: key.clone(),
                                path: Path::parse_query(text)
                                    .map_err(|e| format!("'{key}': {e}"))?,
                            }
                        } else if text.starts_with("States.") {
                            Template::Call(Call::parse(text).map_err(|e| format!("'{key}': {e}"))?)
                        } else {
                            return Err(format!(
                                "'{key}' is neither a path ('$...') nor an intrinsic function ('States....')"
                            ));
                        };
                        fields.push((name.to_string(), template));
                    } else {
                        fields.push((key.clone(), Template::compile(value)?));
                    }
                }
                Ok(Template::Object(fields))
            }
            Value::Array(items) => Ok(Template::Array(
                items
                    .iter()
                    .map(Template::compile)
                    .collect::<Result<_, _>>()?,
            )),
            other => Ok(Template::Literal(other.clone())),
        }
    }

    pub fn render(&self, data: &Value, context: &Value) -> Result<Value, StatesError> {
        match self {
            Template::Literal(value) => Ok(value.clone()),
            Template::Path { key, path } => path.query(data, context).ok_or_else(|| {
                StatesError::runtime(format!(
                    "The JSONPath '{path}' specified for the field '{key}' could not be found in the input '{data}'"
                ))
            }),
            Template::Call(call) => call.evaluate(data, context),
            Template::Object(fields) => {
                let mut out = Map::with_capacity(fields.len());
                for (key, template) in fields {
                    out.insert(key.clone(), template.render(data, context)?);
                }
                Ok(Value::Object(out))
            }
            Template::Array(items) => Ok(Value::Array(
                items
                    .iter()
                    .map(|item| item.render(data, context))
                    .collect::<Result<_, _>>()?,
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn aws_parameters_example() {
        // From "Manipulate parameters in Step Functions workflows".
        let template = Template::compile(&json!({
            "comment": "Selecting what I care about.",
            "MyDetails": {
                "size.$": "$.product.details.size",
                "exists.$": "$.product.availability",
                "StaticValue": "foo"
            }
        }))
        .unwrap();
        let input = json!({
            "comment": "Example for Parameters.",
            "product": {
                "details": {"color": "blue", "size": "small", "material": "cotton"},
                "availability": "in stock",
                "sku": "2317",
                "cost": "$23"
            }
        });
        assert_eq!(
            template.render(&input, &json!({})).unwrap(),
            json!({
                "comment": "Selecting what I care about.",
                "MyDetails": {"size": "small", "exists": "in stock", "StaticValue": "foo"}
            })
        );
    }

    #[test]
    fn context_paths_intrinsics_and_arrays() {
        let template = Template::compile(&json!({
            "id.$": "$$.Execution.Id",
            "list": [{"v.$": "$.v"}, 1],
            "joined.$": "States.Format('{}-{}', $.v, $$.State.Name)"
        }))
        .unwrap();
        let out = template
            .render(
                &json!({"v": "x"}),
                &json!({"Execution": {"Id": "e1"}, "State": {"Name": "S"}}),
            )
            .unwrap();
        assert_eq!(
            out,
            json!({"id": "e1", "list": [{"v": "x"}, 1], "joined": "x-S"})
        );
    }

    #[test]
    fn missing_path_is_a_runtime_error_and_bad_keys_are_refused() {
        let template = Template::compile(&json!({"a.$": "$.nope"})).unwrap();
        assert_eq!(
            template.render(&json!({}), &json!({})).unwrap_err().error,
            "States.Runtime"
        );
        assert!(Template::compile(&json!({"a.$": 5})).is_err());
        assert!(Template::compile(&json!({"a.$": "plain"})).is_err());
        assert!(Template::compile(&json!({"a.$": "$.x[?(@.a && @.b)]"})).is_err());
    }
}
