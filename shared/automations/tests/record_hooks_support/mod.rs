//! What the record-hook tests share: the Airtable sandbox in-process, a tenant connected to it,
//! embedded store and queue, a loopback server standing in for our ping route (it records what
//! the sandbox sends), and a run starter that records starts and honours dedup keys.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use airtable::{
    Airtable, BaseId, ClientConfig, Fields, RateLimiter, RateLimits, RecordId, RetryPolicy,
    TableRef, WebhookId, WriteOptions,
};
use airtable_sandbox::{DEMO_BASE_ID, DEMO_TOKEN, Sandbox, SandboxHandle};
use async_trait::async_trait;
use automations::record_hooks::Registration;
use automations::{
    AutomationError, RecordHooks, RunId, RunStarter, RunTrigger, TenantAirtable, Trigger, Workflow,
    WorkflowId, WorkflowSpec,
};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::post;
use basics::{Clock, RandomIds, SystemClock};
use connections::Connections;
use gateway::{ClientPool, Gateway, GatewaySettings};
use metering::UsageCounters;
use ports::{Key, Queue, QueueName, Table, TableStore, to_item};
use serde_json::Value;
use tokio::sync::Notify;

pub const TENANT: &str = "ten_hooks";
pub const CONTACTS: &str = "tblContacts000000";
pub const COMPANIES: &str = "tblCompanies00000";

/// A ping as the sandbox sent it to our notification URL.
#[derive(Debug, Clone)]
pub struct CapturedPing {
    pub hook: String,
    pub mac: Option<String>,
    pub body: Vec<u8>,
}

#[derive(Debug, Default)]
pub struct Pings {
    seen: Mutex<Vec<CapturedPing>>,
    arrived: Notify,
}

impl Pings {
    /// Waits until at least `n` pings arrived (the sandbox sends them after answering).
    pub async fn wait_for(&self, n: usize) -> Vec<CapturedPing> {
        let waited = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                let notified = self.arrived.notified();
                {
                    let seen = self.seen.lock().expect("lock");
                    if seen.len() >= n {
                        return seen.clone();
                    }
                }
                notified.await;
            }
        })
        .await;
        waited.unwrap_or_else(|_| panic!("fewer than {n} pings arrived"))
    }

    pub fn take(&self) -> Vec<CapturedPing> {
        std::mem::take(&mut *self.seen.lock().expect("lock"))
    }
}

async fn capture(
    State(pings): State<Arc<Pings>>,
    Path(hook): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> &'static str {
    let mac = headers
        .get("x-airtable-content-mac")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    pings.seen.lock().expect("lock").push(CapturedPing {
        hook,
        mac,
        body: body.to_vec(),
    });
    pings.arrived.notify_waiters();
    ""
}

/// One start the fake run starter saw.
#[derive(Debug, Clone)]
pub struct Started {
    pub workflow_id: String,
    pub trigger: RunTrigger,
    pub input: Value,
    pub dedup_key: Option<String>,
}

/// Records starts; a repeated dedup key returns the first run and records nothing new (as the
/// real starter promises).
#[derive(Debug, Default)]
pub struct FakeStarter {
    started: Mutex<Vec<Started>>,
    by_key: Mutex<HashMap<String, RunId>>,
    pub calls: Mutex<usize>,
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
        *self.calls.lock().expect("lock") += 1;
        let mut by_key = self.by_key.lock().expect("lock");
        if let Some(key) = &dedup_key
            && let Some(run) = by_key.get(key)
        {
            return Ok(run.clone());
        }
        let mut started = self.started.lock().expect("lock");
        let run = RunId::parse(&format!("run_{}", started.len() + 1)).expect("run id");
        if let Some(key) = &dedup_key {
            by_key.insert(key.clone(), run.clone());
        }
        started.push(Started {
            workflow_id: workflow.id.to_string(),
            trigger,
            input,
            dedup_key,
        });
        Ok(run)
    }
}

impl FakeStarter {
    pub fn started(&self) -> Vec<Started> {
        self.started.lock().expect("lock").clone()
    }
}

pub struct World {
    pub sandbox: SandboxHandle,
    pub store: Arc<dyn TableStore>,
    pub queue: Arc<dyn Queue>,
    pub hooks: RecordHooks,
    pub pings: Arc<Pings>,
    pub starter: Arc<FakeStarter>,
    /// A client on the sandbox with the demo token, standing in for a person editing the base.
    pub editor: Airtable,
    pub usage: UsageCounters,
    _dir: tempfile::TempDir,
}

fn fast_limits() -> RateLimits {
    RateLimits {
        base_interval: Duration::from_millis(1),
        token_interval: Duration::from_millis(1),
        first_cooldown: Duration::from_millis(100),
        cooldown: Duration::from_millis(500),
    }
}

impl World {
    pub async fn start() -> Self {
        let sandbox = Sandbox::builder()
            .no_rate_limits()
            .start("127.0.0.1:0".parse().expect("address"))
            .await
            .expect("sandbox");
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let store: Arc<dyn TableStore> = Arc::new(embedded::SqliteStore::new(
            embedded::Database::in_memory().expect("db"),
            Arc::clone(&clock),
        ));
        let queue: Arc<dyn Queue> = Arc::new(embedded::SqliteQueue::new(
            embedded::Database::in_memory().expect("db"),
            Arc::clone(&clock),
        ));
        let dir = tempfile::tempdir().expect("temp dir");
        let secrets: Arc<dyn ports::Secrets> = Arc::new(embedded::FileSecrets::new(
            dir.path().join("secrets.json"),
            basics::config::Env::from_pairs([]),
        ));
        let connections = Connections::new(
            Arc::clone(&store),
            secrets,
            Arc::clone(&clock),
            sandbox.url(),
        );
        connections
            .connect(TENANT, DEMO_TOKEN.to_string().into())
            .await
            .expect("connect the tenant");
        let clients = Arc::new(ClientPool::new(
            Arc::clone(&store),
            Arc::clone(&clock),
            sandbox.url(),
            Duration::from_secs(10),
            fast_limits(),
        ));
        let gateway = Gateway::new(
            Arc::clone(&store),
            Arc::clone(&clock),
            connections.clone(),
            Arc::clone(&clients),
            &GatewaySettings::default(),
        );
        let usage = UsageCounters::new(Arc::clone(&store), Arc::clone(&clock));
        let airtable = TenantAirtable::new(connections, clients, gateway, usage.clone());

        let pings = Arc::new(Pings::default());
        let app = Router::new()
            .route("/v1/hooks/airtable/{hook}", post(capture))
            .with_state(Arc::clone(&pings));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let public_url = format!("http://{}", listener.local_addr().expect("address"));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });

        let hooks = RecordHooks::new(
            Arc::clone(&store),
            Arc::clone(&queue),
            airtable,
            Arc::clone(&clock),
            Arc::new(RandomIds),
            public_url,
        );
        let config = ClientConfig::new(DEMO_TOKEN.to_string().into())
            .with_base_url(sandbox.url())
            .with_latency_budget(Duration::from_secs(10))
            .with_retry(RetryPolicy {
                max_attempts: 3,
                base_backoff: Duration::from_millis(10),
                max_backoff: Duration::from_millis(50),
            });
        let editor = Airtable::new(
            config,
            RateLimiter::with_limits(Arc::clone(&store), Arc::clone(&clock), fast_limits()),
        )
        .expect("client");
        Self {
            sandbox,
            store,
            queue,
            hooks,
            pings,
            starter: Arc::new(FakeStarter::default()),
            editor,
            usage,
            _dir: dir,
        }
    }

    /// Saves a workflow where the workflows service keeps it.
    pub async fn save_workflow(&self, id: &str, trigger: Trigger, enabled: bool) -> Workflow {
        let now = chrono::Utc::now();
        let workflow = Workflow {
            id: WorkflowId::parse(id).expect("workflow id"),
            tenant_id: TENANT.to_string(),
            spec: WorkflowSpec {
                name: id.to_string(),
                description: String::new(),
                enabled,
                trigger,
                steps: vec![],
            },
            version: 1,
            created_at: now,
            updated_at: now,
        };
        let key = Key::new(format!("TENANT#{TENANT}"), format!("WORKFLOW#{id}"));
        self.store
            .put(Table::Core, to_item(&key, &workflow).expect("item"), None)
            .await
            .expect("save workflow");
        workflow
    }

    /// How many requests reached one sandbox route (`create_webhook`, `refresh_webhook`, ...).
    pub fn sandbox_calls(&self, route: &str) -> u64 {
        self.sandbox
            .counters()
            .routes
            .get(route)
            .map_or(0, |r| r.requests)
    }

    pub fn base() -> BaseId {
        BaseId::parse(DEMO_BASE_ID).expect("base")
    }

    /// The sandbox's webhooks on the demo base.
    pub async fn sandbox_webhooks(&self) -> Vec<airtable::Webhook> {
        self.editor
            .webhooks(&Self::base())
            .await
            .expect("list webhooks")
    }

    pub async fn registration(&self, table_id: &str) -> Option<Registration> {
        self.hooks
            .registrations()
            .get(TENANT, DEMO_BASE_ID, table_id)
            .await
            .expect("read registration")
    }

    pub async fn create_contact(&self, fields: Value) -> String {
        self.editor
            .table(Self::base(), TableRef::parse("Contacts").expect("table"))
            .create(as_fields(fields), WriteOptions::default())
            .await
            .expect("create contact")
            .id
    }

    pub async fn update_contact(&self, record: &str, fields: Value) {
        self.editor
            .table(Self::base(), TableRef::parse("Contacts").expect("table"))
            .update(
                &RecordId::parse(record).expect("record id"),
                as_fields(fields),
                false,
                WriteOptions::default(),
            )
            .await
            .expect("update contact");
    }

    pub async fn delete_contact(&self, record: &str) {
        self.editor
            .table(Self::base(), TableRef::parse("Contacts").expect("table"))
            .delete(&RecordId::parse(record).expect("record id"))
            .await
            .expect("delete contact");
    }

    pub async fn delete_sandbox_webhook(&self, webhook_id: &str) {
        self.editor
            .delete_webhook(&Self::base(), &WebhookId::parse(webhook_id).expect("id"))
            .await
            .expect("delete webhook");
    }

    /// Receives everything on the events queue (and deletes it).
    pub async fn drain_events(&self) -> Vec<ports::Message> {
        let mut all = Vec::new();
        loop {
            let batch = self
                .queue
                .receive(
                    QueueName::Events,
                    10,
                    Duration::from_secs(30),
                    Duration::ZERO,
                )
                .await
                .expect("receive");
            if batch.is_empty() {
                return all;
            }
            for message in &batch {
                self.queue
                    .delete(QueueName::Events, &message.receipt)
                    .await
                    .expect("delete");
            }
            all.extend(batch);
        }
    }
}

pub fn as_fields(value: Value) -> Fields {
    value.as_object().cloned().expect("an object of fields")
}

pub fn record_created(table: &str) -> Trigger {
    Trigger::RecordCreated {
        base: DEMO_BASE_ID.to_string(),
        table: table.to_string(),
    }
}

pub fn record_updated(table: &str, fields: &[&str]) -> Trigger {
    Trigger::RecordUpdated {
        base: DEMO_BASE_ID.to_string(),
        table: table.to_string(),
        fields: fields.iter().map(|f| f.to_string()).collect(),
    }
}

pub fn record_deleted(table: &str) -> Trigger {
    Trigger::RecordDeleted {
        base: DEMO_BASE_ID.to_string(),
        table: table.to_string(),
    }
}
