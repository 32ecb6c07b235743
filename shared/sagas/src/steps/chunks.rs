//! The chunk actions transaction and table-sync share: `capture` (before-images of what chunk k
//! touches), `apply` (chunk k's one write), `undo` (chunk k put back), `commit`.
//!
//! Undo works from what was stored, not from what Airtable says now: the before-images taken
//! just before the chunk, and the ids its write created (only a write whose answer was lost
//! makes it look, in `possibly_applied`). Created records are deleted, deleted
//! ones recreated with their writable fields (their ids are new: Airtable cannot recreate an
//! id), updated ones patched back on every field the chunk wrote, with `null` for a field that
//! was empty before. Each of those writes has its own idempotency key, so a retried undo
//! replays instead of deleting or recreating twice.

use std::collections::{BTreeMap, HashMap};

use airtable::TableSchema;
use airtable::formula::{self, Formula};
use serde_json::{Value, json};
use triggers::TaskError;

use super::{Done, StepContext, compensation};
use crate::access::{self, ids_formula};
use crate::model::SagaStatus;
use crate::plan::{Chunk, Fields, OpKind, RecordOp};
use crate::store::{Applied, BeforeImage, Images, set_status};

/// The field types Airtable computes: never written, so never restored.
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

/// The names of a table's computed fields.
pub fn computed_fields(table: &TableSchema) -> Vec<String> {
    table
        .fields
        .iter()
        .filter(|f| COMPUTED_TYPES.contains(&f.field_type.as_str()))
        .map(|f| f.name.clone())
        .collect()
}

/// The machine's loop cursor: whether chunk `next` exists.
pub fn cursor(next: u32, chunks: u32) -> Value {
    json!({"more": next < chunks, "next": next})
}

async fn chunk(context: &StepContext<'_>, index: u32) -> Result<Chunk, TaskError> {
    context
        .store
        .chunk(context.tenant(), context.saga_id(), index)
        .await?
        .ok_or_else(|| TaskError::failed(format!("the saga has no chunk {index}")))
}

/// The chunks the saga's plan holds.
async fn chunk_count(context: &StepContext<'_>) -> Result<u32, TaskError> {
    let plan = context
        .store
        .plan(context.tenant(), context.saga_id())
        .await?
        .ok_or_else(|| TaskError::failed("the saga has no plan"))?;
    Ok(plan.chunks)
}

/// The formula that finds the records an upsert chunk may match: any operation's merge values.
fn merge_formula(chunk: &Chunk) -> Formula {
    formula::or(chunk.operations.iter().filter_map(|op| match op {
        RecordOp::Upsert {
            merge_on, fields, ..
        } => {
            Some(formula::match_fields(merge_on.iter().map(|name| {
                (name, fields.get(name).unwrap_or(&Value::Null))
            })))
        }
        _ => None,
    }))
}

/// `capture`: reads, fresh, the records chunk k will change or delete and keeps them.
pub async fn capture(context: &StepContext<'_>) -> Result<Done, TaskError> {
    let index = context.index()?;
    let chunk = chunk(context, index).await?;
    let filter = match chunk.op {
        OpKind::Create => None,
        OpKind::Update | OpKind::Delete => Some(ids_formula(chunk.record_ids())),
        OpKind::Upsert => Some(merge_formula(&chunk)),
    };
    let records = match &filter {
        Some(filter) => {
            context
                .access
                .list_all(
                    context.tenant(),
                    &chunk.base,
                    &chunk.table,
                    Some(filter),
                    None,
                )
                .await?
        }
        None => Vec::new(),
    };
    let images = Images {
        records: records
            .into_iter()
            .map(|r| BeforeImage {
                id: r.id,
                fields: r.fields,
            })
            .collect(),
    };
    context
        .store
        .put_images(context.tenant(), context.saga_id(), index, &images)
        .await?;
    Ok(Done::new(
        json!({"index": index}),
        json!({"op": chunk.op, "table": chunk.table, "captured": images.records.len()}),
    ))
}

fn ids_in(answer: &Value, name: &str) -> Vec<String> {
    answer[name]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|item| item.as_str().or_else(|| item["id"].as_str()))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn fields_of(op: &RecordOp) -> Fields {
    op.fields().cloned().unwrap_or_default()
}

/// The write that applies a chunk.
fn apply_write(chunk: &Chunk, key: String) -> Result<access::Write, TaskError> {
    let (base, table) = (chunk.base.as_str(), chunk.table.as_str());
    match chunk.op {
        OpKind::Create => {
            let records: Vec<Value> = chunk
                .operations
                .iter()
                .map(|op| json!({"fields": fields_of(op)}))
                .collect();
            let body = json!({"records": records, "typecast": chunk.typecast});
            access::create_write(base, table, body, key)
        }
        OpKind::Update => {
            let records: Vec<Value> = chunk
                .operations
                .iter()
                .map(|op| json!({"id": op.record_id(), "fields": fields_of(op)}))
                .collect();
            let body = json!({"records": records, "typecast": chunk.typecast});
            access::patch_write(base, table, body, key)
        }
        OpKind::Upsert => {
            let records: Vec<Value> = chunk
                .operations
                .iter()
                .map(|op| json!({"fields": fields_of(op)}))
                .collect();
            let body = json!({
                "performUpsert": {"fieldsToMergeOn": chunk.merge_on.clone().unwrap_or_default()},
                "records": records,
                "typecast": chunk.typecast,
            });
            access::patch_write(base, table, body, key)
        }
        OpKind::Delete => {
            let ids: Vec<String> = chunk.record_ids().into_iter().map(str::to_string).collect();
            access::delete_write(base, table, &ids, key)
        }
    }
}

/// What Airtable's answer to a chunk's write says it did.
fn applied_from(op: OpKind, answer: &Value) -> Applied {
    let records = ids_in(answer, "records");
    let applied = match op {
        OpKind::Create => Applied {
            created: ids_in(answer, "records"),
            ..Applied::default()
        },
        OpKind::Update => Applied {
            updated: ids_in(answer, "records"),
            ..Applied::default()
        },
        OpKind::Upsert => Applied {
            created: ids_in(answer, "createdRecords"),
            updated: ids_in(answer, "updatedRecords"),
            ..Applied::default()
        },
        OpKind::Delete => Applied {
            deleted: ids_in(answer, "records"),
            ..Applied::default()
        },
    };
    Applied { records, ..applied }
}

/// `apply`: chunk k's one write, keyed `saga:<id>:apply:<k>`, and what it did. A write whose
/// outcome is unknown (it reached Airtable, then broke) is marked so, for the undo to treat
/// the chunk as possibly applied; a retry that gets the answer replaces the mark.
pub async fn apply(context: &StepContext<'_>) -> Result<Done, TaskError> {
    let index = context.index()?;
    let (tenant, saga) = (context.tenant(), context.saga_id());
    let chunk = chunk(context, index).await?;
    let write = apply_write(&chunk, context.write_key(&format!("apply:{index}")))?;
    let applied = match context.access.write(tenant, write).await {
        Ok(answer) => applied_from(chunk.op, &answer),
        Err(failure) => {
            if failure.maybe_applied {
                let unknown = Applied {
                    outcome_unknown: true,
                    ..Applied::default()
                };
                context
                    .store
                    .put_applied(tenant, saga, index, &unknown)
                    .await?;
            }
            return Err(failure.error);
        }
    };
    context
        .store
        .put_applied(tenant, saga, index, &applied)
        .await?;
    let chunks = chunk_count(context).await?;
    Ok(Done::new(
        cursor(index + 1, chunks),
        json!({
            "op": chunk.op, "table": chunk.table,
            "created": applied.created.len(), "updated": applied.updated.len(),
            "deleted": applied.deleted.len(),
        }),
    ))
}

/// The fields that put `ids` back as the images hold them: every field the chunk wrote, with
/// `null` where the record had no value.
fn restorations(chunk: &Chunk, images: &Images, ids: &[String]) -> Vec<Value> {
    let written = chunk.written_fields();
    let by_id: HashMap<&str, &BeforeImage> =
        images.records.iter().map(|r| (r.id.as_str(), r)).collect();
    ids.iter()
        .filter_map(|id| by_id.get(id.as_str()))
        .map(|image| {
            let fields: Fields = written
                .iter()
                .map(|name| {
                    let before = image.fields.get(name).cloned().unwrap_or(Value::Null);
                    (name.clone(), before)
                })
                .collect();
            json!({"id": image.id, "fields": fields})
        })
        .collect()
}

/// `undo`: puts chunk k back from its before-images, then answers the next chunk to undo.
pub async fn undo(context: &StepContext<'_>) -> Result<Done, TaskError> {
    let index = context.index()?;
    let (tenant, saga) = (context.tenant(), context.saga_id());
    let chunk = chunk(context, index).await?;
    let applied = context.store.applied(tenant, saga, index).await?;
    let images = context
        .store
        .images(tenant, saga, index)
        .await?
        .unwrap_or_default();
    let (base, table) = (chunk.base.as_str(), chunk.table.as_str());
    let mut summary = BTreeMap::new();
    let applied = match applied {
        Some(applied) if applied.outcome_unknown => {
            Some(possibly_applied(context, &chunk, &images).await?)
        }
        other => other,
    };
    if let Some(applied) = &applied {
        if !applied.created.is_empty() {
            let key = context.write_key(&format!("undo:{index}:delete"));
            context
                .access
                .write(
                    tenant,
                    access::delete_write(base, table, &applied.created, key)?,
                )
                .await?;
            summary.insert("deleted", applied.created.len());
        }
        let restore = restorations(&chunk, &images, &applied.updated);
        if !restore.is_empty() {
            let key = context.write_key(&format!("undo:{index}:restore"));
            let body = json!({"records": restore, "typecast": false});
            context
                .access
                .write(tenant, access::patch_write(base, table, body, key)?)
                .await?;
            summary.insert("restored", restore.len());
        }
        if !applied.deleted.is_empty() {
            let recreated = recreate(context, &chunk, &images, &applied.deleted).await?;
            summary.insert("recreated", recreated);
        }
    }
    let next = compensation::next_to_undo(context, index).await?;
    Ok(Done::new(
        compensation::undo_cursor(context, next),
        json!({"op": chunk.op, "table": chunk.table, "undone": summary}),
    ))
}

/// What a chunk whose write's outcome is unknown may have done, as far as it can be known: an
/// update may have changed every record it names (restoring them all is right either way); a
/// delete removed those of its records that are gone now. What a create or an upsert created
/// cannot be known (Airtable chose the ids), so that undo fails and the saga needs a person.
async fn possibly_applied(
    context: &StepContext<'_>,
    chunk: &Chunk,
    images: &Images,
) -> Result<Applied, TaskError> {
    match chunk.op {
        OpKind::Update => Ok(Applied {
            updated: images.records.iter().map(|r| r.id.clone()).collect(),
            ..Applied::default()
        }),
        OpKind::Delete => {
            let present: Vec<String> = context
                .access
                .list_all(
                    context.tenant(),
                    &chunk.base,
                    &chunk.table,
                    Some(&ids_formula(chunk.record_ids())),
                    None,
                )
                .await?
                .into_iter()
                .map(|r| r.id)
                .collect();
            Ok(Applied {
                deleted: images
                    .records
                    .iter()
                    .map(|r| r.id.clone())
                    .filter(|id| !present.contains(id))
                    .collect(),
                ..Applied::default()
            })
        }
        OpKind::Create | OpKind::Upsert => Err(TaskError::failed(format!(
            "chunk {} ({:?} on {}) may have been written: Airtable's answer was lost, so the records it created cannot be known; check the table",
            chunk.index, chunk.op, chunk.table
        ))),
    }
}

/// Recreates deleted records from their images, without the fields Airtable computes.
async fn recreate(
    context: &StepContext<'_>,
    chunk: &Chunk,
    images: &Images,
    deleted: &[String],
) -> Result<usize, TaskError> {
    let (tenant, saga) = (context.tenant(), context.saga_id());
    let plan = context.store.plan(tenant, saga).await?.unwrap_or_default();
    let computed = plan
        .computed_fields
        .get(&chunk.table)
        .cloned()
        .unwrap_or_default();
    let records: Vec<Value> = images
        .records
        .iter()
        .filter(|image| deleted.contains(&image.id))
        .map(|image| {
            let fields: Fields = image
                .fields
                .iter()
                .filter(|(name, _)| !computed.contains(name))
                .map(|(name, value)| (name.clone(), value.clone()))
                .collect();
            json!({"fields": fields})
        })
        .collect();
    if records.is_empty() {
        return Ok(0);
    }
    let count = records.len();
    let key = context.write_key(&format!("undo:{}:recreate", chunk.index));
    let body = json!({"records": records, "typecast": false});
    context
        .access
        .write(
            tenant,
            access::create_write(&chunk.base, &chunk.table, body, key)?,
        )
        .await?;
    Ok(count)
}

/// `commit`: the saga succeeded; its output is what the chunks did (and the report, for a
/// table-sync). Only a running saga commits: one being compensated stays so.
pub async fn commit(context: &StepContext<'_>, report: Option<Value>) -> Result<Done, TaskError> {
    let (tenant, saga) = (context.tenant(), context.saga_id());
    let plan = context.store.plan(tenant, saga).await?.unwrap_or_default();
    let mut totals = Applied::default();
    for index in context.store.applied_indexes(tenant, saga).await? {
        if let Some(applied) = context.store.applied(tenant, saga, index).await? {
            totals.created.extend(applied.created);
            totals.updated.extend(applied.updated);
            totals.deleted.extend(applied.deleted);
            totals.records.extend(applied.records);
        }
    }
    let output = match report {
        Some(report) => report,
        // `records`: the id each operation wrote, in the input's order (the new ids of
        // creates among them).
        None => json!({
            "operations": plan.operations, "chunks": plan.chunks,
            "created": totals.created.len(), "updated": totals.updated.len(),
            "deleted": totals.deleted.len(), "records": totals.records,
        }),
    };
    let changed = context
        .store
        .change(
            tenant,
            saga,
            set_status(SagaStatus::Succeeded).set("output", output.clone()),
            Some(ports::Condition::equals(
                "status",
                SagaStatus::Running.as_str(),
            )),
            context.clock.now(),
        )
        .await?;
    if changed.is_none() {
        return Err(TaskError::conflict("the saga is no longer running"));
    }
    Ok(Done::new(json!({"status": "succeeded"}), output))
}
