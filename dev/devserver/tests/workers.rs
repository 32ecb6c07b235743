//! The dev server runs the platform's queue consumers and scheduled jobs in-process, on the
//! embedded queue and the clock port: a message sent to the runs queue is consumed; one that
//! fails five times lands in the dead-letter queue; a tick fires when the clock passes a minute;
//! a shutdown drains without losing a message.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use basics::ManualClock;
use chrono::{DateTime, TimeZone, Utc};
use devserver::Workers;
use ports::{QueueName, SendOptions};
use testkit::TestApp;
use triggers::local::{SchedulerSettings, WorkerSettings};
use triggers::{InboundMessage, JobFailure, QueueConsumer, ScheduledJob, ScheduledTick};

/// Consumes every message, failing those whose body starts with `fail`, taking a while over
/// those that start with `slow`.
#[derive(Default)]
struct Recorder {
    seen: Mutex<Vec<(String, u32)>>,
    finished: Mutex<Vec<String>>,
}

#[async_trait]
impl QueueConsumer for Recorder {
    async fn consume(&self, message: &InboundMessage) -> Result<(), JobFailure> {
        self.seen
            .lock()
            .expect("lock")
            .push((message.body.clone(), message.receive_count));
        if message.body.starts_with("slow") {
            tokio::time::sleep(Duration::from_millis(400)).await;
        }
        if message.body.starts_with("fail") {
            return Err(JobFailure::new("scripted failure"));
        }
        self.finished
            .lock()
            .expect("lock")
            .push(message.body.clone());
        Ok(())
    }
}

impl Recorder {
    fn seen(&self) -> Vec<(String, u32)> {
        self.seen.lock().expect("lock").clone()
    }
    fn finished(&self) -> Vec<String> {
        self.finished.lock().expect("lock").clone()
    }
}

#[derive(Default)]
struct Ticks(Mutex<Vec<DateTime<Utc>>>);

#[async_trait]
impl ScheduledJob for Ticks {
    async fn tick(&self, tick: &ScheduledTick) -> Result<(), JobFailure> {
        self.0.lock().expect("lock").push(tick.time);
        Ok(())
    }
}

async fn start(clock: Arc<ManualClock>, workers: Workers) -> TestApp {
    TestApp::builder()
        .clock(clock)
        .workers(move |_| workers)
        .spawn()
        .await
}

/// A dev server whose runs queue is consumed by `recorder`.
async fn consuming_runs(
    clock: &Arc<ManualClock>,
    recorder: &Arc<Recorder>,
    queue_settings: WorkerSettings,
) -> TestApp {
    let consumer: Arc<dyn QueueConsumer> = recorder.clone();
    start(
        Arc::clone(clock),
        Workers {
            consumers: vec![(QueueName::Runs, consumer)],
            queue_settings,
            ..Workers::default()
        },
    )
    .await
}

fn quick_polling() -> WorkerSettings {
    WorkerSettings {
        idle_wait: Duration::from_millis(50),
        ..WorkerSettings::default()
    }
}

/// Waits (in real time, up to 20 s) until `done` holds.
async fn until(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..400 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting until {what}");
}

fn noon() -> Arc<ManualClock> {
    Arc::new(ManualClock::at(
        Utc.with_ymd_and_hms(2026, 3, 29, 0, 59, 30)
            .single()
            .expect("time"),
    ))
}

const PAST_VISIBILITY: chrono::Duration = chrono::Duration::seconds(901);

#[tokio::test]
async fn a_message_on_the_runs_queue_is_consumed_once_and_deleted() {
    let clock = noon();
    let recorder = Arc::new(Recorder::default());
    let app = consuming_runs(&clock, &recorder, quick_polling()).await;
    let queue = Arc::clone(&app.platform().queue);
    queue
        .send(QueueName::Runs, r#"{"run":"r1"}"#, SendOptions::default())
        .await
        .expect("send");
    until("the message is consumed", || recorder.finished().len() == 1).await;
    assert_eq!(recorder.seen(), vec![(r#"{"run":"r1"}"#.to_string(), 1)]);

    // Deleted, not merely hidden: past the visibility timeout it does not come back.
    clock.advance(PAST_VISIBILITY);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(recorder.seen().len(), 1);
    assert_eq!(queue.approximate_depth(QueueName::Runs).await.ok(), Some(0));
    assert_eq!(
        queue.approximate_depth(QueueName::RunsDlq).await.ok(),
        Some(0)
    );
    app.shutdown().await;
}

#[tokio::test]
async fn a_message_failing_five_times_lands_in_the_dead_letter_queue() {
    let clock = noon();
    let recorder = Arc::new(Recorder::default());
    let app = consuming_runs(&clock, &recorder, quick_polling()).await;
    let queue = Arc::clone(&app.platform().queue);
    queue
        .send(QueueName::Runs, "fail: poison", SendOptions::default())
        .await
        .expect("send");
    for attempt in 1..=ports::queue::MAX_RECEIVES {
        until(&format!("attempt {attempt}"), || {
            recorder.seen().len() == attempt as usize
        })
        .await;
        // Hidden for the visibility timeout after each failure, then received again.
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(
            recorder.seen().len(),
            attempt as usize,
            "not before the timeout"
        );
        clock.advance(PAST_VISIBILITY);
    }
    let receive_counts: Vec<u32> = recorder.seen().iter().map(|(_, n)| *n).collect();
    assert_eq!(receive_counts, vec![1, 2, 3, 4, 5]);
    let dlq = Arc::clone(&queue);
    let mut depth = 0;
    for _ in 0..200 {
        depth = dlq
            .approximate_depth(QueueName::RunsDlq)
            .await
            .expect("dlq depth");
        if depth == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(depth, 1, "the message is in the dead-letter queue");
    assert_eq!(queue.approximate_depth(QueueName::Runs).await.ok(), Some(0));
    assert_eq!(recorder.seen().len(), 5, "never consumed a sixth time");
    let in_dlq = queue
        .receive(
            QueueName::RunsDlq,
            10,
            Duration::from_secs(30),
            Duration::ZERO,
        )
        .await
        .expect("receive dlq");
    assert_eq!(in_dlq.len(), 1);
    assert_eq!(in_dlq[0].body, "fail: poison");
    app.shutdown().await;
}

#[tokio::test]
async fn a_tick_fires_for_each_minute_the_clock_passes() {
    let clock = noon();
    let ticks = Arc::new(Ticks::default());
    let job: Arc<dyn ScheduledJob> = ticks.clone();
    let app = start(
        Arc::clone(&clock),
        Workers {
            jobs: vec![job],
            scheduler_settings: SchedulerSettings {
                check_every: Duration::from_millis(20),
            },
            ..Workers::default()
        },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        ticks.0.lock().expect("lock").is_empty(),
        "no tick before 01:00"
    );
    clock.advance(chrono::Duration::seconds(45));
    until("the 01:00 tick", || {
        ticks.0.lock().map(|t| t.len()).unwrap_or(0) == 1
    })
    .await;
    clock.advance(chrono::Duration::seconds(120));
    until("the 01:01 and 01:02 ticks", || {
        ticks.0.lock().map(|t| t.len()).unwrap_or(0) == 3
    })
    .await;
    let minute = |m| {
        Utc.with_ymd_and_hms(2026, 3, 29, 1, m, 0)
            .single()
            .expect("time")
    };
    assert_eq!(
        *ticks.0.lock().expect("lock"),
        vec![minute(0), minute(1), minute(2)]
    );
    app.shutdown().await;
}

#[tokio::test]
async fn shutdown_drains_without_losing_a_message() {
    let clock = noon();
    let recorder = Arc::new(Recorder::default());
    let app = consuming_runs(
        &clock,
        &recorder,
        WorkerSettings {
            batch_size: 1,
            ..quick_polling()
        },
    )
    .await;
    let queue = Arc::clone(&app.platform().queue);
    for n in 1..=3 {
        queue
            .send(
                QueueName::Runs,
                &format!("slow {n}"),
                SendOptions::default(),
            )
            .await
            .expect("send");
    }
    until("the first message is started", || {
        !recorder.seen().is_empty()
    })
    .await;
    app.shutdown().await;

    // What was started finished and was deleted; the rest waits, visible, for the next start.
    let finished = recorder.finished();
    assert!(!finished.is_empty());
    assert_eq!(finished.len(), recorder.seen().len(), "nothing cut short");
    let left = queue
        .receive(QueueName::Runs, 10, Duration::from_secs(30), Duration::ZERO)
        .await
        .expect("receive");
    let mut bodies: Vec<String> = finished
        .into_iter()
        .chain(left.into_iter().map(|m| m.body))
        .collect();
    bodies.sort();
    assert_eq!(bodies, vec!["slow 1", "slow 2", "slow 3"]);
}
