//! Tokens, rate limits, fault injection and counters over HTTP.

mod common;

use airtable_sandbox::{
    DEMO_NO_ACCESS_TOKEN, DEMO_READ_ONLY_TOKEN, Fault, RateLimits, Sandbox, Token,
};
use common::*;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn missing_and_bad_tokens_are_401() {
    let sb = start().await;
    for token in ["", "patNotARealToken.x"] {
        let c = Client::with_token(&sb, token);
        let (status, body) = c.get(&format!("/v0/{BASE}/Companies")).await;
        assert_eq!(status, 401);
        assert_eq!(
            body,
            json!({"error":{"type":"AUTHENTICATION_REQUIRED","message":"Authentication required"}})
        );
    }
}

#[tokio::test]
async fn tokens_without_the_base_or_scope_are_403() {
    let sb = start().await;
    let expected = "INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND";
    let none = Client::with_token(&sb, DEMO_NO_ACCESS_TOKEN);
    let (status, body) = none.get(&format!("/v0/{BASE}/Companies")).await;
    assert_eq!((status, error_type(&body)), (403, expected));
    let (_, bases) = none.get("/v0/meta/bases").await;
    assert_eq!(bases, json!({"bases": []}));

    let read = Client::with_token(&sb, DEMO_READ_ONLY_TOKEN);
    let (status, _) = read.get(&format!("/v0/{BASE}/Companies")).await;
    assert_eq!(status, 200);
    let (status, body) = read
        .post(
            &format!("/v0/{BASE}/Companies"),
            json!({"fields":{"Name":"x"}}),
        )
        .await;
    assert_eq!((status, error_type(&body)), (403, expected));
    let (status, body) = read.get(&format!("/v0/bases/{BASE}/webhooks")).await;
    assert_eq!((status, error_type(&body)), (403, expected));

    let demo = Client::new(&sb);
    let (status, body) = demo.get("/v0/appNoSuchBase0000/Companies").await;
    assert_eq!((status, error_type(&body)), (403, expected));

    sb.add_token(Token {
        token: "patScoped".into(),
        name: None,
        scopes: vec!["schema.bases:read".into()],
        bases: vec![BASE.into()],
    });
    let scoped = Client::with_token(&sb, "patScoped");
    let (status, _) = scoped.get(&format!("/v0/meta/bases/{BASE}/tables")).await;
    assert_eq!(status, 200);
    let (status, _) = scoped.get(&format!("/v0/{BASE}/Companies")).await;
    assert_eq!(status, 403);
    let (_, me) = scoped.get("/v0/meta/whoami").await;
    assert_eq!(
        me,
        json!({"id":"usrSandboxDemo001","scopes":["schema.bases:read"]})
    );
}

#[tokio::test]
async fn rate_limit_then_lockout() {
    let limits = RateLimits {
        lockout: Duration::from_millis(600),
        ..RateLimits::default()
    };
    let sb = start_with(Sandbox::builder().rate_limits(limits)).await;
    let c = Client::new(&sb);
    let path = format!("/v0/{BASE}/Companies?maxRecords=1");
    for _ in 0..5 {
        assert_eq!(c.get(&path).await.0, 200);
    }
    let (status, body) = c.get(&path).await;
    assert_eq!(status, 429);
    assert_eq!(
        body,
        json!({"error":{"type":"RATE_LIMIT_REACHED","message":"Rate limit exceeded. Please try again later"}})
    );
    // Still locked out after the 1 s window would have let requests through.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(c.get(&path).await.0, 429);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(c.get(&path).await.0, 200);
    let counters = sb.counters();
    assert_eq!(counters.rate_limited, 2);
    assert_eq!(counters.routes["list_records"].statuses[&429], 2);
}

#[tokio::test]
async fn a_client_pacing_five_per_second_is_never_refused() {
    let sb = start_with(Sandbox::builder()).await;
    let c = Client::new(&sb);
    let path = format!("/v0/{BASE}/Companies?maxRecords=1");
    let mut ticker = tokio::time::interval(Duration::from_millis(200));
    for _ in 0..12 {
        ticker.tick().await;
        assert_eq!(c.get(&path).await.0, 200);
    }
    assert_eq!(sb.counters().rate_limited, 0);
}

#[tokio::test]
async fn token_limit_applies_across_bases() {
    let limits = RateLimits {
        per_token: 3,
        per_base: 100,
        ..RateLimits::default()
    };
    let sb = start_with(Sandbox::builder().rate_limits(limits)).await;
    let c = Client::new(&sb);
    for _ in 0..3 {
        assert_eq!(c.get("/v0/meta/whoami").await.0, 200);
    }
    assert_eq!(c.get(&format!("/v0/{BASE}/Companies")).await.0, 429);
}

#[tokio::test]
async fn scripted_faults_through_the_rust_api() {
    let sb = start().await;
    let c = Client::new(&sb);
    sb.faults().script(
        "list_records",
        [
            Fault::status(429),
            Fault::status(503),
            Fault::slow(Duration::from_millis(150)),
            Fault::ok(),
        ],
    );
    let path = format!("/v0/{BASE}/Companies?maxRecords=1");
    let (status, body) = c.get(&path).await;
    assert_eq!((status, error_type(&body)), (429, "RATE_LIMIT_REACHED"));
    let (status, body) = c.get(&path).await;
    assert_eq!((status, error_type(&body)), (503, "RETRIABLE_ERROR"));
    let started = std::time::Instant::now();
    assert_eq!(c.get(&path).await.0, 200);
    assert!(started.elapsed() >= Duration::from_millis(150));
    assert_eq!(c.get(&path).await.0, 200);
    // Other routes are untouched.
    assert_eq!(
        c.get(&format!("/v0/{BASE}/Companies/recCo000000000001"))
            .await
            .0,
        200
    );
    let counters = sb.counters();
    assert_eq!(counters.routes["list_records"].requests, 4);
    assert_eq!(counters.routes["list_records"].injected_faults, 2);
    assert_eq!(counters.injected_faults, 2);
    assert_eq!(
        counters.rate_limited, 0,
        "injected 429s are not rate-limiter refusals"
    );
    sb.faults().set_rate("*", 1.0, vec![502]);
    assert_eq!(c.get(&path).await.0, 502);
    sb.faults().clear();
    assert_eq!(c.get(&path).await.0, 200);
}

#[tokio::test]
async fn admin_endpoints_script_faults_limits_and_reset() {
    let sb = start().await;
    let c = Client::new(&sb);
    let admin = Client::with_token(&sb, "");
    let (status, _) = admin
        .post(
            "/_sandbox/faults",
            json!({"route":"create_records","sequence":[500, "ok"]}),
        )
        .await;
    assert_eq!(status, 200);
    let path = format!("/v0/{BASE}/Companies");
    assert_eq!(c.post(&path, json!({"fields":{"Name":"A"}})).await.0, 500);
    assert_eq!(c.post(&path, json!({"fields":{"Name":"B"}})).await.0, 200);
    let (_, counters) = admin.get("/_sandbox/counters").await;
    assert_eq!(counters["routes"]["create_records"]["requests"], 2);
    assert_eq!(counters["routes"]["create_records"]["statuses"]["500"], 1);
    assert_eq!(counters["rateLimited"], 0);

    let (_, limits) = admin
        .post(
            "/_sandbox/rate-limits",
            json!({"enabled": true, "perBase": 1, "lockoutMs": 50}),
        )
        .await;
    assert_eq!(limits["perBase"], 1);
    assert_eq!(c.get(&path).await.0, 200);
    assert_eq!(c.get(&path).await.0, 429);

    let (status, _) = admin.post("/_sandbox/reset", json!({})).await;
    assert_eq!(status, 200);
    let (_, counters) = admin.get("/_sandbox/counters").await;
    assert_eq!(counters["totalRequests"], 0);
    tokio::time::sleep(Duration::from_millis(60)).await;
    let (_, body) = c.get(&path).await;
    assert_eq!(names(&body).len(), 5, "reset restores the seed");
    let (status, _) = admin
        .post("/_sandbox/faults", json!({"sequence": "nonsense"}))
        .await;
    assert_eq!(status, 400);
}
