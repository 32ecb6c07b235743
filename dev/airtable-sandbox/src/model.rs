//! The data model: bases, tables, fields, views and records. Cells are kept keyed by field id so
//! that renaming a field through the meta API never touches record data.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Field types whose values Airtable computes; writes to them are rejected.
pub const COMPUTED_TYPES: &[&str] = &[
    "formula",
    "createdTime",
    "lastModifiedTime",
    "autoNumber",
    "rollup",
    "lookup",
    "multipleLookupValues",
    "count",
    "createdBy",
    "lastModifiedBy",
    "button",
];

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Field {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub field_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Value>,
}

impl Field {
    pub fn is_computed(&self) -> bool {
        COMPUTED_TYPES.contains(&self.field_type.as_str())
    }

    /// A string option such as `linkedTableId` or `formula`.
    pub fn option_str(&self, key: &str) -> Option<&str> {
        self.options.as_ref()?.get(key)?.as_str()
    }

    /// The choices of a select field, as `(id, name)` pairs.
    pub fn choices(&self) -> Vec<(String, String)> {
        self.options
            .as_ref()
            .and_then(|o| o.get("choices"))
            .and_then(Value::as_array)
            .map(|cs| {
                cs.iter()
                    .filter_map(|c| {
                        Some((
                            c.get("id")?.as_str()?.to_string(),
                            c.get("name")?.as_str()?.to_string(),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// One sort key, as in `sort[0][field]` or a view's saved order.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SortSpec {
    pub field: String,
    #[serde(default = "asc")]
    pub direction: String,
}

fn asc() -> String {
    "asc".into()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct View {
    pub id: String,
    pub name: String,
    #[serde(rename = "type", default = "grid")]
    pub view_type: String,
    /// The view's filter, as a formula (a sandbox simplification of Airtable's filter UI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_by_formula: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sort: Vec<SortSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visible_field_ids: Option<Vec<String>>,
}

fn grid() -> String {
    "grid".into()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    pub id: String,
    pub created_time: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified_time: Option<DateTime<Utc>>,
    /// Stored cells keyed by field id (the seed may key them by name; see seed.rs).
    #[serde(default)]
    pub fields: Map<String, Value>,
}

impl Record {
    pub fn modified(&self) -> DateTime<Utc> {
        self.last_modified_time.unwrap_or(self.created_time)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Table {
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub primary_field_id: String,
    pub fields: Vec<Field>,
    #[serde(default)]
    pub views: Vec<View>,
    #[serde(default)]
    pub records: Vec<Record>,
}

impl Table {
    /// Exact (case-sensitive) name or id match, as Airtable does for writes.
    pub fn field(&self, name_or_id: &str) -> Option<&Field> {
        self.fields
            .iter()
            .find(|f| f.id == name_or_id)
            .or_else(|| self.fields.iter().find(|f| f.name == name_or_id))
    }

    pub fn field_mut(&mut self, name_or_id: &str) -> Option<&mut Field> {
        let idx = self
            .fields
            .iter()
            .position(|f| f.id == name_or_id)
            .or_else(|| self.fields.iter().position(|f| f.name == name_or_id))?;
        self.fields.get_mut(idx)
    }

    pub fn view(&self, name_or_id: &str) -> Option<&View> {
        self.views
            .iter()
            .find(|v| v.id == name_or_id)
            .or_else(|| self.views.iter().find(|v| v.name == name_or_id))
    }

    pub fn record(&self, id: &str) -> Option<&Record> {
        self.records.iter().find(|r| r.id == id)
    }

    pub fn record_index(&self, id: &str) -> Option<usize> {
        self.records.iter().position(|r| r.id == id)
    }

    pub fn primary_field(&self) -> Option<&Field> {
        self.fields
            .iter()
            .find(|f| f.id == self.primary_field_id)
            .or_else(|| self.fields.first())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Base {
    pub id: String,
    pub name: String,
    #[serde(default = "create_level")]
    pub permission_level: String,
    pub tables: Vec<Table>,
}

fn create_level() -> String {
    "create".into()
}

impl Base {
    pub fn table(&self, name_or_id: &str) -> Option<&Table> {
        self.tables
            .iter()
            .find(|t| t.id == name_or_id)
            .or_else(|| self.tables.iter().find(|t| t.name == name_or_id))
    }

    pub fn table_index(&self, name_or_id: &str) -> Option<usize> {
        self.tables
            .iter()
            .position(|t| t.id == name_or_id)
            .or_else(|| self.tables.iter().position(|t| t.name == name_or_id))
    }

    pub fn table_by_id_mut(&mut self, id: &str) -> Option<&mut Table> {
        self.tables.iter_mut().find(|t| t.id == id)
    }
}

/// A personal access token: which bases it may reach and which scopes it carries.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Token {
    pub token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub scopes: Vec<String>,
    /// Base ids, or `["*"]` for every base.
    pub bases: Vec<String>,
}

impl Token {
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    pub fn can_reach(&self, base_id: &str) -> bool {
        self.bases.iter().any(|b| b == "*" || b == base_id)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// Everything a seed or a persistence file holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Snapshot {
    pub user: User,
    pub tokens: Vec<Token>,
    pub bases: Vec<Base>,
}

/// Per-table counters that must survive restarts (autonumbers never repeat).
pub type Counters = BTreeMap<String, u64>;
