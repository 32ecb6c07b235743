//! The meta API: whoami, bases, base schema, and creating or updating tables and fields.
//! Airtable offers no endpoint that deletes a table or a field, so neither does the sandbox.

use crate::errors::{ApiError, ApiResult};
use crate::ids;
use crate::model::{Base, Field, Snapshot, Table, Token, View};
use serde_json::{Value, json};

/// Field types the API can create (formula, autonumber and other computed types it cannot).
const CREATABLE: &[&str] = &[
    "singleLineText",
    "email",
    "url",
    "multilineText",
    "number",
    "percent",
    "currency",
    "singleSelect",
    "multipleSelects",
    "singleCollaborator",
    "multipleCollaborators",
    "multipleRecordLinks",
    "date",
    "dateTime",
    "phoneNumber",
    "multipleAttachments",
    "checkbox",
    "barcode",
    "rating",
    "richText",
    "duration",
];

/// Types that may not be a table's primary field.
const NOT_PRIMARY: &[&str] = &[
    "checkbox",
    "multipleAttachments",
    "multipleRecordLinks",
    "multipleSelects",
    "singleCollaborator",
    "multipleCollaborators",
    "rating",
    "barcode",
];

pub fn whoami(snap: &Snapshot, token: &Token) -> Value {
    let mut out = json!({ "id": snap.user.id, "scopes": token.scopes });
    if token.has_scope("user.email:read")
        && let Some(email) = &snap.user.email
    {
        out["email"] = json!(email);
    }
    out
}

pub fn list_bases(snap: &Snapshot, token: &Token) -> Value {
    let bases: Vec<Value> = snap
        .bases
        .iter()
        .filter(|b| token.can_reach(&b.id) && b.permission_level != "none")
        .map(|b| json!({ "id": b.id, "name": b.name, "permissionLevel": b.permission_level }))
        .collect();
    json!({ "bases": bases })
}

fn field_json(f: &Field) -> Value {
    let mut out = json!({ "id": f.id, "name": f.name, "type": f.field_type });
    if let Some(d) = &f.description {
        out["description"] = json!(d);
    }
    if let Some(o) = &f.options {
        out["options"] = o.clone();
    }
    out
}

fn view_json(v: &View, visible: bool) -> Value {
    let mut out = json!({ "id": v.id, "name": v.name, "type": v.view_type });
    if visible
        && v.view_type == "grid"
        && let Some(ids) = &v.visible_field_ids
    {
        out["visibleFieldIds"] = json!(ids);
    }
    out
}

pub fn table_json(t: &Table, visible: bool) -> Value {
    let mut out = json!({
        "id": t.id,
        "name": t.name,
        "primaryFieldId": t.primary_field_id,
        "fields": t.fields.iter().map(field_json).collect::<Vec<_>>(),
        "views": t.views.iter().map(|v| view_json(v, visible)).collect::<Vec<_>>(),
    });
    if let Some(d) = &t.description {
        out["description"] = json!(d);
    }
    out
}

pub fn schema(base: &Base, include_visible: bool) -> Value {
    json!({ "tables": base.tables.iter().map(|t| table_json(t, include_visible)).collect::<Vec<_>>() })
}

fn opt_string(obj: &serde_json::Map<String, Value>, key: &str) -> ApiResult<Option<String>> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::invalid_request()),
    }
}

fn description(obj: &serde_json::Map<String, Value>) -> ApiResult<Option<String>> {
    let d = opt_string(obj, "description")?;
    if d.as_ref().is_some_and(|d| d.chars().count() > 20_000) {
        return Err(ApiError::invalid_request());
    }
    Ok(d)
}

fn duplicate_field(name: &str) -> ApiError {
    ApiError::unprocessable(
        "DUPLICATE_OR_EMPTY_FIELD_NAME",
        format!("Field names must be unique and non-empty: \"{name}\""),
    )
}

/// Fills the options Airtable would require, so later reads have a complete schema.
fn default_options(field_type: &str, given: Option<Value>) -> Option<Value> {
    let mut opts = given.unwrap_or_else(|| json!({}));
    let set = |o: &mut Value, k: &str, v: Value| {
        if o.get(k).is_none() {
            o[k] = v;
        }
    };
    match field_type {
        "number" | "percent" => set(&mut opts, "precision", json!(0)),
        "currency" => {
            set(&mut opts, "precision", json!(2));
            set(&mut opts, "symbol", json!("$"));
        }
        "singleSelect" | "multipleSelects" => {
            set(&mut opts, "choices", json!([]));
            if let Some(list) = opts.get_mut("choices").and_then(Value::as_array_mut) {
                for c in list.iter_mut().filter(|c| c.get("id").is_none()) {
                    c["id"] = json!(ids::new_id("sel"));
                }
            }
        }
        "checkbox" => {
            set(&mut opts, "icon", json!("check"));
            set(&mut opts, "color", json!("greenBright"));
        }
        "rating" => {
            set(&mut opts, "icon", json!("star"));
            set(&mut opts, "max", json!(5));
            set(&mut opts, "color", json!("yellowBright"));
        }
        "date" => set(
            &mut opts,
            "dateFormat",
            json!({ "name": "iso", "format": "YYYY-MM-DD" }),
        ),
        "dateTime" => {
            set(
                &mut opts,
                "dateFormat",
                json!({ "name": "iso", "format": "YYYY-MM-DD" }),
            );
            set(
                &mut opts,
                "timeFormat",
                json!({ "name": "24hour", "format": "HH:mm" }),
            );
            set(&mut opts, "timeZone", json!("utc"));
        }
        "multipleAttachments" => set(&mut opts, "isReversed", json!(false)),
        _ => {}
    }
    opts.as_object()
        .is_some_and(|o| !o.is_empty())
        .then_some(opts)
}

/// Builds a field from a create request; link fields are checked against the base.
fn new_field(base: &Base, spec: &Value, taken: &[String]) -> ApiResult<Field> {
    let obj = spec.as_object().ok_or_else(ApiError::invalid_request)?;
    let name = opt_string(obj, "name")?
        .map(|n| n.trim().to_string())
        .unwrap_or_default();
    if name.is_empty() || taken.iter().any(|t| t.eq_ignore_ascii_case(&name)) {
        return Err(duplicate_field(&name));
    }
    let field_type = opt_string(obj, "type")?.ok_or_else(|| ApiError::missing_field("type"))?;
    if !CREATABLE.contains(&field_type.as_str()) {
        return Err(ApiError::unprocessable(
            "UNSUPPORTED_FIELD_TYPE_FOR_CREATE",
            format!("Creating \"{field_type}\" fields is not supported"),
        ));
    }
    let mut options = default_options(
        &field_type,
        obj.get("options").cloned().filter(|o| !o.is_null()),
    );
    if field_type == "multipleRecordLinks" {
        let linked = options
            .as_ref()
            .and_then(|o| o.get("linkedTableId"))
            .and_then(Value::as_str)
            .and_then(|id| base.table(id))
            .ok_or_else(|| {
                ApiError::unprocessable(
                    "INVALID_FIELD_TYPE_OPTIONS_FOR_CREATE",
                    "linkedTableId must name a table in this base",
                )
            })?;
        let mut o = options.unwrap_or_else(|| json!({}));
        o["linkedTableId"] = json!(linked.id);
        o["isReversed"] = json!(false);
        if o.get("prefersSingleRecordLink").is_none() {
            o["prefersSingleRecordLink"] = json!(false);
        }
        options = Some(o);
    }
    Ok(Field {
        id: ids::new_id("fld"),
        name,
        field_type,
        description: description(obj)?,
        options,
    })
}

/// Creates the inverse of a new link field in the linked table, as Airtable does.
fn add_inverse(base: &mut Base, table_id: &str, table_name: &str, field: &mut Field) {
    let Some(linked_id) = field.option_str("linkedTableId").map(str::to_string) else {
        return;
    };
    let Some(linked) = base.table_by_id_mut(&linked_id) else {
        return;
    };
    let mut name = table_name.to_string();
    let mut n = 2;
    while linked
        .fields
        .iter()
        .any(|f| f.name.eq_ignore_ascii_case(&name))
    {
        name = format!("{table_name} {n}");
        n += 1;
    }
    let inverse_id = ids::new_id("fld");
    linked.fields.push(Field {
        id: inverse_id.clone(),
        name,
        field_type: "multipleRecordLinks".into(),
        description: None,
        options: Some(json!({ "linkedTableId": table_id, "isReversed": false, "prefersSingleRecordLink": false, "inverseLinkFieldId": field.id })),
    });
    if let Some(o) = field.options.as_mut() {
        o["inverseLinkFieldId"] = json!(inverse_id);
    }
}

pub fn create_table(base: &mut Base, body: &Value) -> ApiResult<Value> {
    let obj = body.as_object().ok_or_else(ApiError::invalid_request)?;
    let name = opt_string(obj, "name")?
        .map(|n| n.trim().to_string())
        .unwrap_or_default();
    if name.is_empty() {
        return Err(ApiError::missing_field("name"));
    }
    if base
        .tables
        .iter()
        .any(|t| t.name.eq_ignore_ascii_case(&name))
    {
        return Err(ApiError::unprocessable(
            "DUPLICATE_TABLE_NAME",
            format!("A table named \"{name}\" already exists"),
        ));
    }
    let specs = obj
        .get("fields")
        .and_then(Value::as_array)
        .filter(|f| !f.is_empty())
        .ok_or_else(|| ApiError::missing_field("fields"))?;
    let table_id = ids::new_id("tbl");
    let mut fields: Vec<Field> = Vec::new();
    for spec in specs {
        let taken: Vec<String> = fields.iter().map(|f| f.name.clone()).collect();
        fields.push(new_field(base, spec, &taken)?);
    }
    if NOT_PRIMARY.contains(&fields[0].field_type.as_str()) {
        return Err(ApiError::unprocessable(
            "INVALID_PRIMARY_FIELD_TYPE",
            format!(
                "Field type \"{}\" cannot be the primary field",
                fields[0].field_type
            ),
        ));
    }
    for f in &mut fields {
        add_inverse(base, &table_id, &name, f);
    }
    let table = Table {
        id: table_id,
        name,
        description: description(obj)?,
        primary_field_id: fields[0].id.clone(),
        views: vec![View {
            id: ids::new_id("viw"),
            name: "Grid view".into(),
            view_type: "grid".into(),
            filter_by_formula: None,
            sort: vec![],
            visible_field_ids: Some(fields.iter().map(|f| f.id.clone()).collect()),
        }],
        fields,
        records: vec![],
    };
    let out = table_json(&table, false);
    base.tables.push(table);
    Ok(out)
}

pub fn update_table(base: &mut Base, table_name: &str, body: &Value) -> ApiResult<Value> {
    let obj = body.as_object().ok_or_else(ApiError::invalid_request)?;
    let name = opt_string(obj, "name")?.map(|n| n.trim().to_string());
    let desc = description(obj)?;
    if name.is_none() && desc.is_none() {
        return Err(ApiError::invalid_request());
    }
    let idx = base
        .table_index(table_name)
        .ok_or_else(ApiError::model_not_found)?;
    if let Some(n) = &name
        && (n.is_empty()
            || base
                .tables
                .iter()
                .enumerate()
                .any(|(i, t)| i != idx && t.name.eq_ignore_ascii_case(n)))
    {
        return Err(ApiError::unprocessable(
            "DUPLICATE_TABLE_NAME",
            format!("A table named \"{n}\" already exists"),
        ));
    }
    let table = &mut base.tables[idx];
    if let Some(n) = name {
        table.name = n;
    }
    if let Some(d) = desc {
        table.description = Some(d);
    }
    Ok(table_json(table, false))
}

pub fn create_field(base: &mut Base, table_name: &str, body: &Value) -> ApiResult<Value> {
    let idx = base
        .table_index(table_name)
        .ok_or_else(ApiError::model_not_found)?;
    let taken: Vec<String> = base.tables[idx]
        .fields
        .iter()
        .map(|f| f.name.clone())
        .collect();
    let mut field = new_field(base, body, &taken)?;
    let (table_id, name) = (base.tables[idx].id.clone(), base.tables[idx].name.clone());
    add_inverse(base, &table_id, &name, &mut field);
    let out = field_json(&field);
    let table = &mut base.tables[idx];
    table.fields.push(field.clone());
    for v in &mut table.views {
        if let Some(visible) = v.visible_field_ids.as_mut() {
            visible.push(field.id.clone());
        }
    }
    Ok(out)
}

pub fn update_field(
    base: &mut Base,
    table_name: &str,
    field_name: &str,
    body: &Value,
) -> ApiResult<Value> {
    let obj = body.as_object().ok_or_else(ApiError::invalid_request)?;
    let name = opt_string(obj, "name")?.map(|n| n.trim().to_string());
    let desc = description(obj)?;
    if name.is_none() && desc.is_none() {
        return Err(ApiError::invalid_request());
    }
    let idx = base
        .table_index(table_name)
        .ok_or_else(ApiError::model_not_found)?;
    let table = &mut base.tables[idx];
    let field_id = table
        .field(field_name)
        .map(|f| f.id.clone())
        .ok_or_else(ApiError::model_not_found)?;
    if let Some(n) = &name
        && (n.is_empty()
            || table
                .fields
                .iter()
                .any(|f| f.id != field_id && f.name.eq_ignore_ascii_case(n)))
    {
        return Err(duplicate_field(n));
    }
    let field = table
        .field_mut(&field_id)
        .ok_or_else(ApiError::model_not_found)?;
    if let Some(n) = name {
        field.name = n;
    }
    if let Some(d) = desc {
        field.description = Some(d);
    }
    Ok(field_json(field))
}
