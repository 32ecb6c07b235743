//! Loading seeds. A seed and a persistence file share one format (`model::Snapshot`), so a
//! persisted sandbox can be restarted from its own file. Seeds may key record cells by field name
//! for readability; loading turns names into ids and fills in what Airtable would have filled in.

use crate::ids;
use crate::model::{Snapshot, View};
use serde_json::{Map, Value};
use std::collections::HashSet;

/// The demo CRM base, compiled in so the binary works with no files around.
pub const DEMO_SEED: &str = include_str!("../seed/demo-crm.json");

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("the seed is not valid JSON for a sandbox: {0}")]
    Json(#[from] serde_json::Error),
    #[error("the seed is inconsistent: {0}")]
    Invalid(String),
    #[error("could not read the seed file {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// Parses and normalises a seed.
pub fn parse(text: &str) -> Result<Snapshot, SeedError> {
    let mut snap: Snapshot = serde_json::from_str(text)?;
    normalise(&mut snap)?;
    Ok(snap)
}

/// Reads a seed from a file.
pub fn load_file(path: &str) -> Result<Snapshot, SeedError> {
    let text = std::fs::read_to_string(path).map_err(|source| SeedError::Io {
        path: path.to_string(),
        source,
    })?;
    parse(&text)
}

pub fn demo() -> Result<Snapshot, SeedError> {
    parse(DEMO_SEED)
}

fn normalise(snap: &mut Snapshot) -> Result<(), SeedError> {
    let mut seen = HashSet::new();
    for base in &mut snap.bases {
        if !seen.insert(base.id.clone()) {
            return Err(SeedError::Invalid(format!("duplicate id {}", base.id)));
        }
        for table in &mut base.tables {
            if !seen.insert(table.id.clone()) {
                return Err(SeedError::Invalid(format!("duplicate id {}", table.id)));
            }
            if table.fields.is_empty() {
                return Err(SeedError::Invalid(format!(
                    "table {} has no fields",
                    table.name
                )));
            }
            if table.primary_field_id.is_empty()
                || table.field(&table.primary_field_id.clone()).is_none()
            {
                table.primary_field_id = table.fields[0].id.clone();
            }
            for field in &mut table.fields {
                if field.id.is_empty() {
                    field.id = ids::new_id("fld");
                }
                fill_choice_ids(field.options.as_mut());
            }
            if table.views.is_empty() {
                table.views.push(View {
                    id: ids::new_id("viw"),
                    name: "Grid view".into(),
                    view_type: "grid".into(),
                    filter_by_formula: None,
                    sort: vec![],
                    visible_field_ids: Some(table.fields.iter().map(|f| f.id.clone()).collect()),
                });
            }
            let fields = table.fields.clone();
            for record in &mut table.records {
                if record.id.is_empty() {
                    record.id = ids::new_id("rec");
                }
                let mut by_id = Map::new();
                for (key, value) in std::mem::take(&mut record.fields) {
                    let field = fields
                        .iter()
                        .find(|f| f.id == key)
                        .or_else(|| fields.iter().find(|f| f.name == key))
                        .ok_or_else(|| {
                            SeedError::Invalid(format!(
                                "record {} names unknown field {key}",
                                record.id
                            ))
                        })?;
                    if !is_empty(&value) {
                        by_id.insert(field.id.clone(), value);
                    }
                }
                record.fields = by_id;
            }
        }
    }
    Ok(())
}

fn fill_choice_ids(options: Option<&mut Value>) {
    let Some(choices) = options
        .and_then(|o| o.get_mut("choices"))
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    for choice in choices {
        if let Some(obj) = choice.as_object_mut()
            && !obj.contains_key("id")
        {
            obj.insert("id".into(), Value::String(ids::new_id("sel")));
        }
    }
}

/// Airtable's notion of an empty cell: never stored, never returned.
pub fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_seed_loads_with_ids() {
        let snap = demo().unwrap();
        let base = &snap.bases[0];
        assert_eq!(base.id, "appSandboxDemoCRM");
        let contacts = base.table("Contacts").unwrap();
        let rec = &contacts.records[0];
        assert!(rec.fields.keys().all(|k| k.starts_with("fld")));
    }

    #[test]
    fn unknown_field_in_seed_is_an_error() {
        let text = r#"{"user":{"id":"usrA"},"tokens":[],"bases":[{"id":"appA","name":"A","tables":[
            {"id":"tblA","name":"T","fields":[{"id":"fldA","name":"Name","type":"singleLineText"}],
             "records":[{"id":"recA","createdTime":"2024-01-01T00:00:00Z","fields":{"Nope":"x"}}]}]}]}"#;
        assert!(parse(text).is_err());
    }
}
