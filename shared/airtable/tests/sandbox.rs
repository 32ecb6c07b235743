//! The client against the Airtable sandbox over real HTTP on localhost: pacing under concurrent
//! writers at the real limits, absorbing upstream 429s and 503s, injection-proof search, and a
//! round trip through every operation.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use airtable::{
    Airtable, AirtableError, BaseId, ClientConfig, Fields, ListParams, NewField, NewTable,
    NewWebhook, RateLimiter, RateLimits, RecordId, RecordUpdate, RetryPolicy, SortDirection,
    TableRef, UpsertRecord, WebhookId, WriteOptions, formula,
};
use airtable_sandbox::{DEMO_BASE_ID, Fault, Sandbox, SandboxHandle};
use basics::{Clock, SystemClock};
use serde_json::{Value, json};

/// The sandbox at Airtable's real limits (5/s per base, 50/s per token, 30 s lockout), with no
/// grace for arrival jitter: stricter than the sandbox's default.
fn strict_limits() -> airtable_sandbox::RateLimits {
    airtable_sandbox::RateLimits {
        grace: Duration::ZERO,
        ..airtable_sandbox::RateLimits::default()
    }
}

async fn sandbox(limits: airtable_sandbox::RateLimits) -> SandboxHandle {
    Sandbox::builder()
        .rate_limits(limits)
        .start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

/// One shared limiter store, as all function instances would share the table store.
fn limiter(limits: RateLimits) -> RateLimiter {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = Arc::new(embedded::SqliteStore::new(
        embedded::Database::in_memory().unwrap(),
        clock.clone(),
    ));
    RateLimiter::with_limits(store, clock, limits)
}

fn client(sandbox: &SandboxHandle, limiter: RateLimiter) -> Airtable {
    let config = ClientConfig::new(sandbox.demo_token().into())
        .with_base_url(sandbox.url())
        .with_latency_budget(Duration::from_secs(20))
        .with_retry(RetryPolicy {
            max_attempts: 5,
            base_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(400),
        });
    Airtable::new(config, limiter).unwrap()
}

/// Limits for tests about something other than pacing: nearly no spacing, and cool-downs
/// scaled down (100 ms doubling up to 500 ms for Airtable's 1 s up to 30 s).
fn fast() -> RateLimits {
    RateLimits {
        base_interval: Duration::from_millis(1),
        token_interval: Duration::from_millis(1),
        first_cooldown: Duration::from_millis(100),
        cooldown: Duration::from_millis(500),
    }
}

fn fields(value: Value) -> Fields {
    value.as_object().cloned().unwrap()
}

async fn new_table(client: &Airtable, name: &str) -> TableRef {
    let table = client
        .create_table(
            &demo(),
            &NewTable {
                name: name.into(),
                description: None,
                fields: vec![
                    NewField::new("Key", "singleLineText"),
                    NewField::new("Writer", "number").with_options(json!({"precision": 0})),
                    NewField::new("Notes", "multilineText"),
                ],
            },
        )
        .await
        .unwrap();
    table_ref(&table.id)
}

fn demo() -> BaseId {
    BaseId::parse(DEMO_BASE_ID).unwrap()
}

fn table_ref(name: &str) -> TableRef {
    TableRef::parse(name).unwrap()
}

fn rec(id: &str) -> RecordId {
    RecordId::parse(id).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_concurrent_writers_put_1000_records_without_a_429_and_exactly_once() {
    let sandbox = sandbox(strict_limits()).await;
    // Every writer builds its own client (as separate function instances would) on one store.
    let shared = limiter(RateLimits::airtable());
    let setup = client(&sandbox, shared.clone());
    let table_id = new_table(&setup, "Load").await;
    sandbox.reset_counters();

    let started = Instant::now();
    let mut writers = Vec::new();
    for writer in 0..8u32 {
        let table = client(&sandbox, shared.clone()).table(demo(), table_id.clone());
        writers.push(tokio::spawn(async move {
            let records: Vec<Fields> = (0..125)
                .map(|i| fields(json!({"Key": format!("w{writer}-{i}"), "Writer": writer})))
                .collect();
            table.create_many(records, WriteOptions::default()).await
        }));
    }
    let mut created = 0;
    for writer in writers {
        created += writer.await.unwrap().unwrap().len();
    }
    let elapsed = started.elapsed();
    assert_eq!(created, 1_000);

    let counters = sandbox.counters();
    let requests = counters.routes["create_records"].requests;
    println!(
        "8 writers: 1000 records in {} requests over {:.2} s = {:.1} records/s, {:.2} req/s; upstream 429s: {}",
        requests,
        elapsed.as_secs_f64(),
        1_000.0 / elapsed.as_secs_f64(),
        requests as f64 / elapsed.as_secs_f64(),
        counters.rate_limited
    );
    assert_eq!(counters.rate_limited, 0, "{counters:?}");
    assert_eq!(
        requests,
        8 * 13,
        "125 records = 13 chunks per writer, none retried"
    );

    let all = setup
        .table(demo(), table_id)
        .all(ListParams::new().field("Key"))
        .await
        .unwrap();
    let mut seen: HashMap<String, u32> = HashMap::new();
    for record in &all {
        let key = record.fields["Key"].as_str().unwrap().to_string();
        *seen.entry(key).or_default() += 1;
    }
    assert_eq!(all.len(), 1_000);
    for writer in 0..8 {
        for i in 0..125 {
            assert_eq!(seen.get(&format!("w{writer}-{i}")), Some(&1));
        }
    }
    assert_eq!(sandbox.counters().rate_limited, 0);
}

#[tokio::test]
async fn a_burst_of_upstream_429s_and_503s_is_absorbed() {
    let sandbox = sandbox(strict_limits()).await;
    // Scaled-down cool-downs (100, 200, 400 ms for Airtable's 1, 2, 4 s) keep the test short;
    // the real ones are covered by the limiter's unit tests.
    let client = client(&sandbox, limiter(fast()));
    let companies = client.table(demo(), table_ref("Companies"));

    sandbox.faults().script(
        "list_records",
        [Fault::status(429), Fault::status(429), Fault::status(429)],
    );
    let started = Instant::now();
    let listed = companies.all(ListParams::new()).await.unwrap();
    assert_eq!(listed.len(), 5);
    assert!(
        started.elapsed() >= Duration::from_millis(700),
        "each 429 cooled the base down, each time for longer"
    );

    sandbox.faults().script(
        "get_record",
        [Fault::status(503), Fault::status(502), Fault::status(503)],
    );
    let got = companies.get(&rec(&listed[0].id)).await.unwrap();
    assert_eq!(got.id, listed[0].id);

    let counters = sandbox.counters();
    assert_eq!(counters.injected_faults, 6);
    assert_eq!(counters.rate_limited, 0, "the real limiter never fired");
    let stats = client.stats();
    assert_eq!(stats.upstream_429s, 3);
    assert_eq!(stats.retries, 6);
}

/// The keys stored in a table, each with how often it is there.
async fn stored_keys(client: &Airtable, table_id: &TableRef) -> HashMap<String, u32> {
    let all = client
        .table(demo(), table_id.clone())
        .all(ListParams::new().field("Key"))
        .await
        .unwrap();
    let mut seen: HashMap<String, u32> = HashMap::new();
    for record in &all {
        let key = record.fields["Key"].as_str().unwrap().to_string();
        *seen.entry(key).or_default() += 1;
    }
    seen
}

#[tokio::test]
async fn a_create_meeting_503_or_502_is_retried_and_stored_once_but_never_after_a_500() {
    // The sandbox's limits off, and ours with them: this test is about retries only.
    let sandbox = sandbox(airtable_sandbox::RateLimits::disabled()).await;
    let client = client(&sandbox, limiter(RateLimits::unlimited()));
    let table_id = new_table(&client, "Retried creates").await;
    let table = client.table(demo(), table_id.clone());
    sandbox.reset_counters();

    // 25 records go out in three chunks: the first meets a 503, the second a 502. Airtable
    // documents both as safe to retry, so each chunk is sent again and every record is stored
    // exactly once.
    sandbox.faults().script(
        "create_records",
        [Fault::status(503), Fault::ok(), Fault::status(502)],
    );
    let created = table
        .create_many(
            (0..25)
                .map(|i| fields(json!({"Key": format!("k{i:02}")})))
                .collect(),
            WriteOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(created.len(), 25);
    let counters = sandbox.counters();
    assert_eq!(counters.injected_faults, 2);
    assert_eq!(
        counters.routes["create_records"].requests, 5,
        "3 chunks + 2 retries"
    );
    assert_eq!(client.stats().retries, 2);
    let stored = stored_keys(&client, &table_id).await;
    assert_eq!(stored.len(), 25);
    for i in 0..25 {
        assert_eq!(stored.get(&format!("k{i:02}")), Some(&1), "k{i:02}");
    }

    // A 500 gives no such assurance: the create fails once and is not sent again.
    sandbox
        .faults()
        .script("create_records", [Fault::status(500)]);
    let err = table
        .create(
            fields(json!({"Key": "never twice"})),
            WriteOptions::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(500));
    assert_eq!(sandbox.counters().routes["create_records"].requests, 6);
    assert_eq!(client.stats().retries, 2);
    let stored = stored_keys(&client, &table_id).await;
    assert_eq!(stored.len(), 25);
    assert!(!stored.contains_key("never twice"));
}

#[tokio::test]
async fn a_real_lockout_is_probed_with_escalating_pauses_and_waited_out() {
    // Airtable's 30 s lockout against 1 s doubling pauses, scaled down by ten: a 3 s lockout
    // against pauses of 100, 200, 400, 800 and 1600 ms (the first stretched to the 205 ms
    // spacing the base's real interval imposes anyway).
    let lockout = Duration::from_secs(3);
    let sandbox = sandbox(airtable_sandbox::RateLimits {
        lockout,
        ..strict_limits()
    })
    .await;
    // Someone outside the platform hammers the base and gets it locked out.
    let rogue = reqwest::Client::new();
    let url = format!("{}/v0/{DEMO_BASE_ID}/Companies", sandbox.url());
    for _ in 0..6 {
        rogue
            .get(&url)
            .bearer_auth(sandbox.demo_token())
            .send()
            .await
            .unwrap();
    }
    assert_eq!(sandbox.counters().rate_limited, 1);

    let patient = Airtable::new(
        ClientConfig::new(sandbox.demo_token().into())
            .with_base_url(sandbox.url())
            .with_latency_budget(Duration::from_secs(20))
            .with_retry(RetryPolicy {
                max_attempts: 8,
                base_backoff: Duration::from_millis(50),
                max_backoff: Duration::from_millis(400),
            }),
        limiter(RateLimits {
            first_cooldown: Duration::from_millis(100),
            cooldown: lockout,
            ..RateLimits::airtable()
        }),
    )
    .unwrap();
    let started = Instant::now();
    let listed = patient
        .table(demo(), table_ref("Companies"))
        .all(ListParams::new())
        .await
        .unwrap();
    let elapsed = started.elapsed();
    assert_eq!(listed.len(), 5);
    // Probes at about 0, 0.2, 0.4, 0.8 and 1.6 s met the lockout; the one at 3.2 s got through.
    assert_eq!(patient.stats().upstream_429s, 5, "four extra probes");
    assert!(elapsed >= lockout, "{elapsed:?}");
    assert!(
        elapsed < lockout + Duration::from_millis(600),
        "resumed soon after the lockout ended: {elapsed:?}"
    );
    assert_eq!(sandbox.counters().rate_limited, 6);

    // With a budget shorter than the pause, the caller gets our own answer at once.
    let impatient = Airtable::new(
        ClientConfig::new(sandbox.demo_token().into())
            .with_base_url(sandbox.url())
            .with_latency_budget(Duration::from_millis(500)),
        limiter(RateLimits::airtable()),
    )
    .unwrap();
    for _ in 0..6 {
        let _ = rogue
            .get(&url)
            .bearer_auth(sandbox.demo_token())
            .send()
            .await;
    }
    let started = Instant::now();
    let err = impatient
        .table(demo(), table_ref("Companies"))
        .all(ListParams::new())
        .await
        .unwrap_err();
    assert!(
        matches!(err, AirtableError::RateLimited { retry_after }
            if retry_after > Duration::from_millis(900) && retry_after <= Duration::from_secs(1)),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(impatient.stats().upstream_429s, 1);
}

/// Values that break naive formula pasting.
const HOSTILE: &[&str] = &[
    r#""), TRUE(), (""#,
    r#"'), TRUE(), ('"#,
    "it's",
    r"back\slash",
    r#"\""#,
    "close}brace",
    "two\nlines",
    "żółć 🚀",
    "plain",
];

#[tokio::test]
async fn a_hostile_search_term_cannot_change_the_filter() {
    let sandbox = sandbox(airtable_sandbox::RateLimits::disabled()).await;
    let client = client(&sandbox, limiter(fast()));
    let table_id = new_table(&client, "Hostile").await;
    let table = client.table(demo(), table_id);
    let records: Vec<Fields> = HOSTILE
        .iter()
        .map(|v| fields(json!({"Key": format!("[{v}]"), "Notes": "n/a"})))
        .collect();
    table
        .create_many(records, WriteOptions::default())
        .await
        .unwrap();

    for term in HOSTILE
        .iter()
        .chain(&["TRUE()", "[", "}", "\\", "\"", "'", "\n"])
    {
        let filter = formula::search(term, ["Key", "Notes"]);
        let found = table
            .all(ListParams::new().filter(filter.clone()))
            .await
            .unwrap_or_else(|e| panic!("{term:?}: {filter} failed: {e}"));
        let mut keys: Vec<String> = found
            .iter()
            .map(|r| r.fields["Key"].as_str().unwrap().to_string())
            .collect();
        keys.sort();
        let mut expected: Vec<String> = HOSTILE
            .iter()
            .map(|v| format!("[{v}]"))
            .filter(|k| {
                k.to_lowercase().contains(&term.to_lowercase())
                    || "n/a".contains(&term.to_lowercase())
            })
            .collect();
        expected.sort();
        assert_eq!(keys, expected, "term {term:?}, formula {filter}");
    }
}

#[tokio::test]
async fn every_operation_round_trips() {
    let sandbox = sandbox(airtable_sandbox::RateLimits::disabled()).await;
    let client = client(&sandbox, limiter(fast()));

    let me = client.whoami().await.unwrap();
    assert!(!me.id.is_empty());
    let bases = client.bases().await.unwrap();
    assert!(bases.iter().any(|b| b.id == DEMO_BASE_ID));
    let schema = client.base_schema(&demo(), true).await.unwrap();
    assert!(schema.table("Companies").is_some());

    let table_id = new_table(&client, "Round trip").await;
    let table = client.table(demo(), table_id.clone());

    // Create 23 (three chunks), page through them, sorted.
    let created = table
        .create_many(
            (0..23)
                .map(|i| fields(json!({"Key": format!("k{i:02}"), "Writer": i})))
                .collect(),
            WriteOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(created.len(), 23);
    let pages: Vec<Vec<airtable::Record>> = futures::TryStreamExt::try_collect(
        table.pages(
            ListParams::new()
                .page_size(10)
                .sort("Key", SortDirection::Desc),
        ),
    )
    .await
    .unwrap();
    assert_eq!(
        pages.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![10, 10, 3]
    );
    assert_eq!(pages[0][0].fields["Key"], "k22");
    let first = table
        .first(ListParams::new().sort("Key", SortDirection::Asc))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.fields["Key"], "k00");

    // A filter too long for a URL goes by POST and still works.
    let many_keys = (0..2_000).map(|i| format!("k{i:02}"));
    let long =
        formula::or(many_keys.map(|k| formula::eq(formula::field("Key"), formula::string(&k))));
    assert!(long.as_str().len() > 16_000);
    let matched = table.all(ListParams::new().filter(long)).await.unwrap();
    assert_eq!(matched.len(), 23);
    assert_eq!(
        sandbox.counters().routes["list_records"].requests,
        sandbox.counters().routes["list_records"].statuses[&200]
    );

    // Get, update (PATCH keeps, PUT clears), upsert, delete.
    let one = table.get(&rec(&created[0].id)).await.unwrap();
    assert_eq!(one.fields["Key"], "k00");
    let patched = table
        .update(
            &rec(&one.id),
            fields(json!({"Notes": "hello"})),
            false,
            WriteOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(patched.fields["Key"], "k00");
    let updated = table
        .update_many(
            vec![RecordUpdate::new(
                &created[1].id,
                fields(json!({"Notes": "x"})),
            )],
            true,
            WriteOptions::default(),
        )
        .await
        .unwrap();
    assert!(!updated[0].fields.contains_key("Key"), "PUT cleared Key");

    let upserts: Vec<UpsertRecord> = (20..35)
        .map(|i| fields(json!({"Key": format!("k{i:02}"), "Notes": "upserted"})).into())
        .collect();
    let upserted = table
        .upsert_many(upserts, &["Key"], false, WriteOptions::default())
        .await
        .unwrap();
    assert_eq!(upserted.updated_records.len(), 3);
    assert_eq!(upserted.created_records.len(), 12);

    let ids: Vec<RecordId> = created.iter().skip(2).map(|r| rec(&r.id)).collect();
    let deleted = table.delete_many(&ids).await.unwrap();
    assert_eq!(deleted.len(), 21);
    assert!(deleted.iter().all(|d| d.deleted));
    let gone = table.get(&ids[0]).await.unwrap_err();
    assert!(gone.is_not_found(), "{gone:?}");
    let single = table.delete(&rec(&created[0].id)).await.unwrap();
    assert!(single.deleted);

    // Airtable's errors come through typed.
    let err = table
        .all(ListParams::new().filter("NOT_A_FUNCTION(1)"))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), Some("INVALID_FILTER_BY_FORMULA"));
    let err = table
        .create(fields(json!({"Nope": 1})), WriteOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), Some("UNKNOWN_FIELD_NAME"));

    // Webhooks: create, list, refresh, payloads, delete.
    let hook = client
        .create_webhook(
            &demo(),
            &NewWebhook {
                notification_url: None,
                specification: json!({"options": {"filters": {"dataTypes": ["tableData"]}}}),
            },
        )
        .await
        .unwrap();
    let hook_id = WebhookId::parse(&hook.id).unwrap();
    assert!(
        client
            .webhooks(&demo())
            .await
            .unwrap()
            .iter()
            .any(|w| w.id == hook.id)
    );
    table
        .create(
            fields(json!({"Key": "after hook"})),
            WriteOptions::default(),
        )
        .await
        .unwrap();
    let refreshed = client.refresh_webhook(&demo(), &hook_id).await.unwrap();
    assert!(refreshed.expiration_time.is_some());
    let payloads = client
        .webhook_payloads(&demo(), &hook_id, None, Some(50))
        .await
        .unwrap();
    assert!(!payloads.payloads.is_empty());
    assert!(payloads.cursor > 1);
    client
        .enable_webhook_notifications(&demo(), &hook_id, false)
        .await
        .unwrap();
    client.delete_webhook(&demo(), &hook_id).await.unwrap();
    assert!(client.webhooks(&demo()).await.unwrap().is_empty());
}
