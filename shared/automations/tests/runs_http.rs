//! `http` steps over the outbound client's trait: the body sent as JSON with the step's
//! idempotency key, an optional signature that verifies with the workflow's secret, and the
//! answer's status deciding between success, retry and failure.

mod runs_support;

use automations::{RunStatus, StepStatus};
use basics::Clock;
use basics::signature::verify;
use outbound_http::OutboundError;
use runs_support::{Delivery, SECRET, world};
use serde_json::json;

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_request_carries_its_idempotency_key_and_a_valid_signature() {
    let w = world().await;
    w.http.answer(200, r#"{"received": true}"#);
    let run_id = w
        .start(
            json!([{"id": "notify", "type": "http", "url": "https://hooks.example.com/x",
                    "headers": {"X-Custom": "1", "Idempotency-Key": "forged"},
                    "body": {"deal": "{{ input.deal }}"}, "sign": true}]),
            json!({"deal": "recX"}),
        )
        .await;
    assert_eq!(w.drain().await, vec![Delivery::Handled]);
    let view = w.view(&run_id).await;
    assert_eq!(view.run.status, RunStatus::Succeeded);
    assert_eq!(
        view.steps[0].output,
        json!({"status": 200, "headers": {"content-type": "application/json"}, "body": {"received": true}})
    );

    let sent = w.http.sent();
    assert_eq!(sent.len(), 1);
    let request = &sent[0];
    assert_eq!(request.method, "POST");
    let body = request.body.clone().unwrap_or_default();
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&body).ok(),
        Some(json!({"deal": "recX"}))
    );
    assert_eq!(
        header(&request.headers, "Idempotency-Key"),
        Some(format!("run:{run_id}:step:0").as_str())
    );
    assert_eq!(header(&request.headers, "X-Custom"), Some("1"));
    assert_eq!(
        verify(
            SECRET,
            header(&request.headers, "X-PyAirtable-Signature"),
            header(&request.headers, "X-PyAirtable-Timestamp"),
            &body,
            w.clock.now().timestamp(),
        ),
        Ok(())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_retried_and_refusals_fail_the_run() {
    let w = world().await;
    let steps =
        json!([{"id": "notify", "type": "http", "url": "https://hooks.example.com/x", "body": {}}]);
    w.http.answer(503, "busy");
    w.http.fail(OutboundError::Refused("loopback".into()));
    let run_id = w.start(steps, json!({})).await;
    assert!(matches!(w.deliver().await, Delivery::Failed(_)));
    w.advance(10);
    assert_eq!(w.deliver().await, Delivery::Handled);
    let view = w.view(&run_id).await;
    assert_eq!(view.run.status, RunStatus::Failed);
    assert_eq!(view.steps[0].status, StepStatus::Failed);
    assert_eq!(view.steps[0].attempts, 2);
    assert!(view.run.error.unwrap_or_default().contains("loopback"));
    // Both attempts carried the same key, so a receiver can drop the resend.
    let keys: Vec<_> = w
        .http
        .sent()
        .iter()
        .map(|r| header(&r.headers, "Idempotency-Key").map(str::to_string))
        .collect();
    assert_eq!(keys[0], keys[1]);
}
