//! The scheduler's job: start the runs of schedules that are due.
//!
//! Called once a minute (EventBridge `rate(1 minute)`; the dev server's tick). Each enabled
//! schedule workflow has one entry in the schedule index keyed by its next fire time
//! ([`crate::workflows::store`]); a tick reads the entries due at or before now and, for each:
//!
//! 1. starts ONE run, whose dedup key is the workflow and the fire time
//!    (`schedule:<workflow>:<fire time>`): a fire time is a key, not a poll of "now", so a tick
//!    that runs twice (an EventBridge retry, two overlapping invocations, a crash after the start
//!    and before step 2) starts nothing new;
//! 2. moves the entry to the next fire strictly after now, in a transaction that checks the
//!    workflow still points at the entry.
//!
//! After an outage several fires of a schedule may be due; only the LATEST of them is started
//! (a schedule "catches up at most one missed fire"), because a burst of stale runs (the 9:00
//! report six times at noon) is worse than one late run. Entries whose workflow was deleted,
//! disabled or rescheduled since are cleaned up, not fired.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use ports::{Cursor, TableStore};
use serde::Serialize;
use serde_json::json;

use crate::cron::CronSchedule;
use crate::error::AutomationError;
use crate::model::{RunTrigger, Trigger};
use crate::seams::RunStarter;
use crate::workflows::store::{ScheduleEntry, WorkflowStore, fire_time_text};
use triggers::{JobFailure, ScheduledJob, ScheduledTick};

/// Entries started at once within a tick (each is a few store calls and one enqueue).
const CONCURRENCY: usize = 8;
/// The most entries one tick handles; the rest stay due and are taken by the next tick (each
/// still fires once, at its latest missed fire), so a huge backlog cannot time the tick out.
pub const MAX_PER_TICK: usize = 2000;

/// What a tick did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FireReport {
    /// Runs started (or found already started for that fire time).
    pub started: usize,
    /// Stale entries removed (workflow deleted, disabled or no longer a schedule).
    pub cleaned: usize,
    /// Entries whose run could not be started; they stay due and are retried next tick.
    pub failed: usize,
}

enum Outcome {
    Started,
    Cleaned,
    Failed,
}

/// The due-fire job over the schedule index.
#[derive(Debug, Clone)]
pub struct Schedules {
    store: WorkflowStore,
    starter: Arc<dyn RunStarter>,
}

impl Schedules {
    pub fn new(store: Arc<dyn TableStore>, starter: Arc<dyn RunStarter>) -> Self {
        Self {
            store: WorkflowStore::new(store),
            starter,
        }
    }

    /// Starts every schedule due at or before `now` once (see the module doc).
    pub async fn fire_due(&self, now: DateTime<Utc>) -> Result<FireReport, AutomationError> {
        let mut report = FireReport::default();
        let mut cursor: Option<Cursor> = None;
        let mut seen = 0;
        loop {
            let (entries, next) = self.store.due_entries(now, cursor).await?;
            seen += entries.len();
            let outcomes: Vec<Outcome> = futures::stream::iter(entries)
                .map(|entry| self.fire_one(entry, now))
                .buffer_unordered(CONCURRENCY)
                .collect()
                .await;
            for outcome in outcomes {
                match outcome {
                    Outcome::Started => report.started += 1,
                    Outcome::Cleaned => report.cleaned += 1,
                    Outcome::Failed => report.failed += 1,
                }
            }
            match next {
                Some(next) if seen < MAX_PER_TICK => cursor = Some(next),
                _ => return Ok(report),
            }
        }
    }

    async fn fire_one(&self, entry: ScheduleEntry, now: DateTime<Utc>) -> Outcome {
        match self.try_fire(&entry, now).await {
            Ok(outcome) => outcome,
            Err(err) => {
                tracing::warn!(
                    tenant_id = %entry.tenant_id,
                    workflow_id = %entry.workflow_id,
                    fire_at = %entry.fire_at,
                    error = %err,
                    "a due schedule could not be started; the next tick retries it"
                );
                Outcome::Failed
            }
        }
    }

    async fn try_fire(
        &self,
        entry: &ScheduleEntry,
        now: DateTime<Utc>,
    ) -> Result<Outcome, AutomationError> {
        let Some(stored) = self.store.get(&entry.tenant_id, &entry.workflow_id).await? else {
            self.store.drop_stale_entry(entry).await?;
            return Ok(Outcome::Cleaned);
        };
        if stored.schedule_entry.as_deref() != Some(entry.sort_key.as_str()) {
            // The workflow was saved since the entry was read and points elsewhere.
            self.store.drop_stale_entry(entry).await?;
            return Ok(Outcome::Cleaned);
        }
        let workflow = &stored.workflow;
        let schedule = match &workflow.spec.trigger {
            Trigger::Schedule { cron, timezone } if workflow.spec.enabled => {
                CronSchedule::parse(cron, timezone).ok()
            }
            _ => None,
        };
        let Some(schedule) = schedule else {
            self.store.move_entry(entry, None).await?;
            return Ok(Outcome::Cleaned);
        };
        let fire = schedule
            .previous_at_or_before(now)
            .filter(|latest| *latest > entry.fire_at)
            .unwrap_or(entry.fire_at);
        let fire_time = fire_time_text(fire);
        let tz = schedule.timezone();
        let trigger = RunTrigger {
            kind: workflow.spec.trigger.kind().to_string(),
            data: json!({
                "fire_time": fire_time,
                "local_time": fire.with_timezone(&tz).to_rfc3339(),
                "timezone": tz.name(),
            }),
        };
        let dedup_key = format!("schedule:{}:{fire_time}", workflow.id);
        self.starter
            .start(workflow, trigger, json!({}), Some(dedup_key))
            .await?;
        // Losing this race (another tick, an edit) is fine: the run above is deduplicated by
        // its fire time, and the winner has moved or replaced the entry.
        self.store
            .move_entry(entry, schedule.next_after(now))
            .await?;
        Ok(Outcome::Started)
    }
}

/// The scheduler's tick (Lambda and the dev server alike). A tick with entries that could not
/// be started fails, so it is visible and Lambda's retry of the same minute tries them again
/// (what was started is deduplicated by fire time).
#[async_trait]
impl ScheduledJob for Schedules {
    async fn tick(&self, tick: &ScheduledTick) -> Result<(), JobFailure> {
        let report = self
            .fire_due(tick.time)
            .await
            .map_err(|err| JobFailure::new(format!("schedules: {err}")))?;
        tracing::info!(
            started = report.started,
            cleaned = report.cleaned,
            failed = report.failed,
            "schedules fired"
        );
        if report.failed > 0 {
            return Err(JobFailure::new(format!(
                "schedules: {} due schedule(s) could not be started",
                report.failed
            )));
        }
        Ok(())
    }
}
