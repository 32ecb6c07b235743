//! Reading records: list pages with stateful, expiring offsets, and get one record.
//!
//! The first page snapshots the ordered ids that match; later pages walk that snapshot (skipping
//! records deleted meanwhile) and render current values. An offset not used within the TTL, or
//! unknown to this process, yields 422 `LIST_RECORDS_ITERATOR_NOT_AVAILABLE`, like Airtable after
//! inactivity or a restart.

use super::cells::{self, iso};
use super::formulas::{self, Filter};
use super::query::ListParams;
use crate::errors::{ApiError, ApiResult};
use crate::ids;
use crate::model::{Field, Record, SortSpec, Table};
use crate::state::Data;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use std::cmp::Ordering;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Airtable's maximum (and default) page size.
pub const MAX_PAGE_SIZE: usize = 100;

/// The rest of a listing, waiting for its next `offset`.
#[derive(Debug, Clone)]
pub struct ListIterator {
    pub table_id: String,
    pub ids: VecDeque<String>,
    pub last_used: Instant,
}

/// Which fields a response includes and how it keys them.
pub struct Projection<'a> {
    pub by_id: bool,
    pub only: Option<Vec<&'a Field>>,
    pub string_format: bool,
}

impl Projection<'_> {
    pub fn all(by_id: bool) -> Projection<'static> {
        Projection {
            by_id,
            only: None,
            string_format: false,
        }
    }
}

/// `{id, createdTime, fields}` with empty values left out.
pub fn render(
    table: &Table,
    record: &Record,
    projection: &Projection<'_>,
    now: DateTime<Utc>,
) -> Value {
    let mut fields = Map::new();
    let selected: Vec<&Field> = match &projection.only {
        Some(only) => only.clone(),
        None => table.fields.iter().collect(),
    };
    for field in selected {
        if let Some(value) = cells::read_value(table, record, field, now) {
            let key = if projection.by_id {
                field.id.clone()
            } else {
                field.name.clone()
            };
            let value = if projection.string_format {
                Value::String(display(&value))
            } else {
                value
            };
            fields.insert(key, value);
        }
    }
    json!({ "id": record.id, "createdTime": iso(record.created_time), "fields": fields })
}

/// `cellFormat=string`: values as text, lists joined with ", ".
fn display(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(display).collect::<Vec<_>>().join(", "),
        Value::Object(o) => match (
            o.get("filename").and_then(Value::as_str),
            o.get("url").and_then(Value::as_str),
        ) {
            (Some(f), Some(u)) => format!("{f} ({u})"),
            _ => value.to_string(),
        },
        other => other.to_string(),
    }
}

/// Resolves `fields[]` to fields; unknown names are a 422 `UNKNOWN_FIELD_NAME`.
pub fn projection<'a>(
    table: &'a Table,
    fields: Option<&[String]>,
    by_id: bool,
) -> ApiResult<Projection<'a>> {
    let only = match fields {
        None => None,
        Some(names) => Some(
            names
                .iter()
                .map(|n| table.field(n).ok_or_else(|| ApiError::unknown_field(n)))
                .collect::<ApiResult<Vec<_>>>()?,
        ),
    };
    Ok(Projection {
        by_id,
        only,
        string_format: false,
    })
}

pub fn list(
    data: &mut Data,
    base_id: &str,
    table_name: &str,
    params: &ListParams,
    ttl: Duration,
) -> ApiResult<Value> {
    let now_i = Instant::now();
    let now = Utc::now();
    data.iterators
        .retain(|_, it| now_i.duration_since(it.last_used) < ttl);
    let base = data
        .snap
        .bases
        .iter()
        .find(|b| b.id == base_id)
        .ok_or_else(ApiError::model_not_found)?;
    let table = base
        .table(table_name)
        .ok_or_else(ApiError::model_not_found)?;
    let page_size = params.page_size.unwrap_or(MAX_PAGE_SIZE);
    if page_size == 0 || page_size > MAX_PAGE_SIZE || params.max_records == Some(0) {
        return Err(ApiError::invalid_request());
    }
    let mut proj = projection(
        table,
        params.fields.as_deref(),
        params.return_fields_by_field_id,
    )?;
    match params.cell_format.as_deref() {
        None | Some("json") => {}
        Some("string") if params.time_zone.is_some() && params.user_locale.is_some() => {
            proj.string_format = true
        }
        Some(_) => return Err(ApiError::invalid_request()),
    }
    let mut ids: VecDeque<String> = match &params.offset {
        Some(offset) => {
            let it = data
                .iterators
                .remove(offset)
                .ok_or_else(ApiError::iterator_not_available)?;
            if it.table_id != table.id {
                return Err(ApiError::iterator_not_available());
            }
            it.ids
        }
        None => matching_ids(table, params, now)?,
    };
    let mut records = Vec::new();
    while records.len() < page_size {
        let Some(id) = ids.pop_front() else { break };
        if let Some(record) = table.record(&id) {
            let mut rendered = render(table, record, &proj, now);
            if params.comment_count
                && let Some(obj) = rendered.as_object_mut()
            {
                obj.insert("commentCount".into(), json!(0));
            }
            records.push(rendered);
        }
    }
    // Deleted records at the head of the rest do not deserve another page.
    while ids.front().is_some_and(|id| table.record(id).is_none()) {
        ids.pop_front();
    }
    let mut body = json!({ "records": records });
    if let Some(next) = ids.front() {
        let offset = format!("{}/{}", ids::new_id("itr"), next);
        let table_id = table.id.clone();
        data.iterators.insert(
            offset.clone(),
            ListIterator {
                table_id,
                ids,
                last_used: now_i,
            },
        );
        body["offset"] = json!(offset);
    }
    Ok(body)
}

/// The ordered ids a fresh listing returns: view filter, formula filter, order, `maxRecords`.
fn matching_ids(
    table: &Table,
    params: &ListParams,
    now: DateTime<Utc>,
) -> ApiResult<VecDeque<String>> {
    let view = match &params.view {
        Some(name) => Some(table.view(name).ok_or_else(|| {
            ApiError::unprocessable(
                "VIEW_NAME_NOT_FOUND",
                format!("Could not find view \"{name}\""),
            )
        })?),
        None => None,
    };
    let mut filters: Vec<Filter> = Vec::new();
    if let Some(text) = view.and_then(|v| v.filter_by_formula.as_deref()) {
        filters.push(formulas::compile_filter(text, table)?);
    }
    if let Some(text) = params
        .filter_by_formula
        .as_deref()
        .filter(|t| !t.trim().is_empty())
    {
        filters.push(formulas::compile_filter(text, table)?);
    }
    for s in &params.sort {
        if table.field(&s.field).is_none() {
            return Err(ApiError::unknown_field(&s.field));
        }
        if s.direction != "asc" && s.direction != "desc" {
            return Err(ApiError::invalid_request());
        }
    }
    let sort: &[SortSpec] = if params.sort.is_empty() {
        view.map(|v| v.sort.as_slice()).unwrap_or(&[])
    } else {
        &params.sort
    };
    let mut kept: Vec<&Record> = table
        .records
        .iter()
        .filter(|r| filters.iter().all(|f| f.keeps(table, r, now)))
        .collect();
    if !sort.is_empty() {
        let keys: Vec<(&Field, bool)> = sort
            .iter()
            .filter_map(|s| table.field(&s.field).map(|f| (f, s.direction == "desc")))
            .collect();
        let mut keyed: Vec<(Vec<Option<Value>>, &Record)> = kept
            .into_iter()
            .map(|r| {
                (
                    keys.iter()
                        .map(|(f, _)| cells::read_value(table, r, f, now))
                        .collect(),
                    r,
                )
            })
            .collect();
        keyed.sort_by(|(a, _), (b, _)| {
            for (i, (_, desc)) in keys.iter().enumerate() {
                let o = compare(a[i].as_ref(), b[i].as_ref());
                let o = if *desc { o.reverse() } else { o };
                if o != Ordering::Equal {
                    return o;
                }
            }
            Ordering::Equal
        });
        kept = keyed.into_iter().map(|(_, r)| r).collect();
    }
    let limit = params.max_records.unwrap_or(usize::MAX);
    Ok(kept.into_iter().take(limit).map(|r| r.id.clone()).collect())
}

/// Orders cell values: empty first, numbers numerically, text case-insensitively.
fn compare(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(Value::Number(x)), Some(Value::Number(y))) => x
            .as_f64()
            .unwrap_or(0.0)
            .partial_cmp(&y.as_f64().unwrap_or(0.0))
            .unwrap_or(Ordering::Equal),
        (Some(x), Some(y)) => {
            let (x, y) = (display(x), display(y));
            x.to_lowercase()
                .cmp(&y.to_lowercase())
                .then_with(|| x.cmp(&y))
        }
    }
}

/// `GET …/{recordId}`.
pub fn get(
    data: &Data,
    base_id: &str,
    table_name: &str,
    record_id: &str,
    by_id: bool,
) -> ApiResult<Value> {
    let base = data
        .snap
        .bases
        .iter()
        .find(|b| b.id == base_id)
        .ok_or_else(ApiError::model_not_found)?;
    let table = base
        .table(table_name)
        .ok_or_else(ApiError::model_not_found)?;
    let record = table.record(record_id).ok_or_else(ApiError::not_found)?;
    Ok(render(table, record, &Projection::all(by_id), Utc::now()))
}
