//! The executions' rows in the embedded database: one row per execution (what describe reads,
//! plus the interpreter's [`Snapshot`] without its history) and one row per history event.
//!
//! The history lives in its own table so that saving after a step writes only that step's new
//! events: storing the whole snapshot each time would make a long execution quadratic (a
//! 1,000-state loop re-wrote every earlier event a thousand times).

use asl::{HistoryEvent, Snapshot, Status};
use chrono::{DateTime, Utc};
use ports::{Execution, ExecutionStatus, StateMachineError};
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

use crate::database::DbFailure;

impl From<DbFailure> for StateMachineError {
    fn from(err: DbFailure) -> Self {
        StateMachineError::Unavailable(err.0)
    }
}

fn corrupt(what: &str, err: impl std::fmt::Display) -> StateMachineError {
    StateMachineError::Unavailable(format!("a stored execution's {what} is unreadable: {err}"))
}

fn status_text(status: Status) -> &'static str {
    match status {
        Status::Running => "RUNNING",
        Status::Succeeded => "SUCCEEDED",
        Status::Failed => "FAILED",
        Status::TimedOut => "TIMED_OUT",
        Status::Aborted => "ABORTED",
    }
}

fn port_status(text: &str) -> Result<ExecutionStatus, StateMachineError> {
    Ok(match text {
        "RUNNING" => ExecutionStatus::Running,
        "SUCCEEDED" => ExecutionStatus::Succeeded,
        "FAILED" => ExecutionStatus::Failed,
        "TIMED_OUT" => ExecutionStatus::TimedOut,
        "ABORTED" => ExecutionStatus::Aborted,
        other => return Err(corrupt("status", other)),
    })
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StateMachineError> {
    serde_json::to_string(value).map_err(|e| StateMachineError::Unavailable(e.to_string()))
}

fn parse_time(text: &str) -> Result<DateTime<Utc>, StateMachineError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| corrupt("time", e))
}

/// The row an execution starts with; `None` when one of that id already exists (the caller
/// then compares inputs), in the same transaction as the lookup.
pub(crate) fn insert_new(
    conn: &mut Connection,
    machine: &str,
    snapshot: &Snapshot,
) -> Result<Option<Execution>, StateMachineError> {
    let tx = conn.transaction().map_err(DbFailure::from)?;
    let id = &snapshot.execution.id;
    if let Some(existing) = read(&tx, id)? {
        return Ok(Some(existing));
    }
    tx.execute(
        "INSERT INTO sfn_executions
             (execution_id, name, machine, input, started_at, status, snapshot)
         VALUES (?1, ?2, ?3, ?4, ?5, 'RUNNING', '{}')",
        params![
            id,
            snapshot.execution.name,
            machine,
            to_json(&snapshot.execution.input)?,
            snapshot.execution.start_time.to_rfc3339(),
        ],
    )
    .map_err(DbFailure::from)?;
    write_progress(&tx, snapshot, 0)?;
    tx.commit().map_err(DbFailure::from)?;
    Ok(None)
}

/// Saves the snapshot and the history events from `saved_events` on, in one transaction.
pub(crate) fn save(
    conn: &mut Connection,
    snapshot: &Snapshot,
    saved_events: usize,
) -> Result<(), StateMachineError> {
    let tx = conn.transaction().map_err(DbFailure::from)?;
    write_progress(&tx, snapshot, saved_events)?;
    tx.commit().map_err(DbFailure::from)?;
    Ok(())
}

/// The snapshot with an empty history (its events are rows of their own).
fn snapshot_text(snapshot: &Snapshot) -> Result<String, StateMachineError> {
    to_json(&SnapshotWithoutHistory(snapshot))
}

/// Serialises a [`Snapshot`] with an empty history, without cloning the history.
struct SnapshotWithoutHistory<'a>(&'a Snapshot);

impl serde::Serialize for SnapshotWithoutHistory<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let Snapshot {
            execution,
            status,
            position,
            data,
            waiting_until,
            output,
            error,
            history: _,
        } = self.0;
        let shallow = ShallowSnapshot {
            execution,
            status,
            position,
            data,
            waiting_until,
            output,
            error,
            history: &[],
        };
        shallow.serialize(serializer)
    }
}

/// The fields of [`Snapshot`] by reference (the destructuring above fails to compile if asl
/// adds a field, so this cannot silently drop one).
#[derive(serde::Serialize)]
struct ShallowSnapshot<'a> {
    execution: &'a asl::ExecutionInfo,
    status: &'a Status,
    position: &'a Option<String>,
    data: &'a Value,
    waiting_until: &'a Option<DateTime<Utc>>,
    output: &'a Option<Value>,
    error: &'a Option<asl::StatesError>,
    history: &'a [HistoryEvent],
}

fn write_progress(
    tx: &Connection,
    snapshot: &Snapshot,
    saved_events: usize,
) -> Result<(), StateMachineError> {
    let id = &snapshot.execution.id;
    let stopped_at = (snapshot.status != Status::Running)
        .then(|| snapshot.history.last().map(|event| event.timestamp))
        .flatten()
        .map(|time| time.to_rfc3339());
    let output = snapshot.output.as_ref().map(to_json).transpose()?;
    // Cached: this runs after every state of every execution.
    let mut update = tx
        .prepare_cached(
            "UPDATE sfn_executions
                SET status = ?2, output = ?3, error = ?4, cause = ?5, stopped_at = ?6,
                    snapshot = ?7
              WHERE execution_id = ?1",
        )
        .map_err(DbFailure::from)?;
    update
        .execute(params![
            id,
            status_text(snapshot.status),
            output,
            // A stop without an error or cause leaves them out, as Step Functions does.
            snapshot
                .error
                .as_ref()
                .map(|e| e.error.as_str())
                .filter(|e| !e.is_empty()),
            snapshot
                .error
                .as_ref()
                .map(|e| e.cause.as_str())
                .filter(|c| !c.is_empty()),
            stopped_at,
            snapshot_text(snapshot)?,
        ])
        .map_err(DbFailure::from)?;
    let mut insert = tx
        .prepare_cached(
            "INSERT OR REPLACE INTO sfn_history (execution_id, event_id, body) VALUES (?1, ?2, ?3)",
        )
        .map_err(DbFailure::from)?;
    for event in snapshot.history.iter().skip(saved_events) {
        insert
            .execute(params![id, event.id as i64, to_json(event)?])
            .map_err(DbFailure::from)?;
    }
    Ok(())
}

/// What describe returns, or `None`.
pub(crate) fn read(
    conn: &Connection,
    execution_id: &str,
) -> Result<Option<Execution>, StateMachineError> {
    let row = conn
        .query_row(
            "SELECT name, input, status, output, error, cause, started_at, stopped_at
               FROM sfn_executions WHERE execution_id = ?1",
            [execution_id],
            |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, Option<String>>(3)?,
                    row.get::<_, Option<String>>(4)?,
                    row.get::<_, Option<String>>(5)?,
                    row.get::<_, String>(6)?,
                    row.get::<_, Option<String>>(7)?,
                ))
            },
        )
        .optional()
        .map_err(DbFailure::from)?;
    let Some((name, input, status, output, error, cause, started_at, stopped_at)) = row else {
        return Ok(None);
    };
    let json = |what: &str, text: &str| -> Result<Value, StateMachineError> {
        serde_json::from_str(text).map_err(|e| corrupt(what, e))
    };
    Ok(Some(Execution {
        execution_id: execution_id.to_string(),
        name,
        status: port_status(&status)?,
        input: json("input", &input)?,
        output: output.map(|text| json("output", &text)).transpose()?,
        error,
        cause,
        started_at: parse_time(&started_at)?,
        stopped_at: stopped_at.map(|t| parse_time(&t)).transpose()?,
    }))
}

/// A stored execution to carry on: its machine and whole snapshot (history included).
pub(crate) struct Stored {
    pub(crate) machine: String,
    pub(crate) snapshot: Snapshot,
}

/// The execution `execution_id` with its full history, or `None`.
pub(crate) fn load(
    conn: &Connection,
    execution_id: &str,
) -> Result<Option<Stored>, StateMachineError> {
    let row = conn
        .query_row(
            "SELECT machine, snapshot FROM sfn_executions WHERE execution_id = ?1",
            [execution_id],
            |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)),
        )
        .optional()
        .map_err(DbFailure::from)?;
    let Some((machine, snapshot)) = row else {
        return Ok(None);
    };
    let mut snapshot: Snapshot =
        serde_json::from_str(&snapshot).map_err(|e| corrupt("snapshot", e))?;
    let mut events = conn
        .prepare_cached("SELECT body FROM sfn_history WHERE execution_id = ?1 ORDER BY event_id")
        .map_err(DbFailure::from)?;
    let bodies = events
        .query_map([execution_id], |row| row.get::<_, String>(0))
        .map_err(DbFailure::from)?
        .collect::<Result<Vec<String>, _>>()
        .map_err(DbFailure::from)?;
    snapshot.history = bodies
        .iter()
        .map(|body| serde_json::from_str(body).map_err(|e| corrupt("history", e)))
        .collect::<Result<_, _>>()?;
    Ok(Some(Stored { machine, snapshot }))
}

/// The ids of the executions stored as running, oldest first.
pub(crate) fn running_ids(conn: &Connection) -> Result<Vec<String>, StateMachineError> {
    let mut query = conn
        .prepare(
            "SELECT execution_id FROM sfn_executions WHERE status = 'RUNNING' ORDER BY started_at",
        )
        .map_err(DbFailure::from)?;
    let ids = query
        .query_map([], |row| row.get::<_, String>(0))
        .map_err(DbFailure::from)?
        .collect::<Result<Vec<String>, _>>()
        .map_err(DbFailure::from)?;
    Ok(ids)
}
