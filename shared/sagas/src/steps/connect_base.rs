//! connect-base's actions (the original system's `airtable_integration` saga): `begin`
//! validates access to the base and picks its tables, then four steps, each one of the saga's
//! "chunks" so the shared compensation undoes whichever of them ran, last first:
//!
//! 0. `snapshot_schema`: the base's schema, kept as the saga's `CONNECT#SCHEMA` part;
//! 1. `register_webhooks`: the record-change webhook of every picked table, held by the
//!    [`BASE_CONNECTION`] subscriber on the same registrations automations' record triggers use
//!    (a table already watched shares its webhook; a base allows 10 webhooks);
//! 2. `initial_snapshot`: every record of every picked table, in parts of at most
//!    [`SNAPSHOT_PART_BYTES`] (the table store's items are bounded, DynamoDB's at 400 KB);
//! 3. `record_connection`: the base's [`BaseConnection`] record, replacing any earlier one.
//!
//! Then `commit`. Every step records what it is about to create *before* creating it
//! (`APPLIED#<k>`), so a crash between the two leaves something the compensation finds; undoing
//! something that was never made is a no-op. Undo: 0 and 2 delete their parts, 1 takes the
//! subscriber off the tables it added it to (the webhook goes when no workflow needs it), 3
//! puts back the connection it replaced, or deletes its own.

use airtable::{BaseId, BaseSchema};
use automations::AutomationError;
use automations::record_hooks::BASE_CONNECTION;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use triggers::TaskError;

use super::{Action, Done, StepContext, chunks, compensation, not_an_action_of};
use crate::access;
use crate::connected_bases::{BaseConnection, ConnectedTable};
use crate::store::{Applied, Plan};

/// Airtable allows this many webhooks per base.
pub const MAX_WEBHOOK_TABLES: usize = 10;
/// The largest record-snapshot part, in bytes of JSON.
pub const SNAPSHOT_PART_BYTES: usize = 256 * 1024;
/// The steps after `begin`, in order; a step's index is its position.
pub const STEPS: [Action; 4] = [
    Action::SnapshotSchema,
    Action::RegisterWebhooks,
    Action::InitialSnapshot,
    Action::RecordConnection,
];

const SCHEMA_PART: &str = "CONNECT#SCHEMA";
const TABLES_PART: &str = "CONNECT#TABLES";
const COUNTS_PART: &str = "CONNECT#COUNTS";
const PREVIOUS_PART: &str = "CONNECT#PREVIOUS";

/// connect-base's input.
#[derive(Debug, Clone, Deserialize)]
struct ConnectBaseInput {
    base: String,
    /// The tables to watch and snapshot (names or ids); all of the base's when absent.
    #[serde(default)]
    tables: Option<Vec<String>>,
}

/// A picked table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct PickedTable {
    id: String,
    name: String,
}

/// The picked tables as kept (a store item is an object).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Picked {
    tables: Vec<PickedTable>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Counts {
    records: Vec<usize>,
}

/// The connection a connect-base replaced (`None`: there was none).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Previous {
    connection: Option<BaseConnection>,
}

pub async fn run(context: &StepContext<'_>, action: Action) -> Result<Done, TaskError> {
    match action {
        Action::Begin => begin(context).await,
        Action::SnapshotSchema => snapshot_schema(context).await,
        Action::RegisterWebhooks => register_webhooks(context).await,
        Action::InitialSnapshot => initial_snapshot(context).await,
        Action::RecordConnection => record_connection(context).await,
        Action::Commit => commit(context).await,
        Action::PlanUndo => compensation::plan_undo(context).await,
        Action::Undo => undo(context).await,
        Action::MarkCompensated => compensation::mark_compensated(context).await,
        Action::MarkFailed => compensation::mark_failed(context).await,
        Action::Diff | Action::Capture | Action::Apply => Err(not_an_action_of(context, action)),
    }
}

fn input(context: &StepContext<'_>) -> Result<ConnectBaseInput, TaskError> {
    serde_json::from_value(context.saga.input.clone())
        .map_err(|e| TaskError::invalid_input(format!("the saga's input does not parse: {e}")))
}

/// Why a record-hooks call failed, as a task error the machine's Retry understands.
fn from_hooks(err: AutomationError) -> TaskError {
    match err {
        AutomationError::Store(err) => err.into(),
        AutomationError::Queue(err) => err.into(),
        AutomationError::Conflict(message) => TaskError::unavailable(message),
        AutomationError::NotFound(message) => TaskError::not_found(message),
        AutomationError::Invalid(problems) => TaskError::invalid_input(
            problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        ),
        other => TaskError::failed(other.to_string()),
    }
}

/// The tables `input` picks from `schema`, in the base's order.
fn pick(schema: &BaseSchema, input: &ConnectBaseInput) -> Result<Vec<PickedTable>, TaskError> {
    let picked: Vec<PickedTable> = match &input.tables {
        None => schema
            .tables
            .iter()
            .map(|t| PickedTable {
                id: t.id.clone(),
                name: t.name.clone(),
            })
            .collect(),
        Some(names) => names
            .iter()
            .map(|name| {
                schema
                    .table(name)
                    .map(|t| PickedTable {
                        id: t.id.clone(),
                        name: t.name.clone(),
                    })
                    .ok_or_else(|| {
                        TaskError::invalid_input(format!("the base has no table {name:?}"))
                    })
            })
            .collect::<Result<_, _>>()?,
    };
    if picked.len() > MAX_WEBHOOK_TABLES {
        return Err(TaskError::invalid_input(format!(
            "the base has {} tables and Airtable allows {MAX_WEBHOOK_TABLES} webhooks per base: \
             name at most {MAX_WEBHOOK_TABLES} of them in `tables`",
            picked.len()
        )));
    }
    Ok(picked)
}

async fn picked(context: &StepContext<'_>) -> Result<Vec<PickedTable>, TaskError> {
    context
        .store
        .extra::<Picked>(context.tenant(), context.saga_id(), TABLES_PART)
        .await?
        .map(|picked| picked.tables)
        .ok_or_else(|| TaskError::failed("the saga has no picked tables (begin did not run)"))
}

/// Records what step `index` is about to create, before it does.
async fn intend(context: &StepContext<'_>, index: u32, applied: &Applied) -> Result<(), TaskError> {
    context
        .store
        .put_applied(context.tenant(), context.saga_id(), index, applied)
        .await
        .map_err(TaskError::from)
}

/// `begin`: the base answers with its schema (so the token reaches it), and the tables to
/// watch are picked and kept.
async fn begin(context: &StepContext<'_>) -> Result<Done, TaskError> {
    let input = input(context)?;
    if context.automations.public_url().is_none() {
        return Err(TaskError::invalid_input(
            "connect-base registers Airtable webhooks, which need the platform's public URL \
             (PUBLIC_URL) for Airtable to notify",
        ));
    }
    let schema = context.access.schema(context.tenant(), &input.base).await?;
    let tables = pick(&schema, &input)?;
    let (tenant, saga) = (context.tenant(), context.saga_id());
    context
        .store
        .put_extra(
            tenant,
            saga,
            TABLES_PART,
            &Picked {
                tables: tables.clone(),
            },
        )
        .await?;
    let plan = Plan {
        chunks: u32::try_from(STEPS.len()).unwrap_or(u32::MAX),
        ..Plan::default()
    };
    context.store.put_plan(tenant, saga, &plan).await?;
    Ok(Done::new(
        json!({"tables": tables.len()}),
        json!({"base": input.base, "tables": tables.iter().map(|t| &t.name).collect::<Vec<_>>()}),
    ))
}

/// Step 0: the schema as Airtable answers it now.
async fn snapshot_schema(context: &StepContext<'_>) -> Result<Done, TaskError> {
    let input = input(context)?;
    let schema = context.access.schema(context.tenant(), &input.base).await?;
    let applied = Applied {
        created: vec![SCHEMA_PART.to_string()],
        ..Applied::default()
    };
    intend(context, 0, &applied).await?;
    context
        .store
        .put_extra(context.tenant(), context.saga_id(), SCHEMA_PART, &schema)
        .await?;
    let fields: usize = schema.tables.iter().map(|t| t.fields.len()).sum();
    Ok(Done::new(
        json!({}),
        json!({"tables": schema.tables.len(), "fields": fields}),
    ))
}

/// Step 1: the picked tables' webhooks, through automations' registrations.
async fn register_webhooks(context: &StepContext<'_>) -> Result<Done, TaskError> {
    let input = input(context)?;
    let base = access::base_id(&input.base)?;
    let tables = picked(context).await?;
    let (tenant, saga) = (context.tenant(), context.saga_id());
    let hooks = context.automations.record_hooks();
    // A re-run after a crash continues the list it had started.
    let mut applied = context
        .store
        .applied(tenant, saga, 1)
        .await?
        .unwrap_or_default();
    let mut shared = 0;
    for table in &tables {
        let registration = hooks
            .registrations()
            .get(tenant, base.as_str(), &table.id)
            .await?;
        let held_before = registration
            .as_ref()
            .is_some_and(|r| r.workflow_ids.iter().any(|s| s == BASE_CONNECTION));
        if held_before && !applied.created.contains(&table.id) {
            // An earlier connection holds it: not this saga's to add, nor to take away.
            shared += 1;
            continue;
        }
        if !applied.created.contains(&table.id) {
            applied.created.push(table.id.clone());
            intend(context, 1, &applied).await?;
        }
        hooks
            .attach_subscriber(tenant, &base, &table.id, BASE_CONNECTION)
            .await
            .map_err(from_hooks)?;
    }
    Ok(Done::new(
        json!({}),
        json!({"registered": applied.created.len(), "already_held": shared}),
    ))
}

/// The part holding page `page` of a table's records.
fn snapshot_part(table_id: &str, page: usize) -> String {
    format!("CONNECT#SNAPSHOT#{table_id}#{page:05}")
}

/// Step 2: every record of every picked table, in bounded parts.
async fn initial_snapshot(context: &StepContext<'_>) -> Result<Done, TaskError> {
    let input = input(context)?;
    let tables = picked(context).await?;
    let (tenant, saga) = (context.tenant(), context.saga_id());
    let mut applied = Applied {
        created: vec![COUNTS_PART.to_string()],
        ..Applied::default()
    };
    let mut counts = Counts::default();
    let mut parts: Vec<(String, Vec<Value>)> = Vec::new();
    for table in &tables {
        let records = context
            .access
            .list_all(tenant, &input.base, &table.id, None, None)
            .await?;
        counts.records.push(records.len());
        let mut page: Vec<Value> = Vec::new();
        let mut bytes = 0;
        for record in records {
            let value = serde_json::to_value(&record)
                .map_err(|e| TaskError::failed(format!("a record does not serialise: {e}")))?;
            let size = value.to_string().len();
            if !page.is_empty() && bytes + size > SNAPSHOT_PART_BYTES {
                parts.push((
                    snapshot_part(&table.id, parts.len()),
                    std::mem::take(&mut page),
                ));
                bytes = 0;
            }
            bytes += size;
            page.push(value);
        }
        if !page.is_empty() {
            parts.push((snapshot_part(&table.id, parts.len()), page));
        }
    }
    applied
        .created
        .extend(parts.iter().map(|(name, _)| name.clone()));
    intend(context, 2, &applied).await?;
    for (name, records) in &parts {
        context
            .store
            .put_extra(tenant, saga, name, &json!({"records": records}))
            .await?;
    }
    context
        .store
        .put_extra(tenant, saga, COUNTS_PART, &counts)
        .await?;
    let total: usize = counts.records.iter().sum();
    Ok(Done::new(
        json!({}),
        json!({"records": total, "parts": parts.len()}),
    ))
}

/// Step 3: the connection record, after keeping the one it replaces.
async fn record_connection(context: &StepContext<'_>) -> Result<Done, TaskError> {
    let input = input(context)?;
    let tables = picked(context).await?;
    let (tenant, saga) = (context.tenant(), context.saga_id());
    let connected = context.store.connected_bases();
    // Kept once: a re-run must not take this saga's own record for the one it replaced.
    if context
        .store
        .extra::<Previous>(tenant, saga, PREVIOUS_PART)
        .await?
        .is_none()
    {
        let previous = Previous {
            connection: connected.get(tenant, &input.base).await?,
        };
        context
            .store
            .put_extra(tenant, saga, PREVIOUS_PART, &previous)
            .await?;
    }
    let counts: Counts = context
        .store
        .extra(tenant, saga, COUNTS_PART)
        .await?
        .unwrap_or_default();
    let webhooks = context
        .store
        .applied(tenant, saga, 1)
        .await?
        .unwrap_or_default();
    let connection = BaseConnection {
        base_id: input.base.clone(),
        saga_id: saga.to_string(),
        tables: tables
            .iter()
            .enumerate()
            .map(|(i, t)| ConnectedTable {
                id: t.id.clone(),
                name: t.name.clone(),
                records: counts.records.get(i).copied().unwrap_or(0),
            })
            .collect(),
        webhook_tables: tables.iter().map(|t| t.id.clone()).collect(),
        connected_at: context.clock.now(),
    };
    let applied = Applied {
        created: vec!["connection".to_string()],
        ..Applied::default()
    };
    intend(context, 3, &applied).await?;
    connected.put(tenant, &connection).await?;
    Ok(Done::new(
        json!({}),
        json!({"base": input.base, "tables": connection.tables.len(), "webhooks_added": webhooks.created.len()}),
    ))
}

/// `commit`: the saga's output is the connection.
async fn commit(context: &StepContext<'_>) -> Result<Done, TaskError> {
    let input = input(context)?;
    let connection = context
        .store
        .connected_bases()
        .get(context.tenant(), &input.base)
        .await?
        .filter(|c| c.saga_id == context.saga_id())
        .ok_or_else(|| TaskError::failed("the connection record is missing"))?;
    let report = json!({
        "base": connection.base_id,
        "tables": connection.tables,
        "webhook_tables": connection.webhook_tables,
        "connected_at": connection.connected_at,
    });
    chunks::commit(context, Some(report)).await
}

/// `undo` of step `index` (see the module doc).
async fn undo(context: &StepContext<'_>) -> Result<Done, TaskError> {
    let index = context.index()?;
    let input = input(context)?;
    let (tenant, saga) = (context.tenant(), context.saga_id());
    let applied = context
        .store
        .applied(tenant, saga, index)
        .await?
        .unwrap_or_default();
    let summary = match index {
        0 | 2 => {
            for part in &applied.created {
                context.store.delete_extra(tenant, saga, part).await?;
            }
            json!({"deleted_parts": applied.created.len()})
        }
        1 => {
            let base: BaseId = access::base_id(&input.base)?;
            let hooks = context.automations.record_hooks();
            for table_id in &applied.created {
                hooks
                    .detach_subscriber(tenant, &base, table_id, BASE_CONNECTION)
                    .await
                    .map_err(from_hooks)?;
            }
            json!({"unregistered": applied.created.len()})
        }
        3 => {
            let connected = context.store.connected_bases();
            let previous: Option<Previous> =
                context.store.extra(tenant, saga, PREVIOUS_PART).await?;
            let current = connected.get(tenant, &input.base).await?;
            let ours = current.as_ref().is_some_and(|c| c.saga_id == saga);
            match previous.and_then(|p| p.connection) {
                Some(previous) if ours || current.is_none() => {
                    connected.put(tenant, &previous).await?;
                    json!({"connection": "restored"})
                }
                None if ours => {
                    connected.delete(tenant, &input.base).await?;
                    json!({"connection": "deleted"})
                }
                // Another saga's connection replaced ours since: not ours to touch.
                _ => json!({"connection": "left"}),
            }
        }
        other => {
            return Err(TaskError::invalid_input(format!(
                "connect-base has no step {other}"
            )));
        }
    };
    let next = compensation::next_to_undo(context, index).await?;
    Ok(Done::new(
        compensation::undo_cursor(context, next),
        json!({"step": STEPS.get(index as usize).map(|a| a.as_str()), "undone": summary}),
    ))
}
