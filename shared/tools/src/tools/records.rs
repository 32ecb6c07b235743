//! Records: list_records, search_records, get_record, create_records, update_records,
//! upsert_records, delete_records.

use accounts::Scope;
use airtable::{
    BaseId, Fields, ListParams, RecordId, RecordUpdate, TableRef, UpsertRecord, WriteOptions,
    formula,
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::schema::find_table;
use super::shapes::{
    SortArg, base_id, clamp, field_names, max_records, name, parse_arg, record_id, record_json,
    record_schema, records_output, sort_schema, table, target,
};
use crate::output::{ToolOutput, bound_list};
use crate::registry::{Tool, ToolContext, ToolError, arguments};
use crate::spec::{Annotations, ToolSpec};

/// Reads default to this many records, and never read more than `MAX_READ`.
const DEFAULT_READ: u64 = 100;
const MAX_READ: u64 = 1_000;
/// One write call changes at most this many records (Airtable takes 10 per request; the client
/// chunks, and each chunk spends one of the base's 5 requests a second).
const MAX_WRITE: usize = 100;

/// Field types a text search looks in when the caller names no fields.
const SEARCHABLE_TYPES: [&str; 6] = [
    "singleLineText",
    "multilineText",
    "richText",
    "email",
    "url",
    "phoneNumber",
];

pub(crate) fn read_tools() -> Vec<Tool> {
    vec![
        Tool::new(
            ToolSpec {
                name: "list_records",
                title: "List records",
                description: "Reads records from a table, optionally filtered by an Airtable formula (filter_formula, e.g. \"{Status} = 'Open'\"), sorted, limited to some fields, or read through a view. Returns up to max_records records with their ids and fields. Prefer naming fields and a filter to keep answers small.",
                input_schema: json!({"type": "object", "properties": {
                    "base_id": base_id(), "table": table(),
                    "fields": field_names("Only these fields (default: all)."),
                    "filter_formula": {"type": "string", "maxLength": 10000, "description": "An Airtable formula; records for which it is truthy are returned."},
                    "sort": sort_schema(),
                    "view": {"type": "string", "minLength": 1, "maxLength": super::shapes::MAX_NAME_LEN, "description": "A view's name or id: its filters and order apply."},
                    "max_records": max_records(DEFAULT_READ, MAX_READ)
                }, "required": ["base_id", "table"], "additionalProperties": false}),
                output_schema: records_output(),
                annotations: Annotations::READ,
                scope: Scope::RecordsRead,
            },
            |context, args| Box::pin(list_records(context, args)),
        ),
        Tool::new(
            ToolSpec {
                name: "search_records",
                title: "Search records",
                description: "Finds records whose text contains a search term (case-insensitive), in the named fields or, by default, in every text-like field of the table. The term is escaped safely, so any text can be searched for. Use it when the user names a person, company or phrase rather than an exact value.",
                input_schema: json!({"type": "object", "properties": {
                    "base_id": base_id(), "table": table(),
                    "query": {"type": "string", "minLength": 1, "maxLength": 500},
                    "fields": field_names("Search only these fields (default: every text-like field)."),
                    "max_records": max_records(DEFAULT_READ, MAX_READ)
                }, "required": ["base_id", "table", "query"], "additionalProperties": false}),
                output_schema: records_output(),
                annotations: Annotations::READ,
                scope: Scope::RecordsRead,
            },
            |context, args| Box::pin(search_records(context, args)),
        ),
        Tool::new(
            ToolSpec {
                name: "get_record",
                title: "Get a record",
                description: "Reads one record by its id (rec…), with all its fields.",
                input_schema: json!({"type": "object", "properties": {
                    "base_id": base_id(), "table": table(),
                    "record_id": record_id()
                }, "required": ["base_id", "table", "record_id"], "additionalProperties": false}),
                output_schema: record_schema(),
                annotations: Annotations::READ,
                scope: Scope::RecordsRead,
            },
            |context, args| Box::pin(get_record(context, args)),
        ),
    ]
}

pub(crate) fn write_tools() -> Vec<Tool> {
    let typecast = json!({"type": "boolean", "default": false, "description": "Let Airtable convert values (e.g. text to a select choice, creating the choice)."});
    vec![
        Tool::new(
            ToolSpec {
                name: "create_records",
                title: "Create records",
                description: "Creates records in a table (up to 100 per call). Each record is an object of field names to values. Returns the created records with their new ids.",
                input_schema: json!({"type": "object", "properties": {
                    "base_id": base_id(), "table": table(),
                    "records": {"type": "array", "minItems": 1, "maxItems": MAX_WRITE, "items": {"type": "object", "properties": {
                        "fields": {"type": "object"}
                    }, "required": ["fields"], "additionalProperties": false}},
                    "typecast": typecast
                }, "required": ["base_id", "table", "records"], "additionalProperties": false}),
                output_schema: records_output(),
                annotations: Annotations::ADDITIVE,
                scope: Scope::RecordsWrite,
            },
            |context, args| Box::pin(create_records(context, args)),
        ),
        Tool::new(
            ToolSpec {
                name: "update_records",
                title: "Update records",
                description: "Changes fields of existing records by id (up to 100 per call). Only the fields given change; others keep their values. Returns the updated records.",
                input_schema: json!({"type": "object", "properties": {
                    "base_id": base_id(), "table": table(),
                    "records": {"type": "array", "minItems": 1, "maxItems": MAX_WRITE, "items": {"type": "object", "properties": {
                        "id": record_id(),
                        "fields": {"type": "object"}
                    }, "required": ["id", "fields"], "additionalProperties": false}},
                    "typecast": typecast
                }, "required": ["base_id", "table", "records"], "additionalProperties": false}),
                output_schema: records_output(),
                annotations: Annotations::OVERWRITING,
                scope: Scope::RecordsWrite,
            },
            |context, args| Box::pin(update_records(context, args)),
        ),
        Tool::new(
            ToolSpec {
                name: "upsert_records",
                title: "Upsert records",
                description: "Updates the records that match on the merge_on fields and creates the rest (up to 100 per call). Every record must have a value for every merge_on field. Returns which records were created and which updated.",
                input_schema: json!({"type": "object", "properties": {
                    "base_id": base_id(), "table": table(),
                    "merge_on": {"type": "array", "minItems": 1, "maxItems": 3, "items": name()},
                    "records": {"type": "array", "minItems": 1, "maxItems": MAX_WRITE, "items": {"type": "object", "properties": {
                        "fields": {"type": "object"}
                    }, "required": ["fields"], "additionalProperties": false}},
                    "typecast": typecast
                }, "required": ["base_id", "table", "merge_on", "records"], "additionalProperties": false}),
                output_schema: json!({"type": "object", "properties": {
                    "records": {"type": "array", "items": record_schema()},
                    "createdRecords": {"type": "array", "items": {"type": "string"}},
                    "updatedRecords": {"type": "array", "items": {"type": "string"}},
                    "count": {"type": "integer"}
                }, "required": ["records", "createdRecords", "updatedRecords", "count"]}),
                annotations: Annotations::OVERWRITING,
                scope: Scope::RecordsWrite,
            },
            |context, args| Box::pin(upsert_records(context, args)),
        ),
        Tool::new(
            ToolSpec {
                name: "delete_records",
                title: "Delete records",
                description: "Deletes records by id (up to 100 per call). This cannot be undone through the API; confirm with the user first.",
                input_schema: json!({"type": "object", "properties": {
                    "base_id": base_id(), "table": table(),
                    "record_ids": {"type": "array", "minItems": 1, "maxItems": MAX_WRITE, "items": record_id()}
                }, "required": ["base_id", "table", "record_ids"], "additionalProperties": false}),
                output_schema: json!({"type": "object", "properties": {
                    "deleted": {"type": "array", "items": {"type": "string"}},
                    "count": {"type": "integer"}
                }, "required": ["deleted", "count"]}),
                annotations: Annotations {
                    read_only: false,
                    destructive: true,
                    idempotent: true,
                },
                scope: Scope::RecordsWrite,
            },
            |context, args| Box::pin(delete_records(context, args)),
        ),
    ]
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListArgs {
    base_id: String,
    table: String,
    #[serde(default)]
    fields: Vec<String>,
    #[serde(default)]
    filter_formula: Option<String>,
    #[serde(default)]
    sort: Vec<SortArg>,
    #[serde(default)]
    view: Option<String>,
    #[serde(default)]
    max_records: Option<u64>,
}

/// Reads records and shapes them as tools answer.
pub(crate) async fn read_records(
    context: &ToolContext,
    base_id: &BaseId,
    table: &TableRef,
    params: ListParams,
) -> Result<Vec<airtable::Record>, ToolError> {
    Ok(context
        .airtable
        .table(base_id.clone(), table.clone())
        .all(params)
        .await?)
}

fn records_answer(
    context: &ToolContext,
    records: &[airtable::Record],
    summary: String,
) -> ToolOutput {
    let listed: Vec<Value> = records.iter().map(record_json).collect();
    let output = ToolOutput::new(json!({"records": listed, "count": records.len()}), summary);
    bound_list(output, "records", context.max_output_bytes)
}

async fn list_records(context: ToolContext, args: Value) -> Result<ToolOutput, ToolError> {
    let args: ListArgs = arguments(args)?;
    let (base, table) = target(&args.base_id, &args.table)?;
    let mut params = ListParams::new().fields(args.fields).max_records(clamp(
        args.max_records,
        DEFAULT_READ,
        MAX_READ,
    ));
    if let Some(filter) = args.filter_formula.filter(|f| !f.trim().is_empty()) {
        params = params.filter(filter);
    }
    for key in args.sort {
        params = params.sort(key.field, key.direction.into());
    }
    if let Some(view) = args.view {
        params = params.view(view);
    }
    let records = read_records(&context, &base, &table, params).await?;
    let summary = format!("{} records from {}", records.len(), args.table);
    Ok(records_answer(&context, &records, summary))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchArgs {
    base_id: String,
    table: String,
    query: String,
    #[serde(default)]
    fields: Vec<String>,
    #[serde(default)]
    max_records: Option<u64>,
}

async fn search_records(context: ToolContext, args: Value) -> Result<ToolOutput, ToolError> {
    let args: SearchArgs = arguments(args)?;
    let (base, table) = target(&args.base_id, &args.table)?;
    if args.query.trim().is_empty() {
        return Err(ToolError::InvalidArguments(
            "query must not be blank".into(),
        ));
    }
    let fields = if args.fields.is_empty() {
        find_table(&context, &base, &table)
            .await?
            .fields
            .iter()
            .filter(|f| SEARCHABLE_TYPES.contains(&f.field_type.as_str()))
            .map(|f| f.name.clone())
            .collect()
    } else {
        args.fields
    };
    if fields.is_empty() {
        return Err(ToolError::Failed(format!(
            "Table {} has no text fields to search; name the fields to search in",
            args.table
        )));
    }
    let params = ListParams::new()
        .filter(formula::search(args.query.trim(), &fields))
        .max_records(clamp(args.max_records, DEFAULT_READ, MAX_READ));
    let records = read_records(&context, &base, &table, params).await?;
    let summary = format!(
        "{} records in {} matching {:?}",
        records.len(),
        args.table,
        args.query.trim()
    );
    Ok(records_answer(&context, &records, summary))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GetArgs {
    base_id: String,
    table: String,
    record_id: String,
}

async fn get_record(context: ToolContext, args: Value) -> Result<ToolOutput, ToolError> {
    let args: GetArgs = arguments(args)?;
    let (base, table) = target(&args.base_id, &args.table)?;
    let record_id = parse_arg("/record_id", &args.record_id, RecordId::parse)?;
    let record = context.airtable.table(base, table).get(&record_id).await?;
    let summary = format!("record {} from {}", record.id, args.table);
    Ok(ToolOutput::new(record_json(&record), summary))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewRecord {
    fields: Fields,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateArgs {
    base_id: String,
    table: String,
    records: Vec<NewRecord>,
    #[serde(default)]
    typecast: bool,
}

fn write_options(typecast: bool) -> WriteOptions {
    if typecast {
        WriteOptions::typecast()
    } else {
        WriteOptions::default()
    }
}

async fn create_records(context: ToolContext, args: Value) -> Result<ToolOutput, ToolError> {
    let args: CreateArgs = arguments(args)?;
    let (base, table) = target(&args.base_id, &args.table)?;
    let created = context
        .airtable
        .table(base, table)
        .create_many(
            args.records.into_iter().map(|r| r.fields).collect(),
            write_options(args.typecast),
        )
        .await?;
    let summary = format!("created {} records in {}", created.len(), args.table);
    Ok(records_answer(&context, &created, summary))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangedRecord {
    id: String,
    fields: Fields,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateArgs {
    base_id: String,
    table: String,
    records: Vec<ChangedRecord>,
    #[serde(default)]
    typecast: bool,
}

async fn update_records(context: ToolContext, args: Value) -> Result<ToolOutput, ToolError> {
    let args: UpdateArgs = arguments(args)?;
    let (base, table) = target(&args.base_id, &args.table)?;
    let updates = args
        .records
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            let id = parse_arg(&format!("/records/{i}/id"), &r.id, RecordId::parse)?;
            Ok(RecordUpdate::new(id, r.fields))
        })
        .collect::<Result<Vec<_>, ToolError>>()?;
    let updated = context
        .airtable
        .table(base, table)
        .update_many(updates, false, write_options(args.typecast))
        .await?;
    let summary = format!("updated {} records in {}", updated.len(), args.table);
    Ok(records_answer(&context, &updated, summary))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpsertArgs {
    base_id: String,
    table: String,
    merge_on: Vec<String>,
    records: Vec<NewRecord>,
    #[serde(default)]
    typecast: bool,
}

async fn upsert_records(context: ToolContext, args: Value) -> Result<ToolOutput, ToolError> {
    let args: UpsertArgs = arguments(args)?;
    let (base, table) = target(&args.base_id, &args.table)?;
    let merge_on: Vec<&str> = args.merge_on.iter().map(String::as_str).collect();
    let records = args
        .records
        .into_iter()
        .map(|r| UpsertRecord {
            id: None,
            fields: r.fields,
        })
        .collect();
    let result = context
        .airtable
        .table(base, table)
        .upsert_many(records, &merge_on, false, write_options(args.typecast))
        .await?;
    let summary = format!(
        "upserted into {}: {} created, {} updated",
        args.table,
        result.created_records.len(),
        result.updated_records.len()
    );
    let listed: Vec<Value> = result.records.iter().map(record_json).collect();
    let output = ToolOutput::new(
        json!({
            "records": listed,
            "createdRecords": result.created_records,
            "updatedRecords": result.updated_records,
            "count": result.records.len()
        }),
        summary,
    );
    Ok(bound_list(output, "records", context.max_output_bytes))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeleteArgs {
    base_id: String,
    table: String,
    record_ids: Vec<String>,
}

async fn delete_records(context: ToolContext, args: Value) -> Result<ToolOutput, ToolError> {
    let args: DeleteArgs = arguments(args)?;
    let (base, table) = target(&args.base_id, &args.table)?;
    let record_ids = args
        .record_ids
        .iter()
        .enumerate()
        .map(|(i, id)| parse_arg(&format!("/record_ids/{i}"), id, RecordId::parse))
        .collect::<Result<Vec<_>, ToolError>>()?;
    let deleted = context
        .airtable
        .table(base, table)
        .delete_many(&record_ids)
        .await?;
    let ids: Vec<String> = deleted
        .into_iter()
        .filter(|d| d.deleted)
        .map(|d| d.id)
        .collect();
    let summary = format!("deleted {} records from {}", ids.len(), args.table);
    Ok(ToolOutput::new(
        json!({"deleted": ids, "count": ids.len()}),
        summary,
    ))
}
