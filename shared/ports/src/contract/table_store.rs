//! The table store contract.

use std::sync::Arc;

use basics::{Clock, ManualClock};
use chrono::Duration;
use serde_json::{Value, json};

use crate::table_store::*;

/// What each case gets: a store, the clock it reads TTLs by, and a prefix unique to the case.
pub struct Fixture {
    pub store: Arc<dyn TableStore>,
    pub clock: ManualClock,
    pub prefix: String,
}

/// Generates one `#[tokio::test]` per case. `$make` is an expression that takes the case name
/// and evaluates to a future of [`Fixture`].
#[macro_export]
macro_rules! table_store_contract_tests {
    ($make:expr) => {
        $crate::table_store_contract_tests!(@cases $make;
            get_returns_what_put_stored,
            any_json_number_is_stored,
            put_replaces_whole_item,
            put_if_not_exists_refuses_existing,
            conditions_on_attribute_and_version,
            delete_returns_old_item_and_honours_conditions,
            update_adds_atomically_and_creates_missing_items,
            update_with_version_condition_is_optimistic_locking,
            concurrent_counter_adds_are_not_lost,
            concurrent_adds_each_see_their_own_count,
            number_below_caps_a_counter,
            a_capped_counter_holds_under_concurrency,
            capped_transactions_hold_under_concurrency,
            concurrent_adds_on_an_expired_counter_start_it_afresh,
            update_each_applies_every_update,
            query_by_prefix_in_order_both_ways,
            query_by_range_and_comparisons,
            query_pages_with_cursor,
            query_on_gsi,
            transaction_commits_all,
            transaction_cancels_all_on_one_failed_condition,
            expired_items_are_never_returned,
            expired_items_count_as_absent_in_conditions,
            invalid_items_are_refused,
            ping_touches_backend,
        );
    };
    (@cases $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                let fixture = ($make)(stringify!($case)).await;
                $crate::contract::table_store::$case(&fixture).await;
            }
        )*
    };
}

fn item(value: Value) -> Item {
    value.as_object().cloned().unwrap_or_default()
}

fn pk(f: &Fixture, name: &str) -> String {
    format!("TENANT#{}#{name}", f.prefix)
}

pub async fn get_returns_what_put_stored(f: &Fixture) {
    let p = pk(f, "a");
    let stored = item(json!({
        "pk": p, "sk": "ITEM#1", "name": "Ada", "n": 42, "ratio": 0.5, "ok": true,
        "nothing": null, "tags": ["x", "y"], "nested": {"k": [1, {"z": "w"}]}
    }));
    f.store
        .put(Table::Core, stored.clone(), None)
        .await
        .expect("put");
    let got = f
        .store
        .get(Table::Core, &Key::new(&p, "ITEM#1"))
        .await
        .expect("get");
    assert_eq!(got, Some(stored), "get must return exactly what put stored");
    let missing = f
        .store
        .get(Table::Core, &Key::new(&p, "ITEM#2"))
        .await
        .expect("get missing");
    assert_eq!(missing, None);
    // Tables are separate namespaces.
    let other_table = f
        .store
        .get(Table::Runs, &Key::new(&p, "ITEM#1"))
        .await
        .expect("get other table");
    assert_eq!(
        other_table, None,
        "an item in one table must not show in another"
    );
}

/// Every finite JSON number a request can carry is stored, including doubles closer to zero
/// than DynamoDB holds (5e-324 is valid JSON; a budget threshold of it was a 500 on DynamoDB).
/// Such a number may read back as 0, the nearest a store can hold; larger ones read back exactly.
pub async fn any_json_number_is_stored(f: &Fixture) {
    let p = pk(f, "numbers");
    let stored = item(json!({
        "pk": p, "sk": "N", "tiny": 5e-324, "negative_tiny": -1e-200, "small": 1e-100,
        "big": 1e100, "max_int": i64::MAX, "min_int": i64::MIN
    }));
    f.store
        .put(Table::Core, stored, None)
        .await
        .expect("put any finite number");
    let got = f
        .store
        .get(Table::Core, &Key::new(&p, "N"))
        .await
        .expect("get")
        .expect("the item");
    for (name, nearest) in [("tiny", 5e-324), ("negative_tiny", -1e-200)] {
        let read = got[name].as_f64().expect("a number");
        assert!(read == nearest || read == 0.0, "{name} read back as {read}");
    }
    assert_eq!(got["small"], json!(1e-100));
    assert_eq!(got["big"], json!(1e100));
    assert_eq!(got["max_int"], json!(i64::MAX));
    assert_eq!(got["min_int"], json!(i64::MIN));
}

pub async fn put_replaces_whole_item(f: &Fixture) {
    let p = pk(f, "a");
    let key = Key::new(&p, "X");
    f.store
        .put(
            Table::Core,
            item(json!({"pk": p, "sk": "X", "a": 1, "b": 2})),
            None,
        )
        .await
        .expect("put 1");
    f.store
        .put(Table::Core, item(json!({"pk": p, "sk": "X", "a": 3})), None)
        .await
        .expect("put 2");
    let got = f.store.get(Table::Core, &key).await.expect("get");
    assert_eq!(got, Some(item(json!({"pk": p, "sk": "X", "a": 3}))));
}

pub async fn put_if_not_exists_refuses_existing(f: &Fixture) {
    let p = pk(f, "a");
    let first = item(json!({"pk": p, "sk": "U", "v": "first"}));
    f.store
        .put(Table::Core, first.clone(), Some(Condition::NotExists))
        .await
        .expect("first put");
    let second = f
        .store
        .put(
            Table::Core,
            item(json!({"pk": p, "sk": "U", "v": "second"})),
            Some(Condition::NotExists),
        )
        .await;
    assert_eq!(second, Err(StoreError::ConditionFailed));
    let got = f
        .store
        .get(Table::Core, &Key::new(&p, "U"))
        .await
        .expect("get");
    assert_eq!(got, Some(first), "a failed conditional put must not write");
    let exists_on_missing = f
        .store
        .put(
            Table::Core,
            item(json!({"pk": p, "sk": "NEW", "v": 1})),
            Some(Condition::Exists),
        )
        .await;
    assert_eq!(exists_on_missing, Err(StoreError::ConditionFailed));
}

pub async fn conditions_on_attribute_and_version(f: &Fixture) {
    let p = pk(f, "a");
    let key = Key::new(&p, "DOC");
    f.store
        .put(
            Table::Core,
            item(json!({"pk": p, "sk": "DOC", "state": "open", "version": 1})),
            None,
        )
        .await
        .expect("put");
    let wrong_state = f
        .store
        .put(
            Table::Core,
            item(json!({"pk": p, "sk": "DOC", "state": "closed", "version": 2})),
            Some(Condition::equals("state", "closed")),
        )
        .await;
    assert_eq!(wrong_state, Err(StoreError::ConditionFailed));
    let wrong_version = f
        .store
        .put(
            Table::Core,
            item(json!({"pk": p, "sk": "DOC", "state": "closed", "version": 2})),
            Some(Condition::VersionEquals(7)),
        )
        .await;
    assert_eq!(wrong_version, Err(StoreError::ConditionFailed));
    f.store
        .put(
            Table::Core,
            item(json!({"pk": p, "sk": "DOC", "state": "closed", "version": 2})),
            Some(Condition::All(vec![
                Condition::equals("state", "open"),
                Condition::VersionEquals(1),
            ])),
        )
        .await
        .expect("conditions that hold let the write through");
    let got = f.store.get(Table::Core, &key).await.expect("get");
    assert_eq!(
        got.and_then(|i| i.get("state").cloned()),
        Some(json!("closed"))
    );
}

pub async fn delete_returns_old_item_and_honours_conditions(f: &Fixture) {
    let p = pk(f, "a");
    let key = Key::new(&p, "D");
    let stored = item(json!({"pk": p, "sk": "D", "owner": "me"}));
    f.store
        .put(Table::Core, stored.clone(), None)
        .await
        .expect("put");
    let refused = f
        .store
        .delete(Table::Core, &key, Some(Condition::equals("owner", "you")))
        .await;
    assert_eq!(refused, Err(StoreError::ConditionFailed));
    assert!(f.store.get(Table::Core, &key).await.expect("get").is_some());
    let old = f
        .store
        .delete(Table::Core, &key, Some(Condition::equals("owner", "me")))
        .await
        .expect("delete");
    assert_eq!(old, Some(stored));
    assert_eq!(f.store.get(Table::Core, &key).await.expect("get"), None);
    let again = f
        .store
        .delete(Table::Core, &key, None)
        .await
        .expect("delete missing");
    assert_eq!(
        again, None,
        "deleting a missing item is fine and returns nothing"
    );
    let must_exist = f
        .store
        .delete(Table::Core, &key, Some(Condition::Exists))
        .await;
    assert_eq!(must_exist, Err(StoreError::ConditionFailed));
}

pub async fn update_adds_atomically_and_creates_missing_items(f: &Fixture) {
    let p = pk(f, "usage");
    let key = Key::new(&p, "DAY#2026-01-01");
    let first = f
        .store
        .update(
            Table::Usage,
            &key,
            Update::new()
                .add("requests", 1)
                .add("records", 10)
                .set_if_absent("created_at", "t0")
                .set("route", "records"),
            None,
        )
        .await
        .expect("update creates");
    assert_eq!(
        Value::Object(first),
        json!({"pk": p, "sk": "DAY#2026-01-01", "requests": 1, "records": 10,
               "created_at": "t0", "route": "records"})
    );
    let second = f
        .store
        .update(
            Table::Usage,
            &key,
            Update::new()
                .add("requests", 2)
                .set_if_absent("created_at", "t1")
                .remove("route"),
            None,
        )
        .await
        .expect("update again");
    assert_eq!(
        Value::Object(second),
        json!({"pk": p, "sk": "DAY#2026-01-01", "requests": 3, "records": 10, "created_at": "t0"})
    );
    let stored = f.store.get(Table::Usage, &key).await.expect("get");
    assert_eq!(
        stored.and_then(|i| i.get("requests").cloned()),
        Some(json!(3))
    );
    let refused = f
        .store
        .update(
            Table::Usage,
            &Key::new(&p, "NOPE"),
            Update::new().add("requests", 1),
            Some(Condition::Exists),
        )
        .await;
    assert_eq!(refused, Err(StoreError::ConditionFailed));
    assert_eq!(
        f.store
            .get(Table::Usage, &Key::new(&p, "NOPE"))
            .await
            .expect("get"),
        None
    );
}

pub async fn update_with_version_condition_is_optimistic_locking(f: &Fixture) {
    let p = pk(f, "wf");
    let key = Key::new(&p, "WF#1");
    f.store
        .put(
            Table::Core,
            item(json!({"pk": p, "sk": "WF#1", "name": "a", "version": 1})),
            None,
        )
        .await
        .expect("put");
    let won = f
        .store
        .update(
            Table::Core,
            &key,
            Update::new().set("name", "b").add("version", 1),
            Some(Condition::VersionEquals(1)),
        )
        .await
        .expect("first writer wins");
    assert_eq!(won.get("version"), Some(&json!(2)));
    let lost = f
        .store
        .update(
            Table::Core,
            &key,
            Update::new().set("name", "c").add("version", 1),
            Some(Condition::VersionEquals(1)),
        )
        .await;
    assert_eq!(
        lost,
        Err(StoreError::ConditionFailed),
        "a stale version must lose"
    );
    let got = f.store.get(Table::Core, &key).await.expect("get");
    assert_eq!(got.and_then(|i| i.get("name").cloned()), Some(json!("b")));
}

pub async fn concurrent_counter_adds_are_not_lost(f: &Fixture) {
    let p = pk(f, "ctr");
    let key = Key::new(&p, "C");
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let store = Arc::clone(&f.store);
        let key = key.clone();
        tasks.push(tokio::spawn(async move {
            store
                .update(Table::Ephemeral, &key, Update::new().add("n", 1), None)
                .await
        }));
    }
    for task in tasks {
        task.await.expect("join").expect("update");
    }
    let got = f.store.get(Table::Ephemeral, &key).await.expect("get");
    assert_eq!(got.and_then(|i| i.get("n").cloned()), Some(json!(20)));
}

/// Each of many concurrent adds gets back the count its own add produced, so a limit that
/// admits "the first N" by the returned count admits exactly N.
pub async fn concurrent_adds_each_see_their_own_count(f: &Fixture) {
    let key = Key::new(pk(f, "seen"), "C");
    let expires_at = f.clock.epoch_seconds() + 3600;
    let updates = (0..30).map(|_| {
        let store = Arc::clone(&f.store);
        let key = key.clone();
        async move {
            store
                .update(
                    Table::Ephemeral,
                    &key,
                    Update::new()
                        .add("n", 1)
                        .set_if_absent("expires_at", expires_at),
                    None,
                )
                .await
        }
    });
    let mut seen: Vec<i64> = futures::future::join_all(updates)
        .await
        .into_iter()
        .map(|r| {
            r.expect("update")
                .get("n")
                .and_then(Value::as_i64)
                .unwrap_or(0)
        })
        .collect();
    seen.sort_unstable();
    assert_eq!(
        seen,
        (1..=30).collect::<Vec<_>>(),
        "every add sees a distinct count"
    );
}

pub async fn number_below_caps_a_counter(f: &Fixture) {
    let key = Key::new(pk(f, "cap"), "C");
    let capped = || Some(Condition::number_below("n", 2));
    let add = || Update::new().add("n", 1);
    assert_eq!(
        f.store.update(Table::Core, &key, add(), capped()).await,
        Err(StoreError::ConditionFailed),
        "a missing item (or attribute) is not below anything"
    );
    f.store
        .put(
            Table::Core,
            item(json!({"pk": key.pk, "sk": key.sk, "n": 0, "s": "x"})),
            None,
        )
        .await
        .expect("put");
    for expected in [1, 2] {
        let next = f
            .store
            .update(Table::Core, &key, add(), capped())
            .await
            .expect("below the cap");
        assert_eq!(next.get("n"), Some(&json!(expected)));
    }
    assert_eq!(
        f.store.update(Table::Core, &key, add(), capped()).await,
        Err(StoreError::ConditionFailed),
        "at the cap"
    );
    assert_eq!(
        f.store
            .update(
                Table::Core,
                &key,
                add(),
                Some(Condition::number_below("s", 9))
            )
            .await,
        Err(StoreError::ConditionFailed),
        "a string is not a number below anything"
    );
    f.store
        .update(Table::Core, &key, Update::new().add("n", -1), None)
        .await
        .expect("release one");
    f.store
        .update(Table::Core, &key, add(), capped())
        .await
        .expect("below the cap again");
}

/// Many concurrent increments of a counter capped at 10: exactly 10 go through.
pub async fn a_capped_counter_holds_under_concurrency(f: &Fixture) {
    let key = Key::new(pk(f, "capc"), "C");
    f.store
        .put(
            Table::Core,
            item(json!({"pk": key.pk, "sk": key.sk, "n": 0})),
            None,
        )
        .await
        .expect("put");
    let updates = (0..30).map(|_| {
        let store = Arc::clone(&f.store);
        let key = key.clone();
        async move {
            store
                .update(
                    Table::Core,
                    &key,
                    Update::new().add("n", 1),
                    Some(Condition::number_below("n", 10)),
                )
                .await
        }
    });
    let results = futures::future::join_all(updates).await;
    let admitted = results.iter().filter(|r| r.is_ok()).count();
    assert!(
        results
            .iter()
            .all(|r| r.is_ok() || r == &Err(StoreError::ConditionFailed)),
        "{results:?}"
    );
    assert_eq!(admitted, 10);
    let got = f.store.get(Table::Core, &key).await.expect("get");
    assert_eq!(got.and_then(|i| i.get("n").cloned()), Some(json!(10)));
}

/// The shape of a cap on items (a tenant's API keys): each new item is written in one
/// transaction with an increment of a counter capped at 5. Under a burst exactly 5 items exist.
pub async fn capped_transactions_hold_under_concurrency(f: &Fixture) {
    let p = pk(f, "capt");
    let counter = Key::new(&p, "COUNT");
    f.store
        .put(
            Table::Core,
            item(json!({"pk": p, "sk": "COUNT", "n": 0})),
            None,
        )
        .await
        .expect("put");
    let writes = (0..20).map(|i| {
        let store = Arc::clone(&f.store);
        let (p, counter) = (p.clone(), counter.clone());
        async move {
            store
                .transact_write(vec![
                    TransactOp::Update {
                        table: Table::Core,
                        key: counter,
                        update: Update::new().add("n", 1),
                        condition: Some(Condition::number_below("n", 5)),
                    },
                    TransactOp::Put {
                        table: Table::Core,
                        item: item(json!({"pk": p, "sk": format!("ITEM#{i:02}")})),
                        condition: Some(Condition::NotExists),
                    },
                ])
                .await
        }
    });
    let results = futures::future::join_all(writes).await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        5,
        "{results:?}"
    );
    assert!(
        results
            .iter()
            .all(|r| r.as_ref().is_ok() || r.as_ref().is_err_and(StoreError::is_condition_failure)),
        "{results:?}"
    );
    let items = f
        .store
        .query(Table::Core, Query::partition(&p).begins_with("ITEM#"))
        .await
        .expect("query");
    assert_eq!(items.items.len(), 5);
    let got = f.store.get(Table::Core, &counter).await.expect("get");
    assert_eq!(got.and_then(|i| i.get("n").cloned()), Some(json!(5)));
}

/// A counter whose TTL passed (a lockout window, a rate-limit minute) met by many adds at once:
/// every add goes through and they count from zero, none fails because another removed the
/// dead item first.
pub async fn concurrent_adds_on_an_expired_counter_start_it_afresh(f: &Fixture) {
    let key = Key::new(pk(f, "stale"), "C");
    let expires_at = f.clock.epoch_seconds() + 10;
    f.store
        .put(
            Table::Ephemeral,
            item(json!({"pk": key.pk, "sk": key.sk, "n": 41, "expires_at": expires_at})),
            None,
        )
        .await
        .expect("put");
    f.clock.advance(Duration::seconds(11));
    let adds = (0..20).map(|_| {
        let store = Arc::clone(&f.store);
        let key = key.clone();
        async move {
            store
                .update(Table::Ephemeral, &key, Update::new().add("n", 1), None)
                .await
        }
    });
    let results = futures::future::join_all(adds).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let got = f.store.get(Table::Ephemeral, &key).await.expect("get");
    assert_eq!(got.and_then(|i| i.get("n").cloned()), Some(json!(20)));
}

pub async fn update_each_applies_every_update(f: &Fixture) {
    let p = pk(f, "each");
    let (day, month) = (Key::new(&p, "DAY"), Key::new(&p, "MONTH"));
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let store = Arc::clone(&f.store);
        let (day, month) = (day.clone(), month.clone());
        tasks.push(tokio::spawn(async move {
            store
                .update_each(
                    Table::Usage,
                    vec![
                        (
                            day,
                            Update::new()
                                .add("requests", 1)
                                .set_if_absent("expires_at", 4_102_444_800_i64),
                        ),
                        (month, Update::new().add("requests", 1).add("calls", 2)),
                    ],
                )
                .await
        }));
    }
    for task in tasks {
        task.await.expect("join").expect("update_each");
    }
    let day = f
        .store
        .get(Table::Usage, &day)
        .await
        .expect("get")
        .expect("day item");
    let month = f
        .store
        .get(Table::Usage, &month)
        .await
        .expect("get")
        .expect("month item");
    assert_eq!(day.get("requests"), Some(&json!(10)));
    assert_eq!(month.get("requests"), Some(&json!(10)));
    assert_eq!(month.get("calls"), Some(&json!(20)));
    let refused = f
        .store
        .update_each(
            Table::Usage,
            vec![(Key::new(&p, "BAD"), Update::new().add("pk", 1))],
        )
        .await;
    assert!(
        matches!(refused, Err(StoreError::InvalidItem(_))),
        "{refused:?}"
    );
}

async fn put_many(f: &Fixture, table: Table, p: &str, sks: &[&str]) {
    for sk in sks {
        f.store
            .put(table, item(json!({"pk": p, "sk": sk, "label": sk})), None)
            .await
            .expect("put");
    }
}

fn sks(page: &Page) -> Vec<String> {
    page.items
        .iter()
        .filter_map(|i| i.get("sk").and_then(Value::as_str).map(str::to_string))
        .collect()
}

pub async fn query_by_prefix_in_order_both_ways(f: &Fixture) {
    let p = pk(f, "q");
    put_many(
        f,
        Table::Core,
        &p,
        &["RUN#3", "KEY#1", "RUN#1", "RUN#2", "S"],
    )
    .await;
    put_many(f, Table::Core, &pk(f, "other"), &["RUN#0"]).await;
    let page = f
        .store
        .query(Table::Core, Query::partition(&p).begins_with("RUN#"))
        .await
        .expect("query");
    assert_eq!(sks(&page), ["RUN#1", "RUN#2", "RUN#3"]);
    assert_eq!(page.next, None);
    let back = f
        .store
        .query(
            Table::Core,
            Query::partition(&p).begins_with("RUN#").backward(),
        )
        .await
        .expect("query backward");
    assert_eq!(sks(&back), ["RUN#3", "RUN#2", "RUN#1"]);
    let all = f
        .store
        .query(Table::Core, Query::partition(&p))
        .await
        .expect("query all");
    assert_eq!(sks(&all), ["KEY#1", "RUN#1", "RUN#2", "RUN#3", "S"]);
}

pub async fn query_by_range_and_comparisons(f: &Fixture) {
    let p = pk(f, "r");
    put_many(
        f,
        Table::Runs,
        &p,
        &["2026-01-01", "2026-01-15", "2026-02-01", "2026-03-01"],
    )
    .await;
    let between = f
        .store
        .query(
            Table::Runs,
            Query::partition(&p).sort(SortKeyCondition::Between(
                "2026-01-15".into(),
                "2026-02-01".into(),
            )),
        )
        .await
        .expect("between");
    assert_eq!(
        sks(&between),
        ["2026-01-15", "2026-02-01"],
        "between is inclusive"
    );
    let after = f
        .store
        .query(
            Table::Runs,
            Query::partition(&p).sort(SortKeyCondition::GreaterThan("2026-01-15".into())),
        )
        .await
        .expect("gt");
    assert_eq!(sks(&after), ["2026-02-01", "2026-03-01"]);
    let before = f
        .store
        .query(
            Table::Runs,
            Query::partition(&p).sort(SortKeyCondition::LessThan("2026-01-15".into())),
        )
        .await
        .expect("lt");
    assert_eq!(sks(&before), ["2026-01-01"]);
    let exact = f
        .store
        .query(
            Table::Runs,
            Query::partition(&p).sort(SortKeyCondition::Equals("2026-02-01".into())),
        )
        .await
        .expect("eq");
    assert_eq!(sks(&exact), ["2026-02-01"]);
}

pub async fn query_pages_with_cursor(f: &Fixture) {
    let p = pk(f, "pg");
    let names: Vec<String> = (0..7).map(|i| format!("I#{i:02}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    put_many(f, Table::Core, &p, &refs).await;
    for forward in [true, false] {
        let mut seen = Vec::new();
        let mut cursor = None;
        let mut pages = 0;
        loop {
            let mut query = Query::partition(&p).limit(3).after(cursor.take());
            query.forward = forward;
            let page = f.store.query(Table::Core, query).await.expect("page");
            pages += 1;
            assert!(page.items.len() <= 3, "limit must bound a page");
            seen.extend(sks(&page));
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
            assert!(pages < 10, "pagination must end");
        }
        let mut expected = names.clone();
        if !forward {
            expected.reverse();
        }
        assert_eq!(seen, expected, "pages must cover every item once, in order");
    }
    let bad = f
        .store
        .query(
            Table::Core,
            Query::partition(&p).after(Some(Cursor("not a cursor".into()))),
        )
        .await;
    assert!(
        matches!(bad, Err(StoreError::InvalidItem(_))),
        "a forged cursor must be refused: {bad:?}"
    );
}

pub async fn query_on_gsi(f: &Fixture) {
    let p = pk(f, "g");
    let index_pk = format!("{}#STATUS#failed", f.prefix);
    for (sk, status, at) in [
        ("RUN#a", "failed", "2026-01-02"),
        ("RUN#b", "ok", "2026-01-01"),
        ("RUN#c", "failed", "2026-01-01"),
    ] {
        let mut it = item(json!({"pk": p, "sk": sk}));
        if status == "failed" {
            it.insert(GSI1_PK.into(), json!(index_pk));
            it.insert(GSI1_SK.into(), json!(at));
        }
        f.store.put(Table::Runs, it, None).await.expect("put");
    }
    let page = f
        .store
        .query(Table::Runs, Query::on_gsi1(&index_pk))
        .await
        .expect("gsi query");
    assert_eq!(sks(&page), ["RUN#c", "RUN#a"], "gsi order is by gsi1sk");
    let ranged = f
        .store
        .query(
            Table::Runs,
            Query::on_gsi1(&index_pk).begins_with("2026-01-02"),
        )
        .await
        .expect("gsi range");
    assert_eq!(sks(&ranged), ["RUN#a"]);
}

pub async fn transaction_commits_all(f: &Fixture) {
    let p = pk(f, "tx");
    f.store
        .put(Table::Core, item(json!({"pk": p, "sk": "OLD"})), None)
        .await
        .expect("put");
    f.store
        .put(
            Table::Core,
            item(json!({"pk": p, "sk": "GUARD", "ok": true})),
            None,
        )
        .await
        .expect("put guard");
    f.store
        .transact_write(vec![
            TransactOp::Put {
                table: Table::Core,
                item: item(json!({"pk": p, "sk": "A", "v": 1})),
                condition: Some(Condition::NotExists),
            },
            TransactOp::Update {
                table: Table::Usage,
                key: Key::new(&p, "COUNT"),
                update: Update::new().add("n", 5),
                condition: None,
            },
            TransactOp::Delete {
                table: Table::Core,
                key: Key::new(&p, "OLD"),
                condition: Some(Condition::Exists),
            },
            TransactOp::Check {
                table: Table::Core,
                key: Key::new(&p, "GUARD"),
                condition: Condition::equals("ok", true),
            },
        ])
        .await
        .expect("transaction");
    assert!(
        f.store
            .get(Table::Core, &Key::new(&p, "A"))
            .await
            .expect("get")
            .is_some()
    );
    assert_eq!(
        f.store
            .get(Table::Core, &Key::new(&p, "OLD"))
            .await
            .expect("get"),
        None
    );
    let count = f
        .store
        .get(Table::Usage, &Key::new(&p, "COUNT"))
        .await
        .expect("get");
    assert_eq!(count.and_then(|i| i.get("n").cloned()), Some(json!(5)));
}

pub async fn transaction_cancels_all_on_one_failed_condition(f: &Fixture) {
    let p = pk(f, "tx");
    f.store
        .put(Table::Core, item(json!({"pk": p, "sk": "TAKEN"})), None)
        .await
        .expect("put");
    let result = f
        .store
        .transact_write(vec![
            TransactOp::Put {
                table: Table::Core,
                item: item(json!({"pk": p, "sk": "FRESH"})),
                condition: Some(Condition::NotExists),
            },
            TransactOp::Update {
                table: Table::Usage,
                key: Key::new(&p, "COUNT"),
                update: Update::new().add("n", 1),
                condition: None,
            },
            TransactOp::Put {
                table: Table::Core,
                item: item(json!({"pk": p, "sk": "TAKEN", "again": true})),
                condition: Some(Condition::NotExists),
            },
        ])
        .await;
    assert_eq!(
        result,
        Err(StoreError::TransactionCanceled { failed: vec![2] })
    );
    assert_eq!(
        f.store
            .get(Table::Core, &Key::new(&p, "FRESH"))
            .await
            .expect("get"),
        None,
        "nothing of a cancelled transaction may be written"
    );
    assert_eq!(
        f.store
            .get(Table::Usage, &Key::new(&p, "COUNT"))
            .await
            .expect("get"),
        None
    );
    assert_eq!(
        f.store
            .get(Table::Core, &Key::new(&p, "TAKEN"))
            .await
            .expect("get"),
        Some(item(json!({"pk": p, "sk": "TAKEN"})))
    );
    let duplicate = f
        .store
        .transact_write(vec![
            TransactOp::Put {
                table: Table::Core,
                item: item(json!({"pk": p, "sk": "X"})),
                condition: None,
            },
            TransactOp::Delete {
                table: Table::Core,
                key: Key::new(&p, "X"),
                condition: None,
            },
        ])
        .await;
    assert!(
        matches!(duplicate, Err(StoreError::InvalidItem(_))),
        "{duplicate:?}"
    );
}

pub async fn expired_items_are_never_returned(f: &Fixture) {
    let p = pk(f, "ttl");
    let now = f.clock.epoch_seconds();
    f.store
        .put(
            Table::Ephemeral,
            item(json!({"pk": p, "sk": "SHORT", "expires_at": now + 60})),
            None,
        )
        .await
        .expect("put short");
    f.store
        .put(
            Table::Ephemeral,
            item(json!({"pk": p, "sk": "LONG", "expires_at": now + 3600})),
            None,
        )
        .await
        .expect("put long");
    f.store
        .put(
            Table::Ephemeral,
            item(json!({"pk": p, "sk": "FOREVER"})),
            None,
        )
        .await
        .expect("put forever");
    let key = Key::new(&p, "SHORT");
    assert!(
        f.store
            .get(Table::Ephemeral, &key)
            .await
            .expect("get")
            .is_some()
    );
    f.clock.advance(Duration::seconds(61));
    assert_eq!(
        f.store.get(Table::Ephemeral, &key).await.expect("get"),
        None,
        "an item past its TTL must not be returned"
    );
    let page = f
        .store
        .query(Table::Ephemeral, Query::partition(&p))
        .await
        .expect("query");
    assert_eq!(sks(&page), ["FOREVER", "LONG"]);
    let old = f
        .store
        .delete(Table::Ephemeral, &key, None)
        .await
        .expect("delete");
    assert_eq!(old, None, "deleting an expired item returns nothing");
}

pub async fn expired_items_count_as_absent_in_conditions(f: &Fixture) {
    let p = pk(f, "ttl");
    let now = f.clock.epoch_seconds();
    let key = Key::new(&p, "IDEMPOTENCY");
    f.store
        .put(
            Table::Ephemeral,
            item(json!({"pk": p, "sk": "IDEMPOTENCY", "expires_at": now + 10, "v": 1})),
            Some(Condition::NotExists),
        )
        .await
        .expect("put");
    f.clock.advance(Duration::seconds(11));
    f.store
        .put(
            Table::Ephemeral,
            item(json!({"pk": p, "sk": "IDEMPOTENCY", "expires_at": now + 100, "v": 2})),
            Some(Condition::NotExists),
        )
        .await
        .expect("an expired item must not block a not-exists put");
    let got = f.store.get(Table::Ephemeral, &key).await.expect("get");
    assert_eq!(got.and_then(|i| i.get("v").cloned()), Some(json!(2)));
    f.clock.advance(Duration::seconds(200));
    let exists = f
        .store
        .update(
            Table::Ephemeral,
            &key,
            Update::new().set("v", 3),
            Some(Condition::Exists),
        )
        .await;
    assert_eq!(
        exists,
        Err(StoreError::ConditionFailed),
        "an expired item does not exist"
    );
}

pub async fn invalid_items_are_refused(f: &Fixture) {
    let no_sk = f
        .store
        .put(Table::Core, item(json!({"pk": pk(f, "x")})), None)
        .await;
    assert!(
        matches!(no_sk, Err(StoreError::InvalidItem(_))),
        "{no_sk:?}"
    );
    let number_pk = f
        .store
        .put(Table::Core, item(json!({"pk": 5, "sk": "a"})), None)
        .await;
    assert!(
        matches!(number_pk, Err(StoreError::InvalidItem(_))),
        "{number_pk:?}"
    );
    let key_update = f
        .store
        .update(
            Table::Core,
            &Key::new(pk(f, "x"), "a"),
            Update::new().set("pk", "other"),
            None,
        )
        .await;
    assert!(
        matches!(key_update, Err(StoreError::InvalidItem(_))),
        "{key_update:?}"
    );
    let no_index = f
        .store
        .query(Table::Usage, Query::on_gsi1("whatever"))
        .await;
    assert!(
        matches!(no_index, Err(StoreError::InvalidItem(_))),
        "{no_index:?}"
    );
}

pub async fn ping_touches_backend(f: &Fixture) {
    f.store.ping().await.expect("ping");
}
