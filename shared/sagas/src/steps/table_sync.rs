//! table-sync's actions. `diff` reads both tables whole (every page, only the compared
//! fields), matches records by the key field and plans the target's changes as transaction
//! chunks: creates, updates of the fields that differ, deletes when asked. A dry run plans no
//! chunk, and `commit` ends it with the report; otherwise the shared chunk actions apply the
//! plan and the shared compensation undoes it.
//!
//! Actions: `diff`, `capture`, `apply`, `commit`; `plan_undo`, `undo`, `mark_compensated`,
//! `mark_failed`.

use std::collections::{BTreeMap, HashSet};

use airtable::{BaseSchema, Record, TableSchema};
use ports::Update;
use serde_json::{Value, json};
use triggers::TaskError;

use super::{Action, Done, StepContext, chunks, compensation, not_an_action_of};
use crate::plan::{Fields, RecordOp, TableSyncInput, chunk_operations};
use crate::store::Plan;

/// How many keys of each kind of change the report shows.
pub const SAMPLE_KEYS: usize = 20;

pub async fn run(context: &StepContext<'_>, action: Action) -> Result<Done, TaskError> {
    match action {
        Action::Diff => diff(context).await,
        Action::Capture => chunks::capture(context).await,
        Action::Apply => chunks::apply(context).await,
        Action::Commit => commit(context).await,
        Action::PlanUndo => compensation::plan_undo(context).await,
        Action::Undo => chunks::undo(context).await,
        Action::MarkCompensated => compensation::mark_compensated(context).await,
        Action::MarkFailed => compensation::mark_failed(context).await,
        Action::Begin
        | Action::SnapshotSchema
        | Action::RegisterWebhooks
        | Action::InitialSnapshot
        | Action::RecordConnection => Err(not_an_action_of(context, action)),
    }
}

fn input(context: &StepContext<'_>) -> Result<TableSyncInput, TaskError> {
    serde_json::from_value(context.saga.input.clone())
        .map_err(|e| TaskError::invalid_input(format!("the saga's input does not parse: {e}")))
}

fn table<'a>(schema: &'a BaseSchema, name: &str) -> Result<&'a TableSchema, TaskError> {
    schema
        .table(name)
        .ok_or_else(|| TaskError::not_found(format!("the base has no table {name:?}")))
}

fn writable(table: &TableSchema) -> HashSet<String> {
    let computed = chunks::computed_fields(table);
    table
        .fields
        .iter()
        .map(|f| f.name.clone())
        .filter(|name| !computed.contains(name))
        .collect()
}

/// A key value as a map key; empty keys match nothing.
fn key_of(record: &Record, key_field: &str) -> Option<(String, Value)> {
    let value = record.fields.get(key_field)?;
    let text = match value {
        Value::Null => return None,
        Value::String(s) if s.is_empty() => return None,
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    Some((text, value.clone()))
}

/// What the diff found, in the order it plans it.
#[derive(Debug, Default)]
struct Changes {
    operations: Vec<RecordOp>,
    creates: Vec<Value>,
    updates: Vec<Value>,
    deletes: Vec<Value>,
}

fn compare(
    input: &TableSyncInput,
    compared: &[String],
    source: &[Record],
    target: &[Record],
) -> Changes {
    let mut changes = Changes::default();
    let mut targets: BTreeMap<String, &Record> = BTreeMap::new();
    for record in target {
        if let Some((key, _)) = key_of(record, &input.key_field) {
            targets.entry(key).or_insert(record);
        }
    }
    let mut seen = HashSet::new();
    let table = input.target.table.clone();
    let mut updates = Vec::new();
    for record in source {
        let Some((key, key_value)) = key_of(record, &input.key_field) else {
            continue;
        };
        if !seen.insert(key.clone()) {
            continue;
        }
        match targets.get(&key) {
            None => {
                let mut fields: Fields = compared
                    .iter()
                    .filter_map(|name| record.fields.get(name).map(|v| (name.clone(), v.clone())))
                    .collect();
                fields.insert(input.key_field.clone(), key_value.clone());
                changes.operations.push(RecordOp::Create {
                    table: table.clone(),
                    fields,
                });
                changes.creates.push(key_value);
            }
            Some(existing) => {
                let differing: Fields = compared
                    .iter()
                    .filter(|name| record.fields.get(*name) != existing.fields.get(*name))
                    .map(|name| {
                        let value = record.fields.get(name).cloned().unwrap_or(Value::Null);
                        (name.clone(), value)
                    })
                    .collect();
                if !differing.is_empty() {
                    updates.push(RecordOp::Update {
                        table: table.clone(),
                        id: existing.id.clone(),
                        fields: differing,
                    });
                    changes.updates.push(key_value);
                }
            }
        }
    }
    changes.operations.extend(updates);
    if input.delete_missing {
        for (key, record) in &targets {
            if !seen.contains(key) {
                changes.operations.push(RecordOp::Delete {
                    table: table.clone(),
                    id: record.id.clone(),
                });
                changes.deletes.push(
                    record
                        .fields
                        .get(&input.key_field)
                        .cloned()
                        .unwrap_or_default(),
                );
            }
        }
    }
    changes
}

fn report(changes: &Changes) -> Value {
    let sample = |keys: &[Value]| keys.iter().take(SAMPLE_KEYS).cloned().collect::<Vec<_>>();
    json!({
        "creates": changes.creates.len(),
        "updates": changes.updates.len(),
        "deletes": changes.deletes.len(),
        "sample": {
            "creates": sample(&changes.creates),
            "updates": sample(&changes.updates),
            "deletes": sample(&changes.deletes),
        },
    })
}

/// `diff`: reads both tables, plans the target's changes (none in a dry run) and answers the
/// first chunk's cursor.
async fn diff(context: &StepContext<'_>) -> Result<Done, TaskError> {
    let (tenant, saga) = (context.tenant(), context.saga_id());
    let input = input(context)?;
    let source_schema = context.access.schema(tenant, &input.source.base).await?;
    let target_schema = if input.target.base == input.source.base {
        source_schema.clone()
    } else {
        context.access.schema(tenant, &input.target.base).await?
    };
    let source_table = table(&source_schema, &input.source.table)?;
    let target_table = table(&target_schema, &input.target.table)?;
    let target_writable = writable(target_table);
    let candidates: Vec<String> = match &input.fields {
        Some(fields) => fields.clone(),
        None => source_table.fields.iter().map(|f| f.name.clone()).collect(),
    };
    let source_writable = writable(source_table);
    let compared: Vec<String> = candidates
        .into_iter()
        .filter(|name| *name != input.key_field)
        .filter(|name| target_writable.contains(name) && source_writable.contains(name))
        .collect();
    let mut read: Vec<String> = compared.clone();
    read.push(input.key_field.clone());
    let source = context
        .access
        .list_all(
            tenant,
            &input.source.base,
            &input.source.table,
            None,
            Some(&read),
        )
        .await?;
    let target = context
        .access
        .list_all(
            tenant,
            &input.target.base,
            &input.target.table,
            None,
            Some(&read),
        )
        .await?;
    let changes = compare(&input, &compared, &source, &target);
    let report = report(&changes);
    let planned = if input.dry_run {
        Vec::new()
    } else {
        chunk_operations(&input.target.base, &changes.operations, false)
    };
    for chunk in &planned {
        context.store.put_chunk(tenant, saga, chunk).await?;
    }
    let chunk_count = u32::try_from(planned.len()).unwrap_or(u32::MAX);
    let mut computed_fields = BTreeMap::new();
    computed_fields.insert(
        input.target.table.clone(),
        chunks::computed_fields(target_table),
    );
    let plan = Plan {
        chunks: chunk_count,
        operations: if input.dry_run {
            0
        } else {
            changes.operations.len()
        },
        computed_fields,
        report: Some(report.clone()),
    };
    context.store.put_plan(tenant, saga, &plan).await?;
    context
        .store
        .change(
            tenant,
            saga,
            Update::new()
                .set("chunks", chunk_count)
                .set("operations", changes.operations.len()),
            None,
            context.clock.now(),
        )
        .await?;
    let mut summary = report;
    summary["chunks"] = json!(chunk_count);
    summary["dry_run"] = json!(input.dry_run);
    if let Some(sample) = summary.as_object_mut() {
        sample.remove("sample");
    }
    // The machine reads the cursor; the counts are for whoever reads the history.
    let mut answer = chunks::cursor(0, chunk_count);
    if let (Some(answer), Some(counts)) = (answer.as_object_mut(), summary.as_object()) {
        answer.extend(counts.clone());
    }
    Ok(Done::new(answer, summary))
}

/// `commit`: a dry run ends with the report; an applied sync with the report and its chunks.
async fn commit(context: &StepContext<'_>) -> Result<Done, TaskError> {
    let input = input(context)?;
    let plan = context
        .store
        .plan(context.tenant(), context.saga_id())
        .await?
        .ok_or_else(|| TaskError::failed("the saga has no plan"))?;
    let mut output = plan.report.unwrap_or_else(|| json!({}));
    if !input.dry_run {
        output["chunks"] = json!(plan.chunks);
    }
    chunks::commit(context, Some(output)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, fields: Value) -> Record {
        serde_json::from_value(
            json!({"id": id, "createdTime": "2026-01-01T00:00:00.000Z", "fields": fields}),
        )
        .expect("record")
    }

    #[test]
    fn the_diff_creates_updates_and_deletes_by_key() {
        let input: TableSyncInput = serde_json::from_value(json!({
            "source": {"base": "appS", "table": "S"}, "target": {"base": "appT", "table": "T"},
            "key_field": "Key", "delete_missing": true
        }))
        .expect("input");
        assert!(input.dry_run, "a dry run unless asked otherwise");
        let compared = vec!["Name".to_string(), "Qty".to_string()];
        let source = vec![
            record("recS1", json!({"Key": "a", "Name": "A", "Qty": 1})),
            record("recS2", json!({"Key": "b", "Name": "B"})),
            record("recS3", json!({"Key": "c", "Name": "C", "Qty": 3})),
            record("recS4", json!({"Name": "no key"})),
        ];
        let target = vec![
            record("recT1", json!({"Key": "a", "Name": "A", "Qty": 1})),
            record("recT2", json!({"Key": "b", "Name": "B", "Qty": 2})),
            record("recT9", json!({"Key": "z", "Name": "Z"})),
        ];
        let changes = compare(&input, &compared, &source, &target);
        assert_eq!(changes.creates, vec![json!("c")]);
        assert_eq!(changes.updates, vec![json!("b")]);
        assert_eq!(changes.deletes, vec![json!("z")]);
        let ops = serde_json::to_value(&changes.operations).expect("ops");
        assert_eq!(
            ops,
            json!([
                {"op": "create", "table": "T", "fields": {"Key": "c", "Name": "C", "Qty": 3}},
                {"op": "update", "table": "T", "id": "recT2", "fields": {"Qty": null}},
                {"op": "delete", "table": "T", "id": "recT9"}
            ])
        );
    }
}
