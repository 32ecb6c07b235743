//! `GatewaySchema` against the Airtable sandbox over HTTP (loopback): a table's fields by name
//! and id, an unknown table, a tenant without a connection, and the schema calls counted in
//! the tenant's usage.

use std::sync::Arc;
use std::time::Duration;

use airtable::RateLimits;
use airtable_sandbox::{DEMO_BASE_ID, DEMO_TOKEN, Sandbox};
use automations::validation::GatewaySchema;
use automations::{AutomationError, SchemaLookup, TenantAirtable};
use basics::{Clock, Env, SystemClock};
use connections::Connections;
use embedded::{Database, FileSecrets, SqliteStore};
use gateway::{ClientPool, Gateway, GatewaySettings};
use metering::UsageCounters;
use ports::TableStore;
use secrecy::SecretString;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn table_fields_come_from_the_tenants_base_and_count_in_usage() {
    let sandbox = Sandbox::builder()
        .no_rate_limits()
        .start("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("sandbox");
    let dir = tempfile::tempdir().expect("tempdir");
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store: Arc<dyn TableStore> = Arc::new(SqliteStore::new(
        Database::open(&dir.path().join("s.sqlite")).expect("db"),
        Arc::clone(&clock),
    ));
    let secrets = Arc::new(FileSecrets::new(
        dir.path().join("secrets.json"),
        Env::from_pairs([]),
    ));
    let connections = Connections::new(
        Arc::clone(&store),
        secrets,
        Arc::clone(&clock),
        sandbox.url(),
    );
    connections
        .connect("ten_a", SecretString::from(DEMO_TOKEN.to_string()))
        .await
        .expect("connect");
    let clients = Arc::new(ClientPool::new(
        Arc::clone(&store),
        Arc::clone(&clock),
        sandbox.url(),
        Duration::from_secs(10),
        RateLimits::unlimited(),
    ));
    let gateway = Gateway::new(
        Arc::clone(&store),
        Arc::clone(&clock),
        connections.clone(),
        Arc::clone(&clients),
        &GatewaySettings::default(),
    );
    let usage = UsageCounters::new(Arc::clone(&store), Arc::clone(&clock));
    let schema = GatewaySchema::new(TenantAirtable::new(
        connections,
        clients,
        gateway,
        usage.clone(),
    ));

    let by_name = schema
        .table_fields("ten_a", DEMO_BASE_ID, "Deals")
        .await
        .expect("lookup")
        .expect("Deals exists");
    assert!(by_name.iter().any(|f| f == "Stage"), "{by_name:?}");
    assert!(
        by_name.iter().any(|f| f.starts_with("fld")),
        "ids too: {by_name:?}"
    );
    let by_id = schema
        .table_fields("ten_a", DEMO_BASE_ID, "tblDeals000000000")
        .await
        .expect("lookup")
        .expect("by id");
    assert_eq!(by_id, by_name);
    assert_eq!(
        schema
            .table_fields("ten_a", DEMO_BASE_ID, "Invoices")
            .await
            .expect("lookup"),
        None
    );

    let err = schema
        .table_fields("ten_unconnected", DEMO_BASE_ID, "Deals")
        .await
        .expect_err("no connection");
    assert!(matches!(err, AutomationError::NotConnected(_)), "{err:?}");
    let err = schema
        .table_fields("ten_a", "appNoSuchBase0000", "Deals")
        .await
        .expect_err("no base");
    assert!(matches!(err, AutomationError::Airtable(_)), "{err:?}");

    let month = metering::month_of(clock.now());
    let totals = usage.month_totals("ten_a", &month).await.expect("usage");
    assert_eq!(totals.get("airtable.calls"), Some(&4), "{totals:?}");
}
