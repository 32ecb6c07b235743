//! The table store contract suite against moto. Cases share the tables (each case uses its own
//! key prefix), so the tables are created once per test process and reused: moto's CreateTable
//! is not atomic, and two cases creating the same table at once can each "succeed", the second
//! replacing the first's table (and the items a running case already wrote to it).
//!
//! moto's own UpdateItem is not atomic under concurrent requests (it reads, changes and writes
//! without a lock), unlike DynamoDB: `./scripts/test` starts moto through
//! `scripts/moto_server.py`, which serialises moto's item operations, so that
//! `concurrent_counter_adds_are_not_lost` tests what DynamoDB guarantees.

use std::collections::BTreeMap;
use std::sync::Arc;

use basics::ManualClock;
use ports::Table;
use ports::contract::table_store::Fixture;

use tokio::sync::OnceCell;

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
    static TABLES_READY: OnceCell<()> = OnceCell::const_new();
    TABLES_READY
        .get_or_try_init(|| ensure_tables(&client, &tables))
        .await
        .expect("create the contract tables on moto");
    let clock = ManualClock::starting_now();
    let store = DynamoStore::new(client, tables, Arc::new(clock.clone()));
    Fixture {
        store: Arc::new(store),
        clock,
        prefix: ports::contract::unique_prefix(case),
    }
}

#[cfg(moto)]
ports::table_store_contract_tests!(fixture);

/// Beyond the shared suite. DynamoDB keeps expired items until its sweeper runs (moto forever),
/// so an update must not build on a dead item. The embedded adapter gets this for free.
#[cfg(moto)]
mod beyond_the_suite {
    use basics::Clock;
    use chrono::Duration;
    use ports::{Key, TransactOp, Update};
    use serde_json::json;

    use super::*;

    fn short_lived(f: &Fixture, sk: &str) -> ports::table_store::Item {
        let expires_at = f.clock.epoch_seconds() + 10;
        let item = json!({"pk": format!("TENANT#{}", f.prefix), "sk": sk, "n": 41,
                          "stale": true, "expires_at": expires_at});
        item.as_object().cloned().unwrap_or_default()
    }

    #[tokio::test]
    async fn update_on_an_expired_item_starts_fresh() {
        let f = fixture("update_on_an_expired_item_starts_fresh").await;
        let item = short_lived(&f, "COUNTER");
        let key = Key::of(&item).expect("key");
        f.store
            .put(Table::Ephemeral, item, None)
            .await
            .expect("put");
        f.clock.advance(Duration::seconds(11));
        let fresh = f
            .store
            .update(Table::Ephemeral, &key, Update::new().add("n", 1), None)
            .await
            .expect("update");
        assert_eq!(
            serde_json::Value::Object(fresh),
            json!({"pk": key.pk, "sk": key.sk, "n": 1}),
            "a counter must not continue from a dead item"
        );
    }

    #[tokio::test]
    async fn transaction_update_on_an_expired_item_starts_fresh() {
        let f = fixture("transaction_update_on_an_expired_item_starts_fresh").await;
        let item = short_lived(&f, "COUNTER");
        let key = Key::of(&item).expect("key");
        f.store
            .put(Table::Ephemeral, item, None)
            .await
            .expect("put");
        f.clock.advance(Duration::seconds(11));
        f.store
            .transact_write(vec![TransactOp::Update {
                table: Table::Ephemeral,
                key: key.clone(),
                update: Update::new().add("n", 1),
                condition: None,
            }])
            .await
            .expect("transaction");
        let got = f.store.get(Table::Ephemeral, &key).await.expect("get");
        assert_eq!(
            got.map(serde_json::Value::Object),
            Some(json!({"pk": key.pk, "sk": key.sk, "n": 1}))
        );
    }

    #[tokio::test]
    async fn reserved_words_and_odd_values_round_trip() {
        let f = fixture("reserved_words_and_odd_values_round_trip").await;
        let pk = format!("TENANT#{}", f.prefix);
        let item = json!({"pk": pk, "sk": "R", "name": "", "status": [], "size": {},
                          "big": i64::MAX, "neg": -1.5e-7});
        let item = item.as_object().cloned().unwrap_or_default();
        f.store
            .put(Table::Core, item.clone(), None)
            .await
            .expect("put");
        let key = Key::new(&pk, "R");
        assert_eq!(
            f.store.get(Table::Core, &key).await.expect("get"),
            Some(item)
        );
        let updated = f
            .store
            .update(
                Table::Core,
                &key,
                Update::new().set("status", "open").remove("name"),
                Some(ports::Condition::equals("size", json!({}))),
            )
            .await
            .expect("update");
        assert_eq!(updated.get("status"), Some(&json!("open")));
        assert!(!updated.contains_key("name"));
    }
}
