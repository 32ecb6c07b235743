//! Discovery and schema changes: list_bases, list_tables, describe_table, create_table,
//! update_table, create_field, update_field.

use accounts::Scope;
use airtable::{BaseId, FieldId, NewField, NewTable, SchemaChange, TableId, TableRef, TableSchema};
use serde::Deserialize;
use serde_json::{Value, json};

use super::shapes::{base_id, description, name, parse_arg, table, target};
use crate::output::{ToolOutput, bound_list};
use crate::registry::{Tool, ToolContext, ToolError, arguments};
use crate::spec::{Annotations, ToolSpec};

pub(crate) fn read_tools() -> Vec<Tool> {
    vec![
        Tool::new(
            ToolSpec {
                name: "list_bases",
                title: "List bases",
                description: "Lists the Airtable bases this account can reach, with their ids, names and permission levels. Start here: every other tool needs a base id (app…).",
                input_schema: json!({"type": "object", "properties": {}, "additionalProperties": false}),
                output_schema: json!({"type": "object", "properties": {
                    "bases": {"type": "array", "items": {"type": "object", "properties": {
                        "id": {"type": "string"}, "name": {"type": "string"}, "permissionLevel": {"type": "string"}
                    }}},
                    "count": {"type": "integer"}
                }, "required": ["bases", "count"]}),
                annotations: Annotations::READ,
                scope: Scope::SchemaRead,
            },
            |context, args| Box::pin(list_bases(context, args)),
        ),
        Tool::new(
            ToolSpec {
                name: "list_tables",
                title: "List tables",
                description: "Lists a base's tables. detail \"names\" gives ids and names only (cheapest); \"fields\" adds each field's name and type; \"full\" adds field options, descriptions and views. Use it to learn table and field names before reading records.",
                input_schema: json!({"type": "object", "properties": {
                    "base_id": base_id(),
                    "detail": {"type": "string", "enum": ["names", "fields", "full"], "default": "fields"}
                }, "required": ["base_id"], "additionalProperties": false}),
                output_schema: json!({"type": "object", "properties": {
                    "tables": {"type": "array", "items": {"type": "object"}},
                    "count": {"type": "integer"}
                }, "required": ["tables", "count"]}),
                annotations: Annotations::READ,
                scope: Scope::SchemaRead,
            },
            |context, args| Box::pin(list_tables(context, args)),
        ),
        Tool::new(
            ToolSpec {
                name: "describe_table",
                title: "Describe a table",
                description: "Describes one table in full: its fields with ids, types, options (such as select choices) and descriptions, its primary field, and its views. Use it before writing records, to get field names and allowed values right.",
                input_schema: json!({"type": "object", "properties": {
                    "base_id": base_id(), "table": table()
                }, "required": ["base_id", "table"], "additionalProperties": false}),
                output_schema: json!({"type": "object", "properties": {
                    "id": {"type": "string"}, "name": {"type": "string"},
                    "primaryFieldId": {"type": "string"},
                    "fields": {"type": "array"}, "views": {"type": "array"}
                }, "required": ["id", "name", "fields"]}),
                annotations: Annotations::READ,
                scope: Scope::SchemaRead,
            },
            |context, args| Box::pin(describe_table(context, args)),
        ),
    ]
}

pub(crate) fn write_tools() -> Vec<Tool> {
    let field_type = |what: &str| json!({"type": "string", "minLength": 1, "maxLength": 100, "description": what});
    let field_definition = json!({"type": "object", "properties": {
        "name": name(),
        "type": field_type("An Airtable field type, e.g. singleLineText, multilineText, number, checkbox, singleSelect, date, email, url."),
        "description": description(),
        "options": {"type": "object", "description": "Type-specific options, e.g. {\"precision\": 2} for number or {\"choices\": [{\"name\": \"Open\"}]} for singleSelect."}
    }, "required": ["name", "type"], "additionalProperties": false});
    vec![
        Tool::new(
            ToolSpec {
                name: "create_table",
                title: "Create a table",
                description: "Creates a table in a base with the given fields; the first field becomes the primary field (use a text type for it). Returns the new table with its id and field ids.",
                input_schema: json!({"type": "object", "properties": {
                    "base_id": base_id(),
                    "name": name(),
                    "description": description(),
                    "fields": {"type": "array", "minItems": 1, "maxItems": 100, "items": field_definition}
                }, "required": ["base_id", "name", "fields"], "additionalProperties": false}),
                output_schema: json!({"type": "object", "properties": {
                    "id": {"type": "string"}, "name": {"type": "string"}, "fields": {"type": "array"}
                }, "required": ["id", "name"]}),
                annotations: Annotations::ADDITIVE,
                scope: Scope::SchemaWrite,
            },
            |context, args| Box::pin(create_table(context, args)),
        ),
        Tool::new(
            ToolSpec {
                name: "update_table",
                title: "Rename or describe a table",
                description: "Changes a table's name and/or description. Renaming breaks formulas and scripts that use the old name, so only rename when asked to.",
                input_schema: json!({"type": "object", "properties": {
                    "base_id": base_id(), "table": table(),
                    "name": name(),
                    "description": description()
                }, "required": ["base_id", "table"], "additionalProperties": false}),
                output_schema: json!({"type": "object", "properties": {
                    "id": {"type": "string"}, "name": {"type": "string"}
                }, "required": ["id", "name"]}),
                annotations: Annotations::OVERWRITING,
                scope: Scope::SchemaWrite,
            },
            |context, args| Box::pin(update_table(context, args)),
        ),
        Tool::new(
            ToolSpec {
                name: "create_field",
                title: "Add a field",
                description: "Adds a field (column) to a table. Returns the new field with its id.",
                input_schema: json!({"type": "object", "properties": {
                    "base_id": base_id(), "table": table(),
                    "name": name(),
                    "type": field_type("An Airtable field type, e.g. singleLineText, number, checkbox, singleSelect, date."),
                    "description": description(),
                    "options": {"type": "object"}
                }, "required": ["base_id", "table", "name", "type"], "additionalProperties": false}),
                output_schema: json!({"type": "object", "properties": {
                    "id": {"type": "string"}, "name": {"type": "string"}, "type": {"type": "string"}
                }, "required": ["id", "name", "type"]}),
                annotations: Annotations::ADDITIVE,
                scope: Scope::SchemaWrite,
            },
            |context, args| Box::pin(create_field(context, args)),
        ),
        Tool::new(
            ToolSpec {
                name: "update_field",
                title: "Rename or describe a field",
                description: "Changes a field's name and/or description (Airtable's API cannot change a field's type). Renaming breaks formulas that use the old name, so only rename when asked to.",
                input_schema: json!({"type": "object", "properties": {
                    "base_id": base_id(), "table": table(),
                    "field": {"type": "string", "minLength": 1, "maxLength": super::shapes::MAX_NAME_LEN, "description": "The field's id (fld…) or exact name."},
                    "name": name(),
                    "description": description()
                }, "required": ["base_id", "table", "field"], "additionalProperties": false}),
                output_schema: json!({"type": "object", "properties": {
                    "id": {"type": "string"}, "name": {"type": "string"}, "type": {"type": "string"}
                }, "required": ["id", "name"]}),
                annotations: Annotations::OVERWRITING,
                scope: Scope::SchemaWrite,
            },
            |context, args| Box::pin(update_field(context, args)),
        ),
    ]
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoArgs {}

async fn list_bases(context: ToolContext, args: Value) -> Result<ToolOutput, ToolError> {
    let NoArgs {} = arguments(args)?;
    let bases = context.airtable.bases().await?;
    let count = bases.len();
    let listed: Vec<Value> = bases
        .iter()
        .map(|b| json!({"id": b.id, "name": b.name, "permissionLevel": b.permission_level}))
        .collect();
    let output = ToolOutput::new(
        json!({"bases": listed, "count": count}),
        format!("{count} bases"),
    );
    Ok(bound_list(output, "bases", context.max_output_bytes))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListTablesArgs {
    base_id: String,
    #[serde(default)]
    detail: Detail,
}

#[derive(Deserialize, Default, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Detail {
    Names,
    #[default]
    Fields,
    Full,
}

fn table_json(table: &TableSchema, detail: Detail) -> Value {
    match detail {
        Detail::Names => json!({"id": table.id, "name": table.name}),
        Detail::Fields => json!({
            "id": table.id,
            "name": table.name,
            "primaryFieldId": table.primary_field_id,
            "fields": table.fields.iter().map(|f| json!({"id": f.id, "name": f.name, "type": f.field_type})).collect::<Vec<_>>()
        }),
        Detail::Full => serde_json::to_value(table).unwrap_or(Value::Null),
    }
}

async fn list_tables(context: ToolContext, args: Value) -> Result<ToolOutput, ToolError> {
    let args: ListTablesArgs = arguments(args)?;
    let base = parse_arg("/base_id", &args.base_id, BaseId::parse)?;
    let schema = context.airtable.base_schema(&base, false).await?;
    let tables: Vec<Value> = schema
        .tables
        .iter()
        .map(|t| table_json(t, args.detail))
        .collect();
    let count = tables.len();
    let output = ToolOutput::new(
        json!({"tables": tables, "count": count}),
        format!("{count} tables in {}", args.base_id),
    );
    Ok(bound_list(output, "tables", context.max_output_bytes))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TableArgs {
    base_id: String,
    table: String,
}

/// The table's schema, or a failure naming the tables there are.
pub(crate) async fn find_table(
    context: &ToolContext,
    base_id: &BaseId,
    table: &TableRef,
) -> Result<TableSchema, ToolError> {
    let schema = context.airtable.base_schema(base_id, false).await?;
    match schema.table(table.as_str()) {
        Some(found) => Ok(found.clone()),
        None => {
            let names: Vec<&str> = schema
                .tables
                .iter()
                .map(|t| t.name.as_str())
                .take(50)
                .collect();
            Err(ToolError::Failed(format!(
                "No table {table:?} in base {base_id}; its tables are: {}",
                names.join(", ")
            )))
        }
    }
}

/// An id from Airtable's own schema answer, parsed before it goes into a path: Airtable's
/// answer is input too.
fn schema_id<T>(
    raw: &str,
    parse: fn(&str) -> Result<T, airtable::InvalidPath>,
) -> Result<T, ToolError> {
    parse(raw)
        .map_err(|err| ToolError::Failed(format!("Airtable's schema holds an unusable id: {err}")))
}

async fn describe_table(context: ToolContext, args: Value) -> Result<ToolOutput, ToolError> {
    let args: TableArgs = arguments(args)?;
    let (base, table) = target(&args.base_id, &args.table)?;
    let table = find_table(&context, &base, &table).await?;
    let summary = format!(
        "{}: {} fields, {} views",
        table.name,
        table.fields.len(),
        table.views.len()
    );
    let mut output = ToolOutput::new(table_json(&table, Detail::Full), summary);
    // A table's schema is small; a pathological one is cut by its fields.
    output = bound_list(output, "fields", context.max_output_bytes);
    Ok(output)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FieldDefinition {
    name: String,
    #[serde(rename = "type")]
    field_type: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    options: Option<Value>,
}

impl From<FieldDefinition> for NewField {
    fn from(definition: FieldDefinition) -> Self {
        let mut field = NewField::new(definition.name, definition.field_type);
        field.description = definition.description;
        field.options = definition.options;
        field
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateTableArgs {
    base_id: String,
    name: String,
    #[serde(default)]
    description: Option<String>,
    fields: Vec<FieldDefinition>,
}

async fn create_table(context: ToolContext, args: Value) -> Result<ToolOutput, ToolError> {
    let args: CreateTableArgs = arguments(args)?;
    let base = parse_arg("/base_id", &args.base_id, BaseId::parse)?;
    let new_table = NewTable {
        name: args.name,
        description: args.description,
        fields: args.fields.into_iter().map(NewField::from).collect(),
    };
    let created = context.airtable.create_table(&base, &new_table).await?;
    let summary = format!("created table {} ({})", created.name, created.id);
    Ok(ToolOutput::new(
        table_json(&created, Detail::Fields),
        summary,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateTableArgs {
    base_id: String,
    table: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
}

async fn update_table(context: ToolContext, args: Value) -> Result<ToolOutput, ToolError> {
    let args: UpdateTableArgs = arguments(args)?;
    let (base, table) = target(&args.base_id, &args.table)?;
    if args.name.is_none() && args.description.is_none() {
        return Err(ToolError::InvalidArguments(
            "give a new name, a description or both".into(),
        ));
    }
    let change = SchemaChange {
        name: args.name,
        description: args.description,
    };
    let updated = context
        .airtable
        .update_table(&base, &table, &change)
        .await?;
    let summary = format!("updated table {} ({})", updated.name, updated.id);
    Ok(ToolOutput::new(
        table_json(&updated, Detail::Names),
        summary,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateFieldArgs {
    base_id: String,
    table: String,
    name: String,
    #[serde(rename = "type")]
    field_type: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    options: Option<Value>,
}

async fn create_field(context: ToolContext, args: Value) -> Result<ToolOutput, ToolError> {
    let args: CreateFieldArgs = arguments(args)?;
    let (base, table) = target(&args.base_id, &args.table)?;
    let table = find_table(&context, &base, &table).await?;
    let table_id = schema_id(&table.id, TableId::parse)?;
    let field = NewField::from(FieldDefinition {
        name: args.name,
        field_type: args.field_type,
        description: args.description,
        options: args.options,
    });
    let created = context
        .airtable
        .create_field(&base, &table_id, &field)
        .await?;
    let summary = format!(
        "added field {} ({}) to {}",
        created.name, created.field_type, table.name
    );
    Ok(ToolOutput::new(
        serde_json::to_value(&created).unwrap_or(Value::Null),
        summary,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateFieldArgs {
    base_id: String,
    table: String,
    field: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
}

async fn update_field(context: ToolContext, args: Value) -> Result<ToolOutput, ToolError> {
    let args: UpdateFieldArgs = arguments(args)?;
    if args.name.is_none() && args.description.is_none() {
        return Err(ToolError::InvalidArguments(
            "give a new name, a description or both".into(),
        ));
    }
    let (base, table) = target(&args.base_id, &args.table)?;
    let table = find_table(&context, &base, &table).await?;
    let table_id = schema_id(&table.id, TableId::parse)?;
    let Some(field) = table.field(&args.field) else {
        return Err(ToolError::Failed(format!(
            "No field {:?} in table {}",
            args.field, table.name
        )));
    };
    let field_id = schema_id(&field.id, FieldId::parse)?;
    let change = SchemaChange {
        name: args.name,
        description: args.description,
    };
    let updated = context
        .airtable
        .update_field(&base, &table_id, &field_id, &change)
        .await?;
    let summary = format!("updated field {} in {}", updated.name, table.name);
    Ok(ToolOutput::new(
        serde_json::to_value(&updated).unwrap_or(Value::Null),
        summary,
    ))
}
