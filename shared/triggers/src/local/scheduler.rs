//! The dev server's stand-in for an EventBridge `rate(1 minute)` rule: a tick for each minute
//! boundary the clock port passes.
//!
//! Time comes from the clock port, not from a timer, so a test that advances a manual clock by a
//! minute gets the next tick, and the dev server ticks on wall-clock minutes like EventBridge.
//! The clock is looked at on a short real interval; each new minute boundary fires once, in
//! order, and a minute already fired never fires again, even if the clock is set back. After a
//! long pause (a laptop asleep) at most [`MAX_CATCH_UP`] missed minutes are fired, the latest
//! ones: EventBridge would not have fired the others either.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use basics::Clock;
use chrono::{DateTime, TimeDelta, Utc};
use tokio::task::JoinHandle;

use crate::schedule::{ScheduledJob, ScheduledTick, minute_of};
use crate::stop::Stop;

/// The most missed minutes fired at once after the clock jumps.
pub const MAX_CATCH_UP: i64 = 60;

/// How a [`Scheduler`] watches the clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchedulerSettings {
    /// How often the clock is read. A tick fires at most this late.
    pub check_every: Duration,
}

impl Default for SchedulerSettings {
    fn default() -> Self {
        Self {
            check_every: Duration::from_secs(1),
        }
    }
}

/// A running scheduler. [`Scheduler::join`] waits for it to stop after shutdown.
#[derive(Debug)]
pub struct Scheduler {
    task: JoinHandle<()>,
}

impl Scheduler {
    /// Ticks every job once per minute of `clock` until `shutdown` completes. The first tick is
    /// the next minute boundary after the start, as with a new EventBridge rule.
    pub fn spawn(
        clock: Arc<dyn Clock>,
        jobs: Vec<Arc<dyn ScheduledJob>>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Self {
        Self::spawn_with(SchedulerSettings::default(), clock, jobs, shutdown)
    }

    /// [`Scheduler::spawn`] with other settings.
    pub fn spawn_with(
        settings: SchedulerSettings,
        clock: Arc<dyn Clock>,
        jobs: Vec<Arc<dyn ScheduledJob>>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Self {
        let stop = Stop::after(shutdown);
        // Read now, not when the task first runs, so that the first tick is the first boundary
        // after this call however late the task starts.
        let started = minute_of(clock.now());
        let task = tokio::spawn(run(settings, clock, jobs, started, stop));
        Self { task }
    }

    /// Waits until the scheduler has stopped after shutdown, its last tick finished.
    pub async fn join(self) {
        if let Err(err) = self.task.await {
            tracing::error!(error = %err, "scheduler ended abnormally");
        }
    }
}

async fn run(
    settings: SchedulerSettings,
    clock: Arc<dyn Clock>,
    jobs: Vec<Arc<dyn ScheduledJob>>,
    started: DateTime<Utc>,
    stop: Stop,
) {
    let mut last_fired = started;
    tracing::info!(jobs = jobs.len(), "scheduler started");
    loop {
        // A tick in progress is never cut short: the signal is only looked at between ticks.
        stop.sleep(settings.check_every).await;
        if stop.is_set() {
            break;
        }
        for minute in due_minutes(last_fired, clock.now()) {
            run_tick(&jobs, ScheduledTick { time: minute }).await;
            last_fired = minute;
        }
    }
    tracing::info!("scheduler stopped");
}

/// The minute boundaries after `last_fired` up to `now`, oldest first, at most [`MAX_CATCH_UP`]
/// (the latest). Empty when the clock has not passed a new boundary, or went back.
fn due_minutes(last_fired: DateTime<Utc>, now: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let current = minute_of(now);
    let missed = (current - last_fired).num_minutes();
    if missed <= 0 {
        return Vec::new();
    }
    if missed > MAX_CATCH_UP {
        tracing::warn!(
            missed,
            fired = MAX_CATCH_UP,
            "the clock jumped; firing only the latest minutes"
        );
    }
    (0..missed.min(MAX_CATCH_UP))
        .rev()
        .map(|back| current - TimeDelta::minutes(back))
        .collect()
}

/// Runs every job for one tick, side by side, each in a task of its own: a failure or a panic is
/// logged, as the Lambda runtime would, and keeps neither the other jobs nor later ticks from
/// running.
async fn run_tick(jobs: &[Arc<dyn ScheduledJob>], tick: ScheduledTick) {
    let running: Vec<_> = jobs
        .iter()
        .map(|job| {
            let job = Arc::clone(job);
            tokio::spawn(async move { job.tick(&tick).await })
        })
        .collect();
    for finished in futures::future::join_all(running).await {
        match finished {
            Ok(Ok(())) => {}
            Ok(Err(failure)) => {
                tracing::warn!(tick = %tick.time, error = %failure, "scheduled job failed");
            }
            Err(err) => tracing::error!(tick = %tick.time, error = %err, "scheduled job panicked"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;
    use basics::ManualClock;
    use chrono::Timelike;
    use tokio::sync::{Semaphore, mpsc, oneshot};

    use super::*;
    use crate::message::JobFailure;

    /// Sends each tick down a channel; with a gate, waits for a permit before finishing it.
    struct Job {
        ticks: mpsc::UnboundedSender<DateTime<Utc>>,
        gate: Option<Arc<Semaphore>>,
        finished: Mutex<Vec<DateTime<Utc>>>,
    }

    #[async_trait]
    impl ScheduledJob for Job {
        async fn tick(&self, tick: &ScheduledTick) -> Result<(), JobFailure> {
            let _ = self.ticks.send(tick.time);
            if let Some(gate) = &self.gate {
                gate.acquire().await.expect("the gate stays open").forget();
            }
            self.finished.lock().expect("finished").push(tick.time);
            Ok(())
        }
    }

    /// Fails on even minutes and panics on odd ones, to show that neither keeps the other job
    /// or later ticks from running.
    struct Broken;

    #[async_trait]
    impl ScheduledJob for Broken {
        async fn tick(&self, tick: &ScheduledTick) -> Result<(), JobFailure> {
            assert!(
                tick.time.minute().is_multiple_of(2),
                "panics on odd minutes"
            );
            Err(JobFailure::new("fails on even minutes"))
        }
    }

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().expect("an RFC 3339 time")
    }

    struct Fixture {
        clock: ManualClock,
        ticks: mpsc::UnboundedReceiver<DateTime<Utc>>,
        job: Arc<Job>,
        shutdown: oneshot::Sender<()>,
        scheduler: Scheduler,
    }

    fn start(gate: Option<Arc<Semaphore>>) -> Fixture {
        let clock = ManualClock::at(at("2026-12-02T04:05:30Z"));
        let (tx, ticks) = mpsc::unbounded_channel();
        let job = Arc::new(Job {
            ticks: tx,
            gate,
            finished: Mutex::default(),
        });
        let (shutdown, signal) = oneshot::channel::<()>();
        let scheduler = Scheduler::spawn_with(
            SchedulerSettings {
                check_every: Duration::from_millis(5),
            },
            Arc::new(clock.clone()),
            vec![Arc::new(Broken), job.clone()],
            async move {
                let _ = signal.await;
            },
        );
        Fixture {
            clock,
            ticks,
            job,
            shutdown,
            scheduler,
        }
    }

    async fn next_tick(ticks: &mut mpsc::UnboundedReceiver<DateTime<Utc>>) -> DateTime<Utc> {
        tokio::time::timeout(Duration::from_secs(10), ticks.recv())
            .await
            .expect("a tick within the bound")
            .expect("the scheduler is running")
    }

    #[tokio::test]
    async fn advancing_the_clock_a_minute_fires_the_next_minute_once() {
        let mut f = start(None);
        f.clock.advance(TimeDelta::seconds(60));
        assert_eq!(next_tick(&mut f.ticks).await, at("2026-12-02T04:06:00Z"));
        f.clock.advance(TimeDelta::minutes(3));
        for minute in ["04:07", "04:08", "04:09"] {
            assert_eq!(
                next_tick(&mut f.ticks).await,
                at(&format!("2026-12-02T{minute}:00Z"))
            );
        }
        // Set back and forward again over minutes already fired: none fires twice, so the next
        // tick to arrive is the first new minute.
        f.clock.set(at("2026-12-02T04:07:10Z"));
        tokio::time::sleep(Duration::from_millis(30)).await;
        f.clock.set(at("2026-12-02T04:09:50Z"));
        tokio::time::sleep(Duration::from_millis(30)).await;
        f.clock.set(at("2026-12-02T04:10:01Z"));
        assert_eq!(next_tick(&mut f.ticks).await, at("2026-12-02T04:10:00Z"));
        let _ = f.shutdown.send(());
        f.scheduler.join().await;
    }

    #[tokio::test]
    async fn a_long_jump_fires_only_the_latest_minutes() {
        let mut f = start(None);
        f.clock.advance(TimeDelta::hours(3));
        let now = minute_of(at("2026-12-02T07:05:30Z"));
        let first = next_tick(&mut f.ticks).await;
        assert_eq!(first, now - TimeDelta::minutes(MAX_CATCH_UP - 1));
        let mut fired = 1;
        let mut last = first;
        while last < now {
            let tick = next_tick(&mut f.ticks).await;
            assert_eq!(tick, last + TimeDelta::minutes(1), "in order, none skipped");
            last = tick;
            fired += 1;
        }
        assert_eq!(fired, MAX_CATCH_UP);
        let _ = f.shutdown.send(());
        f.scheduler.join().await;
    }

    #[tokio::test]
    async fn shutdown_waits_for_the_tick_in_progress() {
        let gate = Arc::new(Semaphore::new(0));
        let mut f = start(Some(gate.clone()));
        f.clock.advance(TimeDelta::seconds(60));
        let minute = next_tick(&mut f.ticks).await;
        let _ = f.shutdown.send(());
        let join = tokio::spawn(f.scheduler.join());
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert!(!join.is_finished(), "the tick in progress holds the drain");
        gate.add_permits(1);
        join.await.expect("the join task");
        assert_eq!(*f.job.finished.lock().expect("finished"), [minute]);
    }

    #[test]
    fn due_minutes_are_the_new_boundaries_oldest_first() {
        let last = at("2026-12-02T04:05:00Z");
        assert!(due_minutes(last, at("2026-12-02T04:05:59Z")).is_empty());
        assert!(due_minutes(last, at("2026-12-02T04:01:00Z")).is_empty());
        assert_eq!(
            due_minutes(last, at("2026-12-02T04:07:00Z")),
            [at("2026-12-02T04:06:00Z"), at("2026-12-02T04:07:00Z")]
        );
    }
}
