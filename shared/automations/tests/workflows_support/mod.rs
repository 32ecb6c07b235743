//! Doubles shared by the workflows, schedules and inbound tests: an embedded store in a
//! tempdir, record-trigger hooks that record (and can fail), a fixed schema, and a run starter
//! that records what it started and deduplicates by key like the real one.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use automations::{
    AutomationError, RecordTriggerHooks, RunId, RunStarter, RunTrigger, SchemaLookup, Workflow,
    WorkflowSpec, Workflows,
};
use basics::{Clock, ManualClock, SequentialIds};
use chrono::{DateTime, Utc};
use ports::TableStore;
use serde_json::{Value, json};

pub const TENANT: &str = "ten_acme";
pub const BASE: &str = "appAAAAAAAAAAAAAA";

pub fn utc(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .expect("time")
        .with_timezone(&Utc)
}

pub struct Store {
    pub store: Arc<dyn TableStore>,
    _dir: tempfile::TempDir,
}

impl Store {
    /// `store` in front of `inner`'s database (a failing wrapper), keeping the tempdir alive.
    pub fn wrapping(store: Arc<dyn TableStore>, inner: Store) -> Store {
        Store {
            store,
            _dir: inner._dir,
        }
    }
}

pub fn store(clock: &ManualClock) -> Store {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = embedded::Database::open(&dir.path().join("automations.sqlite")).expect("db");
    let clock: Arc<dyn Clock> = Arc::new(clock.clone());
    Store {
        store: Arc::new(embedded::SqliteStore::new(db, clock)),
        _dir: dir,
    }
}

/// Record-trigger hooks with the real ones' semantics: `attach` registers the workflow on its
/// trigger's table (leaving any table it was on before), `detach` removes it from all. Calls
/// are recorded as `("attach" | "detach", workflow id, table)`; a failing call changes nothing.
#[derive(Debug, Default)]
pub struct FakeHooks {
    pub calls: Mutex<Vec<(String, String, String)>>,
    registered: Mutex<HashMap<String, String>>,
    pub fail_attach: AtomicBool,
    pub fail_detach: AtomicBool,
}

impl FakeHooks {
    pub fn take(&self) -> Vec<(String, String, String)> {
        std::mem::take(&mut *self.calls.lock().expect("lock"))
    }

    /// The table the workflow is registered on, if any.
    pub fn registered(&self, workflow_id: &str) -> Option<String> {
        self.registered
            .lock()
            .expect("lock")
            .get(workflow_id)
            .cloned()
    }

    fn record(&self, op: &str, workflow: &Workflow) {
        let table = workflow
            .spec
            .trigger
            .record_change()
            .map(|(_, _, table)| table.to_string())
            .unwrap_or_default();
        self.calls
            .lock()
            .expect("lock")
            .push((op.to_string(), workflow.id.to_string(), table));
    }
}

#[async_trait]
impl RecordTriggerHooks for FakeHooks {
    async fn attach(&self, workflow: &Workflow) -> Result<(), AutomationError> {
        self.record("attach", workflow);
        if self.fail_attach.load(Ordering::SeqCst) {
            return Err(AutomationError::Airtable("webhook limit reached".into()));
        }
        let mut registered = self.registered.lock().expect("lock");
        match workflow.spec.trigger.record_change() {
            Some((_, _, table)) if workflow.spec.enabled => {
                registered.insert(workflow.id.to_string(), table.to_string());
            }
            _ => {
                registered.remove(workflow.id.as_str());
            }
        }
        Ok(())
    }

    async fn detach(&self, workflow: &Workflow) -> Result<(), AutomationError> {
        self.record("detach", workflow);
        if self.fail_detach.load(Ordering::SeqCst) {
            return Err(AutomationError::Airtable("Airtable is down".into()));
        }
        self.registered
            .lock()
            .expect("lock")
            .remove(workflow.id.as_str());
        Ok(())
    }
}

/// Deals(Name, Status) and Tasks(Name) in [`BASE`].
#[derive(Debug, Default)]
pub struct FakeSchema;

#[async_trait]
impl SchemaLookup for FakeSchema {
    async fn table_fields(
        &self,
        _tenant_id: &str,
        base: &str,
        table: &str,
    ) -> Result<Option<Vec<String>>, AutomationError> {
        let fields: &[&str] = match (base, table) {
            (BASE, "Deals") => &["Name", "Status"],
            (BASE, "Tasks") => &["Name"],
            _ => return Ok(None),
        };
        Ok(Some(fields.iter().map(|f| f.to_string()).collect()))
    }
}

/// One run the fake starter created.
#[derive(Debug, Clone, PartialEq)]
pub struct Started {
    pub run_id: RunId,
    pub workflow_id: String,
    pub trigger: RunTrigger,
    pub input: Value,
    pub dedup_key: Option<String>,
}

/// Starts runs once per dedup key, as the contract of [`RunStarter`] says.
#[derive(Debug, Default)]
pub struct FakeStarter {
    pub started: Mutex<Vec<Started>>,
    by_key: Mutex<HashMap<String, RunId>>,
    pub fail: AtomicBool,
}

impl FakeStarter {
    pub fn started(&self) -> Vec<Started> {
        self.started.lock().expect("lock").clone()
    }

    /// The `fire_time`s of the schedule runs started so far.
    pub fn fire_times(&self) -> Vec<String> {
        self.started()
            .iter()
            .map(|s| {
                s.trigger.data["fire_time"]
                    .as_str()
                    .unwrap_or("?")
                    .to_string()
            })
            .collect()
    }
}

#[async_trait]
impl RunStarter for FakeStarter {
    async fn start(
        &self,
        workflow: &Workflow,
        trigger: RunTrigger,
        input: Value,
        dedup_key: Option<String>,
    ) -> Result<RunId, AutomationError> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(AutomationError::Conflict("runs queue unavailable".into()));
        }
        if let Some(key) = &dedup_key
            && let Some(run_id) = self.by_key.lock().expect("lock").get(key)
        {
            return Ok(run_id.clone());
        }
        let mut started = self.started.lock().expect("lock");
        let run_id = RunId::parse(&format!("run_{:06}", started.len() + 1)).expect("run id");
        started.push(Started {
            run_id: run_id.clone(),
            workflow_id: workflow.id.to_string(),
            trigger,
            input,
            dedup_key: dedup_key.clone(),
        });
        if let Some(key) = dedup_key {
            self.by_key
                .lock()
                .expect("lock")
                .insert(key, run_id.clone());
        }
        Ok(run_id)
    }
}

pub struct Setup {
    pub clock: ManualClock,
    pub store: Store,
    pub hooks: Arc<FakeHooks>,
    pub workflows: Workflows,
}

pub fn setup_at(start: &str) -> Setup {
    let clock = ManualClock::at(utc(start));
    setup_on(clock.clone(), store(&clock))
}

pub fn setup_on(clock: ManualClock, store: Store) -> Setup {
    let hooks = Arc::new(FakeHooks::default());
    let workflows = Workflows::new(
        Arc::clone(&store.store),
        Arc::new(clock.clone()),
        Arc::new(SequentialIds::default()),
        hooks.clone(),
        Arc::new(FakeSchema),
    );
    Setup {
        clock,
        store,
        hooks,
        workflows,
    }
}

pub fn spec(value: Value) -> WorkflowSpec {
    serde_json::from_value(value).expect("spec")
}

pub fn set_step() -> Value {
    json!({"id": "note", "type": "set", "values": {"at": "{{ now }}"}})
}

pub fn schedule_spec(name: &str, cron: &str, timezone: &str) -> WorkflowSpec {
    spec(json!({
        "name": name,
        "trigger": {"type": "schedule", "cron": cron, "timezone": timezone},
        "steps": [set_step()]
    }))
}

pub fn record_spec(name: &str, table: &str) -> WorkflowSpec {
    spec(json!({
        "name": name,
        "trigger": {"type": "record_created", "base": BASE, "table": table},
        "steps": [{"id": "task", "type": "airtable.create", "base": BASE, "table": "Tasks", "fields": {"Name": "{{ trigger.fields.Name }}"}}]
    }))
}

pub fn webhook_spec(name: &str) -> WorkflowSpec {
    spec(json!({
        "name": name,
        "trigger": {"type": "webhook"},
        "steps": [set_step()]
    }))
}
