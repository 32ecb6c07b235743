//! Writing records: create, update (PATCH merges, PUT replaces), upsert and delete.
//!
//! Every write plans first against an immutable view of the base and mutates only when every
//! record in the batch is valid, so a batch is all-or-nothing as on Airtable. Link fields keep
//! their inverse fields in step, and deleted records vanish from every link that named them.

use super::cells::{self, NewChoice, WriteCtx};
use super::list::{Projection, render};
use crate::errors::{ApiError, ApiResult};
use crate::ids;
use crate::model::{Base, Record, Table};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use std::collections::HashSet;

/// Airtable's batch limit for writes and deletes.
pub const MAX_BATCH: usize = 10;

/// What a write changed, for webhook payloads.
#[derive(Debug, Clone, Default)]
pub struct ChangeSet {
    pub table_id: String,
    pub created: Vec<String>,
    /// Updated records with their cells before the change.
    pub changed: Vec<(String, Map<String, Value>)>,
    pub destroyed: Vec<String>,
}

impl ChangeSet {
    pub fn is_empty(&self) -> bool {
        self.created.is_empty() && self.changed.is_empty() && self.destroyed.is_empty()
    }
}

/// Flags shared by every write body.
#[derive(Debug, Clone, Copy, Default)]
struct Flags {
    typecast: bool,
    by_id: bool,
}

fn flags(body: &Map<String, Value>) -> ApiResult<Flags> {
    let get = |k: &str| match body.get(k) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(ApiError::invalid_request()),
    };
    Ok(Flags {
        typecast: get("typecast")?,
        by_id: get("returnFieldsByFieldId")?,
    })
}

fn check_keys(body: &Map<String, Value>, allowed: &[&str]) -> ApiResult<()> {
    match body.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(_) => Err(ApiError::invalid_request()),
        None => Ok(()),
    }
}

fn fields_of(item: &Value) -> ApiResult<&Map<String, Value>> {
    let obj = item.as_object().ok_or_else(ApiError::invalid_request)?;
    match obj.get("fields") {
        Some(Value::Object(f)) => Ok(f),
        Some(_) => Err(ApiError::invalid_request()),
        None => Err(ApiError::missing_field("fields")),
    }
}

fn batch(body: &Map<String, Value>) -> ApiResult<&Vec<Value>> {
    let records = body
        .get("records")
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::missing_field("records"))?;
    if records.is_empty() || records.len() > MAX_BATCH {
        return Err(ApiError::invalid_records(format!(
            "You must provide an array of up to {MAX_BATCH} record objects (got {})",
            records.len()
        )));
    }
    Ok(records)
}

/// A record id with its cells before and after a write, for inverse-link upkeep.
type LinkUpdate = (String, Map<String, Value>, Map<String, Value>);

enum Op {
    Create(Map<String, Value>),
    Update {
        id: String,
        cells: Map<String, Value>,
    },
}

/// Converts written fields into stored cells, starting from `start`.
fn build_cells(
    base: &Base,
    table: &Table,
    fields: &Map<String, Value>,
    typecast: bool,
    start: Map<String, Value>,
    previous: Option<&Map<String, Value>>,
    new_choices: &mut Vec<NewChoice>,
) -> ApiResult<Map<String, Value>> {
    let mut cells = start;
    for (key, value) in fields {
        let field = table
            .field(key)
            .ok_or_else(|| ApiError::unknown_field(key))?;
        let mut ctx = WriteCtx {
            base,
            typecast,
            previous: previous.and_then(|p| p.get(&field.id)),
            new_choices,
        };
        match cells::convert(field, value, &mut ctx)? {
            Some(v) => cells.insert(field.id.clone(), v),
            None => cells.remove(&field.id),
        };
    }
    Ok(cells)
}

/// Cells an update starts from: everything for PATCH; for PUT only what clients cannot write.
fn update_start(table: &Table, record: &Record, replace: bool) -> Map<String, Value> {
    if !replace {
        return record.fields.clone();
    }
    record
        .fields
        .iter()
        .filter(|(id, _)| table.field(id).is_some_and(|f| f.is_computed()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Applies planned operations; returns the affected ids in order plus the change set.
fn apply(
    base: &mut Base,
    table_id: &str,
    ops: Vec<Op>,
    new_choices: Vec<NewChoice>,
    now: DateTime<Utc>,
) -> (Vec<String>, ChangeSet) {
    let mut changes = ChangeSet {
        table_id: table_id.to_string(),
        ..ChangeSet::default()
    };
    let mut link_updates: Vec<LinkUpdate> = Vec::new();
    let mut touched = Vec::new();
    let Some(table) = base.table_by_id_mut(table_id) else {
        return (touched, changes);
    };
    add_choices(table, &new_choices);
    let auto_fields: Vec<String> = table
        .fields
        .iter()
        .filter(|f| f.field_type == "autoNumber")
        .map(|f| f.id.clone())
        .collect();
    for op in ops {
        match op {
            Op::Create(mut cells) => {
                for f in &auto_fields {
                    let next = table
                        .records
                        .iter()
                        .filter_map(|r| r.fields.get(f).and_then(Value::as_u64))
                        .max()
                        .unwrap_or(0)
                        + 1;
                    cells.insert(f.clone(), json!(next));
                }
                let id = ids::new_id("rec");
                link_updates.push((id.clone(), Map::new(), cells.clone()));
                table.records.push(Record {
                    id: id.clone(),
                    created_time: now,
                    last_modified_time: Some(now),
                    fields: cells,
                });
                changes.created.push(id.clone());
                touched.push(id);
            }
            Op::Update { id, cells } => {
                if let Some(record) = table.records.iter_mut().find(|r| r.id == id) {
                    let previous = std::mem::replace(&mut record.fields, cells.clone());
                    record.last_modified_time = Some(now);
                    link_updates.push((id.clone(), previous.clone(), cells));
                    changes.changed.push((id.clone(), previous));
                }
                touched.push(id);
            }
        }
    }
    sync_inverse_links(base, table_id, &link_updates, now);
    (touched, changes)
}

fn add_choices(table: &mut Table, new_choices: &[NewChoice]) {
    for choice in new_choices {
        let Some(field) = table.fields.iter_mut().find(|f| f.id == choice.field_id) else {
            continue;
        };
        let options = field
            .options
            .get_or_insert_with(|| json!({ "choices": [] }));
        if options.get("choices").and_then(Value::as_array).is_none() {
            options["choices"] = json!([]);
        }
        if let Some(list) = options.get_mut("choices").and_then(Value::as_array_mut)
            && !list
                .iter()
                .any(|c| c.get("name").and_then(Value::as_str) == Some(choice.name.as_str()))
        {
            list.push(
                json!({ "id": ids::new_id("sel"), "name": choice.name, "color": "grayLight2" }),
            );
        }
    }
}

fn link_ids(cells: &Map<String, Value>, field_id: &str) -> HashSet<String> {
    cells
        .get(field_id)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Mirrors link changes into the inverse link fields of the linked records.
fn sync_inverse_links(base: &mut Base, table_id: &str, updates: &[LinkUpdate], now: DateTime<Utc>) {
    let Some(table) = base.tables.iter().find(|t| t.id == table_id) else {
        return;
    };
    let links: Vec<(String, String, String)> = table
        .fields
        .iter()
        .filter(|f| f.field_type == "multipleRecordLinks")
        .filter_map(|f| {
            Some((
                f.id.clone(),
                f.option_str("linkedTableId")?.to_string(),
                f.option_str("inverseLinkFieldId")?.to_string(),
            ))
        })
        .collect();
    for (field_id, linked_table, inverse) in links {
        for (record_id, before, after) in updates {
            let (old, new) = (link_ids(before, &field_id), link_ids(after, &field_id));
            let Some(other) = base.table_by_id_mut(&linked_table) else {
                continue;
            };
            for target in other.records.iter_mut() {
                let (was, is) = (old.contains(&target.id), new.contains(&target.id));
                if was == is {
                    continue;
                }
                let mut list: Vec<Value> = target
                    .fields
                    .get(&inverse)
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                list.retain(|v| v.as_str() != Some(record_id.as_str()));
                if is {
                    list.push(json!(record_id));
                }
                if list.is_empty() {
                    target.fields.remove(&inverse);
                } else {
                    target.fields.insert(inverse.clone(), Value::Array(list));
                }
                target.last_modified_time = Some(now);
            }
        }
    }
}

fn table_index(base: &Base, table_name: &str) -> ApiResult<usize> {
    base.table_index(table_name)
        .ok_or_else(ApiError::model_not_found)
}

fn rendered(
    base: &Base,
    table_id: &str,
    ids: &[String],
    by_id: bool,
    now: DateTime<Utc>,
) -> Vec<Value> {
    let Some(table) = base.tables.iter().find(|t| t.id == table_id) else {
        return vec![];
    };
    ids.iter()
        .filter_map(|id| table.record(id))
        .map(|r| render(table, r, &Projection::all(by_id), now))
        .collect()
}

/// `POST …/{table}`: one record (`{fields}`) or a batch (`{records}`).
pub fn create(base: &mut Base, table_name: &str, body: &Value) -> ApiResult<(Value, ChangeSet)> {
    let now = Utc::now();
    let obj = body.as_object().ok_or_else(ApiError::invalid_request)?;
    check_keys(
        obj,
        &["fields", "records", "typecast", "returnFieldsByFieldId"],
    )?;
    let f = flags(obj)?;
    let single = !obj.contains_key("records");
    let items: Vec<&Map<String, Value>> = if single {
        vec![fields_of(body)?]
    } else {
        batch(obj)?
            .iter()
            .map(fields_of)
            .collect::<ApiResult<_>>()?
    };
    let ti = table_index(base, table_name)?;
    let table = &base.tables[ti];
    let mut new_choices = Vec::new();
    let ops = items
        .into_iter()
        .map(|fields| {
            build_cells(
                base,
                table,
                fields,
                f.typecast,
                Map::new(),
                None,
                &mut new_choices,
            )
            .map(Op::Create)
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let table_id = table.id.clone();
    let (ids, changes) = apply(base, &table_id, ops, new_choices, now);
    let mut records = rendered(base, &table_id, &ids, f.by_id, now);
    let out = if single {
        records.pop().unwrap_or(Value::Null)
    } else {
        json!({ "records": records })
    };
    Ok((out, changes))
}

/// `PATCH`/`PUT …/{table}/{recordId}`.
pub fn update_one(
    base: &mut Base,
    table_name: &str,
    record_id: &str,
    body: &Value,
    replace: bool,
) -> ApiResult<(Value, ChangeSet)> {
    let now = Utc::now();
    let obj = body.as_object().ok_or_else(ApiError::invalid_request)?;
    check_keys(obj, &["fields", "typecast", "returnFieldsByFieldId"])?;
    let f = flags(obj)?;
    let fields = fields_of(body)?;
    let ti = table_index(base, table_name)?;
    let table = &base.tables[ti];
    let record = table.record(record_id).ok_or_else(ApiError::not_found)?;
    let mut new_choices = Vec::new();
    let cells = build_cells(
        base,
        table,
        fields,
        f.typecast,
        update_start(table, record, replace),
        Some(&record.fields),
        &mut new_choices,
    )?;
    let table_id = table.id.clone();
    let (ids, changes) = apply(
        base,
        &table_id,
        vec![Op::Update {
            id: record_id.to_string(),
            cells,
        }],
        new_choices,
        now,
    );
    let out = rendered(base, &table_id, &ids, f.by_id, now)
        .pop()
        .unwrap_or(Value::Null);
    Ok((out, changes))
}

/// `PATCH`/`PUT …/{table}` with `{records}`, optionally `performUpsert`.
pub fn update_many(
    base: &mut Base,
    table_name: &str,
    body: &Value,
    replace: bool,
) -> ApiResult<(Value, ChangeSet)> {
    let now = Utc::now();
    let obj = body.as_object().ok_or_else(ApiError::invalid_request)?;
    check_keys(
        obj,
        &[
            "records",
            "typecast",
            "returnFieldsByFieldId",
            "performUpsert",
        ],
    )?;
    let f = flags(obj)?;
    let items = batch(obj)?;
    let ti = table_index(base, table_name)?;
    let table = &base.tables[ti];
    let merge_on = match obj.get("performUpsert") {
        None | Some(Value::Null) => None,
        Some(spec) => Some(merge_fields(table, spec)?),
    };
    let mut new_choices = Vec::new();
    let mut ops = Vec::new();
    let mut created = Vec::new();
    let mut updated = Vec::new();
    let mut seen_keys: Vec<Vec<Option<Value>>> = Vec::new();
    for item in items {
        let fields = fields_of(item)?;
        let given_id = match item.get("id") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(ApiError::invalid_request()),
        };
        let target = match (&given_id, &merge_on) {
            (Some(id), _) => Some(
                table
                    .record(id)
                    .ok_or_else(|| ApiError::row_does_not_exist(id))?,
            ),
            (None, None) => {
                return Err(ApiError::invalid_records(
                    "Each record must have an \"id\" when not upserting",
                ));
            }
            (None, Some(merge)) => {
                let cells = build_cells(
                    base,
                    table,
                    fields,
                    f.typecast,
                    Map::new(),
                    None,
                    &mut Vec::new(),
                )?;
                let key: Vec<Option<Value>> =
                    merge.iter().map(|fid| cells.get(fid).cloned()).collect();
                if seen_keys.contains(&key) {
                    return Err(ApiError::invalid_records(
                        "Two records in the request have the same values for the fields to merge on",
                    ));
                }
                seen_keys.push(key.clone());
                let matches: Vec<&Record> = table
                    .records
                    .iter()
                    .filter(|r| {
                        merge
                            .iter()
                            .zip(&key)
                            .all(|(fid, v)| r.fields.get(fid) == v.as_ref())
                    })
                    .collect();
                if matches.len() > 1 {
                    return Err(ApiError::invalid_records(
                        "Multiple records match the fields to merge on; upsert needs at most one match",
                    ));
                }
                matches.into_iter().next()
            }
        };
        match target {
            Some(record) => {
                let cells = build_cells(
                    base,
                    table,
                    fields,
                    f.typecast,
                    update_start(table, record, replace),
                    Some(&record.fields),
                    &mut new_choices,
                )?;
                updated.push(record.id.clone());
                ops.push(Op::Update {
                    id: record.id.clone(),
                    cells,
                });
            }
            None => {
                let cells = build_cells(
                    base,
                    table,
                    fields,
                    f.typecast,
                    Map::new(),
                    None,
                    &mut new_choices,
                )?;
                ops.push(Op::Create(cells));
                created.push(ops.len() - 1);
            }
        }
    }
    let table_id = table.id.clone();
    let (ids, changes) = apply(base, &table_id, ops, new_choices, now);
    let records = rendered(base, &table_id, &ids, f.by_id, now);
    let mut out = json!({ "records": records });
    if merge_on.is_some() {
        let created_ids: Vec<&String> = created.iter().filter_map(|i| ids.get(*i)).collect();
        out["createdRecords"] = json!(created_ids);
        out["updatedRecords"] = json!(updated);
    }
    Ok((out, changes))
}

/// Validates `performUpsert.fieldsToMergeOn`: 1–3 writable fields; returns their ids.
fn merge_fields(table: &Table, spec: &Value) -> ApiResult<Vec<String>> {
    let names = spec
        .get("fieldsToMergeOn")
        .and_then(Value::as_array)
        .ok_or_else(ApiError::invalid_request)?;
    if names.is_empty() || names.len() > 3 {
        return Err(ApiError::invalid_request());
    }
    names
        .iter()
        .map(|n| {
            let name = n.as_str().ok_or_else(ApiError::invalid_request)?;
            let field = table
                .field(name)
                .ok_or_else(|| ApiError::unknown_field(name))?;
            if field.is_computed()
                || matches!(
                    field.field_type.as_str(),
                    "multipleRecordLinks" | "multipleAttachments" | "checkbox"
                )
            {
                return Err(ApiError::invalid_request());
            }
            Ok(field.id.clone())
        })
        .collect()
}

/// `DELETE …/{table}?records[]=…` or `DELETE …/{table}/{recordId}`.
pub fn delete(
    base: &mut Base,
    table_name: &str,
    record_ids: &[String],
) -> ApiResult<(Vec<Value>, ChangeSet)> {
    if record_ids.is_empty() || record_ids.len() > MAX_BATCH {
        return Err(ApiError::invalid_records(format!(
            "You must provide an array of up to {MAX_BATCH} record ids (got {})",
            record_ids.len()
        )));
    }
    let ti = table_index(base, table_name)?;
    let table = &base.tables[ti];
    if let Some(missing) = record_ids.iter().find(|id| table.record(id).is_none()) {
        let _ = missing;
        return Err(ApiError::not_found());
    }
    let table_id = table.id.clone();
    let gone: HashSet<&String> = record_ids.iter().collect();
    base.tables[ti].records.retain(|r| !gone.contains(&r.id));
    // Links elsewhere that pointed at the deleted records lose them.
    let now = Utc::now();
    for t in &mut base.tables {
        let link_fields: Vec<String> = t
            .fields
            .iter()
            .filter(|f| {
                f.field_type == "multipleRecordLinks"
                    && f.option_str("linkedTableId") == Some(table_id.as_str())
            })
            .map(|f| f.id.clone())
            .collect();
        for r in &mut t.records {
            for fid in &link_fields {
                let Some(Value::Array(list)) = r.fields.get_mut(fid) else {
                    continue;
                };
                let before = list.len();
                list.retain(|v| v.as_str().is_none_or(|s| !gone.contains(&s.to_string())));
                if list.len() != before {
                    if list.is_empty() {
                        r.fields.remove(fid);
                    }
                    r.last_modified_time = Some(now);
                }
            }
        }
    }
    let out = record_ids
        .iter()
        .map(|id| json!({ "id": id, "deleted": true }))
        .collect();
    let changes = ChangeSet {
        table_id,
        destroyed: record_ids.to_vec(),
        ..ChangeSet::default()
    };
    Ok((out, changes))
}
