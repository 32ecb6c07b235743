//! The dev server's in-process workers: a consumer loop per queue over the queue port (SQS's
//! visibility timeout, receive count and redrive, as the embedded queue implements them) and a
//! scheduler ticking each minute of the clock port, running the same handlers the deployed
//! queue and schedule functions run. State machines' tasks are not workers: the local
//! state-machine runner calls them (registered at start-up in `lib.rs`).

use std::future::Future;
use std::sync::Arc;

use platform::Platform;
use ports::QueueName;
use tokio::sync::watch;
use triggers::local::{QueueWorker, Scheduler, SchedulerSettings, WorkerSettings};
use triggers::sources::{EVENT_SOURCES, EventSource};
use triggers::{QueueConsumer, ScheduledJob};

/// What runs in-process beside the routers.
#[derive(Default)]
pub struct Workers {
    /// One consumer loop per entry.
    pub consumers: Vec<(QueueName, Arc<dyn QueueConsumer>)>,
    /// Ticked once per minute of the platform's clock.
    pub jobs: Vec<Arc<dyn ScheduledJob>>,
    /// How the consumer loops poll (the queues' visibility timeout by default).
    pub queue_settings: WorkerSettings,
    /// How often the scheduler reads the clock.
    pub scheduler_settings: SchedulerSettings,
}

impl std::fmt::Debug for Workers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workers")
            .field(
                "queues",
                &self.consumers.iter().map(|(q, _)| *q).collect::<Vec<_>>(),
            )
            .field("jobs", &self.jobs.len())
            .finish()
    }
}

/// Builds the workers on the platform once it exists.
pub type WorkersFactory = Box<dyn FnOnce(&Arc<Platform>) -> Workers + Send>;

impl Workers {
    /// The deployment's own workers: for each queue and schedule that
    /// `triggers::sources::EVENT_SOURCES` binds to a function, the handler that function's main
    /// runs, so the dev server consumes and ticks exactly what the deployment does.
    pub fn standard(platform: &Arc<Platform>) -> Workers {
        let mut workers = Workers::default();
        for binding in EVENT_SOURCES {
            match (binding.function, binding.source) {
                ("worker-runs", EventSource::Queue(queue)) => workers
                    .consumers
                    .push((queue, platform.automations().run_worker())),
                ("worker-events", EventSource::Queue(queue)) => workers
                    .consumers
                    .push((queue, platform.automations().events_worker())),
                ("scheduler", EventSource::Schedule(_)) => {
                    workers.jobs.push(platform.automations().scheduler_job());
                }
                // Run by the local state-machine runner, which the dev server gives saga-step
                // at start-up (see `standard_task_functions`).
                ("saga-step", EventSource::StateMachine(_)) => {}
                (function, source) => {
                    tracing::warn!(function, %source, "no in-process handler for this event source");
                }
            }
        }
        workers
    }
}

/// The running workers, stopped together by the dev server's shutdown.
pub(crate) struct RunningWorkers {
    queues: Vec<QueueWorker>,
    scheduler: Option<Scheduler>,
}

impl RunningWorkers {
    /// Starts the workers; they stop receiving and ticking once `stopped` completes.
    pub(crate) fn start(
        platform: &Arc<Platform>,
        workers: Workers,
        stopped: impl Fn() -> StopFuture,
    ) -> Self {
        let queues = workers
            .consumers
            .into_iter()
            .map(|(queue, consumer)| {
                QueueWorker::spawn_with(
                    workers.queue_settings.clone(),
                    Arc::clone(&platform.queue),
                    queue,
                    consumer,
                    stopped(),
                )
            })
            .collect();
        let scheduler = (!workers.jobs.is_empty()).then(|| {
            Scheduler::spawn_with(
                workers.scheduler_settings.clone(),
                Arc::clone(&platform.clock),
                workers.jobs,
                stopped(),
            )
        });
        Self { queues, scheduler }
    }

    /// Waits until every worker has drained: started messages finished, handled ones deleted,
    /// the rest back in their queue.
    pub(crate) async fn drain(self) {
        for worker in self.queues {
            worker.join().await;
        }
        if let Some(scheduler) = self.scheduler {
            scheduler.join().await;
        }
    }
}

/// A future that completes when the dev server is told to stop.
pub(crate) type StopFuture = std::pin::Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// Fans one shutdown future out to the HTTP server and every worker.
pub(crate) fn fan_out(
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> impl Fn() -> StopFuture {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = tx.send(true);
    });
    move || {
        let mut rx = rx.clone();
        Box::pin(async move {
            // A dropped sender (the runtime ending) stops everything too.
            let _ = rx.wait_for(|stop| *stop).await;
        })
    }
}
