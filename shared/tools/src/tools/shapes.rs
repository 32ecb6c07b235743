//! Schema fragments and argument types the tools share.

use airtable::{Record, SortDirection};
use serde::Deserialize;
use serde_json::{Value, json};

pub(crate) fn base_id() -> Value {
    json!({"type": "string", "pattern": "^app[A-Za-z0-9]{3,61}$", "description": "The base id (app…), from list_bases."})
}

pub(crate) fn table() -> Value {
    json!({"type": "string", "minLength": 1, "maxLength": 255, "description": "The table's id (tbl…) or exact name, from list_tables."})
}

pub(crate) fn field_names(what: &str) -> Value {
    json!({"type": "array", "items": {"type": "string", "minLength": 1}, "maxItems": 100, "description": what})
}

pub(crate) fn max_records(default: u64, max: u64) -> Value {
    json!({"type": "integer", "minimum": 1, "maximum": max, "default": default, "description": format!("The most records to read (default {default}, at most {max}).")})
}

/// `{id, createdTime, fields}` as tools return records.
pub(crate) fn record_schema() -> Value {
    json!({"type": "object", "properties": {
        "id": {"type": "string"},
        "createdTime": {"type": "string"},
        "fields": {"type": "object"}
    }, "required": ["id", "fields"]})
}

/// The output of the tools that return records.
pub(crate) fn records_output() -> Value {
    json!({"type": "object", "properties": {
        "records": {"type": "array", "items": record_schema()},
        "count": {"type": "integer"},
        "truncated": {"type": "boolean"},
        "returned": {"type": "integer"},
        "note": {"type": "string"}
    }, "required": ["records", "count"]})
}

pub(crate) fn record_json(record: &Record) -> Value {
    json!({
        "id": record.id,
        // Airtable's own timestamp form: milliseconds and `Z`.
        "createdTime": record.created_time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "fields": record.fields
    })
}

/// A sort key as tools accept it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SortArg {
    pub field: String,
    #[serde(default)]
    pub direction: Direction,
}

#[derive(Debug, Default, Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Direction {
    #[default]
    Asc,
    Desc,
}

impl From<Direction> for SortDirection {
    fn from(direction: Direction) -> Self {
        match direction {
            Direction::Asc => SortDirection::Asc,
            Direction::Desc => SortDirection::Desc,
        }
    }
}

pub(crate) fn sort_schema() -> Value {
    json!({"type": "array", "maxItems": 10, "items": {"type": "object", "properties": {
        "field": {"type": "string", "minLength": 1},
        "direction": {"type": "string", "enum": ["asc", "desc"], "default": "asc"}
    }, "required": ["field"], "additionalProperties": false}, "description": "Sort keys, most significant first."})
}

/// Bounds a requested record count.
pub(crate) fn clamp(requested: Option<u64>, default: u64, max: u64) -> u64 {
    requested.unwrap_or(default).clamp(1, max)
}
