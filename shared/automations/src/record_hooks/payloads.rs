//! Airtable's change payloads as [`RecordEvent`]s.
//!
//! Payloads name fields by id; workflows and templates name them as users see them, so cells
//! are renamed with the table's schema (a field the schema does not know, such as one created
//! after the read, keeps its id). Select cells are read as the REST API shows them (a single
//! select's name, a multiple select's names) rather than the webhook's "V2" form
//! (`{id, name, color}`), so `{{ trigger.fields.Stage }}` is `"Won"` in a template or a
//! condition, as it is in `/v0` answers and `airtable.get` outputs. Other cells (links as
//! `[{id, name}]`, attachments, collaborators) stay as Airtable sent them.
//!
//! An update carries the changed cells in `current`, their old values in `previous`, and, with
//! `includeCellValuesInFieldIds: "all"`, the other cells in `unchanged`: the event's `fields`
//! are `unchanged` and `current` together, and a field is changed when it is in `current` or in
//! `previous` (a cleared cell is absent from `current`).

use std::collections::{BTreeSet, HashMap};

use airtable::{TableSchema, WebhookPayload};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::model::{RecordChange, RecordEvent};

/// One record change, with the changed fields' ids too (a trigger may watch ids or names).
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub event: RecordEvent,
    pub changed_field_ids: Vec<String>,
}

/// Field ids to names for one table.
#[derive(Debug, Clone, Default)]
pub struct FieldNames(HashMap<String, String>);

impl FieldNames {
    pub fn of(table: &TableSchema) -> Self {
        Self(
            table
                .fields
                .iter()
                .map(|f| (f.id.clone(), f.name.clone()))
                .collect(),
        )
    }

    pub fn name<'a>(&'a self, id: &'a str) -> &'a str {
        self.0.get(id).map_or(id, String::as_str)
    }

    fn rename(&self, cells: Option<&Value>) -> Map<String, Value> {
        cells
            .and_then(Value::as_object)
            .map(|cells| {
                cells
                    .iter()
                    .map(|(id, v)| (self.name(id).to_string(), rest_form(v)))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// A webhook cell in the REST API's form: select choices (`{id: "sel…", name, color}`) become
/// their names; everything else is kept.
fn rest_form(cell: &Value) -> Value {
    fn choice_name(value: &Value) -> Option<&str> {
        let object = value.as_object()?;
        object
            .get("id")?
            .as_str()
            .filter(|id| id.starts_with("sel"))?;
        object.get("name")?.as_str()
    }
    match cell {
        Value::Object(_) => choice_name(cell).map_or_else(|| cell.clone(), Value::from),
        Value::Array(items)
            if !items.is_empty() && items.iter().all(|i| choice_name(i).is_some()) =>
        {
            Value::Array(
                items
                    .iter()
                    .filter_map(choice_name)
                    .map(Value::from)
                    .collect(),
            )
        }
        other => other.clone(),
    }
}

/// Whether Airtable sent an error payload (`{error: true, code}`) instead of changes.
pub fn error_code(payload: &WebhookPayload) -> Option<String> {
    (payload.extra.get("error") == Some(&Value::Bool(true))).then(|| {
        payload
            .extra
            .get("code")
            .and_then(Value::as_str)
            .unwrap_or("UNKNOWN")
            .to_string()
    })
}

fn cells_at<'a>(record: &'a Value, side: &str) -> Option<&'a Value> {
    record.get(side)?.get("cellValuesByFieldId")
}

/// The changes to records of `table_id` in one payload: creations, then updates, then
/// deletions, each in record-id order.
pub fn record_changes(
    payload: &WebhookPayload,
    base_id: &str,
    table_id: &str,
    names: &FieldNames,
    now: DateTime<Utc>,
) -> Vec<Change> {
    let Some(table) = payload.changed_tables_by_id.get(table_id) else {
        return Vec::new();
    };
    let timestamp = payload
        .timestamp
        .as_deref()
        .and_then(|raw| DateTime::parse_from_rfc3339(raw).ok())
        .map_or(now, |at| at.with_timezone(&Utc));
    let event = |change, record_id: &str| RecordEvent {
        change,
        base_id: base_id.to_string(),
        table_id: table_id.to_string(),
        record_id: record_id.to_string(),
        fields: Map::new(),
        changed_fields: Vec::new(),
        previous: Map::new(),
        transaction: payload.base_transaction_number,
        timestamp,
    };
    let mut changes = Vec::new();
    if let Some(created) = table.get("createdRecordsById").and_then(Value::as_object) {
        for (record_id, record) in created {
            let mut created = event(RecordChange::Created, record_id);
            created.fields = names.rename(record.get("cellValuesByFieldId"));
            changes.push(Change {
                event: created,
                changed_field_ids: Vec::new(),
            });
        }
    }
    if let Some(changed) = table.get("changedRecordsById").and_then(Value::as_object) {
        for (record_id, record) in changed {
            let current = cells_at(record, "current").and_then(Value::as_object);
            let previous = cells_at(record, "previous").and_then(Value::as_object);
            let ids: BTreeSet<&String> = current
                .into_iter()
                .flat_map(|c| c.keys())
                .chain(previous.into_iter().flat_map(|p| p.keys()))
                .collect();
            let mut updated = event(RecordChange::Updated, record_id);
            updated.fields = names.rename(cells_at(record, "unchanged"));
            updated
                .fields
                .extend(names.rename(cells_at(record, "current")));
            updated.previous = names.rename(cells_at(record, "previous"));
            updated.changed_fields = ids.iter().map(|id| names.name(id).to_string()).collect();
            changes.push(Change {
                event: updated,
                changed_field_ids: ids.into_iter().cloned().collect(),
            });
        }
    }
    if let Some(destroyed) = table.get("destroyedRecordIds").and_then(Value::as_array) {
        for record_id in destroyed.iter().filter_map(Value::as_str) {
            changes.push(Change {
                event: event(RecordChange::Deleted, record_id),
                changed_field_ids: Vec::new(),
            });
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn names() -> FieldNames {
        FieldNames(HashMap::from([
            ("fldName".to_string(), "Name".to_string()),
            ("fldStage".to_string(), "Stage".to_string()),
        ]))
    }

    fn payload(tables: Value) -> WebhookPayload {
        serde_json::from_value(json!({
            "timestamp": "2026-12-01T10:00:00.000Z",
            "baseTransactionNumber": 7,
            "payloadFormat": "v0",
            "changedTablesById": tables,
        }))
        .expect("payload")
    }

    #[test]
    fn creations_updates_and_deletions_become_events_with_field_names() {
        let payload = payload(json!({
            "tblDeals": {
                "createdRecordsById": {"recA": {"createdTime": "x", "cellValuesByFieldId": {"fldName": "Acme", "fldNew": 1}}},
                "changedRecordsById": {"recB": {
                    "current": {"cellValuesByFieldId": {"fldStage": "Won"}},
                    "previous": {"cellValuesByFieldId": {"fldStage": "Open", "fldName": "Old"}},
                    "unchanged": {"cellValuesByFieldId": {"fldName": "Kept"}}
                }},
                "destroyedRecordIds": ["recC"]
            },
            "tblOther": {"destroyedRecordIds": ["recZ"]}
        }));
        let changes = record_changes(&payload, "app1", "tblDeals", &names(), Utc::now());
        assert_eq!(changes.len(), 3);
        let created = &changes[0].event;
        assert_eq!(created.change, RecordChange::Created);
        assert_eq!(
            Value::Object(created.fields.clone()),
            json!({"Name": "Acme", "fldNew": 1})
        );
        assert_eq!(created.transaction, 7);
        assert_eq!(created.timestamp.to_rfc3339(), "2026-12-01T10:00:00+00:00");
        let updated = &changes[1];
        assert_eq!(updated.event.record_id, "recB");
        // Name was cleared: absent from `current`, present in `previous`, so it changed.
        assert_eq!(updated.event.changed_fields, vec!["Name", "Stage"]);
        assert_eq!(updated.changed_field_ids, vec!["fldName", "fldStage"]);
        assert_eq!(
            Value::Object(updated.event.fields.clone()),
            json!({"Name": "Kept", "Stage": "Won"})
        );
        assert_eq!(
            Value::Object(updated.event.previous.clone()),
            json!({"Stage": "Open", "Name": "Old"})
        );
        assert_eq!(changes[2].event.change, RecordChange::Deleted);
        assert_eq!(changes[2].event.record_id, "recC");
        assert!(changes[2].event.fields.is_empty());
    }

    #[test]
    fn select_cells_read_as_the_rest_api_shows_them() {
        let stage = serde_json::json!({"id": "selWon", "name": "Won", "color": "greenLight2"});
        assert_eq!(rest_form(&stage), serde_json::json!("Won"));
        let tags = serde_json::json!([{"id": "selA", "name": "a"}, {"id": "selB", "name": "b"}]);
        assert_eq!(rest_form(&tags), serde_json::json!(["a", "b"]));
        let links = serde_json::json!([{"id": "recA", "name": "Acme"}]);
        assert_eq!(rest_form(&links), links);
        assert_eq!(rest_form(&serde_json::json!(5)), serde_json::json!(5));
    }

    #[test]
    fn other_tables_and_error_payloads_give_nothing() {
        let other = payload(json!({"tblOther": {"destroyedRecordIds": ["recZ"]}}));
        assert!(record_changes(&other, "app1", "tblDeals", &names(), Utc::now()).is_empty());
        let error: WebhookPayload =
            serde_json::from_value(json!({"error": true, "code": "INVALID_HOOK"}))
                .expect("payload");
        assert_eq!(error_code(&error).as_deref(), Some("INVALID_HOOK"));
        assert_eq!(error_code(&other), None);
    }
}
