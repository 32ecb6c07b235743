//! Each saga type's input as a JSON Schema: shown by `GET /v1/sagas/types`, and enforced at
//! start, so an input the schema refuses never reaches a state machine. A refusal names each
//! problem by its JSON pointer (`/operations/3/op`) and the rule it breaks.

use std::sync::LazyLock;

use airtable::{BaseId, RecordId};
use jsonschema::error::ValidationErrorKind;
use jsonschema::{Draft, ValidationError, Validator};
use serde_json::{Value, json};

use crate::error::{MAX_OPERATIONS, Problem};
use crate::model::SagaType;

/// At most this many problems are reported for one input: enough to fix it, and a hostile
/// input cannot make a huge answer.
const MAX_PROBLEMS: usize = 20;

/// What `GET /v1/sagas/types` says of a type.
pub fn description(saga_type: SagaType) -> &'static str {
    match saga_type {
        SagaType::Transaction => {
            "Record operations (create, update, upsert, delete) across the tables of one base, applied in order in chunks of at most 10; on a failure or a cancel every applied chunk is undone, last first, from before-images captured just before it."
        }
        SagaType::TableSync => {
            "Compares a source and a target table by a key field. A dry run (the default) reports the creates, updates and deletes; otherwise they are applied to the target in chunks, and undone if any chunk fails."
        }
        SagaType::ConnectBase => {
            "Validates access to a base, snapshots its schema, registers the record-change webhook automations use, and records the connection; undone if any step fails."
        }
    }
}

fn table_name() -> Value {
    json!({"type": "string", "minLength": 1, "maxLength": 255, "description": "A table's name or id."})
}

fn fields_object() -> Value {
    json!({"type": "object", "description": "Cell values by field name, as Airtable's API takes them."})
}

/// The input schema of a type.
pub fn input_schema(saga_type: SagaType) -> Value {
    match saga_type {
        SagaType::Transaction => transaction_schema(),
        SagaType::TableSync => table_sync_schema(),
        SagaType::ConnectBase => json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["base"],
            "properties": {
                "base": {"type": "string", "pattern": BaseId::PATTERN},
                "tables": {
                    "type": "array",
                    "description": "The tables to watch and snapshot; all of the base's when absent. Airtable allows 10 webhooks per base.",
                    "minItems": 1,
                    "maxItems": crate::steps::connect_base::MAX_WEBHOOK_TABLES,
                    "uniqueItems": true,
                    "items": table_name()
                }
            }
        }),
    }
}

fn transaction_schema() -> Value {
    let forbidden = json!(false);
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["base", "operations"],
        "properties": {
            "base": {"type": "string", "pattern": BaseId::PATTERN},
            "typecast": {"type": "boolean"},
            "operations": {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_OPERATIONS,
                "items": {"$ref": "#/$defs/operation"}
            }
        },
        "$defs": {
            "operation": {
                "type": "object",
                "additionalProperties": false,
                "required": ["op", "table"],
                "properties": {
                    "op": {"enum": ["create", "update", "upsert", "delete"]},
                    "table": table_name(),
                    "id": {"type": "string", "pattern": RecordId::PATTERN},
                    "fields": fields_object(),
                    "merge_on": {
                        "type": "array", "minItems": 1, "maxItems": 3, "uniqueItems": true,
                        "items": {"type": "string", "minLength": 1}
                    }
                },
                "allOf": [
                    {"if": {"properties": {"op": {"const": "create"}}},
                     "then": {"required": ["fields"], "properties": {"id": forbidden, "merge_on": forbidden}}},
                    {"if": {"properties": {"op": {"const": "update"}}},
                     "then": {"required": ["id", "fields"], "properties": {"merge_on": forbidden}}},
                    {"if": {"properties": {"op": {"const": "upsert"}}},
                     "then": {"required": ["merge_on", "fields"], "properties": {"id": forbidden}}},
                    {"if": {"properties": {"op": {"const": "delete"}}},
                     "then": {"required": ["id"], "properties": {"fields": forbidden, "merge_on": forbidden}}}
                ]
            }
        }
    })
}

fn table_sync_schema() -> Value {
    let side = json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["base", "table"],
        "properties": {"base": {"type": "string", "pattern": BaseId::PATTERN}, "table": table_name()}
    });
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["source", "target", "key_field"],
        "properties": {
            "source": side,
            "target": side,
            "key_field": {"type": "string", "minLength": 1},
            "fields": {
                "type": "array", "minItems": 1, "uniqueItems": true,
                "items": {"type": "string", "minLength": 1}
            },
            "dry_run": {"type": "boolean", "default": true},
            "delete_missing": {"type": "boolean", "default": false}
        }
    })
}

fn compile(saga_type: SagaType) -> Result<Validator, String> {
    jsonschema::options()
        .with_draft(Draft::Draft202012)
        .build(&input_schema(saga_type))
        .map_err(|err| err.to_string())
}

static VALIDATORS: LazyLock<[(SagaType, Result<Validator, String>); 3]> =
    LazyLock::new(|| SagaType::ALL.map(|saga_type| (saga_type, compile(saga_type))));

/// Checks an input against its type's schema: every problem with its path, or nothing.
pub fn check(saga_type: SagaType, input: &Value) -> Vec<Problem> {
    let Some((_, compiled)) = VALIDATORS.iter().find(|(t, _)| *t == saga_type) else {
        return vec![Problem::new("", "no schema for this saga type")];
    };
    let validator = match compiled {
        Ok(validator) => validator,
        Err(err) => {
            tracing::error!(saga_type = %saga_type, error = %err, "a saga input schema does not compile");
            return vec![Problem::new("", "this saga type's schema is unavailable")];
        }
    };
    validator
        .iter_errors(input)
        .take(MAX_PROBLEMS)
        .flat_map(|error| describe(&error))
        .collect()
}

/// A validation error as problems at JSON pointers. The offending value is never quoted: it
/// may be long, or a secret pasted into the wrong field.
fn describe(error: &ValidationError<'_>) -> Vec<Problem> {
    let path = error.instance_path().to_string();
    let message = match error.kind() {
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().unwrap_or_default();
            return vec![Problem::new(format!("{path}/{name}"), "required")];
        }
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            return unexpected
                .iter()
                .map(|name| Problem::new(format!("{path}/{name}"), "not a known field"))
                .collect();
        }
        ValidationErrorKind::FalseSchema => "not allowed for this operation".to_string(),
        ValidationErrorKind::Enum { options } => format!("not one of {options}"),
        ValidationErrorKind::Pattern { pattern } => format!("does not match {pattern}"),
        ValidationErrorKind::MinItems { limit } => format!("needs at least {limit} item(s)"),
        ValidationErrorKind::MaxItems { limit } => format!("holds at most {limit} item(s)"),
        ValidationErrorKind::MinLength { limit } => format!("shorter than {limit} character(s)"),
        ValidationErrorKind::MaxLength { limit } => format!("longer than {limit} characters"),
        ValidationErrorKind::UniqueItems => "names an item twice".to_string(),
        _ => error.masked_with("the value").to_string(),
    };
    vec![Problem::new(path, message)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_schema_compiles() {
        for saga_type in SagaType::ALL {
            assert!(compile(saga_type).is_ok(), "{saga_type}");
        }
    }

    #[test]
    fn problems_carry_the_path_of_the_offending_value() {
        let input = json!({"base": "appAAAAAAAAAAAAAA", "operations": [
            {"op": "create", "table": "T", "fields": {}},
            {"op": "update", "table": "T", "id": "recAAAAAAAAAAAAAA", "fields": {}},
            {"op": "delete", "table": "T", "id": "recAAAAAAAAAAAAAA"},
            {"op": "explode", "table": "T"},
            {"op": "create", "table": "T", "fields": {}, "id": "recAAAAAAAAAAAAAA"},
            {"op": "upsert", "table": "T", "fields": {}}
        ]});
        let problems = check(SagaType::Transaction, &input);
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert!(paths.contains(&"/operations/3/op"), "{problems:?}");
        assert!(paths.contains(&"/operations/4/id"), "{problems:?}");
        assert!(paths.contains(&"/operations/5/merge_on"), "{problems:?}");
        assert!(
            !paths.iter().any(|p| p.starts_with("/operations/0")),
            "{problems:?}"
        );
        let sync = json!({"source": {"base": "nope", "table": "A"}, "target": {"base": "appAAAAAAAAAAAAAA", "table": "B"}});
        let problems = check(SagaType::TableSync, &sync);
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert!(paths.contains(&"/source/base"), "{problems:?}");
        assert!(paths.contains(&"/key_field"), "{problems:?}");
    }
}
