//! The queue port: SQS semantics (at-least-once delivery, visibility timeouts, FIFO groups with
//! deduplication, redrive to a dead-letter queue after too many receives).

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;

/// Logical queues. Physical URLs come from configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum QueueName {
    /// Workflow runs to execute (standard queue).
    Runs,
    /// Runs that failed [`MAX_RECEIVES`] times.
    RunsDlq,
    /// Airtable webhook notifications, FIFO with one message group per base.
    Events,
    /// Events that failed [`MAX_RECEIVES`] times (FIFO).
    EventsDlq,
}

/// How many receives a message gets before it moves to the dead-letter queue. The template's
/// `RedrivePolicy.maxReceiveCount` is the same number (a test checks).
pub const MAX_RECEIVES: u32 = 5;

/// SQS's limit on a message body.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// SQS's longest delay.
pub const MAX_DELAY: Duration = Duration::from_secs(900);

impl QueueName {
    pub const ALL: [QueueName; 4] = [
        QueueName::Runs,
        QueueName::RunsDlq,
        QueueName::Events,
        QueueName::EventsDlq,
    ];

    /// The logical name: `runs`, `runs-dlq`, `events.fifo`, `events-dlq.fifo`.
    pub fn logical_name(self) -> &'static str {
        match self {
            QueueName::Runs => "runs",
            QueueName::RunsDlq => "runs-dlq",
            QueueName::Events => "events.fifo",
            QueueName::EventsDlq => "events-dlq.fifo",
        }
    }

    pub fn is_fifo(self) -> bool {
        matches!(self, QueueName::Events | QueueName::EventsDlq)
    }

    /// Where messages go after [`MAX_RECEIVES`] receives.
    pub fn dead_letter_queue(self) -> Option<QueueName> {
        match self {
            QueueName::Runs => Some(QueueName::RunsDlq),
            QueueName::Events => Some(QueueName::EventsDlq),
            QueueName::RunsDlq | QueueName::EventsDlq => None,
        }
    }
}

impl fmt::Display for QueueName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.logical_name())
    }
}

/// Options for one send.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendOptions {
    /// Hide the message for this long first (standard queues only; at most 15 minutes).
    pub delay: Duration,
    /// FIFO: messages of one group are delivered in order, one batch in flight at a time.
    pub group_id: Option<String>,
    /// FIFO: a second send with the same id within 5 minutes is dropped.
    pub dedup_id: Option<String>,
}

impl SendOptions {
    pub fn delayed(delay: Duration) -> Self {
        Self {
            delay,
            ..Self::default()
        }
    }

    pub fn fifo(group_id: impl Into<String>, dedup_id: impl Into<String>) -> Self {
        Self {
            delay: Duration::ZERO,
            group_id: Some(group_id.into()),
            dedup_id: Some(dedup_id.into()),
        }
    }

    /// Checks the options against the queue's kind, as SQS would.
    pub fn validate(&self, queue: QueueName, body: &str) -> Result<(), QueueError> {
        if body.is_empty() || body.len() > MAX_BODY_BYTES {
            return Err(QueueError::Invalid(format!(
                "a message body holds 1 to {MAX_BODY_BYTES} bytes, not {}",
                body.len()
            )));
        }
        if self.delay > MAX_DELAY {
            return Err(QueueError::Invalid("delay is at most 900 seconds".into()));
        }
        if queue.is_fifo() {
            if self.group_id.as_deref().is_none_or(str::is_empty) {
                return Err(QueueError::Invalid(format!(
                    "{queue} is a FIFO queue: a message group id is required"
                )));
            }
            if self.dedup_id.as_deref().is_none_or(str::is_empty) {
                return Err(QueueError::Invalid(format!(
                    "{queue} is a FIFO queue: a deduplication id is required"
                )));
            }
            if !self.delay.is_zero() {
                return Err(QueueError::Invalid(
                    "FIFO queues take no per-message delay".into(),
                ));
            }
        } else if self.group_id.is_some() || self.dedup_id.is_some() {
            return Err(QueueError::Invalid(format!(
                "{queue} is a standard queue: group and deduplication ids are for FIFO queues"
            )));
        }
        Ok(())
    }
}

/// A received message. Delete it with its `receipt` once handled, or it comes back after the
/// visibility timeout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub id: String,
    pub receipt: String,
    pub body: String,
    /// How many times it has been received, this time included.
    pub receive_count: u32,
    pub group_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    #[error("invalid queue request: {0}")]
    Invalid(String),
    /// The receipt handle is unknown or no longer current.
    #[error("the receipt handle is not valid")]
    InvalidReceipt,
    #[error("queue unavailable: {0}")]
    Unavailable(String),
}

/// The queue port.
#[async_trait]
pub trait Queue: Send + Sync + fmt::Debug {
    /// Sends one message; returns its id. A FIFO duplicate returns the first send's id.
    async fn send(
        &self,
        queue: QueueName,
        body: &str,
        options: SendOptions,
    ) -> Result<String, QueueError>;

    /// Up to `max` (1 to 10) visible messages, hidden for `visibility` once received. Waits up to
    /// `wait` (at most 20 s) for the first one.
    async fn receive(
        &self,
        queue: QueueName,
        max: u32,
        visibility: Duration,
        wait: Duration,
    ) -> Result<Vec<Message>, QueueError>;

    /// Removes a handled message.
    async fn delete(&self, queue: QueueName, receipt: &str) -> Result<(), QueueError>;

    /// Changes how long a received message stays hidden (0 makes it visible at once).
    async fn change_visibility(
        &self,
        queue: QueueName,
        receipt: &str,
        visibility: Duration,
    ) -> Result<(), QueueError>;

    /// About how many messages wait in the queue (visible ones); also the health check.
    async fn approximate_depth(&self, queue: QueueName) -> Result<u64, QueueError>;
}
