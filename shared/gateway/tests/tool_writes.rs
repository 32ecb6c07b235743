//! Writes sent through the shared client outside `/v0` (what chat and MCP tools do) make the
//! cached reads they affect stale: [`gateway::StaleReads`] observes the client, against the
//! Airtable sandbox over HTTP. Each chunk of a chunked write is reported as it ends, so a
//! failure half-way still invalidates; reads and writes Airtable refused invalidate nothing.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use airtable::{
    Airtable, BaseId, CallObserver, Change, ClientConfig, Fields, ListParams, NewField,
    RateLimiter, RateLimits, RetryPolicy, TableRef, WriteOptions,
};
use airtable_sandbox::{DEMO_BASE_ID, Fault, Sandbox, SandboxHandle};
use basics::{Clock, SystemClock};
use gateway::cache::{CacheKey, Scope};
use gateway::{ReadCache, StaleReads};
use ports::TableStore;
use serde_json::json;

const TENANT: &str = "ten_tools";
const TOKEN_KEY: &str = "token-fingerprint";

/// Every change the client reported, in order.
#[derive(Debug, Default)]
struct Recorded(Mutex<Vec<Change>>);

#[async_trait::async_trait]
impl CallObserver for Recorded {
    fn call_sent(&self, _base_id: Option<&str>) {}

    async fn write_ended(&self, change: &Change) {
        self.0.lock().expect("lock").push(change.clone());
    }
}

impl Recorded {
    fn take(&self) -> Vec<Change> {
        std::mem::take(&mut *self.0.lock().expect("lock"))
    }
}

struct Setup {
    sandbox: SandboxHandle,
    cache: ReadCache,
    client: Airtable,
    recorded: Arc<Recorded>,
}

async fn setup() -> Setup {
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
    let cache = ReadCache::new(
        Arc::clone(&store),
        Arc::clone(&clock),
        Duration::from_secs(30),
    );
    let limits = RateLimits {
        base_interval: Duration::from_millis(1),
        token_interval: Duration::from_millis(1),
        first_cooldown: Duration::from_millis(100),
        cooldown: Duration::from_millis(500),
    };
    let config = ClientConfig::new(sandbox.demo_token().into())
        .with_base_url(sandbox.url())
        .with_latency_budget(Duration::from_secs(10))
        .with_retry(RetryPolicy {
            max_attempts: 3,
            base_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(50),
        });
    let limiter = RateLimiter::with_limits(store, clock, limits);
    let recorded = Arc::new(Recorded::default());
    let client = Airtable::new(config, limiter)
        .expect("client")
        .observed(Arc::new(StaleReads::new(cache.clone(), TENANT, TOKEN_KEY)))
        .observed(recorded.clone());
    Setup {
        sandbox,
        cache,
        client,
        recorded,
    }
}

fn base() -> BaseId {
    BaseId::parse(DEMO_BASE_ID).expect("base")
}

fn contacts() -> TableRef {
    TableRef::parse("Contacts").expect("table")
}

fn contact(name: &str) -> Fields {
    json!({"Name": name}).as_object().cloned().expect("object")
}

fn records_changed() -> Change {
    Change::Records {
        base: base(),
        table: contacts(),
    }
}

/// The keys a cached read of Contacts' records and of the base schema have now.
async fn keys(cache: &ReadCache) -> (CacheKey, CacheKey) {
    let base = base();
    let table = contacts();
    let generations = cache.generations(TENANT, &base).await.expect("generations");
    let records = cache.key(
        TENANT,
        TOKEN_KEY,
        Scope::Records {
            base: &base,
            table: &table,
        },
        &generations,
        "GET Contacts",
    );
    let schema = cache.key(
        TENANT,
        TOKEN_KEY,
        Scope::Schema { base: &base },
        &generations,
        "GET tables",
    );
    (records, schema)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_chunk_of_a_write_invalidates_even_when_a_later_chunk_fails() {
    let Setup {
        sandbox,
        cache,
        client,
        recorded,
    } = setup().await;
    let table = client.table(base(), contacts());
    let (records_before, schema_before) = keys(&cache).await;

    // 15 records go out in two chunks; the second fails with a 500, which a create never
    // repeats (Airtable may have applied it). Both chunks may have changed the table.
    sandbox
        .faults()
        .script("create_records", [Fault::ok(), Fault::status(500)]);
    let names: Vec<Fields> = (0..15).map(|i| contact(&format!("Chunked {i}"))).collect();
    let failed = table.create_many(names, WriteOptions::default()).await;
    assert!(failed.is_err(), "{failed:?}");
    assert_eq!(recorded.take(), [records_changed(), records_changed()]);
    let (records_after, schema_after) = keys(&cache).await;
    assert_ne!(records_after, records_before, "the table's reads are stale");
    assert_eq!(
        schema_after, schema_before,
        "a record write leaves the schema"
    );

    // A write Airtable refused (an unknown field) changed nothing and invalidates nothing.
    let mut unknown_field = contact("x");
    unknown_field.insert("Nope".into(), json!(1));
    let refused = table.create(unknown_field, WriteOptions::default()).await;
    assert!(refused.is_err(), "{refused:?}");
    assert_eq!(recorded.take(), []);
    assert_eq!(keys(&cache).await.0, records_after);

    // Reads, including a listRecords POST (a filter too long for a URL), invalidate nothing.
    table.all(ListParams::new()).await.expect("list");
    let long = format!("{{Name}} != '{}'", "x".repeat(20_000));
    table
        .all(ListParams::new().filter(long))
        .await
        .expect("listRecords");
    client.base_schema(&base(), false).await.expect("schema");
    assert_eq!(recorded.take(), []);
    assert_eq!(keys(&cache).await.0, records_after);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_write_invalidates_the_schema_and_every_record_read() {
    let Setup {
        sandbox: _sandbox,
        cache,
        client,
        recorded,
    } = setup().await;
    let (records_before, schema_before) = keys(&cache).await;
    let schema = client.base_schema(&base(), false).await.expect("schema");
    let contacts_id = schema
        .tables
        .iter()
        .find(|t| t.name == "Contacts")
        .map(|t| t.id.clone())
        .expect("Contacts");
    let table_id = airtable::TableId::parse(&contacts_id).expect("table id");
    client
        .create_field(
            &base(),
            &table_id,
            &NewField::new("Notes 2", "singleLineText"),
        )
        .await
        .expect("field");
    assert_eq!(recorded.take(), [Change::Schema { base: base() }]);
    let (records_after, schema_after) = keys(&cache).await;
    assert_ne!(schema_after, schema_before);
    assert_ne!(records_after, records_before);
}
