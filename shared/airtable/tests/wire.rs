//! The request path's rules on the wire, against a scripted HTTP server on localhost: which
//! failures are retried, which never are, `Retry-After`, the POST fallback for long URLs,
//! pagination and error shapes. (The sandbox tests cover realistic traffic; this server can
//! script things the sandbox does not, such as an answer that comes too late.)

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use airtable::{
    Airtable, AirtableError, BaseId, ClientConfig, ListParams, RateLimiter, RateLimits, RecordId,
    RetryPolicy, TableRef, WriteOptions, formula,
};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use basics::{Clock, SystemClock};
use futures::TryStreamExt;
use serde_json::{Value, json};

/// One scripted answer.
#[derive(Clone)]
struct Answer {
    status: u16,
    body: Value,
    retry_after: Option<&'static str>,
    delay: Duration,
}

fn ok(body: Value) -> Answer {
    Answer {
        status: 200,
        body,
        retry_after: None,
        delay: Duration::ZERO,
    }
}

fn status(status: u16, body: Value) -> Answer {
    Answer {
        status,
        body,
        retry_after: None,
        delay: Duration::ZERO,
    }
}

/// What the server saw.
#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    uri: String,
    body: String,
    at: Instant,
    auth: String,
}

#[derive(Clone, Default)]
struct Script {
    answers: Arc<Mutex<VecDeque<Answer>>>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Script {
    fn push(&self, answer: Answer) {
        self.answers.lock().unwrap().push_back(answer);
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

async fn handle(
    State(script): State<Script>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    script.seen.lock().unwrap().push(Seen {
        method,
        uri: uri.to_string(),
        body: String::from_utf8_lossy(&body).into_owned(),
        at: Instant::now(),
        auth: headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string(),
    });
    let answer = script
        .answers
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or_else(|| status(500, json!({"error": "UNSCRIPTED"})));
    tokio::time::sleep(answer.delay).await;
    let mut response = (
        StatusCode::from_u16(answer.status).unwrap(),
        axum::Json(answer.body),
    )
        .into_response();
    if let Some(after) = answer.retry_after {
        response
            .headers_mut()
            .insert("retry-after", after.parse().unwrap());
    }
    response
}

async fn serve() -> (String, Script) {
    let script = Script::default();
    let app = Router::new().fallback(handle).with_state(script.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (format!("http://{addr}"), script)
}

fn limiter(limits: RateLimits) -> RateLimiter {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = Arc::new(embedded::SqliteStore::new(
        embedded::Database::in_memory().unwrap(),
        clock.clone(),
    ));
    RateLimiter::with_limits(store, clock, limits)
}

/// A fast client: no real pacing (tests here are about retries), quick back-off.
fn client(url: &str) -> Airtable {
    let limits = RateLimits {
        base_interval: Duration::from_millis(1),
        token_interval: Duration::from_millis(1),
        ..RateLimits::airtable()
    };
    let config = ClientConfig::new("patTEST.secret".into())
        .with_base_url(url)
        .with_timeout(Duration::from_millis(500))
        .with_latency_budget(Duration::from_secs(5))
        .with_retry(RetryPolicy {
            max_attempts: 4,
            base_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(100),
        });
    Airtable::new(config, limiter(limits)).unwrap()
}

fn record(id: &str) -> Value {
    json!({"id": id, "createdTime": "2026-01-01T00:00:00.000Z", "fields": {"Name": id}})
}

const BASE: &str = "app00000000000001";

fn base() -> BaseId {
    BaseId::parse(BASE).unwrap()
}

fn table_ref(name: &str) -> TableRef {
    TableRef::parse(name).unwrap()
}

fn rec(id: &str) -> RecordId {
    RecordId::parse(id).unwrap()
}

#[tokio::test]
async fn a_read_is_retried_through_503_and_502_and_sends_the_token_as_bearer() {
    let (url, script) = serve().await;
    script.push(status(
        503,
        json!({"error": {"type": "RETRIABLE_ERROR", "message": "m"}}),
    ));
    script.push(status(502, json!({})));
    script.push(ok(record("rec00000000000001")));
    let client = client(&url);
    let got = client
        .table(base(), table_ref("My Table"))
        .get(&rec("rec00000000000001"))
        .await
        .unwrap();
    assert_eq!(got.id, "rec00000000000001");
    let seen = script.seen();
    assert_eq!(seen.len(), 3);
    assert_eq!(
        seen[0].uri,
        format!("/v0/{BASE}/My%20Table/rec00000000000001")
    );
    assert_eq!(seen[0].auth, "Bearer patTEST.secret");
    assert_eq!(client.stats().retries, 2);
}

#[tokio::test]
async fn retry_after_on_a_503_is_honoured() {
    let (url, script) = serve().await;
    let mut busy = status(
        503,
        json!({"error": {"type": "RETRIABLE_ERROR", "message": "m"}}),
    );
    busy.retry_after = Some("1");
    script.push(busy);
    script.push(ok(record("rec00000000000001")));
    client(&url)
        .table(base(), table_ref("T"))
        .get(&rec("rec00000000000001"))
        .await
        .unwrap();
    let seen = script.seen();
    assert!(seen[1].at - seen[0].at >= Duration::from_millis(990));
}

#[tokio::test]
async fn a_create_is_retried_through_airtables_safe_to_retry_503_and_502() {
    let (url, script) = serve().await;
    script.push(status(
        503,
        json!({"error": {"type": "RETRIABLE_ERROR", "message": "Server encountered an error while processing your request, and it is safe to retry the request"}}),
    ));
    script.push(status(502, json!({})));
    script.push(ok(json!({"records": [record("rec00000000000001")]})));
    let client = client(&url);
    let created = client
        .table(base(), table_ref("T"))
        .create(serde_json::Map::new(), WriteOptions::default())
        .await
        .unwrap();
    assert_eq!(created.id, "rec00000000000001");
    let seen = script.seen();
    assert_eq!(seen.len(), 3);
    assert!(
        seen.iter()
            .all(|s| s.method == Method::POST && s.body == seen[0].body)
    );
    assert_eq!(client.stats().retries, 2);
}

#[tokio::test]
async fn a_create_is_not_retried_after_a_500_or_a_timeout() {
    let (url, script) = serve().await;
    script.push(status(
        500,
        json!({"error": {"type": "SERVER_ERROR", "message": "m"}}),
    ));
    let table = client(&url).table(base(), table_ref("T"));
    let err = table
        .create(serde_json::Map::new(), WriteOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(500));
    assert_eq!(script.seen().len(), 1);

    // Another 5xx gives no assurance either.
    script.push(status(504, json!({})));
    let err = table
        .create(serde_json::Map::new(), WriteOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(504));
    assert_eq!(script.seen().len(), 2);

    let mut slow = ok(json!({"records": [record("rec00000000000001")]}));
    slow.delay = Duration::from_millis(800);
    script.push(slow);
    let err = table
        .create(serde_json::Map::new(), WriteOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            AirtableError::Network {
                timed_out: true,
                sent: true,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        script.seen().len(),
        3,
        "the timed-out create was not repeated"
    );
}

#[tokio::test]
async fn a_read_that_times_out_is_retried() {
    let (url, script) = serve().await;
    let mut slow = ok(record("rec00000000000001"));
    slow.delay = Duration::from_millis(800);
    script.push(slow);
    script.push(ok(record("rec00000000000001")));
    let got = client(&url)
        .table(base(), table_ref("T"))
        .get(&rec("rec00000000000001"))
        .await;
    assert!(got.is_ok(), "{got:?}");
    assert_eq!(script.seen().len(), 2);
}

#[tokio::test]
async fn a_create_is_retried_when_the_connection_never_opened() {
    // Nothing listens on this port, so every attempt fails before sending.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let client = client(&url);
    let err = client
        .table(base(), table_ref("T"))
        .create(serde_json::Map::new(), WriteOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, AirtableError::Network { sent: false, .. }),
        "{err:?}"
    );
    assert_eq!(client.stats().requests, 4, "all four attempts were made");
}

fn rate_limit_reached() -> Answer {
    status(
        429,
        json!({"error": {"type": "RATE_LIMIT_REACHED", "message": "Rate limit exceeded. Please try again later"}}),
    )
}

#[tokio::test]
async fn a_single_429_costs_the_caller_one_second_not_an_error() {
    let (url, script) = serve().await;
    script.push(rate_limit_reached());
    script.push(ok(record("rec00000000000001")));
    let client = client(&url);
    let got = client
        .table(base(), table_ref("T"))
        .get(&rec("rec00000000000001"))
        .await
        .unwrap();
    assert_eq!(got.id, "rec00000000000001");
    let seen = script.seen();
    assert_eq!(seen.len(), 2);
    let pause = seen[1].at - seen[0].at;
    assert!(
        pause >= Duration::from_millis(990) && pause < Duration::from_millis(1_900),
        "{pause:?}"
    );
    assert_eq!(client.stats().upstream_429s, 1);
}

#[tokio::test]
async fn a_create_meeting_a_429_is_retried_after_the_pause() {
    let (url, script) = serve().await;
    script.push(rate_limit_reached());
    script.push(ok(json!({"records": [record("rec00000000000001")]})));
    let client = client(&url);
    client
        .table(base(), table_ref("T"))
        .create(serde_json::Map::new(), WriteOptions::default())
        .await
        .unwrap();
    let seen = script.seen();
    assert_eq!(seen.len(), 2);
    assert!(seen[1].at - seen[0].at >= Duration::from_millis(990));
}

#[tokio::test]
async fn repeated_429s_escalate_until_the_caller_gets_rate_limited() {
    let (url, script) = serve().await;
    for _ in 0..3 {
        script.push(rate_limit_reached());
    }
    let client = client(&url);
    let started = Instant::now();
    let err = client
        .table(base(), table_ref("T"))
        .get(&rec("rec00000000000001"))
        .await
        .unwrap_err();
    // Pauses of 1 s and 2 s fit the 5 s budget; the third 429's 4 s pause does not.
    let AirtableError::RateLimited { retry_after } = err.clone() else {
        panic!("expected RateLimited, got {err:?}");
    };
    assert!(
        retry_after > Duration::from_millis(3_900) && retry_after <= Duration::from_secs(4),
        "{retry_after:?}"
    );
    let seen = script.seen();
    assert_eq!(seen.len(), 3);
    assert!(seen[1].at - seen[0].at >= Duration::from_millis(990));
    assert!(seen[2].at - seen[1].at >= Duration::from_millis(1_990));
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "no waiting past the budget"
    );
    assert_eq!(client.stats().upstream_429s, 3);
    assert!(
        matches!(err, AirtableError::RateLimited { retry_after } if retry_after > Duration::from_secs(3) && retry_after <= Duration::from_secs(4)),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_retry_after_on_a_429_sets_the_pause() {
    let (url, script) = serve().await;
    let mut limited = rate_limit_reached();
    limited.retry_after = Some("2");
    script.push(limited);
    script.push(ok(record("rec00000000000001")));
    client(&url)
        .table(base(), table_ref("T"))
        .get(&rec("rec00000000000001"))
        .await
        .unwrap();
    let seen = script.seen();
    assert!(seen[1].at - seen[0].at >= Duration::from_millis(1_990));
}

#[tokio::test]
async fn a_token_wide_429_waits_the_first_pause_not_the_lockout() {
    let (url, script) = serve().await;
    script.push(rate_limit_reached());
    script.push(ok(json!({"bases": []})));
    let client = client(&url);
    let bases = client.bases().await.unwrap();
    assert!(bases.is_empty());
    let seen = script.seen();
    assert_eq!(seen.len(), 2);
    let pause = seen[1].at - seen[0].at;
    assert!(
        pause >= Duration::from_millis(990) && pause < Duration::from_millis(1_900),
        "{pause:?}"
    );
}

#[tokio::test]
async fn listing_pages_through_offsets_and_long_filters_go_by_post() {
    let (url, script) = serve().await;
    script.push(ok(
        json!({"records": [record("rec00000000000001")], "offset": "itr1/rec1"}),
    ));
    script.push(ok(
        json!({"records": [record("rec00000000000002")], "offset": "itr2/rec2"}),
    ));
    script.push(ok(json!({"records": [record("rec00000000000003")]})));
    let table = client(&url).table(base(), table_ref("T"));
    let pages: Vec<_> = table
        .pages(ListParams::new().view("Grid view").page_size(1))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(pages.len(), 3);
    let seen = script.seen();
    assert_eq!(seen[0].method, Method::GET);
    assert!(seen[0].uri.contains("view=Grid+view") && seen[0].uri.contains("pageSize=1"));
    assert!(
        seen[1].uri.contains("offset=itr1%2Frec1"),
        "{}",
        seen[1].uri
    );
    assert!(seen[2].uri.contains("offset=itr2%2Frec2"));

    let long = formula::search(&"x".repeat(16_500), ["Name"]);
    script.push(ok(json!({"records": []})));
    table
        .all(
            ListParams::new()
                .filter(long.clone())
                .cell_format_string("UTC", "en"),
        )
        .await
        .unwrap();
    let last = script.seen().pop().unwrap();
    assert_eq!(last.method, Method::POST);
    assert!(last.uri.starts_with(&format!("/v0/{BASE}/T/listRecords?")));
    assert!(last.uri.contains("timeZone=UTC") && last.uri.contains("userLocale=en"));
    let body: Value = serde_json::from_str(&last.body).unwrap();
    assert_eq!(body["filterByFormula"], json!(long.as_str()));
    assert!(body.get("timeZone").is_none());
}

#[tokio::test]
async fn writes_are_chunked_by_ten() {
    let (url, script) = serve().await;
    for chunk in 0..3 {
        let n = if chunk < 2 { 10 } else { 5 };
        let records: Vec<Value> = (0..n)
            .map(|i| record(&format!("rec{:014}", chunk * 10 + i)))
            .collect();
        script.push(ok(json!({ "records": records })));
    }
    let fields: Vec<_> = (0..25)
        .map(|i| json!({"Name": i}).as_object().cloned().unwrap())
        .collect();
    let created = client(&url)
        .table(base(), table_ref("T"))
        .create_many(fields, WriteOptions::typecast())
        .await
        .unwrap();
    assert_eq!(created.len(), 25);
    let seen = script.seen();
    assert_eq!(seen.len(), 3);
    let first: Value = serde_json::from_str(&seen[0].body).unwrap();
    assert_eq!(first["records"].as_array().unwrap().len(), 10);
    assert_eq!(first["typecast"], json!(true));
    let last: Value = serde_json::from_str(&seen[2].body).unwrap();
    assert_eq!(last["records"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn an_upsert_missing_a_merge_field_sends_nothing() {
    let (url, script) = serve().await;
    let mut records: Vec<airtable::UpsertRecord> = (0..15)
        .map(|i| json!({"Key": i}).as_object().cloned().unwrap().into())
        .collect();
    records.push(json!({"Other": 1}).as_object().cloned().unwrap().into());
    let err = client(&url)
        .table(base(), table_ref("T"))
        .upsert_many(records, &["Key"], false, WriteOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, AirtableError::InvalidRequest(_)));
    assert!(script.seen().is_empty());
}

#[tokio::test]
async fn airtable_errors_keep_their_type_and_status() {
    let (url, script) = serve().await;
    script.push(status(404, json!({"error": "NOT_FOUND"})));
    script.push(status(
        422,
        json!({"error": {"type": "INVALID_FILTER_BY_FORMULA", "message": "bad formula"}}),
    ));
    let table = client(&url).table(base(), table_ref("T"));
    let err = table.get(&rec("rec00000000000001")).await.unwrap_err();
    assert!(err.is_not_found());
    let err = table
        .all(ListParams::new().filter("NOPE("))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AirtableError::Api { status: 422, error_type, message, .. }
            if error_type == "INVALID_FILTER_BY_FORMULA" && message == "bad formula"),
        "{err:?}"
    );
    assert_eq!(script.seen().len(), 2, "4xx answers are not retried");
}

/// A table name is always exactly one path segment: separators, query and fragment marks,
/// percent signs and dots are encoded, so no name can reach another endpoint.
#[tokio::test]
async fn a_table_name_is_one_segment_whatever_it_holds() {
    let (url, script) = serve().await;
    let names = [
        ("a/b", "a%2Fb"),
        ("x?y=1#z", "x%3Fy=1%23z"),
        ("%2F..", "%252F.."),
        ("...", "..."),
        (" .. ", "%20..%20"),
        ("..\\..", "..%5C.."),
    ];
    for _ in names {
        script.push(ok(record("rec00000000000001")));
    }
    let client = client(&url);
    for (name, _) in names {
        client
            .table(base(), table_ref(name))
            .get(&rec("rec00000000000001"))
            .await
            .unwrap();
    }
    let seen: Vec<String> = script.seen().into_iter().map(|s| s.uri).collect();
    let expected: Vec<String> = names
        .iter()
        .map(|(_, encoded)| format!("/v0/{BASE}/{encoded}/rec00000000000001"))
        .collect();
    assert_eq!(seen, expected);
}
