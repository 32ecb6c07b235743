//! The table store contract suite against moto. Cases share the tables (each case uses its own
//! key prefix), so the tables are created once per process and reused.

use std::collections::BTreeMap;
use std::sync::Arc;

use basics::ManualClock;
use ports::Table;
use ports::contract::table_store::Fixture;

use super::DynamoStore;
use crate::moto;
use crate::provision::ensure_tables;

#[cfg_attr(not(moto), allow(dead_code))]
async fn fixture(case: &str) -> Fixture {
    let config = moto::sdk_config().await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    let tables: BTreeMap<Table, String> = Table::ALL
        .into_iter()
        .map(|t| (t, format!("contract-{}", t.logical_name())))
        .collect();
    ensure_tables(&client, &tables)
        .await
        .expect("create the contract tables on moto");
    let clock = ManualClock::starting_now();
    Fixture {
        store: Arc::new(DynamoStore::new(client, tables, Arc::new(clock.clone()))),
        clock,
        prefix: ports::contract::unique_prefix(case),
    }
}

#[cfg(moto)]
ports::table_store_contract_tests!(fixture);
