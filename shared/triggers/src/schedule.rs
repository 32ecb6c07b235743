//! EventBridge scheduled events: one tick per scheduled minute.
//!
//! An EventBridge rule with `ScheduleExpression: rate(1 minute)` (SAM event `Type: Schedule`)
//! invokes the function asynchronously with a "Scheduled Event" whose `time` is the minute it was
//! scheduled for (sometimes a few seconds late, so it is cut to the minute). A failed tick is
//! returned as the invocation's error, and Lambda retries asynchronous invocations (twice by
//! default), so a job must tolerate running the same minute again. Jobs key their work by
//! [`ScheduledTick::time`] for that reason.

#[cfg(feature = "lambda")]
use std::sync::Arc;

use async_trait::async_trait;
#[cfg(feature = "lambda")]
use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
#[cfg(feature = "lambda")]
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};

use crate::message::JobFailure;

/// The `detail-type` of events from EventBridge schedule rules.
pub const SCHEDULED_EVENT: &str = "Scheduled Event";

/// One scheduled minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ScheduledTick {
    /// The scheduled minute, seconds and below cut off.
    pub time: DateTime<Utc>,
}

impl ScheduledTick {
    /// The tick of the minute `time` falls in.
    pub fn of_minute(time: DateTime<Utc>) -> Self {
        Self {
            time: minute_of(time),
        }
    }
}

/// `time` cut to its minute.
pub(crate) fn minute_of(time: DateTime<Utc>) -> DateTime<Utc> {
    // Only fails for durations that cannot be represented, never for one minute.
    time.duration_trunc(TimeDelta::minutes(1)).unwrap_or(time)
}

/// Work done once a minute. It holds what it needs (built from the platform once per process);
/// the same value serves Lambda and the dev server's scheduler.
#[async_trait]
pub trait ScheduledJob: Send + Sync + 'static {
    async fn tick(&self, tick: &ScheduledTick) -> Result<(), JobFailure>;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// The function was invoked with some other event: a wiring mistake, not worth retrying but
    /// worth seeing.
    #[error("not a scheduled event: detail-type {detail_type:?} from {source_name:?}")]
    NotScheduled {
        detail_type: String,
        source_name: String,
    },
    #[error("the scheduled event has no time")]
    NoTime,
    #[error("the scheduled job failed: {0}")]
    Failed(JobFailure),
}

#[cfg(feature = "lambda")]
impl From<ScheduleError> for Diagnostic {
    fn from(err: ScheduleError) -> Self {
        let error_type = match err {
            ScheduleError::NotScheduled { .. } | ScheduleError::NoTime => "Schedule.InvalidEvent",
            ScheduleError::Failed(_) => "Schedule.Failed",
        };
        Diagnostic {
            error_type: error_type.to_string(),
            error_message: err.to_string(),
        }
    }
}

/// The tick a scheduled event stands for.
#[cfg(feature = "lambda")]
pub fn tick_of(event: &EventBridgeEvent) -> Result<ScheduledTick, ScheduleError> {
    if event.detail_type != SCHEDULED_EVENT || event.source != "aws.events" {
        return Err(ScheduleError::NotScheduled {
            detail_type: event.detail_type.clone(),
            source_name: event.source.clone(),
        });
    }
    let time = event.time.ok_or(ScheduleError::NoTime)?;
    Ok(ScheduledTick::of_minute(time))
}

/// Handles one scheduled event: the job's failure is the invocation's error.
#[cfg(feature = "lambda")]
pub async fn handle_scheduled_event(
    job: &dyn ScheduledJob,
    event: &EventBridgeEvent,
) -> Result<(), ScheduleError> {
    let tick = tick_of(event)?;
    job.tick(&tick).await.map_err(|failure| {
        tracing::warn!(tick = %tick.time, error = %failure, "scheduled job failed");
        ScheduleError::Failed(failure)
    })
}

/// Runs `job` as an EventBridge-scheduled Lambda function until the runtime stops.
#[cfg(feature = "lambda")]
pub async fn serve_schedule(job: Arc<dyn ScheduledJob>) -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(service_fn(move |event: LambdaEvent<EventBridgeEvent>| {
        let job = Arc::clone(&job);
        async move { handle_scheduled_event(job.as_ref(), &event.payload).await }
    }))
    .await
}

#[cfg(all(test, feature = "lambda"))]
mod tests {
    use std::sync::Mutex;

    use super::*;

    const EVERY_MINUTE: &str = include_str!("../../../events/schedule-every-minute.json");

    #[derive(Default)]
    struct Recorder {
        fail: bool,
        ticks: Mutex<Vec<ScheduledTick>>,
    }

    #[async_trait]
    impl ScheduledJob for Recorder {
        async fn tick(&self, tick: &ScheduledTick) -> Result<(), JobFailure> {
            self.ticks.lock().expect("ticks").push(*tick);
            if self.fail {
                Err(JobFailure::new("the store is down"))
            } else {
                Ok(())
            }
        }
    }

    fn event(text: &str) -> EventBridgeEvent {
        serde_json::from_str(text).expect("a sample EventBridge event")
    }

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().expect("an RFC 3339 time")
    }

    #[tokio::test]
    async fn a_scheduled_event_ticks_the_job_once_with_its_minute() {
        let job = Recorder::default();
        handle_scheduled_event(&job, &event(EVERY_MINUTE))
            .await
            .expect("the tick succeeds");
        let ticks = job.ticks.lock().expect("ticks").clone();
        assert_eq!(
            ticks,
            [ScheduledTick {
                time: at("2026-12-02T04:05:00Z")
            }]
        );
    }

    #[tokio::test]
    async fn a_late_event_still_ticks_its_scheduled_minute() {
        let mut late: serde_json::Value = serde_json::from_str(EVERY_MINUTE).expect("JSON");
        late["time"] = "2026-12-02T04:05:07Z".into();
        let late: EventBridgeEvent = serde_json::from_value(late).expect("an event");
        assert_eq!(
            tick_of(&late).expect("a tick").time,
            at("2026-12-02T04:05:00Z")
        );
    }

    #[tokio::test]
    async fn a_failed_job_is_the_invocations_error_so_lambda_retries() {
        let job = Recorder {
            fail: true,
            ..Recorder::default()
        };
        let err = handle_scheduled_event(&job, &event(EVERY_MINUTE))
            .await
            .expect_err("the job failed");
        assert!(matches!(err, ScheduleError::Failed(_)));
        let diagnostic = serde_json::to_value(Diagnostic::from(err)).expect("serialize");
        assert_eq!(diagnostic["errorType"], "Schedule.Failed");
    }

    #[tokio::test]
    async fn another_event_is_refused_without_running_the_job() {
        let mut other: serde_json::Value = serde_json::from_str(EVERY_MINUTE).expect("JSON");
        other["detail-type"] = "Object Created".into();
        other["source"] = "aws.s3".into();
        let other: EventBridgeEvent = serde_json::from_value(other).expect("an event");
        let job = Recorder::default();
        let err = handle_scheduled_event(&job, &other)
            .await
            .expect_err("not a schedule");
        assert!(matches!(err, ScheduleError::NotScheduled { .. }));
        assert!(job.ticks.lock().expect("ticks").is_empty());
    }
}
