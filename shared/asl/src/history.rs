//! The execution history: events shaped like AWS's (`TaskStateEntered`, `TaskScheduled`,
//! `TaskFailed`, ...), plus two AWS does not spell out but a saga's step history needs: a
//! retry that was scheduled and an error a Catch took. Events of Parallel branches and Map
//! iterations interleave in the order they happened, as on AWS.

use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEvent {
    pub id: u64,
    pub timestamp: DateTime<Utc>,
    #[serde(flatten)]
    pub event: Event,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "PascalCase")]
pub enum Event {
    ExecutionStarted {
        input: Value,
    },
    ExecutionSucceeded {
        output: Value,
    },
    ExecutionFailed {
        error: String,
        cause: String,
    },
    ExecutionAborted {
        error: String,
        cause: String,
    },
    StateEntered {
        state_type: String,
        name: String,
        input: Value,
    },
    StateExited {
        state_type: String,
        name: String,
        output: Value,
    },
    TaskScheduled {
        name: String,
        resource: String,
        parameters: Value,
    },
    TaskSucceeded {
        name: String,
        resource: String,
        output: Value,
    },
    TaskFailed {
        name: String,
        resource: String,
        error: String,
        cause: String,
    },
    TaskTimedOut {
        name: String,
        resource: String,
        error: String,
        cause: String,
    },
    RetryScheduled {
        name: String,
        error: String,
        attempt: u32,
        delay_seconds: f64,
    },
    ErrorCaught {
        name: String,
        error: String,
        cause: String,
        next: String,
    },
    WaitStarted {
        name: String,
        until: DateTime<Utc>,
    },
    MapIterationStarted {
        name: String,
        index: usize,
    },
    MapIterationSucceeded {
        name: String,
        index: usize,
    },
    MapIterationFailed {
        name: String,
        index: usize,
        error: String,
    },
}

impl Event {
    /// The event type as AWS names it: `StateEntered` of a Task is `TaskStateEntered`.
    pub fn aws_type(&self) -> String {
        match self {
            Event::StateEntered { state_type, .. } => format!("{state_type}StateEntered"),
            Event::StateExited { state_type, .. } => format!("{state_type}StateExited"),
            other => serde_json::to_value(other)
                .ok()
                .and_then(|v| v.get("type").and_then(Value::as_str).map(str::to_string))
                .unwrap_or_default(),
        }
    }
}

/// Collects events from concurrently running branches; ids continue the stored history.
pub struct Recorder {
    events: Mutex<Vec<HistoryEvent>>,
    first_id: u64,
}

impl Recorder {
    pub fn continuing(previous: usize) -> Self {
        Self {
            events: Mutex::new(Vec::new()),
            first_id: previous as u64 + 1,
        }
    }

    pub fn record(&self, timestamp: DateTime<Utc>, event: Event) {
        let mut events = self.events.lock().unwrap_or_else(|p| p.into_inner());
        let id = self.first_id + events.len() as u64;
        events.push(HistoryEvent {
            id,
            timestamp,
            event,
        });
    }

    pub fn into_events(self) -> Vec<HistoryEvent> {
        self.events.into_inner().unwrap_or_else(|p| p.into_inner())
    }
}
