//! The tools, by what they touch.

mod analysis;
mod records;
mod schema;
mod shapes;

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
    fn names_are_unique_snake_case_and_schemas_are_objects() {
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
