//! For other crates' tests (feature `testing`): a [`DynamoStore`] on moto's server, so a test
//! body that checks a limit under concurrency can run against both backends, the embedded
//! SQLite store and the AWS adapters. The contract suites in this crate cover the port itself;
//! this is for the domain rules built on it (caps, rate limits, uniqueness).
//!
//! moto must be started through `scripts/moto_server.py` (as `./scripts/test` does), which
//! makes its item operations atomic as DynamoDB's are.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use basics::Clock;
use ports::Table;
use tokio::sync::Mutex;

use crate::DynamoStore;
use crate::provision::ensure_tables;

/// Table prefixes already created in this process: moto's CreateTable is not atomic, so each
/// prefix is created once, under a lock.
static PREPARED: Mutex<BTreeSet<String>> = Mutex::const_new(BTreeSet::new());

/// A store on the moto server at `MOTO_ENDPOINT`, on tables named `<prefix>core` and so on
/// (created when missing), reading TTLs by `clock`. `None` when `MOTO_ENDPOINT` is not set;
/// panics then if `REQUIRE_MOTO=1`, so a missing moto cannot pass as green.
pub async fn moto_store(prefix: &str, clock: Arc<dyn Clock>) -> Option<DynamoStore> {
    let endpoint = match std::env::var("MOTO_ENDPOINT") {
        Ok(url) if !url.trim().is_empty() => url.trim().trim_end_matches('/').to_string(),
        _ => {
            assert!(
                std::env::var("REQUIRE_MOTO").as_deref() != Ok("1"),
                "REQUIRE_MOTO=1 but MOTO_ENDPOINT is not set"
            );
            eprintln!("note: MOTO_ENDPOINT is not set; skipping the run against moto");
            return None;
        }
    };
    let config = crate::moto::sdk_config_for(&endpoint).await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    let tables: BTreeMap<Table, String> = Table::ALL
        .into_iter()
        .map(|t| (t, format!("{prefix}{}", t.logical_name())))
        .collect();
    let mut prepared = PREPARED.lock().await;
    if !prepared.contains(prefix) {
        ensure_tables(&client, &tables)
            .await
            .unwrap_or_else(|err| panic!("cannot create the tables on moto: {err}"));
        prepared.insert(prefix.to_string());
    }
    Some(DynamoStore::new(client, tables, clock))
}
