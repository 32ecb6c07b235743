//! The typed inputs, and the plan: a saga's record operations grouped into chunks that are
//! each one Airtable write (at most 10 records, one table, one kind of operation). A chunk is
//! the unit of capture, apply and undo, so a failure undoes whole chunks and a restart resumes
//! at one.

use std::collections::HashSet;

use airtable::MAX_RECORDS_PER_WRITE;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Cell values by field name.
pub type Fields = Map<String, Value>;

/// A transaction's input (the schema in [`crate::schema`] has checked its shape).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransactionInput {
    pub base: String,
    pub operations: Vec<RecordOp>,
    #[serde(default)]
    pub typecast: bool,
}

/// One record operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum RecordOp {
    Create {
        table: String,
        fields: Fields,
    },
    Update {
        table: String,
        id: String,
        fields: Fields,
    },
    Upsert {
        table: String,
        merge_on: Vec<String>,
        fields: Fields,
    },
    Delete {
        table: String,
        id: String,
    },
}

/// The kind of a chunk's operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    Create,
    Update,
    Upsert,
    Delete,
}

impl RecordOp {
    pub fn kind(&self) -> OpKind {
        match self {
            RecordOp::Create { .. } => OpKind::Create,
            RecordOp::Update { .. } => OpKind::Update,
            RecordOp::Upsert { .. } => OpKind::Upsert,
            RecordOp::Delete { .. } => OpKind::Delete,
        }
    }

    pub fn table(&self) -> &str {
        match self {
            RecordOp::Create { table, .. }
            | RecordOp::Update { table, .. }
            | RecordOp::Upsert { table, .. }
            | RecordOp::Delete { table, .. } => table,
        }
    }

    pub fn record_id(&self) -> Option<&str> {
        match self {
            RecordOp::Update { id, .. } | RecordOp::Delete { id, .. } => Some(id),
            RecordOp::Create { .. } | RecordOp::Upsert { .. } => None,
        }
    }

    pub fn fields(&self) -> Option<&Fields> {
        match self {
            RecordOp::Create { fields, .. }
            | RecordOp::Update { fields, .. }
            | RecordOp::Upsert { fields, .. } => Some(fields),
            RecordOp::Delete { .. } => None,
        }
    }

    pub fn merge_on(&self) -> Option<&[String]> {
        match self {
            RecordOp::Upsert { merge_on, .. } => Some(merge_on),
            _ => None,
        }
    }

    /// What identifies the record within a chunk: its id, or its merge values. Two operations
    /// on one record never share a chunk (one Airtable request cannot name a record twice).
    fn identity(&self) -> Option<String> {
        match self {
            RecordOp::Update { id, .. } | RecordOp::Delete { id, .. } => Some(id.clone()),
            RecordOp::Upsert {
                merge_on, fields, ..
            } => {
                let values: Vec<&Value> = merge_on
                    .iter()
                    .map(|name| fields.get(name).unwrap_or(&Value::Null))
                    .collect();
                serde_json::to_string(&values).ok()
            }
            RecordOp::Create { .. } => None,
        }
    }
}

/// A table-sync's input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableSyncInput {
    pub source: TableSide,
    pub target: TableSide,
    pub key_field: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<String>>,
    #[serde(default = "dry_run_by_default")]
    pub dry_run: bool,
    #[serde(default)]
    pub delete_missing: bool,
}

fn dry_run_by_default() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableSide {
    pub base: String,
    pub table: String,
}

/// One Airtable write's worth of operations: one base, one table, one kind (and, for upserts,
/// one set of merge fields), at most [`MAX_RECORDS_PER_WRITE`] records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chunk {
    pub index: u32,
    pub base: String,
    pub table: String,
    pub op: OpKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge_on: Option<Vec<String>>,
    #[serde(default)]
    pub typecast: bool,
    /// The position of the chunk's first operation in the saga's list.
    pub first_operation: usize,
    pub operations: Vec<RecordOp>,
}

impl Chunk {
    /// The ids an update or delete chunk names.
    pub fn record_ids(&self) -> Vec<&str> {
        self.operations
            .iter()
            .filter_map(RecordOp::record_id)
            .collect()
    }

    /// Every field name the chunk's operations write (what an undo puts back).
    pub fn written_fields(&self) -> Vec<String> {
        let mut seen = HashSet::new();
        let mut names = Vec::new();
        for fields in self.operations.iter().filter_map(RecordOp::fields) {
            for name in fields.keys() {
                if seen.insert(name.clone()) {
                    names.push(name.clone());
                }
            }
        }
        names
    }
}

/// Groups operations into chunks: consecutive operations of the same kind on the same table
/// (and merge fields), up to ten, never naming one record twice.
pub fn chunk_operations(base: &str, operations: &[RecordOp], typecast: bool) -> Vec<Chunk> {
    let mut chunks: Vec<Chunk> = Vec::new();
    let mut identities: HashSet<String> = HashSet::new();
    for (position, op) in operations.iter().enumerate() {
        let identity = op.identity();
        let fits = chunks.last().is_some_and(|chunk| {
            chunk.op == op.kind()
                && chunk.table == op.table()
                && chunk.merge_on.as_deref() == op.merge_on()
                && chunk.operations.len() < MAX_RECORDS_PER_WRITE
                && identity.as_ref().is_none_or(|id| !identities.contains(id))
        });
        if !fits {
            identities.clear();
            chunks.push(Chunk {
                index: u32::try_from(chunks.len()).unwrap_or(u32::MAX),
                base: base.to_string(),
                table: op.table().to_string(),
                op: op.kind(),
                merge_on: op.merge_on().map(<[String]>::to_vec),
                typecast,
                first_operation: position,
                operations: Vec::new(),
            });
        }
        if let Some(identity) = identity {
            identities.insert(identity);
        }
        if let Some(chunk) = chunks.last_mut() {
            chunk.operations.push(op.clone());
        }
    }
    chunks
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn ops(value: Value) -> Vec<RecordOp> {
        serde_json::from_value(value).expect("operations")
    }

    #[test]
    fn consecutive_operations_of_a_kind_and_table_share_chunks_of_ten() {
        let mut list = Vec::new();
        for i in 0..23 {
            list.push(json!({"op": "create", "table": "A", "fields": {"n": i}}));
        }
        list.push(json!({"op": "create", "table": "B", "fields": {}}));
        list.push(json!({"op": "update", "table": "B", "id": "rec1", "fields": {}}));
        list.push(json!({"op": "update", "table": "B", "id": "rec1", "fields": {}}));
        list.push(json!({"op": "upsert", "table": "B", "merge_on": ["k"], "fields": {"k": 1}}));
        list.push(json!({"op": "upsert", "table": "B", "merge_on": ["j"], "fields": {"j": 1}}));
        list.push(json!({"op": "delete", "table": "B", "id": "rec2"}));
        let chunks = chunk_operations("appX", &ops(Value::Array(list)), false);
        let sizes: Vec<(OpKind, &str, usize, usize)> = chunks
            .iter()
            .map(|c| {
                (
                    c.op,
                    c.table.as_str(),
                    c.operations.len(),
                    c.first_operation,
                )
            })
            .collect();
        assert_eq!(
            sizes,
            vec![
                (OpKind::Create, "A", 10, 0),
                (OpKind::Create, "A", 10, 10),
                (OpKind::Create, "A", 3, 20),
                (OpKind::Create, "B", 1, 23),
                (OpKind::Update, "B", 1, 24),
                (OpKind::Update, "B", 1, 25),
                (OpKind::Upsert, "B", 1, 26),
                (OpKind::Upsert, "B", 1, 27),
                (OpKind::Delete, "B", 1, 28),
            ]
        );
        assert!(
            chunks
                .iter()
                .enumerate()
                .all(|(i, c)| c.index as usize == i)
        );
    }
}
