//! Analysis over a table's records, done here so the model gets facts rather than raw rows:
//! analyze_table, find_duplicates, export_csv.

use std::collections::{BTreeMap, HashMap};

use accounts::Scope;
use airtable::{ListParams, Record};
use serde::Deserialize;
use serde_json::{Value, json};

use super::records::read_records;
use super::shapes::{base_id, clamp, field_names, max_records, name, table, target};
use crate::output::{ToolOutput, bound_list, bound_text};
use crate::registry::{Tool, ToolContext, ToolError, arguments};
use crate::spec::{Annotations, ToolSpec};

const DEFAULT_SCAN: u64 = 1_000;
const MAX_SCAN: u64 = 5_000;
/// Distinct values listed per field.
const TOP_VALUES: usize = 10;

pub(crate) fn tools() -> Vec<Tool> {
    vec![
        Tool::new(
            ToolSpec {
                name: "analyze_table",
                title: "Analyze a table",
                description: "Profiles a table's records: how many there are, and per field how often it is empty, how many distinct values it has with the most common ones, and for numbers the min, max, mean and sum. Use it to answer questions about totals, distributions and data quality without reading every record.",
                input_schema: json!({"type": "object", "properties": {
                    "base_id": base_id(), "table": table(),
                    "fields": field_names("Profile only these fields (default: all)."),
                    "filter_formula": {"type": "string", "maxLength": 10000, "description": "Profile only records for which this Airtable formula is truthy."},
                    "max_records": max_records(DEFAULT_SCAN, MAX_SCAN)
                }, "required": ["base_id", "table"], "additionalProperties": false}),
                output_schema: json!({"type": "object", "properties": {
                    "record_count": {"type": "integer"},
                    "complete": {"type": "boolean", "description": "false when max_records stopped the scan"},
                    "fields": {"type": "array", "items": {"type": "object", "properties": {
                        "name": {"type": "string"},
                        "empty": {"type": "integer"},
                        "empty_rate": {"type": "number"},
                        "distinct": {"type": "integer"},
                        "top_values": {"type": "array"},
                        "numeric": {"type": "object"}
                    }}}
                }, "required": ["record_count", "complete", "fields"]}),
                annotations: Annotations::READ,
                scope: Scope::RecordsRead,
            },
            |context, args| Box::pin(analyze_table(context, args)),
        ),
        Tool::new(
            ToolSpec {
                name: "find_duplicates",
                title: "Find duplicate records",
                description: "Finds groups of records that share the same values in the given fields, comparing text case-insensitively and ignoring surrounding spaces (e.g. fields [\"Email\"] finds contacts entered twice). Returns each group's shared values and record ids.",
                input_schema: json!({"type": "object", "properties": {
                    "base_id": base_id(), "table": table(),
                    "fields": {"type": "array", "minItems": 1, "maxItems": 5, "items": name(), "description": "The fields whose values together identify a duplicate."},
                    "max_records": max_records(DEFAULT_SCAN, MAX_SCAN)
                }, "required": ["base_id", "table", "fields"], "additionalProperties": false}),
                output_schema: json!({"type": "object", "properties": {
                    "groups": {"type": "array", "items": {"type": "object", "properties": {
                        "values": {"type": "object"},
                        "record_ids": {"type": "array", "items": {"type": "string"}}
                    }}},
                    "count": {"type": "integer"},
                    "scanned": {"type": "integer"}
                }, "required": ["groups", "count", "scanned"]}),
                annotations: Annotations::READ,
                scope: Scope::RecordsRead,
            },
            |context, args| Box::pin(find_duplicates(context, args)),
        ),
        Tool::new(
            ToolSpec {
                name: "export_csv",
                title: "Export as CSV",
                description: "Exports records as CSV text (RFC 4180; a header row of field names, then one row per record with its id first). Bounded in size: a cut export says how many rows it kept. Use it when the user asks for a spreadsheet or an export.",
                input_schema: json!({"type": "object", "properties": {
                    "base_id": base_id(), "table": table(),
                    "fields": field_names("Columns, in order (default: every field found)."),
                    "filter_formula": {"type": "string", "maxLength": 10000},
                    "view": {"type": "string", "minLength": 1, "maxLength": super::shapes::MAX_NAME_LEN},
                    "max_records": max_records(DEFAULT_SCAN, MAX_SCAN)
                }, "required": ["base_id", "table"], "additionalProperties": false}),
                output_schema: json!({"type": "object", "properties": {
                    "csv": {"type": "string"},
                    "rows": {"type": "integer"},
                    "columns": {"type": "array", "items": {"type": "string"}},
                    "truncated": {"type": "boolean"}
                }, "required": ["csv", "rows", "columns"]}),
                annotations: Annotations::READ,
                scope: Scope::RecordsRead,
            },
            |context, args| Box::pin(export_csv(context, args)),
        ),
    ]
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AnalyzeArgs {
    base_id: String,
    table: String,
    #[serde(default)]
    fields: Vec<String>,
    #[serde(default)]
    filter_formula: Option<String>,
    #[serde(default)]
    max_records: Option<u64>,
}

/// A value's text for counting distinct values: strings as they are, everything else as JSON.
fn value_key(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn is_empty(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.trim().is_empty(),
        Some(Value::Array(items)) => items.is_empty(),
        Some(Value::Bool(b)) => !b,
        _ => false,
    }
}

/// Every field name seen in the records, in first-seen order.
fn field_order(records: &[Record]) -> Vec<String> {
    let mut seen = Vec::new();
    for record in records {
        for name in record.fields.keys() {
            if !seen.contains(name) {
                seen.push(name.clone());
            }
        }
    }
    seen
}

fn profile(records: &[Record], field: &str) -> Value {
    let total = records.len();
    let mut empty = 0usize;
    let mut counts: HashMap<String, usize> = HashMap::new();
    let mut numbers: Vec<f64> = Vec::new();
    for record in records {
        let value = record.fields.get(field);
        if is_empty(value) {
            empty += 1;
            continue;
        }
        if let Some(value) = value {
            if let Some(n) = value.as_f64() {
                numbers.push(n);
            }
            *counts.entry(value_key(value)).or_insert(0) += 1;
        }
    }
    let mut top: Vec<(String, usize)> = counts.iter().map(|(k, v)| (k.clone(), *v)).collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    top.truncate(TOP_VALUES);
    let mut profile = json!({
        "name": field,
        "empty": empty,
        "empty_rate": if total == 0 { 0.0 } else { empty as f64 / total as f64 },
        "distinct": counts.len(),
        "top_values": top.iter().map(|(value, count)| json!({"value": value, "count": count})).collect::<Vec<_>>()
    });
    if !numbers.is_empty() {
        let sum: f64 = numbers.iter().sum();
        let min = numbers.iter().copied().fold(f64::INFINITY, f64::min);
        let max = numbers.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        profile["numeric"] = json!({
            "count": numbers.len(), "min": min, "max": max, "sum": sum,
            "mean": sum / numbers.len() as f64
        });
    }
    profile
}

async fn analyze_table(context: ToolContext, args: Value) -> Result<ToolOutput, ToolError> {
    let args: AnalyzeArgs = arguments(args)?;
    let (base, table) = target(&args.base_id, &args.table)?;
    let limit = clamp(args.max_records, DEFAULT_SCAN, MAX_SCAN);
    let mut params = ListParams::new()
        .fields(args.fields.clone())
        .max_records(limit);
    if let Some(filter) = args.filter_formula.filter(|f| !f.trim().is_empty()) {
        params = params.filter(filter);
    }
    let records = read_records(&context, &base, &table, params).await?;
    let fields = if args.fields.is_empty() {
        field_order(&records)
    } else {
        args.fields
    };
    let profiles: Vec<Value> = fields.iter().map(|f| profile(&records, f)).collect();
    let complete = (records.len() as u64) < limit;
    let summary = format!(
        "profiled {} fields over {} records of {}{}",
        profiles.len(),
        records.len(),
        args.table,
        if complete {
            ""
        } else {
            " (stopped at max_records)"
        }
    );
    let output = ToolOutput::new(
        json!({"record_count": records.len(), "complete": complete, "fields": profiles}),
        summary,
    );
    Ok(bound_list(output, "fields", context.max_output_bytes))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DuplicatesArgs {
    base_id: String,
    table: String,
    fields: Vec<String>,
    #[serde(default)]
    max_records: Option<u64>,
}

/// A value as compared for duplicates: trimmed and lower-cased text; other values as JSON.
fn normalized(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.trim().to_lowercase(),
        Some(other) => other.to_string(),
    }
}

async fn find_duplicates(context: ToolContext, args: Value) -> Result<ToolOutput, ToolError> {
    let args: DuplicatesArgs = arguments(args)?;
    let (base, table) = target(&args.base_id, &args.table)?;
    let limit = clamp(args.max_records, DEFAULT_SCAN, MAX_SCAN);
    let params = ListParams::new()
        .fields(args.fields.clone())
        .max_records(limit);
    let records = read_records(&context, &base, &table, params).await?;
    let mut groups: BTreeMap<Vec<String>, Vec<&Record>> = BTreeMap::new();
    for record in &records {
        let key: Vec<String> = args
            .fields
            .iter()
            .map(|f| normalized(record.fields.get(f)))
            .collect();
        // Records empty in every compared field are not duplicates of each other.
        if key.iter().all(String::is_empty) {
            continue;
        }
        groups.entry(key).or_default().push(record);
    }
    let duplicates: Vec<Value> = groups
        .values()
        .filter(|members| members.len() > 1)
        .map(|members| {
            let first = members[0];
            let values: serde_json::Map<String, Value> = args
                .fields
                .iter()
                .map(|f| (f.clone(), first.fields.get(f).cloned().unwrap_or(Value::Null)))
                .collect();
            json!({"values": values, "record_ids": members.iter().map(|r| r.id.clone()).collect::<Vec<_>>()})
        })
        .collect();
    let count = duplicates.len();
    let summary = format!(
        "{count} groups of duplicates on {} among {} records of {}",
        args.fields.join(", "),
        records.len(),
        args.table
    );
    let output = ToolOutput::new(
        json!({"groups": duplicates, "count": count, "scanned": records.len()}),
        summary,
    );
    Ok(bound_list(output, "groups", context.max_output_bytes))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportArgs {
    base_id: String,
    table: String,
    #[serde(default)]
    fields: Vec<String>,
    #[serde(default)]
    filter_formula: Option<String>,
    #[serde(default)]
    view: Option<String>,
    #[serde(default)]
    max_records: Option<u64>,
}

/// One CSV cell (RFC 4180). Text that a spreadsheet would run as a formula (starting with `=`,
/// `+`, `-` or `@`) is prefixed with `'`, the usual guard against CSV injection; numbers are
/// written as numbers.
fn csv_cell(value: Option<&Value>) -> String {
    let text = match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => {
            if s.starts_with(['=', '+', '-', '@']) {
                format!("'{s}")
            } else {
                s.clone()
            }
        }
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(s) => s.clone(),
                Value::Object(o) => o
                    .get("name")
                    .or_else(|| o.get("url"))
                    .or_else(|| o.get("id"))
                    .map(value_key)
                    .unwrap_or_else(|| item.to_string()),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join(", "),
        Some(other) => value_key(other),
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

async fn export_csv(context: ToolContext, args: Value) -> Result<ToolOutput, ToolError> {
    let args: ExportArgs = arguments(args)?;
    let (base, table) = target(&args.base_id, &args.table)?;
    let limit = clamp(args.max_records, DEFAULT_SCAN, MAX_SCAN);
    let mut params = ListParams::new()
        .fields(args.fields.clone())
        .max_records(limit);
    if let Some(filter) = args.filter_formula.filter(|f| !f.trim().is_empty()) {
        params = params.filter(filter);
    }
    if let Some(view) = args.view {
        params = params.view(view);
    }
    let records = read_records(&context, &base, &table, params).await?;
    let columns = if args.fields.is_empty() {
        field_order(&records)
    } else {
        args.fields
    };
    let mut csv = String::new();
    let header: Vec<String> = std::iter::once("id".to_string())
        .chain(
            columns
                .iter()
                .map(|c| csv_cell(Some(&Value::String(c.clone())))),
        )
        .collect();
    csv.push_str(&header.join(","));
    csv.push_str("\r\n");
    for record in &records {
        let row: Vec<String> = std::iter::once(record.id.clone())
            .chain(columns.iter().map(|c| csv_cell(record.fields.get(c))))
            .collect();
        csv.push_str(&row.join(","));
        csv.push_str("\r\n");
    }
    let summary = format!("{} rows of {} as CSV", records.len(), args.table);
    let output = ToolOutput::new(
        json!({"csv": csv, "rows": records.len(), "columns": columns}),
        summary,
    );
    Ok(bound_text(output, "csv", context.max_output_bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_and_guarded() {
        assert_eq!(csv_cell(Some(&json!("plain"))), "plain");
        assert_eq!(csv_cell(Some(&json!("a, \"b\""))), "\"a, \"\"b\"\"\"");
        assert_eq!(csv_cell(Some(&json!("=HYPERLINK(1)"))), "'=HYPERLINK(1)");
        assert_eq!(csv_cell(Some(&json!(-5))), "-5");
        assert_eq!(csv_cell(Some(&json!(["a", "b"]))), "\"a, b\"");
        assert_eq!(csv_cell(None), "");
        assert_eq!(csv_cell(Some(&json!("line\nbreak"))), "\"line\nbreak\"");
    }

    #[test]
    fn duplicates_compare_trimmed_lowercase_text() {
        assert_eq!(
            normalized(Some(&json!("  Ada@Example.com "))),
            "ada@example.com"
        );
        assert_eq!(normalized(Some(&json!(3))), "3");
        assert_eq!(normalized(None), "");
    }
}
