//! An input's checks at start, after its schema: what a schema cannot say (merge fields must be
//! among the fields written, ids and table names Airtable would take), and, as far as one
//! schema read per base allows, that the bases and tables exist.

use std::collections::BTreeMap;

use airtable::{BaseId, BaseSchema, TableRef};
use serde_json::Value;

use crate::access::AirtableAccess;
use crate::error::{MAX_OPERATIONS, Problem, SagaError};
use crate::model::SagaType;
use crate::plan::{RecordOp, TableSyncInput, TransactionInput};
use crate::schema;

/// The largest input a saga takes: it is kept with the saga (one store item of at most
/// 400 KB) and shown by `GET /v1/sagas/{id}`.
pub const MAX_INPUT_BYTES: usize = 256 * 1024;

/// A checked input, typed.
#[derive(Debug, Clone)]
pub enum CheckedInput {
    Transaction(TransactionInput),
    TableSync(TableSyncInput),
    ConnectBase { base: String },
}

impl CheckedInput {
    /// How many record operations the saga plans (known up front for a transaction).
    pub fn operations(&self) -> Option<usize> {
        match self {
            CheckedInput::Transaction(input) => Some(input.operations.len()),
            CheckedInput::TableSync(_) | CheckedInput::ConnectBase { .. } => None,
        }
    }
}

fn invalid(problems: Vec<Problem>) -> Result<(), SagaError> {
    if problems.is_empty() {
        Ok(())
    } else {
        Err(SagaError::InvalidInput { problems })
    }
}

fn typed<T: serde::de::DeserializeOwned>(input: &Value) -> Result<T, SagaError> {
    serde_json::from_value(input.clone()).map_err(|err| SagaError::invalid("", err.to_string()))
}

/// The shape checks: the operation limit first (so 1001 operations are that, not a schema
/// problem), then the schema, then what the schema cannot say.
pub fn check_shape(saga_type: SagaType, input: &Value) -> Result<CheckedInput, SagaError> {
    let size = serde_json::to_string(input).map_or(usize::MAX, |text| text.len());
    if size > MAX_INPUT_BYTES {
        return Err(SagaError::invalid(
            "",
            format!("the input is {size} bytes; a saga's input holds at most {MAX_INPUT_BYTES}"),
        ));
    }
    if saga_type == SagaType::Transaction
        && let Some(operations) = input.get("operations").and_then(Value::as_array)
        && operations.len() > MAX_OPERATIONS
    {
        return Err(SagaError::TooManyOperations {
            limit: MAX_OPERATIONS,
            given: operations.len(),
        });
    }
    invalid(schema::check(saga_type, input))?;
    match saga_type {
        SagaType::Transaction => {
            let input: TransactionInput = typed(input)?;
            invalid(transaction_problems(&input))?;
            Ok(CheckedInput::Transaction(input))
        }
        SagaType::TableSync => {
            let input: TableSyncInput = typed(input)?;
            let mut problems = Vec::new();
            for (side, path) in [(&input.source, "/source"), (&input.target, "/target")] {
                if let Err(err) = TableRef::parse(&side.table) {
                    problems.push(Problem::new(format!("{path}/table"), err.0));
                }
            }
            if input.source == input.target {
                problems.push(Problem::new("/target", "the target is the source table"));
            }
            invalid(problems)?;
            Ok(CheckedInput::TableSync(input))
        }
        SagaType::ConnectBase => {
            let base = input
                .get("base")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            Ok(CheckedInput::ConnectBase { base })
        }
    }
}

fn transaction_problems(input: &TransactionInput) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (i, op) in input.operations.iter().enumerate() {
        if let Err(err) = TableRef::parse(op.table()) {
            problems.push(Problem::new(format!("/operations/{i}/table"), err.0));
        }
        if let RecordOp::Upsert {
            merge_on, fields, ..
        } = op
        {
            for name in merge_on {
                if !fields.contains_key(name) {
                    problems.push(Problem::new(
                        format!("/operations/{i}/merge_on"),
                        format!("the merge field {name:?} must be among the fields"),
                    ));
                }
            }
        }
    }
    problems
}

/// The existence checks: one schema read per base; a base the token cannot reach, a table or
/// field it does not have, is a problem at its path. When Airtable cannot be asked right now,
/// the checks are left to the steps (which fail and compensate).
pub async fn check_existence(
    access: &AirtableAccess,
    tenant_id: &str,
    input: &CheckedInput,
) -> Result<(), SagaError> {
    let mut schemas: BTreeMap<String, Option<BaseSchema>> = BTreeMap::new();
    let bases: Vec<(&str, &str)> = match input {
        CheckedInput::Transaction(t) => vec![(t.base.as_str(), "/base")],
        CheckedInput::TableSync(s) => vec![
            (s.source.base.as_str(), "/source/base"),
            (s.target.base.as_str(), "/target/base"),
        ],
        CheckedInput::ConnectBase { base } => vec![(base.as_str(), "/base")],
    };
    let mut problems = Vec::new();
    for (base, path) in bases {
        if schemas.contains_key(base) {
            continue;
        }
        let Ok(id) = BaseId::parse(base) else {
            problems.push(Problem::new(path, "not a base id"));
            continue;
        };
        match access.schema_if_reachable(tenant_id, &id).await {
            Ok(Some(schema)) => {
                schemas.insert(base.to_string(), Some(schema));
            }
            Ok(None) => {
                problems.push(Problem::new(
                    path,
                    "no such base, or the connected Airtable token cannot reach it",
                ));
                schemas.insert(base.to_string(), None);
            }
            Err(err) => {
                tracing::info!(error = %err, "base check skipped at saga start");
                return invalid(problems);
            }
        }
    }
    let schema_of = |base: &str| schemas.get(base).and_then(Option::as_ref);
    match input {
        CheckedInput::Transaction(t) => {
            if let Some(schema) = schema_of(&t.base) {
                for (i, op) in t.operations.iter().enumerate() {
                    if schema.table(op.table()).is_none() {
                        problems.push(Problem::new(
                            format!("/operations/{i}/table"),
                            format!("the base has no table {:?}", op.table()),
                        ));
                    }
                }
            }
        }
        CheckedInput::TableSync(s) => {
            for (side, path, name) in [
                (&s.source, "/source", "source"),
                (&s.target, "/target", "target"),
            ] {
                let Some(schema) = schema_of(&side.base) else {
                    continue;
                };
                let Some(table) = schema.table(&side.table) else {
                    problems.push(Problem::new(
                        format!("{path}/table"),
                        format!("the base has no table {:?}", side.table),
                    ));
                    continue;
                };
                if table.field(&s.key_field).is_none() {
                    problems.push(Problem::new(
                        "/key_field",
                        format!("the {name} table has no field {:?}", s.key_field),
                    ));
                }
                for (i, field) in s.fields.iter().flatten().enumerate() {
                    if table.field(field).is_none() {
                        problems.push(Problem::new(
                            format!("/fields/{i}"),
                            format!("the {name} table has no field {field:?}"),
                        ));
                    }
                }
            }
        }
        CheckedInput::ConnectBase { .. } => {}
    }
    invalid(problems)
}
