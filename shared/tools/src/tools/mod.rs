//! The tools, by what they touch.

mod analysis;
mod records;
mod schema;
mod shapes;

pub(crate) use shapes::pattern_meaning;

use crate::registry::Tool;

/// Every tool, in the order clients list them: discovery first, then reads, writes, analysis.
pub(crate) fn all() -> Vec<Tool> {
    let mut tools = schema::read_tools();
    tools.extend(records::read_tools());
    tools.extend(analysis::tools());
    tools.extend(records::write_tools());
    tools.extend(schema::write_tools());
    tools
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn names_are_unique_snake_case_and_schemas_are_objects_that_compile() {
        let tools = all();
        let mut names = HashSet::new();
        for tool in &tools {
            let spec = &tool.spec;
            assert!(names.insert(spec.name), "{} twice", spec.name);
            assert!(
                spec.name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{}",
                spec.name
            );
            assert!(
                spec.description.len() > 40,
                "{} needs a real description",
                spec.name
            );
            assert_eq!(spec.input_schema["type"], "object", "{}", spec.name);
            assert_eq!(spec.output_schema["type"], "object", "{}", spec.name);
            assert_eq!(
                spec.input_schema["additionalProperties"], false,
                "{}",
                spec.name
            );
            if let Some(required) = spec.input_schema["required"].as_array() {
                for name in required {
                    let name = name.as_str().unwrap_or_default();
                    assert!(
                        spec.input_schema["properties"].get(name).is_some(),
                        "{}: required {name} is not a property",
                        spec.name
                    );
                }
            }
        }
        for tool in &tools {
            assert_eq!(
                tool.input.compile_error(),
                None,
                "{}'s input schema must compile",
                tool.spec.name
            );
        }
        for wanted in [
            "list_bases",
            "list_tables",
            "describe_table",
            "list_records",
            "search_records",
            "get_record",
            "create_records",
            "update_records",
            "upsert_records",
            "delete_records",
            "create_table",
            "update_table",
            "create_field",
            "update_field",
            "analyze_table",
            "find_duplicates",
            "export_csv",
        ] {
            assert!(names.contains(wanted), "missing {wanted}");
        }
    }
}

#[cfg(test)]
mod schema_limits {
    use serde_json::Value;

    use super::*;

    /// Every string argument has a length limit and every array an item limit, so that no
    /// argument is unbounded (`options` and record `fields` are objects Airtable checks).
    fn bounded(tool: &str, pointer: &str, schema: &Value) {
        match schema["type"].as_str() {
            Some("string") if schema.get("enum").is_none() && schema.get("pattern").is_none() => {
                assert!(
                    schema.get("maxLength").is_some(),
                    "{tool}{pointer}: maxLength"
                );
            }
            Some("array") => {
                assert!(
                    schema.get("maxItems").is_some(),
                    "{tool}{pointer}: maxItems"
                );
                bounded(tool, &format!("{pointer}/items"), &schema["items"]);
            }
            Some("object") => {
                if let Some(properties) = schema["properties"].as_object() {
                    for (name, property) in properties {
                        bounded(tool, &format!("{pointer}/{name}"), property);
                    }
                }
            }
            _ => {}
        }
    }

    #[test]
    fn every_string_and_array_argument_is_bounded() {
        for tool in all() {
            bounded(tool.spec.name, "", &tool.spec.input_schema);
        }
    }
}
