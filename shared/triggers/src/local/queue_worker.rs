//! A consumer loop over one queue of the queue port: what Lambda's SQS event source mapping does
//! for the deployed function, done in the dev server's process.
//!
//! Each round receives up to a batch with the queue's visibility timeout, runs
//! [`crate::sqs::process_batch`] on it, and deletes the messages handled. Failures are left alone:
//! the port makes them visible again when the timeout passes, counts the receive, and moves a
//! message received `ports::queue::MAX_RECEIVES` times to the dead-letter queue, as SQS does. So
//! the retry and redrive behaviour is the port's, the same as in production.
//!
//! On shutdown the loop receives no more; the batch in hand finishes its started messages, the
//! handled ones are deleted, and those not started are made visible again at once (rather than
//! after the visibility timeout) so the next start picks them up. Nothing is lost.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use ports::{Message, Queue, QueueName};
use tokio::task::JoinHandle;

use crate::message::InboundMessage;
use crate::sqs::{BatchOutcome, Disposition, QueueConsumer, process_batch_until};
use crate::stop::Stop;

/// The queues' visibility timeout: `VisibilityTimeout` of the queues in `infra/template.yaml`
/// (a test checks), longer than any consumer's Lambda timeout.
pub const VISIBILITY_TIMEOUT: Duration = Duration::from_secs(900);

/// How a [`QueueWorker`] polls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerSettings {
    /// How long a received message stays hidden before it comes back.
    pub visibility: Duration,
    /// Messages per receive (1 to 10, as SQS allows).
    pub batch_size: u32,
    /// How long one receive waits for a message when the queue is empty (a long poll; the
    /// embedded queue answers at once when a message is sent meanwhile). It bounds how long a
    /// shutdown waits for an idle worker.
    pub idle_wait: Duration,
    /// The pause after a receive error, so a broken queue is not hammered.
    pub error_pause: Duration,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            visibility: VISIBILITY_TIMEOUT,
            batch_size: 10,
            idle_wait: Duration::from_millis(500),
            error_pause: Duration::from_secs(1),
        }
    }
}

/// A running consumer loop. [`QueueWorker::join`] waits for it to drain after shutdown.
#[derive(Debug)]
pub struct QueueWorker {
    queue: QueueName,
    stop: Stop,
    task: JoinHandle<()>,
}

impl QueueWorker {
    /// Starts consuming `queue` with `consumer` until `shutdown` completes.
    pub fn spawn(
        port: Arc<dyn Queue>,
        queue: QueueName,
        consumer: Arc<dyn QueueConsumer>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Self {
        Self::spawn_with(WorkerSettings::default(), port, queue, consumer, shutdown)
    }

    /// [`QueueWorker::spawn`] with other settings.
    pub fn spawn_with(
        settings: WorkerSettings,
        port: Arc<dyn Queue>,
        queue: QueueName,
        consumer: Arc<dyn QueueConsumer>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Self {
        let stop = Stop::after(shutdown);
        let task = tokio::spawn(consume(settings, port, queue, consumer, stop.clone()));
        Self { queue, stop, task }
    }

    /// Waits until the worker has stopped after shutdown, its last batch settled.
    pub async fn join(self) {
        if let Err(err) = self.task.await {
            tracing::error!(queue = %self.queue, error = %err, "queue worker ended abnormally");
        }
    }

    /// Whether the shutdown signal has reached the worker: it receives no more and is draining.
    pub fn is_stopping(&self) -> bool {
        self.stop.is_set()
    }
}

async fn consume(
    settings: WorkerSettings,
    port: Arc<dyn Queue>,
    queue: QueueName,
    consumer: Arc<dyn QueueConsumer>,
    stop: Stop,
) {
    tracing::info!(%queue, "queue worker started");
    while !stop.is_set() {
        // Not raced against the shutdown: a receive cut short after it hid messages would leave
        // them hidden for the whole visibility timeout. `idle_wait` bounds the wait instead.
        let received = port
            .receive(
                queue,
                settings.batch_size,
                settings.visibility,
                settings.idle_wait,
            )
            .await;
        match received {
            Ok(messages) if messages.is_empty() => {}
            Ok(messages) => {
                let inbound: Vec<InboundMessage> =
                    messages.iter().cloned().map(InboundMessage::from).collect();
                // In a task of its own, so a consumer that panics loses this batch (it comes back
                // after the visibility timeout, as from a crashed Lambda) but not the worker.
                let batch = tokio::spawn({
                    let (consumer, stop) = (Arc::clone(&consumer), stop.clone());
                    async move {
                        process_batch_until(consumer.as_ref(), inbound, queue.is_fifo(), &stop)
                            .await
                    }
                });
                match batch.await {
                    Ok(outcome) => settle(port.as_ref(), queue, &messages, &outcome).await,
                    Err(err) => {
                        tracing::error!(%queue, error = %err, "a consumer panicked; its batch comes back after the visibility timeout");
                    }
                }
            }
            Err(err) => {
                tracing::warn!(%queue, error = %err, "receive failed; trying again");
                stop.sleep(settings.error_pause).await;
            }
        }
    }
    tracing::info!(%queue, "queue worker stopped");
}

/// Deletes what was handled and releases what was not started; failures wait out their
/// visibility timeout, which is SQS's retry delay.
async fn settle(port: &dyn Queue, queue: QueueName, messages: &[Message], outcome: &BatchOutcome) {
    for (message, (_, disposition)) in messages.iter().zip(outcome.results()) {
        let settled = match disposition {
            Disposition::Handled => port.delete(queue, &message.receipt).await,
            Disposition::NotStarted => {
                port.change_visibility(queue, &message.receipt, Duration::ZERO)
                    .await
            }
            Disposition::Failed(_) | Disposition::HeldBack => Ok(()),
        };
        if let Err(err) = settled {
            // The message comes back after its visibility timeout: delivered twice, never lost.
            tracing::warn!(%queue, message_id = %message.id, error = %err, "settling a message failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;
    use basics::ManualClock;
    use chrono::TimeDelta;
    use embedded::{Database, SqliteQueue};
    use ports::SendOptions;
    use tokio::sync::{Semaphore, oneshot};

    use super::*;
    use crate::message::JobFailure;

    /// Records each attempt (id, receive count); fails every message when told to; with a gate,
    /// waits for a permit before finishing each message.
    #[derive(Default)]
    struct Consumer {
        fail: bool,
        gate: Option<Arc<Semaphore>>,
        attempts: Mutex<Vec<(String, u32)>>,
        finished: Mutex<Vec<String>>,
    }

    impl Consumer {
        fn attempts(&self) -> Vec<(String, u32)> {
            self.attempts.lock().expect("attempts").clone()
        }

        fn finished(&self) -> Vec<String> {
            self.finished.lock().expect("finished").clone()
        }
    }

    #[async_trait]
    impl QueueConsumer for Consumer {
        async fn consume(&self, message: &InboundMessage) -> Result<(), JobFailure> {
            self.attempts
                .lock()
                .expect("attempts")
                .push((message.id.clone(), message.receive_count));
            if let Some(gate) = &self.gate {
                gate.acquire().await.expect("the gate stays open").forget();
            }
            self.finished
                .lock()
                .expect("finished")
                .push(message.id.clone());
            if self.fail {
                Err(JobFailure::new("always fails"))
            } else {
                Ok(())
            }
        }
    }

    struct Fixture {
        clock: ManualClock,
        queue: Arc<SqliteQueue>,
        shutdown: Option<oneshot::Sender<()>>,
    }

    impl Fixture {
        fn new() -> Self {
            let clock = ManualClock::at("2026-12-02T04:00:00Z".parse().expect("an RFC 3339 time"));
            let db = Database::in_memory().expect("an in-memory database");
            let queue = Arc::new(SqliteQueue::new(db, Arc::new(clock.clone())));
            Self {
                clock,
                queue,
                shutdown: None,
            }
        }

        fn worker(&mut self, queue: QueueName, consumer: Arc<dyn QueueConsumer>) -> QueueWorker {
            let (tx, rx) = oneshot::channel::<()>();
            self.shutdown = Some(tx);
            let settings = WorkerSettings {
                idle_wait: Duration::from_millis(20),
                error_pause: Duration::from_millis(20),
                ..WorkerSettings::default()
            };
            QueueWorker::spawn_with(settings, self.queue.clone(), queue, consumer, async move {
                let _ = rx.await;
            })
        }

        fn shut_down(&mut self) {
            if let Some(tx) = self.shutdown.take() {
                let _ = tx.send(());
            }
        }

        fn past_visibility(&self) {
            self.clock
                .advance(TimeDelta::seconds(VISIBILITY_TIMEOUT.as_secs() as i64 + 1));
        }

        async fn send(&self, queue: QueueName, body: &str, options: SendOptions) -> String {
            self.queue.send(queue, body, options).await.expect("send")
        }

        async fn depth(&self, queue: QueueName) -> u64 {
            self.queue.approximate_depth(queue).await.expect("depth")
        }

        async fn receive_all(&self, queue: QueueName) -> Vec<Message> {
            self.queue
                .receive(queue, 10, VISIBILITY_TIMEOUT, Duration::ZERO)
                .await
                .expect("receive")
        }
    }

    /// Waits (up to a generous bound, so a broken worker fails instead of hanging) until `done`.
    async fn eventually(what: &str, mut done: impl AsyncFnMut() -> bool) {
        for _ in 0..1000 {
            if done().await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("timed out waiting until {what}");
    }

    #[tokio::test]
    async fn handled_messages_are_deleted_and_do_not_come_back() {
        let mut f = Fixture::new();
        let first = f.send(QueueName::Runs, "one", SendOptions::default()).await;
        let second = f.send(QueueName::Runs, "two", SendOptions::default()).await;
        let consumer = Arc::new(Consumer::default());
        let worker = f.worker(QueueName::Runs, consumer.clone());
        eventually("both are handled", async || consumer.finished().len() == 2).await;
        f.shut_down();
        worker.join().await;
        let mut handled = consumer.finished();
        handled.sort();
        let mut sent = vec![first, second];
        sent.sort();
        assert_eq!(handled, sent);
        f.past_visibility();
        assert!(f.receive_all(QueueName::Runs).await.is_empty(), "deleted");
    }

    /// Panics on the message whose body is "panic", handles the others.
    struct Panicky(Mutex<Vec<String>>);

    #[async_trait]
    impl QueueConsumer for Panicky {
        async fn consume(&self, message: &InboundMessage) -> Result<(), JobFailure> {
            assert_ne!(message.body, "panic", "this consumer panics on it");
            self.0.lock().expect("handled").push(message.body.clone());
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_panicking_consumer_loses_its_batch_to_redelivery_but_not_the_worker() {
        let mut f = Fixture::new();
        f.send(QueueName::Runs, "panic", SendOptions::default())
            .await;
        let consumer = Arc::new(Panicky(Mutex::default()));
        let worker = f.worker(QueueName::Runs, consumer.clone());
        eventually("the panicking message is in flight", async || {
            f.depth(QueueName::Runs).await == 0
        })
        .await;
        f.send(QueueName::Runs, "after", SendOptions::default())
            .await;
        eventually("the worker goes on", async || {
            consumer.0.lock().expect("handled").len() == 1
        })
        .await;
        f.shut_down();
        worker.join().await;
        f.past_visibility();
        let back: Vec<String> = f
            .receive_all(QueueName::Runs)
            .await
            .into_iter()
            .map(|m| m.body)
            .collect();
        assert_eq!(
            back,
            ["panic"],
            "the panicked batch comes back; the other was deleted"
        );
    }

    #[tokio::test]
    async fn a_message_failing_five_times_lands_in_the_dead_letter_queue() {
        let mut f = Fixture::new();
        let id = f
            .send(QueueName::Runs, "doomed", SendOptions::default())
            .await;
        let consumer = Arc::new(Consumer {
            fail: true,
            ..Consumer::default()
        });
        let worker = f.worker(QueueName::Runs, consumer.clone());
        for receive in 1..=ports::queue::MAX_RECEIVES {
            eventually("the next receive", async || {
                consumer.attempts().len() == receive as usize
            })
            .await;
            // Hidden until the visibility timeout passes: no second attempt meanwhile.
            assert_eq!(f.depth(QueueName::Runs).await, 0);
            f.past_visibility();
        }
        eventually("the message is in the DLQ", async || {
            f.depth(QueueName::RunsDlq).await == 1
        })
        .await;
        f.shut_down();
        worker.join().await;
        let expected: Vec<(String, u32)> = (1..=ports::queue::MAX_RECEIVES)
            .map(|count| (id.clone(), count))
            .collect();
        assert_eq!(consumer.attempts(), expected, "five receives, counted");
        assert_eq!(f.depth(QueueName::Runs).await, 0);
        let dead = f.receive_all(QueueName::RunsDlq).await;
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0].body, "doomed");
    }

    #[tokio::test]
    async fn shutdown_lets_the_message_in_hand_finish_and_leaves_the_rest_queued() {
        let mut f = Fixture::new();
        let gate = Arc::new(Semaphore::new(0));
        let consumer = Arc::new(Consumer {
            gate: Some(gate.clone()),
            ..Consumer::default()
        });
        let group = |n: u32| SendOptions::fifo("appAAAAAAAAAAAAAA", format!("dedup-{n}"));
        let first = f.send(QueueName::Events, "first", group(1)).await;
        let second = f.send(QueueName::Events, "second", group(2)).await;
        let third = f.send(QueueName::Events, "third", group(3)).await;
        let worker = f.worker(QueueName::Events, consumer.clone());
        eventually("the first is in hand", async || {
            consumer.attempts().len() == 1
        })
        .await;
        f.shut_down();
        eventually("the worker sees the shutdown", async || {
            worker.is_stopping()
        })
        .await;
        let late = f
            .send(QueueName::Events, "sent during shutdown", group(4))
            .await;
        gate.add_permits(1);
        worker.join().await;

        assert_eq!(consumer.finished(), [first], "only the first ran");
        // The second and third were received with the first but not started: visible again at
        // once, in order, with the late one behind them; the first is gone.
        let left: Vec<String> = f
            .receive_all(QueueName::Events)
            .await
            .into_iter()
            .map(|m| m.id)
            .collect();
        assert_eq!(left, [second, third, late]);
    }

    #[tokio::test]
    async fn shutdown_on_a_standard_queue_finishes_and_deletes_what_is_in_hand() {
        let mut f = Fixture::new();
        let gate = Arc::new(Semaphore::new(0));
        let consumer = Arc::new(Consumer {
            gate: Some(gate.clone()),
            ..Consumer::default()
        });
        let in_hand = f
            .send(QueueName::Runs, "in hand", SendOptions::default())
            .await;
        let worker = f.worker(QueueName::Runs, consumer.clone());
        eventually("the message is in hand", async || {
            consumer.attempts().len() == 1
        })
        .await;
        f.shut_down();
        eventually("the worker sees the shutdown", async || {
            worker.is_stopping()
        })
        .await;
        let late = f
            .send(QueueName::Runs, "late", SendOptions::default())
            .await;
        gate.add_permits(1);
        worker.join().await;

        assert_eq!(consumer.finished(), [in_hand]);
        assert_eq!(f.depth(QueueName::Runs).await, 1, "the late one waits");
        f.past_visibility();
        let left: Vec<String> = f
            .receive_all(QueueName::Runs)
            .await
            .into_iter()
            .map(|m| m.id)
            .collect();
        assert_eq!(left, [late], "the handled one was deleted");
    }
}
