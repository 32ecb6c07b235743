//! Caps, limits and uniqueness rules under bursts of concurrent HTTP requests, against the dev
//! server binary on the embedded store and, when `MOTO_ENDPOINT` is set (as `./scripts/test` sets
//! it), on `BACKEND=aws` against moto:
//! * 20 `POST /v1/api-keys` at once after 95 keys leave exactly 100 keys (the rest 400);
//! * one email registered 10 times at once gives one 201 (the rest 409 `EMAIL_TAKEN`);
//! * 45 `POST /v1/auth/refresh` at once from one client with a limit of 30 a minute admit 30
//!   (the rest 429 `CLIENT_RATE_LIMITED`).
//!
//! The sign-in limit counts per client address, so each scenario talks from its own loopback
//! address (127.0.0.2, .3, …): the refresh burst's window holds only the burst.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use testkit::{PASSWORD, Reply, TestApp};

const SIGN_IN_LIMIT: usize = 30;

/// A client whose requests come from `127.0.0.<host>`: one client address for the sign-in limit.
fn client_from(host: u8) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, host)))
        .build()
        .expect("client")
}

/// The platform with the sign-in limit these scenarios check.
fn platform() -> testkit::TestAppBuilder {
    TestApp::builder().client_auth_limit(SIGN_IN_LIMIT as u32)
}

async fn send(
    http: &reqwest::Client,
    method: Method,
    url: String,
    bearer: Option<&str>,
    body: Option<Value>,
) -> Reply {
    let mut request = http.request(method, url);
    if let Some(bearer) = bearer {
        request = request.bearer_auth(bearer);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    Reply::read(
        request
            .send()
            .await
            .expect("request reaches the dev server"),
    )
    .await
}

/// Sends all the requests at once (each on its own task) and waits for every answer.
async fn burst(
    http: &reqwest::Client,
    requests: Vec<(Method, String, Option<String>, Option<Value>)>,
) -> Vec<Reply> {
    let tasks: Vec<_> = requests
        .into_iter()
        .map(|(method, url, bearer, body)| {
            let http = http.clone();
            tokio::spawn(async move { send(&http, method, url, bearer.as_deref(), body).await })
        })
        .collect();
    let mut replies = Vec::new();
    for task in tasks {
        replies.push(task.await.expect("task"));
    }
    replies
}

fn statuses(replies: &[Reply]) -> Vec<u16> {
    let mut statuses: Vec<u16> = replies.iter().map(|r| r.status.as_u16()).collect();
    statuses.sort_unstable();
    statuses
}

async fn register(http: &reqwest::Client, platform: &TestApp, email: &str) -> Reply {
    send(
        http,
        Method::POST,
        platform.url("/v1/auth/register"),
        None,
        Some(json!({"email": email, "password": PASSWORD})),
    )
    .await
}

/// 95 keys one by one, then 20 creates at once: exactly 5 are created and the tenant holds 100.
async fn the_key_cap_holds(platform: &TestApp, backend: &str) {
    let http = client_from(2);
    let owner = register(&http, platform, "keys@example.com").await;
    assert_eq!(owner.status, StatusCode::CREATED, "{}", owner.text);
    let access = owner.str("/access_token");
    let create = |n: usize| {
        (
            Method::POST,
            platform.url("/v1/api-keys"),
            Some(access.clone()),
            Some(json!({"name": format!("key {n}"), "scopes": ["records:read"]})),
        )
    };
    for n in 0..95 {
        let (method, url, bearer, body) = create(n);
        let reply = send(&http, method, url, bearer.as_deref(), body).await;
        assert_eq!(
            reply.status,
            StatusCode::CREATED,
            "{backend}: {}",
            reply.text
        );
    }
    let replies = burst(&http, (95..115).map(create).collect()).await;
    let created = replies
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .count();
    assert_eq!(created, 5, "{backend}: {:?}", statuses(&replies));
    for refused in replies.iter().filter(|r| r.status != StatusCode::CREATED) {
        assert_eq!(
            refused.status,
            StatusCode::BAD_REQUEST,
            "{backend}: {}",
            refused.text
        );
        assert!(
            refused.body["error"]["type"].is_string(),
            "{}",
            refused.text
        );
        assert!(
            refused.body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("at most 100 keys")),
            "{backend}: {}",
            refused.text
        );
    }
    let listed = send(
        &http,
        Method::GET,
        platform.url("/v1/api-keys"),
        Some(&access),
        None,
    )
    .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    let keys = listed.body["api_keys"].as_array().map_or(0, Vec::len);
    assert_eq!(keys, 100, "{backend}: keys stored");
}

/// One email registered 10 times at once: one account. Returns its refresh token.
async fn one_email_makes_one_account(platform: &TestApp, backend: &str) -> String {
    let http = client_from(3);
    let requests = (0..10)
        .map(|_| {
            (
                Method::POST,
                platform.url("/v1/auth/register"),
                None,
                Some(json!({"email": "once@example.com", "password": PASSWORD})),
            )
        })
        .collect();
    let replies = burst(&http, requests).await;
    let created: Vec<&Reply> = replies
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .collect();
    assert_eq!(created.len(), 1, "{backend}: {:?}", statuses(&replies));
    for taken in replies.iter().filter(|r| r.status != StatusCode::CREATED) {
        assert_eq!(
            taken.status,
            StatusCode::CONFLICT,
            "{backend}: {}",
            taken.text
        );
        assert_eq!(
            taken.error_type(),
            "EMAIL_TAKEN",
            "{backend}: {}",
            taken.text
        );
    }
    // The account that exists is the one that was answered 201.
    let login = send(
        &http,
        Method::POST,
        platform.url("/v1/auth/login"),
        None,
        Some(json!({"email": "once@example.com", "password": PASSWORD})),
    )
    .await;
    assert_eq!(login.status, StatusCode::OK, "{backend}: {}", login.text);
    assert_eq!(
        login.str("/user/id"),
        created[0].str("/user/id"),
        "{backend}"
    );
    created[0].str("/refresh_token")
}

/// 45 refreshes at once from one client: the limit admits 30 in a minute (each admitted one is
/// answered 200 or 401: one refresh token, used once, then reuse), the rest are 429.
async fn the_sign_in_limit_holds(platform: &TestApp, backend: &str, refresh_token: &str) {
    // Start in the first three quarters of a minute, so a burst of a few seconds stays in one
    // window of the limit. If it straddles one anyway, each window admits at most 30.
    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock");
    let into_minute = now.as_secs_f64() % 60.0;
    if into_minute > 45.0 {
        tokio::time::sleep(Duration::from_secs_f64(60.5 - into_minute)).await;
    }
    let minute = |t: SystemTime| t.duration_since(UNIX_EPOCH).expect("clock").as_secs() / 60;
    let started = SystemTime::now();
    let http = client_from(1);
    let requests = (0..45)
        .map(|_| {
            (
                Method::POST,
                platform.url("/v1/auth/refresh"),
                None,
                Some(json!({"refresh_token": refresh_token})),
            )
        })
        .collect();
    let replies = burst(&http, requests).await;
    let windows = minute(SystemTime::now()) - minute(started) + 1;
    let admitted: Vec<&Reply> = replies
        .iter()
        .filter(|r| r.status != StatusCode::TOO_MANY_REQUESTS)
        .collect();
    for reply in &admitted {
        assert!(
            [StatusCode::OK, StatusCode::UNAUTHORIZED].contains(&reply.status),
            "{backend}: {}",
            reply.text
        );
    }
    for limited in replies
        .iter()
        .filter(|r| r.status == StatusCode::TOO_MANY_REQUESTS)
    {
        assert_eq!(
            limited.error_type(),
            "CLIENT_RATE_LIMITED",
            "{backend}: {}",
            limited.text
        );
    }
    let admitted = admitted.len();
    if windows == 1 {
        assert_eq!(
            admitted,
            SIGN_IN_LIMIT,
            "{backend}: {:?}",
            statuses(&replies)
        );
    } else {
        assert!(
            (SIGN_IN_LIMIT..=SIGN_IN_LIMIT * windows as usize).contains(&admitted),
            "{backend}: a burst over {windows} minutes admitted {admitted}: {:?}",
            statuses(&replies)
        );
    }
}

async fn every_scenario(platform: &TestApp, backend: &str) {
    the_key_cap_holds(platform, backend).await;
    let refresh_token = one_email_makes_one_account(platform, backend).await;
    the_sign_in_limit_holds(platform, backend, &refresh_token).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn caps_limits_and_uniqueness_hold_under_bursts_on_the_embedded_store() {
    let platform = platform().spawn().await;
    every_scenario(&platform, "embedded").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn caps_limits_and_uniqueness_hold_under_bursts_on_the_aws_adapters() {
    let Some(moto) = testkit::moto_endpoint("the BACKEND=aws bursts") else {
        return;
    };
    let platform = platform().on_moto(&moto, "bursts").spawn().await;
    every_scenario(&platform, "aws").await;
}
