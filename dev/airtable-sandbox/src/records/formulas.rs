//! The one place that talks to the formula engine (`crate::formula`): filters, view filters and
//! formula fields. Keeping it in one file isolates the sandbox from the engine's evolution.

use crate::errors::{ApiError, ApiResult};
use crate::formula::{self, Formula, FormulaValue, RecordContext};
use crate::model::{Field, Record, Table};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

/// Formula fields may reference formula fields; this bounds accidental cycles.
const MAX_DEPTH: usize = 8;

/// A compiled `filterByFormula` (or view filter).
pub struct Filter(Formula);

/// Parses a filter and checks its field references, so a typo is a 422 rather than an empty list.
pub fn compile_filter(text: &str, table: &Table) -> ApiResult<Filter> {
    let parsed = formula::parse(text).map_err(|e| ApiError::invalid_filter(&e.message))?;
    let unknown: Vec<String> = parsed
        .referenced_fields()
        .into_iter()
        .filter(|name| table.field(name).is_none())
        .collect();
    if !unknown.is_empty() {
        return Err(ApiError::invalid_filter(&format!(
            "Unknown field names: {}",
            unknown.join(", ")
        )));
    }
    Ok(Filter(parsed))
}

impl Filter {
    /// Whether the record stays in the result.
    pub fn keeps(&self, table: &Table, record: &Record, now: DateTime<Utc>) -> bool {
        let ctx = Ctx {
            table,
            record,
            now,
            depth: 0,
        };
        self.0.evaluate(&ctx).is_truthy()
    }
}

/// The value of a formula field for a record, as the API returns it (`None` when empty).
pub fn formula_field_value(
    table: &Table,
    record: &Record,
    field: &Field,
    now: DateTime<Utc>,
) -> Option<Value> {
    evaluate_field(table, record, field, now, 0).to_json()
}

/// Checks a formula given for a new formula field; returns the ids of the fields it references.
pub fn validate_field_formula(text: &str, table: &Table) -> Result<Vec<String>, String> {
    let parsed = formula::parse(text).map_err(|e| e.message)?;
    parsed
        .referenced_fields()
        .into_iter()
        .map(|name| {
            table
                .field(&name)
                .map(|f| f.id.clone())
                .ok_or_else(|| format!("Unknown field names: {name}"))
        })
        .collect()
}

fn evaluate_field(
    table: &Table,
    record: &Record,
    field: &Field,
    now: DateTime<Utc>,
    depth: usize,
) -> FormulaValue {
    if depth >= MAX_DEPTH {
        return FormulaValue::error();
    }
    let Some(text) = field.option_str("formula") else {
        return FormulaValue::error();
    };
    match formula::parse(text) {
        Ok(parsed) => parsed.evaluate(&Ctx {
            table,
            record,
            now,
            depth: depth + 1,
        }),
        Err(_) => FormulaValue::error(),
    }
}

/// A record as the formula engine sees it.
struct Ctx<'a> {
    table: &'a Table,
    record: &'a Record,
    now: DateTime<Utc>,
    depth: usize,
}

impl RecordContext for Ctx<'_> {
    fn field(&self, name_or_id: &str) -> Option<FormulaValue> {
        let field = self.table.field(name_or_id)?;
        Some(match field.field_type.as_str() {
            "formula" => evaluate_field(self.table, self.record, field, self.now, self.depth),
            "createdTime" => FormulaValue::from_cell(
                "createdTime",
                Some(&json!(super::cells::iso(self.record.created_time))),
            ),
            "lastModifiedTime" => FormulaValue::from_cell(
                "lastModifiedTime",
                Some(&json!(super::cells::iso(self.record.modified()))),
            ),
            other => FormulaValue::from_cell(other, self.record.fields.get(&field.id)),
        })
    }

    fn record_id(&self) -> String {
        self.record.id.clone()
    }

    fn created_time(&self) -> DateTime<Utc> {
        self.record.created_time
    }

    fn last_modified_time(&self) -> DateTime<Utc> {
        self.record.modified()
    }

    fn now(&self) -> DateTime<Utc> {
        self.now
    }
}
