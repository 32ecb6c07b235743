//! On the AWS adapters (against moto), a model key created in Secrets Manager after the server
//! started is used once the secrets cache's TTL (`SECRETS_CACHE_SECONDS`) has passed: the
//! cached absence of the key does not outlive it. Skipped without `MOTO_ENDPOINT` (fails
//! instead when `REQUIRE_MOTO=1`, as `./scripts/test` sets it).

use std::time::{Duration, Instant};

use fake_llm::{DEFAULT_GEMINI_KEY, FakeLlm, Provider, Turn};
use reqwest::StatusCode;
use serde_json::json;
use testkit::TestApp;

const CACHE_SECONDS: u64 = 3;

/// Creates a secret in moto's Secrets Manager as an operator's tool would, outside the
/// platform: a `CreateSecret` call in the JSON protocol (moto checks no signature, and takes
/// the region from the credential scope).
async fn create_secret_outside(http: &reqwest::Client, moto: &str, name: &str, value: &str) {
    let response = http
        .post(format!("{}/", moto.trim_end_matches('/')))
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", "secretsmanager.CreateSecret")
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/secretsmanager/aws4_request, \
             SignedHeaders=host, Signature=0",
        )
        .json(&json!({"Name": name, "SecretString": value}))
        .send()
        .await
        .expect("moto answers");
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    assert!(status.is_success(), "CreateSecret: {status} {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_key_created_after_start_is_used_once_the_secrets_cache_expires() {
    let Some(moto) = testkit::moto_endpoint("the BACKEND=aws secrets run") else {
        return;
    };
    let platform = TestApp::builder()
        .on_moto(&moto, "late-key")
        .secrets_cache_ttl(Duration::from_secs(CACHE_SECONDS))
        .fake_llm(FakeLlm::builder())
        .spawn()
        .await;
    platform
        .llm()
        .push_turn(Provider::Gemini, Turn::text("Hello from Gemini"));
    let access = platform.connected_owner("late@example.com").await;
    let http = platform.http();
    let post = |path: &str, bearer: &str, body: serde_json::Value| {
        http.post(platform.url(path))
            .bearer_auth(bearer)
            .json(&body)
            .send()
    };
    let turn = json!({"message": "Say hello", "model": "gemini-2.5-flash"});

    // No key yet: not configured, and that absence is now cached.
    let asked = Instant::now();
    let before = post("/v1/chat", &access, turn.clone()).await.expect("chat");
    assert_eq!(before.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: serde_json::Value = before.json().await.expect("body");
    assert_eq!(body["error"]["type"], "MODEL_NOT_CONFIGURED", "{body}");

    create_secret_outside(
        http,
        &moto,
        &format!("{}llm/gemini-api-key", platform.secrets_prefix()),
        DEFAULT_GEMINI_KEY,
    )
    .await;
    let cached = post("/v1/chat", &access, turn.clone()).await.expect("chat");
    if asked.elapsed() < Duration::from_secs(CACHE_SECONDS) {
        assert_eq!(
            cached.status(),
            StatusCode::SERVICE_UNAVAILABLE,
            "within the TTL the cached absence stands"
        );
    }

    // Past the TTL the key is read again and the turn goes through.
    tokio::time::sleep(Duration::from_secs(CACHE_SECONDS + 1).saturating_sub(asked.elapsed()))
        .await;
    let after = post("/v1/chat", &access, turn).await.expect("chat");
    let status = after.status();
    let body: serde_json::Value = after.json().await.unwrap_or_default();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["reply"], "Hello from Gemini", "{body}");
}
