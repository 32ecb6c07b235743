//! The meta API's shapes: bases, tables, fields, views, and the token's identity.
//!
//! Field and view types are plain strings, not enums: Airtable documents that new field types
//! appear and clients must tolerate them. Unknown keys land in `extra` so nothing is lost when
//! a gateway re-serialises a schema.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A base the token can see.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaseInfo {
    pub id: String,
    pub name: String,
    /// `none`, `read`, `comment`, `edit` or `create`.
    #[serde(rename = "permissionLevel", default)]
    pub permission_level: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One page of `GET /v0/meta/bases`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BasesPage {
    pub bases: Vec<BaseInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<String>,
}

/// A base's schema: `GET /v0/meta/bases/{baseId}/tables`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaseSchema {
    pub tables: Vec<TableSchema>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl BaseSchema {
    /// The table with this ID or name (IDs first, then names, as Airtable resolves them).
    pub fn table(&self, id_or_name: &str) -> Option<&TableSchema> {
        self.tables
            .iter()
            .find(|t| t.id == id_or_name)
            .or_else(|| self.tables.iter().find(|t| t.name == id_or_name))
    }
}

/// One table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableSchema {
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(rename = "primaryFieldId", default)]
    pub primary_field_id: String,
    #[serde(default)]
    pub fields: Vec<FieldSchema>,
    #[serde(default)]
    pub views: Vec<ViewSchema>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl TableSchema {
    /// The field with this ID or name.
    pub fn field(&self, id_or_name: &str) -> Option<&FieldSchema> {
        self.fields
            .iter()
            .find(|f| f.id == id_or_name)
            .or_else(|| self.fields.iter().find(|f| f.name == id_or_name))
    }
}

/// One field. `field_type` is e.g. `singleLineText`, `number`, `multipleRecordLinks`, or a type
/// this code has never heard of.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldSchema {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub field_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ViewSchema {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub view_type: String,
    /// Only grid views, and only when asked for with `include[]=visibleFieldIds`.
    #[serde(
        rename = "visibleFieldIds",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub visible_field_ids: Option<Vec<String>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A field to create, alone or as part of a new table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewField {
    pub name: String,
    #[serde(rename = "type")]
    pub field_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Value>,
}

impl NewField {
    pub fn new(name: impl Into<String>, field_type: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            field_type: field_type.into(),
            description: None,
            options: None,
        }
    }

    pub fn with_options(mut self, options: Value) -> Self {
        self.options = Some(options);
        self
    }
}

/// A table to create. The first field becomes the primary field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewTable {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub fields: Vec<NewField>,
}

/// A rename and/or new description for a table or field (Airtable changes nothing else).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SchemaChange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `GET /v0/meta/whoami`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WhoAmI {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn schema_tolerates_unknown_types_and_keeps_unknown_keys() {
        let schema: BaseSchema = serde_json::from_value(json!({"tables":[{
            "id":"tbl00000000000001","name":"People","primaryFieldId":"fld00000000000001",
            "fields":[{"id":"fld00000000000001","name":"Name","type":"singleLineText"},
                      {"id":"fld00000000000002","name":"Vibe","type":"aiText","options":{"x":1},"brandNew":true}],
            "views":[{"id":"viw00000000000001","name":"Grid view","type":"grid","visibleFieldIds":["fld00000000000001"]}]
        }]}))
        .unwrap();
        let table = schema.table("People").unwrap();
        let vibe = table.field("fld00000000000002").unwrap();
        assert_eq!(vibe.field_type, "aiText");
        assert_eq!(vibe.extra["brandNew"], json!(true));
        assert_eq!(serde_json::to_value(vibe).unwrap()["brandNew"], json!(true));
    }
}
