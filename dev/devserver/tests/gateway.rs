//! The `/v0` gateway over HTTP against the dev server binary and its Airtable sandbox: answers
//! identical to Airtable's (the sandbox's), the read cache and its invalidation, idempotent
//! writes, scopes, a tenant without a connection, usage counts, and faults injected upstream.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use testkit::{DEMO_BASE_ID as BASE, DEMO_TOKEN, GATEWAY_SCOPES, Reply, TestApp};

/// A call to `url` with extra headers.
async fn send(
    app: &TestApp,
    method: Method,
    url: String,
    bearer: &str,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> Reply {
    let mut request = app.http().request(method, url).bearer_auth(bearer);
    if let Some(body) = body {
        request = request.json(&body);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    app.send(request).await
}

/// A `/v0` write to `url` with an `Idempotency-Key`.
async fn write_once(
    app: &TestApp,
    url: &str,
    key: &str,
    body: Option<Value>,
    idempotency_key: &str,
) -> Reply {
    send(
        app,
        Method::POST,
        url.to_string(),
        key,
        body,
        &[("idempotency-key", idempotency_key)],
    )
    .await
}

#[tokio::test]
async fn answers_match_airtable_and_reads_are_cached_until_a_write() {
    // This test also calls the sandbox straight, past our limiter; the sandbox's own limit
    // would lock the base for 30 s and prove nothing here.
    let platform = TestApp::builder()
        .without_sandbox_rate_limits()
        .spawn()
        .await;
    let (access, key) = platform
        .connected_key("ada@example.com", &GATEWAY_SCOPES)
        .await;
    let list = format!("/v0/{BASE}/Contacts?pageSize=3&sort%5B0%5D%5Bfield%5D=Name");

    // The same bytes as Airtable (the sandbox) sends, a MISS, then a HIT with no upstream call.
    let straight = platform.straight(Method::GET, &list, None).await;
    let first = platform.call(Method::GET, &list, &key, None).await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.header("x-cache"), Some("MISS"));
    assert_eq!(strip_offset(&first.body), strip_offset(&straight.body));
    let before = platform.upstream_requests();
    let second = platform.call(Method::GET, &list, &key, None).await;
    assert_eq!(second.header("x-cache"), Some("HIT"));
    assert_eq!(second.text, first.text);
    assert_eq!(
        platform.upstream_requests(),
        before,
        "a hit never reaches Airtable"
    );

    // Cache-Control: no-cache reads fresh.
    let fresh = send(
        &platform,
        Method::GET,
        format!("{}{list}", platform.base_url()),
        &key,
        None,
        &[("cache-control", "no-cache")],
    )
    .await;
    assert_eq!(fresh.header("x-cache"), Some("MISS"));
    assert_eq!(platform.upstream_requests(), before + 1);

    // A write to the table makes the next read a MISS that shows the write; another table's
    // cached read survives once the base's schema is known.
    platform
        .call(
            Method::GET,
            &format!("/v0/meta/bases/{BASE}/tables"),
            &key,
            None,
        )
        .await;
    let deals = format!("/v0/{BASE}/Deals?pageSize=2");
    platform.call(Method::GET, &deals, &key, None).await;
    let created = platform
        .call(
            Method::POST,
            &format!("/v0/{BASE}/Contacts"),
            &key,
            Some(json!({"records": [{"fields": {"Name": "Aaron Aardvark"}}]})),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.text);
    let after = platform.call(Method::GET, &list, &key, None).await;
    assert_eq!(after.header("x-cache"), Some("MISS"));
    assert_eq!(after.body["records"][0]["fields"]["Name"], "Aaron Aardvark");
    let deals_again = platform.call(Method::GET, &deals, &key, None).await;
    assert_eq!(
        deals_again.header("x-cache"),
        Some("HIT"),
        "a write to Contacts leaves Deals cached"
    );

    // Airtable's refusals come through unchanged (status, type, message).
    let bad_formula = format!("/v0/{BASE}/Contacts?filterByFormula=%7BName%7D%3D%3D");
    let ours = platform.call(Method::GET, &bad_formula, &key, None).await;
    let theirs = platform.straight(Method::GET, &bad_formula, None).await;
    assert_eq!(ours.status, theirs.status);
    assert_eq!(ours.body, theirs.body);
    assert_eq!(ours.body["error"]["type"], "INVALID_FILTER_BY_FORMULA");
    let missing = platform
        .call(Method::GET, &format!("/v0/{BASE}/NoSuchTable"), &key, None)
        .await;
    let missing_straight = platform
        .straight(Method::GET, &format!("/v0/{BASE}/NoSuchTable"), None)
        .await;
    assert_eq!(
        (missing.status, &missing.body),
        (missing_straight.status, &missing_straight.body)
    );

    // Meta calls.
    let whoami = platform
        .call(Method::GET, "/v0/meta/whoami", &key, None)
        .await;
    assert_eq!(whoami.body["id"], "usrSandboxDemo001");
    let bases = platform
        .call(Method::GET, "/v0/meta/bases", &key, None)
        .await;
    assert_eq!(
        bases.body,
        platform
            .straight(Method::GET, "/v0/meta/bases", None)
            .await
            .body
    );

    // Usage: Airtable calls per base, and the cache hits (read with the owner's session: the
    // gateway key lacks usage:read).
    let usage = platform
        .call(Method::GET, "/v1/usage/summary", &access, None)
        .await;
    assert_eq!(usage.status, StatusCode::OK, "{}", usage.text);
    let calls = usage.body["airtable"]["calls_by_base"][BASE]
        .as_i64()
        .unwrap_or(0);
    assert!(
        calls >= 6,
        "Airtable calls for the base are counted: {}",
        usage.text
    );
    assert!(
        usage.body["airtable"]["calls"].as_i64().unwrap_or(0) > calls,
        "token-wide calls count in the total"
    );
    assert!(usage.body["airtable"]["cache_hits"].as_i64().unwrap_or(0) >= 2);
}

fn strip_offset(body: &Value) -> Value {
    let mut body = body.clone();
    if let Some(object) = body.as_object_mut() {
        object.remove("offset");
    }
    body
}

#[tokio::test]
async fn idempotency_keys_scopes_and_bad_input() {
    let platform = TestApp::spawn().await;
    let (access, key) = platform
        .connected_key("grace@example.com", &GATEWAY_SCOPES)
        .await;
    let path = format!("{}/v0/{BASE}/Contacts", platform.base_url());
    let before = platform.sandbox_record_count("Contacts").await;
    let body = json!({"records": [{"fields": {"Name": "Idem Potent"}}]});

    let first = write_once(&platform, &path, &key, Some(body.clone()), "order-1").await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let again = write_once(&platform, &path, &key, Some(body.clone()), "order-1").await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.text, first.text);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    let other = write_once(
        &platform,
        &path,
        &key,
        Some(json!({"records": [{"fields": {"Name": "Someone Else"}}]})),
        "order-1",
    )
    .await;
    assert_eq!(other.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(other.body["error"]["type"], "IDEMPOTENCY_KEY_REUSED");
    assert_eq!(
        platform.sandbox_record_count("Contacts").await,
        before + 1,
        "one record, written once"
    );
    let bad_key = write_once(&platform, &path, &key, Some(body.clone()), "").await;
    assert_eq!(bad_key.status, StatusCode::BAD_REQUEST);

    // A records:read key reads but cannot write or read the schema; nothing is written.
    let reader = platform.mint_api_key(&access, &["records:read"]).await;
    let read = platform
        .call(
            Method::GET,
            &format!("/v0/{BASE}/Contacts?pageSize=1"),
            &reader,
            None,
        )
        .await;
    assert_eq!(read.status, StatusCode::OK);
    for (method, target, body) in [
        (
            Method::POST,
            format!("/v0/{BASE}/Contacts"),
            Some(body.clone()),
        ),
        (
            Method::PATCH,
            format!("/v0/{BASE}/Contacts"),
            Some(json!({"records": []})),
        ),
        (
            Method::DELETE,
            format!("/v0/{BASE}/Contacts?records%5B%5D=recCt000000000001"),
            None,
        ),
        (Method::GET, format!("/v0/meta/bases/{BASE}/tables"), None),
        (
            Method::POST,
            format!("/v0/meta/bases/{BASE}/tables"),
            Some(json!({"name": "X", "fields": []})),
        ),
    ] {
        let reply = platform.call(method.clone(), &target, &reader, body).await;
        assert_eq!(
            reply.status,
            StatusCode::FORBIDDEN,
            "{method} {target}: {}",
            reply.text
        );
        assert_eq!(reply.body["error"]["type"], "INSUFFICIENT_SCOPE");
    }
    assert_eq!(platform.sandbox_record_count("Contacts").await, before + 1);

    // No credentials, or an Airtable token in place of ours: 401.
    let anonymous = platform
        .http()
        .get(format!("{}/v0/{BASE}/Contacts", platform.base_url()))
        .send()
        .await
        .expect("sent");
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let airtable_token = platform
        .call(
            Method::GET,
            &format!("/v0/{BASE}/Contacts"),
            DEMO_TOKEN,
            None,
        )
        .await;
    assert_eq!(airtable_token.status, StatusCode::UNAUTHORIZED);

    // Bad ids and bodies are refused before Airtable sees them.
    let upstream = platform.upstream_requests();
    let bad_base = platform
        .call(Method::GET, "/v0/notabase/Contacts", &key, None)
        .await;
    assert_eq!(bad_base.status, StatusCode::NOT_FOUND);
    let bad_record = platform
        .call(Method::GET, &format!("/v0/{BASE}/Contacts/xyz"), &key, None)
        .await;
    assert_eq!(bad_record.status, StatusCode::NOT_FOUND);
    let bad_json = platform
        .http()
        .post(&path)
        .bearer_auth(&key)
        .header("content-type", "application/json")
        .body("{\"records\": [")
        .send()
        .await
        .expect("sent");
    assert_eq!(bad_json.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let error: Value = bad_json.json().await.expect("error body");
    assert_eq!(error["error"]["type"], "INVALID_REQUEST_UNKNOWN");
    assert_eq!(platform.upstream_requests(), upstream);

    // A tenant without a connection is told to connect.
    let lonely = platform.owner("lonely@example.com").await;
    let lonely_key = platform.mint_api_key(&lonely, &["records:read"]).await;
    let reply = platform
        .call(
            Method::GET,
            &format!("/v0/{BASE}/Contacts"),
            &lonely_key,
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert_eq!(reply.body["error"]["type"], "AIRTABLE_NOT_CONNECTED");
    assert!(
        reply.body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("/v1/connections/airtable")
    );
}

#[tokio::test]
async fn injected_429s_and_503s_never_reach_the_client_and_nothing_is_written_twice() {
    // The test's own straight reads go past our limiter; the sandbox's real limit is not what
    // this test is about (the pyairtable fault test keeps it on).
    let platform = TestApp::builder()
        .without_sandbox_rate_limits()
        .spawn()
        .await;
    let (_, key) = platform
        .connected_key("faults@example.com", &GATEWAY_SCOPES)
        .await;
    let before = platform.sandbox_record_count("Contacts").await;
    // Every route: a 429 or a 503 on about a third of the requests.
    platform
        .sandbox_admin(
            Method::POST,
            "/_sandbox/faults",
            // A 429 and a 503 on the first create for certain, then a third of every request at
            // random (a random plan alone could, by chance, inject nothing).
            json!([
                {"route": "*", "rate": 0.3, "rateStatuses": [429, 503]},
                {"route": "create_records", "sequence": [429, 503]}
            ]),
        )
        .await;
    let mut created = Vec::new();
    for batch in 0..3 {
        let records: Vec<Value> = (0..10)
            .map(|i| json!({"fields": {"Name": format!("Fault {batch}-{i}")}}))
            .collect();
        let reply = platform
            .call(
                Method::POST,
                &format!("/v0/{BASE}/Contacts"),
                &key,
                Some(json!({"records": records})),
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "batch {batch}: {}",
            reply.text
        );
        created.extend(
            reply.body["records"]
                .as_array()
                .cloned()
                .unwrap_or_default(),
        );
        let list = platform
            .call(
                Method::GET,
                &format!("/v0/{BASE}/Contacts?pageSize=100"),
                &key,
                None,
            )
            .await;
        assert_eq!(
            list.status,
            StatusCode::OK,
            "list after batch {batch}: {}",
            list.text
        );
    }
    let counters = platform
        .sandbox_admin(Method::GET, "/_sandbox/counters", json!({}))
        .await;
    platform
        .sandbox_admin(Method::DELETE, "/_sandbox/faults", json!({}))
        .await;
    let injected = counters["injectedFaults"]
        .as_u64()
        .or_else(|| counters["injected_faults"].as_u64())
        .unwrap_or(0);
    assert!(injected >= 2, "faults were injected: {counters}");
    assert_eq!(created.len(), 30);
    assert_eq!(
        platform.sandbox_record_count("Contacts").await,
        before + 30,
        "every record exactly once"
    );
}

#[tokio::test]
async fn past_the_latency_budget_the_answer_is_429_with_retry_after() {
    let platform = TestApp::builder()
        .gateway_latency_budget(Duration::from_millis(1500))
        .spawn()
        .await;
    let (_, key) = platform
        .connected_key("budget@example.com", &GATEWAY_SCOPES)
        .await;
    platform
        .sandbox_admin(
            Method::POST,
            "/_sandbox/faults",
            json!({"route": "*", "rate": 1.0, "rateStatuses": [429]}),
        )
        .await;
    let reply = platform
        .call(Method::GET, &format!("/v0/{BASE}/Contacts"), &key, None)
        .await;
    platform
        .sandbox_admin(Method::DELETE, "/_sandbox/faults", json!({}))
        .await;
    assert_eq!(
        reply.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        reply.text
    );
    assert_eq!(reply.body["error"]["type"], "RATE_LIMIT_REACHED");
    let retry_after: u64 = reply
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((1..=30).contains(&retry_after), "Retry-After {retry_after}");
}

#[tokio::test]
async fn a_revoked_airtable_token_is_reported_as_the_connection_not_the_callers_key() {
    let platform = TestApp::spawn().await;
    let token = "patRevokedSoon01.token-that-the-sandbox-will-forget";
    platform.sandbox_admin(
            Method::POST,
            "/_sandbox/tokens",
            json!({"token": token, "scopes": ["data.records:read", "schema.bases:read"], "bases": ["*"]}),
        )
        .await;
    let access = platform.owner("revoked@example.com").await;
    let connected = platform
        .call(
            Method::PUT,
            "/v1/connections/airtable",
            &access,
            Some(json!({"token": token})),
        )
        .await;
    assert_eq!(connected.status, StatusCode::OK, "{}", connected.text);
    let key = platform.mint_api_key(&access, &["records:read"]).await;
    let list = format!("/v0/{BASE}/Contacts?pageSize=1");
    assert_eq!(
        platform.call(Method::GET, &list, &key, None).await.status,
        StatusCode::OK
    );
    // The sandbox's reset restores its seed, which does not hold the added token.
    platform
        .sandbox_admin(Method::POST, "/_sandbox/reset", json!({}))
        .await;
    let reply = send(
        &platform,
        Method::GET,
        format!("{}{list}", platform.base_url()),
        &key,
        None,
        &[("cache-control", "no-cache")],
    )
    .await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{}", reply.text);
    assert_eq!(reply.body["error"]["type"], "AIRTABLE_TOKEN_REJECTED");
    assert!(!reply.text.contains(token));
}

#[tokio::test]
async fn a_write_with_an_unknown_outcome_is_replayed_not_repeated_and_a_key_in_flight_is_held() {
    let platform = TestApp::spawn().await;
    let (_, key) = platform
        .connected_key("unknown@example.com", &GATEWAY_SCOPES)
        .await;
    let path = format!("{}/v0/{BASE}/Contacts", platform.base_url());
    let body = json!({"records": [{"fields": {"Name": "Maybe Written"}}]});
    let before = platform.sandbox_record_count("Contacts").await;

    // Airtable answers 500 to a create: it may or may not have written, so no retry, and the
    // answer is kept for the key.
    platform
        .sandbox_admin(
            Method::POST,
            "/_sandbox/faults",
            json!({"route": "create_records", "sequence": [500]}),
        )
        .await;
    let first = write_once(&platform, &path, &key, Some(body.clone()), "maybe-1").await;
    assert_eq!(
        first.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{}",
        first.text
    );
    assert_eq!(first.body["error"]["type"], "UPSTREAM_OUTCOME_UNKNOWN");
    let upstream = platform.upstream_requests();
    let again = write_once(&platform, &path, &key, Some(body.clone()), "maybe-1").await;
    assert_eq!(again.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(
        platform.upstream_requests(),
        upstream,
        "the replay never reached Airtable"
    );

    // Two requests with one key at once: the second is told the first is in flight.
    platform
        .sandbox_admin(
            Method::POST,
            "/_sandbox/faults",
            json!({"route": "create_records", "sequence": [{"delayMs": 1500}]}),
        )
        .await;
    let slow = write_once(&platform, &path, &key, Some(body.clone()), "race-1");
    let eager = async {
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
        write_once(&platform, &path, &key, Some(body.clone()), "race-1").await
    };
    let (slow, eager) = tokio::join!(slow, eager);
    assert_eq!(slow.status, StatusCode::OK, "{}", slow.text);
    assert_eq!(eager.status, StatusCode::CONFLICT, "{}", eager.text);
    assert_eq!(eager.body["error"]["type"], "IDEMPOTENCY_KEY_IN_USE");
    assert!(eager.header("retry-after").is_some());
    platform
        .sandbox_admin(Method::DELETE, "/_sandbox/faults", json!({}))
        .await;
    let done = write_once(&platform, &path, &key, Some(body.clone()), "race-1").await;
    assert_eq!(
        done.text, slow.text,
        "once the first finished, its answer is replayed"
    );
    assert_eq!(
        platform.sandbox_record_count("Contacts").await,
        before + 1,
        "only the slow create wrote"
    );
}
