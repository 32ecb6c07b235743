//! The emulator speaks the Runtime API as `lambda_runtime` expects it: the real `hello-lambda`
//! binary starts under it, polls, takes one event, answers it, and its init, answer and peak
//! memory are measured, as the cold-start benchmark does for every function.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use axum::body::Bytes;
use lambda_emulator::cold_start::status_of;
use lambda_emulator::{FunctionUnderTest, Outcome, cold_start};

/// Builds `hello-lambda` in this test's own profile (a no-op when it is fresh) and answers its
/// path. It lives in its own crate so that it links nothing but `lambda_runtime`, which is why
/// cargo cannot hand its path to this test directly.
fn hello_lambda() -> PathBuf {
    let test = std::env::current_exe().expect("the test's path");
    // target/<profile>/deps/<test>: the profile's directory is two levels up.
    let profile_dir = test
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>")
        .to_path_buf();
    let mut build = Command::new(env!("CARGO"));
    build.args(["build", "--quiet", "-p", "hello-lambda"]);
    if profile_dir.ends_with("release") {
        build.arg("--release");
    }
    let status = build.status().expect("cargo runs");
    assert!(status.success(), "cargo build -p hello-lambda: {status}");
    profile_dir.join("hello-lambda")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hello_world_binary_starts_polls_and_answers_one_event() {
    let binary = tokio::task::spawn_blocking(hello_lambda)
        .await
        .expect("the build finishes");
    let logs = tempfile::tempdir().expect("tempdir");
    let function = FunctionUnderTest {
        name: "hello-lambda".to_string(),
        binary,
        environment: vec![("AWS_REGION".to_string(), "us-east-1".to_string())],
        event: Bytes::from_static(br#"{"rawPath":"/v1/health"}"#),
        log: logs.path().join("hello-lambda.log"),
    };

    let measured = cold_start(&function, None, 2, Duration::from_secs(30))
        .await
        .unwrap_or_else(|err| {
            let log = std::fs::read_to_string(&function.log).unwrap_or_default();
            panic!("{err}\n{log}")
        });

    let Outcome::Response(body) = &measured.first.outcome else {
        panic!("expected a response, got {:?}", measured.first.outcome);
    };
    let answer: serde_json::Value = serde_json::from_slice(body).expect("JSON");
    assert_eq!(answer["body"], r#"{"hello":"world"}"#);
    assert_eq!(status_of(&measured.first.outcome), Some(200));
    assert!(measured.init > Duration::ZERO);
    assert_eq!(measured.warm.len(), 2, "both warm invocations answered");
    assert!(
        measured.peak_rss_kib > 0,
        "the peak memory of a live process is read"
    );
    assert_eq!(measured.init_store_requests, 0, "no proxy, nothing counted");
}
