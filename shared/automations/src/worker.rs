//! The runs queue's consumer: one message advances one run as far as it goes. A step that may
//! pass later leaves the message on the queue, hidden for an exponential, jittered backoff;
//! on the last receive the queue allows, the run is marked a dead letter first (with a marker
//! the API lists) so the message's move to the dead-letter queue is visible and redrivable.
//! Unknown runs, ended runs and duplicates are handled (deleted) without doing anything.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ports::queue::MAX_RECEIVES;
use ports::{Queue, QueueName};
use rand::Rng;
use triggers::{InboundMessage, JobFailure, QueueConsumer};

use crate::executor::{Advance, Executor};
use crate::model::RunMessage;

/// The longest a failed message is hidden for (SQS allows 12 hours).
const MAX_HIDDEN: Duration = Duration::from_secs(15 * 60);

/// The backoff of failed deliveries: `base * 2^(receives - 1)`, ±20 %, at most `cap`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(5),
            cap: Duration::from_secs(300),
        }
    }
}

impl Backoff {
    /// How long the message stays hidden after its `receive_count`-th receive failed.
    pub fn after(&self, receive_count: u32) -> Duration {
        let exponent = receive_count.saturating_sub(1).min(16);
        let plain = self.base.saturating_mul(1 << exponent).min(self.cap);
        let jitter = rand::rng().random_range(0.8..=1.2);
        plain.mul_f64(jitter).min(self.cap)
    }
}

#[derive(Debug, Clone)]
pub struct RunWorker {
    executor: Executor,
    queue: Arc<dyn Queue>,
    backoff: Backoff,
}

impl RunWorker {
    pub fn new(executor: Executor, queue: Arc<dyn Queue>) -> Self {
        Self {
            executor,
            queue,
            backoff: Backoff::default(),
        }
    }

    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// The message comes back later: after the backoff, or to the dead-letter queue when this
    /// was its last receive (the run is marked first).
    async fn retry_later(
        &self,
        message: &InboundMessage,
        run: &RunMessage,
        reason: String,
        at_least: Option<Duration>,
    ) -> Result<(), JobFailure> {
        if message.receive_count >= MAX_RECEIVES {
            let reason = format!(
                "gave up after {} deliveries: {reason}",
                message.receive_count
            );
            if let Err(err) = self
                .executor
                .dead_letter(&run.tenant_id, &run.run_id, &reason)
                .await
            {
                tracing::error!(error = %err, run_id = %run.run_id, "could not mark a dead-lettered run");
            }
            // Visible again at once, so the queue's next receive moves it to the dead-letter
            // queue now rather than after the visibility timeout.
            if let Err(err) = self
                .queue
                .change_visibility(QueueName::Runs, &message.receipt, Duration::ZERO)
                .await
            {
                tracing::warn!(error = %err, "could not release a dead-lettered run message");
            }
            return Err(JobFailure::new(reason));
        }
        let hidden = self
            .backoff
            .after(message.receive_count)
            .max(at_least.unwrap_or_default().min(MAX_HIDDEN));
        if let Err(err) = self
            .queue
            .change_visibility(QueueName::Runs, &message.receipt, hidden)
            .await
        {
            tracing::warn!(error = %err, "could not set a failed run message's backoff");
        }
        Err(JobFailure::new(reason))
    }
}

#[async_trait]
impl QueueConsumer for RunWorker {
    async fn consume(&self, message: &InboundMessage) -> Result<(), JobFailure> {
        let run: RunMessage = message.json()?;
        match self.executor.advance(&run.tenant_id, &run.run_id).await {
            Ok(Advance::Retry { reason, after }) => {
                self.retry_later(message, &run, reason, after).await
            }
            Ok(
                Advance::Ended(_)
                | Advance::Waiting
                | Advance::Gone
                | Advance::Superseded
                | Advance::Continued,
            ) => Ok(()),
            Err(err) => self.retry_later(message, &run, err.to_string(), None).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_base_with_jitter_and_a_cap() {
        let backoff = Backoff::default();
        for _ in 0..50 {
            let first = backoff.after(1);
            assert!(
                first >= Duration::from_secs(4) && first <= Duration::from_secs(6),
                "{first:?}"
            );
            let third = backoff.after(3);
            assert!(
                third >= Duration::from_secs(16) && third <= Duration::from_secs(24),
                "{third:?}"
            );
            assert!(backoff.after(30) <= Duration::from_secs(300));
        }
    }
}
