//! Cell values per field type: validating and typecasting what clients write, and producing what
//! reads return. The rules follow Airtable's field model (reference/airtable-docs/field-model.md):
//! strict JSON types without `typecast`, best-effort conversion with it, and empty values
//! (`""`, `[]`, `false`, `null`) never stored.

use super::formulas;
use crate::errors::{ApiError, ApiResult};
use crate::ids;
use crate::model::{Base, Field, Record, Table};
use crate::seed::is_empty;
use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, TimeZone, Utc};
use serde_json::{Map, Value, json};

/// Timestamps as Airtable writes them: UTC with milliseconds.
pub fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The value a read returns for one field of a record, or `None` when it is empty.
pub fn read_value(
    table: &Table,
    record: &Record,
    field: &Field,
    now: DateTime<Utc>,
) -> Option<Value> {
    match field.field_type.as_str() {
        "createdTime" => Some(json!(iso(record.created_time))),
        "lastModifiedTime" => Some(json!(iso(record.modified()))),
        "formula" => {
            formulas::formula_field_value(table, record, field, now).filter(|v| !is_empty(v))
        }
        _ => record
            .fields
            .get(&field.id)
            .filter(|v| !is_empty(v))
            .cloned(),
    }
}

/// A select option that a typecast write asked for and that does not exist yet.
#[derive(Debug, Clone, PartialEq)]
pub struct NewChoice {
    pub field_id: String,
    pub name: String,
}

/// Everything a conversion needs to know besides the value itself.
pub struct WriteCtx<'a> {
    pub base: &'a Base,
    pub typecast: bool,
    /// The cell's current value, so attachments can be kept by `{id}`.
    pub previous: Option<&'a Value>,
    pub new_choices: &'a mut Vec<NewChoice>,
}

/// Converts a written value into the stored one (`None` clears the cell).
pub fn convert(field: &Field, value: &Value, ctx: &mut WriteCtx<'_>) -> ApiResult<Option<Value>> {
    if field.is_computed() {
        return Err(ApiError::computed_field(&field.name));
    }
    if value.is_null() {
        return Ok(None);
    }
    let converted = match field.field_type.as_str() {
        "singleLineText" | "multilineText" | "richText" | "email" | "url" | "phoneNumber" => {
            text(field, value, ctx.typecast)?
        }
        "number" | "currency" | "percent" | "duration" => number(field, value, ctx.typecast)?,
        "rating" => rating(field, value, ctx.typecast)?,
        "checkbox" => checkbox(field, value, ctx.typecast)?,
        "singleSelect" => single_select(field, value, ctx)?,
        "multipleSelects" => multiple_selects(field, value, ctx)?,
        "date" => date(field, value, ctx.typecast)?,
        "dateTime" => date_time(field, value, ctx.typecast)?,
        "multipleRecordLinks" => links(field, value, ctx)?,
        "multipleAttachments" => attachments(field, value, ctx)?,
        _ => value.clone(),
    };
    Ok(Some(converted).filter(|v| !is_empty(v)))
}

fn text(field: &Field, value: &Value, typecast: bool) -> ApiResult<Value> {
    match value {
        Value::String(_) => Ok(value.clone()),
        Value::Number(n) if typecast => Ok(json!(n.to_string())),
        Value::Bool(b) if typecast => Ok(json!(b.to_string())),
        Value::Array(items) if typecast => Ok(json!(
            items.iter().map(display).collect::<Vec<_>>().join(", ")
        )),
        _ => Err(ApiError::invalid_value(&field.name)),
    }
}

fn display(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn parse_number(s: &str) -> Option<f64> {
    let cleaned: String = s
        .trim()
        .chars()
        .filter(|c| !matches!(c, ',' | '$' | '€' | '£' | ' '))
        .collect();
    if let Some(pct) = cleaned.strip_suffix('%') {
        return pct.parse::<f64>().ok().map(|n| n / 100.0);
    }
    cleaned.parse::<f64>().ok().filter(|n| n.is_finite())
}

fn number_json(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        // Whole numbers come back as JSON integers, as Airtable returns them.
        #[allow(clippy::cast_possible_truncation)]
        let i = n as i64;
        json!(i)
    } else {
        json!(n)
    }
}

fn number(field: &Field, value: &Value, typecast: bool) -> ApiResult<Value> {
    match value {
        Value::Number(_) => Ok(value.clone()),
        Value::String(s) if typecast => {
            if s.trim().is_empty() {
                return Ok(Value::Null);
            }
            parse_number(s)
                .map(number_json)
                .ok_or_else(|| ApiError::cannot_parse(s, &field.name))
        }
        Value::Bool(b) if typecast => Ok(json!(i64::from(*b))),
        _ => Err(ApiError::invalid_value(&field.name)),
    }
}

fn rating(field: &Field, value: &Value, typecast: bool) -> ApiResult<Value> {
    let max = field
        .options
        .as_ref()
        .and_then(|o| o.get("max"))
        .and_then(Value::as_u64)
        .unwrap_or(5);
    let n = match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) if typecast => parse_number(s),
        _ => None,
    }
    .ok_or_else(|| ApiError::invalid_value(&field.name))?;
    if n == 0.0 {
        return Ok(Value::Null);
    }
    #[allow(clippy::cast_precision_loss)]
    let in_range = n.fract() == 0.0 && n >= 1.0 && n <= max as f64;
    if !in_range {
        return Err(ApiError::invalid_value(&field.name));
    }
    Ok(number_json(n))
}

fn checkbox(field: &Field, value: &Value, typecast: bool) -> ApiResult<Value> {
    match value {
        Value::Bool(_) => Ok(value.clone()),
        Value::String(s) if typecast => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "checked" | "yes" | "y" | "1" | "x" | "on" | "enabled" => Ok(json!(true)),
            "false" | "unchecked" | "no" | "n" | "0" | "" | "off" | "disabled" => Ok(json!(false)),
            _ => Err(ApiError::cannot_parse(s, &field.name)),
        },
        Value::String(s) => Err(ApiError::cannot_parse(s, &field.name)),
        Value::Number(n) if typecast => Ok(json!(n.as_f64().is_some_and(|x| x != 0.0))),
        _ => Err(ApiError::invalid_value(&field.name)),
    }
}

fn choice_error(name: &str) -> ApiError {
    ApiError::unprocessable(
        "INVALID_MULTIPLE_CHOICE_OPTIONS",
        format!("Insufficient permissions to create new select option \"\"{name}\"\""),
    )
}

/// Resolves one choice name, registering a new choice under typecast.
fn resolve_choice(field: &Field, name: &str, ctx: &mut WriteCtx<'_>) -> ApiResult<String> {
    let choices = field.choices();
    if let Some((_, existing)) = choices.iter().find(|(id, n)| n == name || id == name) {
        return Ok(existing.clone());
    }
    if !ctx.typecast {
        return Err(choice_error(name));
    }
    if let Some((_, existing)) = choices
        .iter()
        .find(|(_, n)| n.eq_ignore_ascii_case(name.trim()))
    {
        return Ok(existing.clone());
    }
    let name = name.trim().to_string();
    let pending = NewChoice {
        field_id: field.id.clone(),
        name: name.clone(),
    };
    if !ctx.new_choices.contains(&pending) {
        ctx.new_choices.push(pending);
    }
    Ok(name)
}

fn single_select(field: &Field, value: &Value, ctx: &mut WriteCtx<'_>) -> ApiResult<Value> {
    let name = match value {
        Value::String(s) if s.is_empty() => return Ok(Value::Null),
        Value::String(s) => s.clone(),
        Value::Number(_) | Value::Bool(_) if ctx.typecast => display(value),
        _ => return Err(ApiError::invalid_value(&field.name)),
    };
    Ok(json!(resolve_choice(field, &name, ctx)?))
}

fn multiple_selects(field: &Field, value: &Value, ctx: &mut WriteCtx<'_>) -> ApiResult<Value> {
    let names: Vec<String> = match value {
        Value::Array(items) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                Value::Number(_) if ctx.typecast => Ok(display(v)),
                _ => Err(ApiError::invalid_value(&field.name)),
            })
            .collect::<ApiResult<_>>()?,
        Value::String(s) if ctx.typecast => s
            .split(',')
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect(),
        _ => return Err(ApiError::invalid_value(&field.name)),
    };
    let mut out: Vec<String> = Vec::new();
    for name in names {
        let resolved = resolve_choice(field, &name, ctx)?;
        if !out.contains(&resolved) {
            out.push(resolved);
        }
    }
    Ok(json!(out))
}

const DATE_FORMATS: &[&str] = &[
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%m/%d/%Y",
    "%d.%m.%Y",
    "%B %d, %Y",
    "%b %d, %Y",
    "%d %B %Y",
];
const DATETIME_FORMATS: &[&str] = &[
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %I:%M%p",
    "%m/%d/%Y %I:%M %p",
];

/// Parses an instant; inputs without a zone are read as UTC (the sandbox has no time zones).
fn parse_instant(s: &str, typecast: bool) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    let formats: &[&str] = if typecast {
        DATETIME_FORMATS
    } else {
        &DATETIME_FORMATS[..3]
    };
    for f in formats {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Some(Utc.from_utc_datetime(&t));
        }
    }
    let date_formats: &[&str] = if typecast {
        DATE_FORMATS
    } else {
        &DATE_FORMATS[..1]
    };
    for f in date_formats {
        if let Ok(d) = NaiveDate::parse_from_str(s, f) {
            return d.and_hms_opt(0, 0, 0).map(|t| Utc.from_utc_datetime(&t));
        }
    }
    None
}

/// Reads a date or dateTime cell: a string, empty for "clear"; with typecast, looser formats.
/// Returns `None` for an empty string.
fn instant_cell(field: &Field, value: &Value, typecast: bool) -> ApiResult<Option<DateTime<Utc>>> {
    let Value::String(s) = value else {
        return Err(ApiError::invalid_value(&field.name));
    };
    if s.is_empty() {
        return Ok(None);
    }
    parse_instant(s, typecast).map(Some).ok_or_else(|| {
        if typecast {
            ApiError::cannot_parse(s, &field.name)
        } else {
            ApiError::invalid_value(&field.name)
        }
    })
}

fn date(field: &Field, value: &Value, typecast: bool) -> ApiResult<Value> {
    Ok(instant_cell(field, value, typecast)?
        .map_or(Value::Null, |t| json!(t.format("%Y-%m-%d").to_string())))
}

fn date_time(field: &Field, value: &Value, typecast: bool) -> ApiResult<Value> {
    Ok(instant_cell(field, value, typecast)?.map_or(Value::Null, |t| json!(iso(t))))
}

fn links(field: &Field, value: &Value, ctx: &mut WriteCtx<'_>) -> ApiResult<Value> {
    let linked = field
        .option_str("linkedTableId")
        .and_then(|id| ctx.base.table(id));
    let items: Vec<Value> = match value {
        Value::Array(items) => items.clone(),
        Value::String(_) if ctx.typecast => vec![value.clone()],
        _ => return Err(ApiError::invalid_value(&field.name)),
    };
    let mut out: Vec<String> = Vec::new();
    for item in items {
        let given = match &item {
            Value::String(s) => s.clone(),
            Value::Object(o) => match o.get("id").and_then(Value::as_str) {
                Some(id) => id.to_string(),
                None => return Err(ApiError::invalid_value(&field.name)),
            },
            _ => return Err(ApiError::invalid_value(&field.name)),
        };
        let id = match linked {
            Some(table) if table.record(&given).is_some() => given,
            // Typecast matches a linked record by its primary field's value.
            Some(table) if ctx.typecast && !ids::is_id("rec", &given) => {
                let primary = table
                    .primary_field()
                    .map(|f| f.id.clone())
                    .unwrap_or_default();
                table
                    .records
                    .iter()
                    .find(|r| {
                        r.fields.get(&primary).and_then(Value::as_str) == Some(given.as_str())
                    })
                    .map(|r| r.id.clone())
                    .ok_or_else(|| ApiError::cannot_parse(&given, &field.name))?
            }
            Some(_) => return Err(ApiError::row_does_not_exist(&given)),
            None if ids::is_id("rec", &given) => given,
            None => return Err(ApiError::invalid_value(&field.name)),
        };
        if !out.contains(&id) {
            out.push(id);
        }
    }
    Ok(json!(out))
}

fn mime_for(filename: &str) -> &'static str {
    let ext = filename
        .rsplit('.')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "pdf" => "application/pdf",
        "txt" => "text/plain",
        "csv" => "text/csv",
        "json" => "application/json",
        _ => "application/octet-stream",
    }
}

fn attachments(field: &Field, value: &Value, ctx: &mut WriteCtx<'_>) -> ApiResult<Value> {
    let items: Vec<Value> = match value {
        Value::Array(items) => items.clone(),
        Value::String(s) if ctx.typecast => {
            s.split(',').map(|u| json!({"url": u.trim()})).collect()
        }
        _ => return Err(ApiError::invalid_value(&field.name)),
    };
    let existing: Vec<Value> = ctx
        .previous
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut out = Vec::new();
    for item in items {
        let Value::Object(obj) = item else {
            return Err(ApiError::invalid_value(&field.name));
        };
        if let Some(id) = obj.get("id").and_then(Value::as_str)
            && let Some(kept) = existing
                .iter()
                .find(|a| a.get("id").and_then(Value::as_str) == Some(id))
        {
            out.push(kept.clone());
            continue;
        }
        let Some(url) = obj
            .get("url")
            .and_then(Value::as_str)
            .filter(|u| !u.is_empty())
        else {
            return Err(ApiError::invalid_value(&field.name));
        };
        let filename = obj
            .get("filename")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| {
                url.rsplit('/')
                    .next()
                    .unwrap_or(url)
                    .split('?')
                    .next()
                    .unwrap_or("")
                    .to_string()
            });
        let mut att = Map::new();
        att.insert("id".into(), json!(ids::new_id("att")));
        att.insert("url".into(), json!(url));
        att.insert("filename".into(), json!(filename));
        att.insert("size".into(), json!(0));
        att.insert("type".into(), json!(mime_for(&filename)));
        out.push(Value::Object(att));
    }
    Ok(Value::Array(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_parsing() {
        assert_eq!(parse_number("$1,200.50"), Some(1200.5));
        assert_eq!(parse_number("50%"), Some(0.5));
        assert_eq!(parse_number("abc"), None);
    }

    #[test]
    fn instants() {
        assert_eq!(
            iso(parse_instant("2024-05-01", false).unwrap()),
            "2024-05-01T00:00:00.000Z"
        );
        assert_eq!(
            iso(parse_instant("2024-05-01T10:00:00+02:00", false).unwrap()),
            "2024-05-01T08:00:00.000Z"
        );
        assert!(parse_instant("05/01/2024", false).is_none());
        assert!(parse_instant("05/01/2024", true).is_some());
    }
}
