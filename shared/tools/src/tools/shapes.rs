//! Schema fragments and argument types the tools share.

use airtable::{BaseId, InvalidPath, Record, RecordId, SortDirection, TableRef};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::registry::ToolError;

/// The longest field, view or table name an argument may hold (Airtable's own are shorter).
pub(crate) const MAX_NAME_LEN: usize = 255;
/// The longest description an argument may hold (Airtable's limit for table and field
/// descriptions).
pub(crate) const MAX_DESCRIPTION_LEN: usize = 20_000;

/// What [`BaseId::parse`] accepts, stated for clients and models.
pub(crate) fn base_id() -> Value {
    json!({"type": "string", "pattern": BaseId::PATTERN, "description": "The base id (app…), from list_bases."})
}

/// What [`TableRef::parse`] accepts, stated as far as a schema can (`.` and `..` are refused
/// by the parser alone).
pub(crate) fn table() -> Value {
    json!({"type": "string", "minLength": 1, "maxLength": airtable::ids::MAX_TABLE_LEN, "pattern": TableRef::PATTERN, "description": "The table's id (tbl…) or exact name, from list_tables."})
}

/// What [`RecordId::parse`] accepts.
pub(crate) fn record_id() -> Value {
    json!({"type": "string", "pattern": RecordId::PATTERN, "description": "A record id (rec…)."})
}

/// A field, view or table name.
pub(crate) fn name() -> Value {
    json!({"type": "string", "minLength": 1, "maxLength": MAX_NAME_LEN})
}

pub(crate) fn description() -> Value {
    json!({"type": "string", "maxLength": MAX_DESCRIPTION_LEN})
}

pub(crate) fn field_names(what: &str) -> Value {
    json!({"type": "array", "items": name(), "maxItems": 100, "description": what})
}

/// What each id pattern means, for refusals a person or model can act on.
pub(crate) fn pattern_meaning(pattern: &str) -> Option<&'static str> {
    [
        (
            BaseId::PATTERN,
            "not a base id (app followed by 1 to 61 letters and digits)",
        ),
        (
            RecordId::PATTERN,
            "not a record id (rec followed by 1 to 61 letters and digits)",
        ),
        (
            TableRef::PATTERN,
            "not a table id or name (blank, or holds control characters)",
        ),
    ]
    .into_iter()
    .find(|(known, _)| *known == pattern)
    .map(|(_, meaning)| meaning)
}

/// Parses an argument with one of the client's id types, naming the argument when it is
/// refused. The schema has checked the form already; this is the same rule the client and the
/// gateway apply, and the only way to get a value the client will send.
pub(crate) fn parse_arg<T>(
    pointer: &str,
    raw: &str,
    parse: fn(&str) -> Result<T, InvalidPath>,
) -> Result<T, ToolError> {
    parse(raw).map_err(|err| ToolError::InvalidArguments(format!("{pointer}: {err}")))
}

/// The `base_id` and `table` arguments, parsed.
pub(crate) fn target(base_id: &str, table: &str) -> Result<(BaseId, TableRef), ToolError> {
    Ok((
        parse_arg("/base_id", base_id, BaseId::parse)?,
        parse_arg("/table", table, TableRef::parse)?,
    ))
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
        "field": name(),
        "direction": {"type": "string", "enum": ["asc", "desc"], "default": "asc"}
    }, "required": ["field"], "additionalProperties": false}, "description": "Sort keys, most significant first."})
}

/// Bounds a requested record count.
pub(crate) fn clamp(requested: Option<u64>, default: u64, max: u64) -> u64 {
    requested.unwrap_or(default).clamp(1, max)
}
