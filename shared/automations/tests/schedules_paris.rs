//! The scheduler's due-fire job driven minute by minute by a controlled clock: schedules in
//! Europe/Paris fire at exactly the right instants across the March and October 2026
//! daylight-saving changes; an outage catches up exactly one fire; a repeated tick starts
//! nothing new; stale entries are cleaned.

mod workflows_support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use automations::{Schedules, WorkflowId};
use chrono::{DateTime, Duration, Utc};
use ports::{Query, Table, to_item};
use serde_json::json;
use workflows_support::*;

struct Driven {
    setup: Setup,
    starter: Arc<FakeStarter>,
    schedules: Schedules,
}

fn driven(start: &str) -> Driven {
    let setup = setup_at(start);
    let starter = Arc::new(FakeStarter::default());
    let schedules = Schedules::new(Arc::clone(&setup.store.store), starter.clone());
    Driven {
        setup,
        starter,
        schedules,
    }
}

impl Driven {
    async fn create(&self, name: &str, cron: &str) -> WorkflowId {
        self.setup
            .workflows
            .create(TENANT, schedule_spec(name, cron, "Europe/Paris"))
            .await
            .expect("create")
            .workflow
            .id
    }

    /// Ticks once a minute from the clock's time + 1 minute to `until` (inclusive), as the
    /// EventBridge rule does.
    async fn tick_until(&self, until: DateTime<Utc>) {
        loop {
            self.setup.clock.advance(Duration::minutes(1));
            let now = basics::Clock::now(&self.setup.clock);
            if now > until {
                return;
            }
            self.schedules.fire_due(now).await.expect("tick");
        }
    }

    /// The fire times each workflow was started for, by workflow id.
    fn fires_by_workflow(&self) -> BTreeMap<String, Vec<String>> {
        let mut fires: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for started in self.starter.started() {
            fires.entry(started.workflow_id.clone()).or_default().push(
                started.trigger.data["fire_time"]
                    .as_str()
                    .unwrap_or("?")
                    .to_string(),
            );
        }
        fires
    }
}

fn every(minutes: i64, from: &str, to: &str) -> Vec<String> {
    let (mut at, end) = (utc(from), utc(to));
    let mut times = Vec::new();
    while at <= end {
        times.push(at.format("%Y-%m-%dT%H:%M:%SZ").to_string());
        at += Duration::minutes(minutes);
    }
    times
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paris_schedules_fire_at_the_right_instants_across_the_march_change() {
    // 28 March 22:00 UTC = 23:00 CET; the clocks go 02:00 CET -> 03:00 CEST at 01:00 UTC.
    let d = driven("2026-03-28T22:00:00Z");
    let night = d.create("night", "30 2 * * *").await;
    let morning = d.create("morning", "0 9 * * *").await;
    let half_hourly = d.create("half-hourly", "*/30 * * * *").await;
    // To 29 March 23:59 CEST.
    d.tick_until(utc("2026-03-29T21:59:00Z")).await;

    let fires = d.fires_by_workflow();
    // 02:30 does not exist that night: it fires once, at 03:00 CEST, when the gap ends.
    assert_eq!(fires[night.as_str()], ["2026-03-29T01:00:00Z"]);
    // 09:00 CEST.
    assert_eq!(fires[morning.as_str()], ["2026-03-29T07:00:00Z"]);
    // Every 30 real minutes, straight through the change: 01:30 CET (00:30 UTC) is followed
    // by 03:00 CEST (01:00 UTC).
    assert_eq!(
        fires[half_hourly.as_str()],
        every(30, "2026-03-28T22:30:00Z", "2026-03-29T21:30:00Z")
    );

    let night_run = d
        .starter
        .started()
        .into_iter()
        .find(|s| s.workflow_id == night.as_str())
        .expect("night run");
    assert_eq!(night_run.trigger.kind, "schedule");
    assert_eq!(night_run.input, json!({}));
    assert_eq!(
        night_run.dedup_key.as_deref(),
        Some(format!("schedule:{night}:2026-03-29T01:00:00Z").as_str())
    );
    assert_eq!(
        night_run.trigger.data["local_time"],
        "2026-03-29T03:00:00+02:00"
    );
    assert_eq!(night_run.trigger.data["timezone"], "Europe/Paris");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paris_schedules_fire_at_the_right_instants_across_the_october_change() {
    // 24 October 21:00 UTC = 23:00 CEST; the clocks go 03:00 CEST -> 02:00 CET at 01:00 UTC.
    let d = driven("2026-10-24T21:00:00Z");
    let night = d.create("night", "30 2 * * *").await;
    let morning = d.create("morning", "0 9 * * *").await;
    let half_hourly = d.create("half-hourly", "*/30 * * * *").await;
    // To 25 October 23:59 CET.
    d.tick_until(utc("2026-10-25T22:59:00Z")).await;

    let fires = d.fires_by_workflow();
    // 02:30 happens twice that night: it fires once, at the first (CEST).
    assert_eq!(fires[night.as_str()], ["2026-10-25T00:30:00Z"]);
    // 09:00 CET.
    assert_eq!(fires[morning.as_str()], ["2026-10-25T08:00:00Z"]);
    // Every 30 real minutes through the repeated hour: no gap, no double.
    assert_eq!(
        fires[half_hourly.as_str()],
        every(30, "2026-10-24T21:30:00Z", "2026-10-25T22:30:00Z")
    );
}

#[tokio::test]
async fn an_outage_catches_up_exactly_one_fire_and_a_repeated_tick_starts_nothing() {
    let d = driven("2026-06-01T09:50:00Z");
    let id = d.create("half-hourly", "*/30 * * * *").await;
    d.tick_until(utc("2026-06-01T10:00:00Z")).await;
    assert_eq!(d.starter.fire_times(), ["2026-06-01T10:00:00Z"]);

    // The same minute again (an EventBridge retry): nothing new.
    let again = d
        .schedules
        .fire_due(utc("2026-06-01T10:00:00Z"))
        .await
        .expect("tick");
    assert_eq!(again.started, 0);
    assert_eq!(d.starter.started().len(), 1);

    // Three hours without a tick: 10:30 .. 13:00 were missed; only 13:00 runs.
    d.setup.clock.set(utc("2026-06-01T13:07:00Z"));
    let report = d
        .schedules
        .fire_due(utc("2026-06-01T13:07:00Z"))
        .await
        .expect("tick");
    assert_eq!(report.started, 1);
    assert_eq!(
        d.starter.fire_times(),
        ["2026-06-01T10:00:00Z", "2026-06-01T13:00:00Z"]
    );
    // And the schedule goes on from there.
    d.tick_until(utc("2026-06-01T14:00:00Z")).await;
    assert_eq!(
        d.starter.fire_times(),
        [
            "2026-06-01T10:00:00Z",
            "2026-06-01T13:00:00Z",
            "2026-06-01T13:30:00Z",
            "2026-06-01T14:00:00Z"
        ]
    );
    assert!(
        d.starter
            .started()
            .iter()
            .all(|s| s.workflow_id == id.as_str())
    );
}

#[tokio::test]
async fn a_run_that_cannot_start_stays_due_and_starts_on_the_next_tick() {
    let d = driven("2026-06-01T09:50:00Z");
    d.create("daily", "0 14 * * *").await; // 12:00 UTC in summer
    d.starter.fail.store(true, Ordering::SeqCst);
    let report = d
        .schedules
        .fire_due(utc("2026-06-01T10:00:00Z"))
        .await
        .expect("tick");
    assert_eq!(report.started + report.failed, 0, "not due yet");
    let report = d
        .schedules
        .fire_due(utc("2026-06-01T10:00:00Z") + Duration::hours(2))
        .await
        .expect("tick");
    assert_eq!(report.failed, 1);
    d.starter.fail.store(false, Ordering::SeqCst);
    let report = d
        .schedules
        .fire_due(utc("2026-06-01T12:01:00Z"))
        .await
        .expect("tick");
    assert_eq!(report.started, 1);
    assert_eq!(d.starter.fire_times(), ["2026-06-01T12:00:00Z"]);
}

#[tokio::test]
async fn disabled_deleted_and_orphaned_schedules_do_not_fire_and_are_cleaned() {
    let d = driven("2026-06-01T09:50:00Z");
    let disabled = d.create("disabled", "0 10 * * *").await;
    let deleted = d.create("deleted", "0 10 * * *").await;
    d.setup
        .workflows
        .patch(TENANT, &disabled, json!({"enabled": false}))
        .await
        .expect("disable");
    d.setup
        .workflows
        .delete(TENANT, &deleted)
        .await
        .expect("delete");
    // An entry left behind by a workflow that no longer exists.
    let orphan = json!({
        "fire_at": "2026-06-01T10:00:00Z",
        "tenant_id": TENANT,
        "workflow_id": "wfl_gone",
        "sk": format!("2026-06-01T10:00:00Z#{TENANT}#wfl_gone"),
    });
    let key = ports::Key::new(
        "SCHEDULES",
        format!("2026-06-01T10:00:00Z#{TENANT}#wfl_gone"),
    );
    d.setup
        .store
        .store
        .put(Table::Core, to_item(&key, &orphan).expect("item"), None)
        .await
        .expect("put");

    let report = d
        .schedules
        .fire_due(utc("2026-06-01T10:00:00Z"))
        .await
        .expect("tick");
    assert_eq!((report.started, report.cleaned), (0, 1));
    assert!(d.starter.started().is_empty());
    let index = d
        .setup
        .store
        .store
        .query(Table::Core, Query::partition("SCHEDULES"))
        .await
        .expect("query");
    assert!(index.items.is_empty());
}

#[tokio::test]
async fn an_edit_between_a_fire_time_and_its_tick_keeps_the_pending_fire() {
    let d = driven("2026-06-01T09:50:00Z");
    let id = d.create("noon", "0 12 * * *").await; // 10:00 UTC in summer
    d.setup.clock.set(utc("2026-06-01T10:00:20Z"));
    d.setup
        .workflows
        .patch(TENANT, &id, json!({"name": "renamed"}))
        .await
        .expect("rename");
    let report = d
        .schedules
        .fire_due(utc("2026-06-01T10:01:00Z"))
        .await
        .expect("tick");
    assert_eq!(report.started, 1);
    assert_eq!(d.starter.fire_times(), ["2026-06-01T10:00:00Z"]);
    // A changed schedule starts afresh from the edit.
    d.setup.clock.set(utc("2026-06-02T10:00:20Z"));
    d.setup
        .workflows
        .patch(TENANT, &id, json!({"trigger": {"cron": "0 13 * * *"}}))
        .await
        .expect("reschedule");
    d.schedules
        .fire_due(utc("2026-06-02T10:01:00Z"))
        .await
        .expect("tick");
    assert_eq!(d.starter.fire_times(), ["2026-06-01T10:00:00Z"]);
}

#[tokio::test]
async fn the_scheduled_job_fires_on_its_tick_minute_and_fails_when_a_start_failed() {
    use triggers::{ScheduledJob, ScheduledTick};
    let d = driven("2026-06-01T09:50:00Z");
    d.create("noon", "0 12 * * *").await; // 10:00 UTC
    d.starter.fail.store(true, Ordering::SeqCst);
    let tick = ScheduledTick::of_minute(utc("2026-06-01T10:00:07Z"));
    assert!(d.schedules.tick(&tick).await.is_err());
    d.starter.fail.store(false, Ordering::SeqCst);
    d.schedules.tick(&tick).await.expect("retried tick");
    d.schedules.tick(&tick).await.expect("same minute again");
    assert_eq!(d.starter.fire_times(), ["2026-06-01T10:00:00Z"]);
}
