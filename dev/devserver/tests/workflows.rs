//! Automations end to end on the dev server as a user runs it: workflows saved over HTTP,
//! Airtable record changes in the sandbox reaching the platform as signed webhook pings, the
//! in-process events and runs workers, inbound signed hooks, and outbound `http` steps through
//! the address guard (a local receiver reached through an explicit allowance).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use testkit::TestApp;

const BASE: &str = "appSandboxDemoCRM";
const SCOPES: &[&str] = &[
    "workflows",
    "records:read",
    "records:write",
    "schema:read",
    "schema:write",
];

/// Polls until `done` holds for the answer of `GET path`, or fails after 30 s.
async fn wait_for(app: &TestApp, key: &str, path: &str, done: impl Fn(&Value) -> bool) -> Value {
    let started = Instant::now();
    loop {
        let reply = app.get(path, key).await;
        if reply.status == StatusCode::OK && done(&reply.body) {
            return reply.body;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "waited 30 s for {path}: {}",
            reply.text
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The workflow's runs once `count` of them have ended.
async fn ended_runs(app: &TestApp, key: &str, workflow: &str, count: usize) -> Vec<Value> {
    let body = wait_for(
        app,
        key,
        &format!("/v1/workflows/{workflow}/runs"),
        |body| {
            let runs = body["runs"].as_array().cloned().unwrap_or_default();
            runs.iter()
                .filter(|run| {
                    matches!(
                        run["status"].as_str(),
                        Some("succeeded" | "failed" | "cancelled")
                    )
                })
                .count()
                >= count
        },
    )
    .await;
    body["runs"].as_array().cloned().unwrap_or_default()
}

/// Requests the sandbox has served for one of its routes (`update_record`, `create_records`...).
async fn sandbox_requests(app: &TestApp, route: &str) -> u64 {
    let counters = app.straight(Method::GET, "/_sandbox/counters", None).await;
    counters.body["routes"][route]["requests"]
        .as_u64()
        .unwrap_or(0)
}

async fn create_workflow(app: &TestApp, key: &str, workflow: Value) -> Value {
    let reply = app.post("/v1/workflows", key, workflow).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    reply.body
}

#[tokio::test]
async fn a_record_created_in_the_sandbox_updates_another_record_exactly_once() {
    let app = TestApp::spawn().await;
    let (_, key) = app.connected_key("owner@example.com", SCOPES).await;
    let workflow = create_workflow(
        &app,
        &key,
        json!({
            "name": "Note new contacts on the renewal deal",
            "trigger": {"type": "record_created", "base": BASE, "table": "Contacts"},
            "steps": [{
                "id": "note",
                "type": "airtable.update",
                "base": BASE,
                "table": "Deals",
                "record": "recDl000000000001",
                "fields": {"Name": "Renewal (last contact: {{ trigger.fields.Name }})"}
            }]
        }),
    )
    .await;
    let id = workflow["id"].as_str().expect("id").to_string();
    assert_eq!(
        sandbox_requests(&app, "create_webhook").await,
        1,
        "saving the workflow registered one Airtable webhook"
    );
    let updates_before = sandbox_requests(&app, "update_record").await
        + sandbox_requests(&app, "update_records").await;

    let created = app
        .post(
            &format!("/v0/{BASE}/Contacts"),
            &key,
            json!({"fields": {"Name": "Grace Hopper"}}),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.text);

    let runs = ended_runs(&app, &key, &id, 1).await;
    assert_eq!(runs.len(), 1, "one run for one created record: {runs:?}");
    assert_eq!(runs[0]["status"], "succeeded", "{:?}", runs[0]);
    assert_eq!(runs[0]["trigger"]["kind"], "record_created");
    assert_eq!(runs[0]["trigger"]["data"]["fields"]["Name"], "Grace Hopper");

    let deal = app
        .get(&format!("/v0/{BASE}/Deals/recDl000000000001"), &key)
        .await;
    assert_eq!(
        deal.body["fields"]["Name"], "Renewal (last contact: Grace Hopper)",
        "{}",
        deal.text
    );
    // Give a duplicate delivery time to show itself, then count the writes Airtable received.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let updates = sandbox_requests(&app, "update_record").await
        + sandbox_requests(&app, "update_records").await
        - updates_before;
    assert_eq!(updates, 1, "the update reached Airtable exactly once");
    let runs = app
        .get(&format!("/v1/workflows/{id}/runs"), &key)
        .await
        .body["runs"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(runs.len(), 1, "still one run: {runs:?}");

    let run = app
        .get(
            &format!("/v1/runs/{}", runs[0]["id"].as_str().expect("run id")),
            &key,
        )
        .await;
    let steps = run.body["steps"].as_array().cloned().unwrap_or_default();
    assert_eq!(steps.len(), 1, "{}", run.text);
    assert_eq!(steps[0]["status"], "succeeded");
    assert_eq!(steps[0]["attempts"], 1);
    assert!(steps[0]["duration_ms"].is_u64(), "{}", run.text);
    assert_eq!(
        steps[0]["input"]["fields"]["Name"],
        "Renewal (last contact: Grace Hopper)"
    );

    // Deleting the workflow deletes the webhook: later records start nothing.
    let deleted = app
        .call(Method::DELETE, &format!("/v1/workflows/{id}"), &key, None)
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text);
    assert_eq!(sandbox_requests(&app, "delete_webhook").await, 1);
    let hooks = app
        .straight(Method::GET, &format!("/v0/bases/{BASE}/webhooks"), None)
        .await;
    assert_eq!(hooks.body["webhooks"], json!([]), "{}", hooks.text);
}

/// What the local webhook receiver got: each request's headers and body.
type Received = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;

/// A receiver on 127.0.0.1 that records every POST and answers 200.
async fn receiver() -> (SocketAddr, Received) {
    let received: Received = Arc::default();
    let kept = Arc::clone(&received);
    let app = axum::Router::new().route(
        "/deals",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let kept = Arc::clone(&kept);
            async move {
                kept.lock().expect("lock").push((headers, body));
                axum::Json(json!({"ok": true}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (address, received)
}

/// The README's worked example: when a Deal is marked Won, create an onboarding task and post
/// to a webhook.
#[tokio::test]
async fn a_won_deal_creates_an_onboarding_task_and_posts_a_signed_webhook() {
    let (receiver_address, received) = receiver().await;
    let app = TestApp::builder()
        .outbound_allow(receiver_address)
        .spawn()
        .await;
    let (_, key) = app.connected_key("owner@example.com", SCOPES).await;
    let table = app
        .post(
            &format!("/v0/meta/bases/{BASE}/tables"),
            &key,
            json!({"name": "Tasks", "fields": [
                {"name": "Name", "type": "singleLineText"},
                {"name": "Deal", "type": "singleLineText"}
            ]}),
        )
        .await;
    assert_eq!(table.status, StatusCode::OK, "{}", table.text);

    let workflow = create_workflow(
        &app,
        &key,
        json!({
            "name": "Onboard won deals",
            "trigger": {"type": "record_updated", "base": BASE, "table": "Deals", "fields": ["Stage"]},
            "steps": [
                {"id": "won", "type": "condition",
                 "when": {"left": "{{ trigger.fields.Stage }}", "op": "equals", "right": "Won"}},
                {"id": "task", "type": "airtable.create", "base": BASE, "table": "Tasks",
                 "fields": {"Name": "Onboard {{ trigger.fields.Name }}", "Deal": "{{ trigger.record_id }}"}},
                {"id": "notify", "type": "http", "url": format!("http://{receiver_address}/deals"),
                 "body": {"deal": "{{ trigger.record_id }}", "task": "{{ steps.task.output.id }}"},
                 "sign": true}
            ]
        }),
    )
    .await;
    let id = workflow["id"].as_str().expect("id").to_string();
    let secret = workflow["signing_secret"]
        .as_str()
        .expect("the signing secret, shown once")
        .to_string();
    let shown = app.get(&format!("/v1/workflows/{id}"), &key).await;
    assert!(shown.body["signing_secret"].is_null(), "{}", shown.text);

    let deal_path = format!("/v0/{BASE}/Deals/recDl000000000004");
    let patch = |fields: Value| {
        app.call(
            Method::PATCH,
            &deal_path,
            &key,
            Some(json!({"fields": fields})),
        )
    };
    // A change to a field the trigger does not watch starts nothing.
    assert_eq!(patch(json!({"Amount": 5000})).await.status, StatusCode::OK);
    // Lost: a run whose condition ends it, with no task and no post.
    assert_eq!(patch(json!({"Stage": "Lost"})).await.status, StatusCode::OK);
    let runs = ended_runs(&app, &key, &id, 1).await;
    assert_eq!(runs[0]["status"], "succeeded");
    // Won: the task and the post.
    assert_eq!(patch(json!({"Stage": "Won"})).await.status, StatusCode::OK);
    let runs = ended_runs(&app, &key, &id, 2).await;
    assert_eq!(
        runs.len(),
        2,
        "one run per Stage change, none for Amount: {runs:?}"
    );
    assert!(
        runs.iter().all(|run| run["status"] == "succeeded"),
        "{runs:?}"
    );

    let tasks = app.get(&format!("/v0/{BASE}/Tasks"), &key).await;
    let records = tasks.body["records"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(records.len(), 1, "{}", tasks.text);
    assert_eq!(
        records[0]["fields"]["Name"],
        "Onboard Cedar EHR integration"
    );
    assert_eq!(records[0]["fields"]["Deal"], "recDl000000000004");

    let received = received.lock().expect("lock").clone();
    assert_eq!(received.len(), 1, "one post, for the Won change only");
    let (headers, body) = &received[0];
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    basics::signature::verify(
        &secret,
        header("x-pyairtable-signature"),
        header("x-pyairtable-timestamp"),
        body,
        chrono::Utc::now().timestamp(),
    )
    .expect("the post is signed with the workflow's secret");
    let posted: Value = serde_json::from_slice(body).expect("JSON");
    assert_eq!(posted["deal"], "recDl000000000004");
    assert_eq!(posted["task"], records[0]["id"]);
    assert!(
        header("idempotency-key").is_some_and(|k| k.starts_with("run:")),
        "receivers can drop a resend"
    );
}

#[tokio::test]
async fn signed_inbound_hooks_start_runs_and_bad_signatures_start_nothing() {
    let app = TestApp::spawn().await;
    let (_, key) = app.connected_key("owner@example.com", SCOPES).await;
    let workflow = create_workflow(
        &app,
        &key,
        json!({
            "name": "Orders in",
            "trigger": {"type": "webhook"},
            "steps": [{"id": "echo", "type": "set", "values": {"order": "{{ trigger.body.order }}", "total": "{{ trigger.body.total }}"}}]
        }),
    )
    .await;
    let id = workflow["id"].as_str().expect("id").to_string();
    let secret = workflow["signing_secret"]
        .as_str()
        .expect("secret")
        .to_string();
    let hook_url = workflow["hook_url"].as_str().expect("hook_url").to_string();
    assert_eq!(hook_url, app.url(&format!("/v1/hooks/workflows/{id}")));

    let body = br#"{"order":"A-1001","total":129.5}"#;
    let send = |signature: String, timestamp: i64, body: &'static [u8]| {
        app.send(
            app.http()
                .post(&hook_url)
                .header("content-type", "application/json")
                .header("X-PyAirtable-Signature", signature)
                .header("X-PyAirtable-Timestamp", timestamp.to_string())
                .body(body),
        )
    };
    let now = chrono::Utc::now().timestamp();
    for (what, signature, timestamp, sent) in [
        (
            "another secret",
            basics::signature::sign("whsec_wrong", now, body),
            now,
            &body[..],
        ),
        (
            "a stale timestamp",
            basics::signature::sign(&secret, now - 600, body),
            now - 600,
            &body[..],
        ),
        (
            "a changed body",
            basics::signature::sign(&secret, now, body),
            now,
            &br#"{"order":"A-1002","total":1}"#[..],
        ),
    ] {
        let reply = send(signature, timestamp, sent).await;
        assert_eq!(
            reply.status,
            StatusCode::UNAUTHORIZED,
            "{what}: {}",
            reply.text
        );
        assert_eq!(reply.body["error"]["type"], "INVALID_SIGNATURE", "{what}");
    }
    let unsigned = app.send(app.http().post(&hook_url).body(&body[..])).await;
    assert_eq!(
        unsigned.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        unsigned.text
    );

    let good = basics::signature::sign(&secret, now, body);
    let accepted = send(good.clone(), now, body).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.text);
    let replayed = send(good, now, body).await;
    assert_eq!(replayed.status, StatusCode::ACCEPTED, "{}", replayed.text);
    assert_eq!(
        replayed.body["id"], accepted.body["id"],
        "a replay is the same run"
    );

    let runs = ended_runs(&app, &key, &id, 1).await;
    assert_eq!(
        runs.len(),
        1,
        "bad signatures and the replay started nothing: {runs:?}"
    );
    let run = app
        .get(
            &format!("/v1/runs/{}", runs[0]["id"].as_str().expect("id")),
            &key,
        )
        .await;
    assert_eq!(
        run.body["steps"][0]["output"],
        json!({"order": "A-1001", "total": 129.5})
    );
}

#[tokio::test]
async fn invalid_workflows_are_refused_with_paths_and_nothing_is_saved() {
    let app = TestApp::spawn().await;
    let (_, key) = app.connected_key("owner@example.com", SCOPES).await;
    let cases = [
        (
            json!({"name": "x", "trigger": {"type": "manual"}, "steps": [{"id": "a", "type": "ftp", "url": "x"}]}),
            "/steps/0",
        ),
        (
            json!({"name": "x", "trigger": {"type": "manual"}, "steps": [{"id": "a", "type": "set", "values": {"v": "{{ broken"}}]}),
            "/steps/0/values/v",
        ),
        (
            json!({"name": "x", "trigger": {"type": "schedule", "cron": "0 0 30 2 *", "timezone": "Europe/Paris"}, "steps": [{"id": "a", "type": "set", "values": {}}]}),
            "/trigger/cron",
        ),
        (
            json!({"name": "x", "trigger": {"type": "manual"}, "steps": [{"id": "a", "type": "airtable.create", "base": BASE, "table": "Deals", "fields": {"Colour": "red"}}]}),
            "/steps/0/fields/Colour",
        ),
        (
            json!({"name": "x", "trigger": {"type": "record_updated", "base": BASE, "table": "Deals", "fields": ["Nope"]}, "steps": [{"id": "a", "type": "set", "values": {}}]}),
            "/trigger/fields/0",
        ),
    ];
    for (workflow, path) in cases {
        let reply = app.post("/v1/workflows", &key, workflow.clone()).await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{workflow}: {}",
            reply.text
        );
        assert_eq!(reply.body["error"]["type"], "INVALID_WORKFLOW");
        let paths: Vec<&str> = reply.body["error"]["problems"]
            .as_array()
            .map(|problems| problems.iter().filter_map(|p| p["path"].as_str()).collect())
            .unwrap_or_default();
        assert!(paths.contains(&path), "{workflow}: {path} not in {paths:?}");
    }
    let listed = app.get("/v1/workflows", &key).await;
    assert_eq!(listed.body["workflows"], json!([]), "nothing half-saved");
    let hooks = app
        .straight(Method::GET, &format!("/v0/bases/{BASE}/webhooks"), None)
        .await;
    assert_eq!(hooks.body["webhooks"], json!([]), "no webhook left behind");

    let report = app
        .post(
            "/v1/workflows/validate",
            &key,
            json!({"cron": "30 2 * * *", "timezone": "Europe/Paris"}),
        )
        .await;
    assert_eq!(report.status, StatusCode::OK, "{}", report.text);
    assert_eq!(report.body["valid"], true);
    assert_eq!(
        report.body["next_fire_times"].as_array().map(Vec::len),
        Some(5)
    );
}

#[tokio::test]
async fn http_steps_aimed_at_this_machine_are_refused_without_the_allowance() {
    let (receiver_address, received) = receiver().await;
    // No allowance: the guard refuses loopback before connecting.
    let app = TestApp::spawn().await;
    let (_, key) = app.connected_key("owner@example.com", SCOPES).await;
    let workflow = create_workflow(
        &app,
        &key,
        json!({
            "name": "Probe",
            "trigger": {"type": "manual"},
            "steps": [{"id": "probe", "type": "http", "method": "GET", "url": format!("http://{receiver_address}/deals")}]
        }),
    )
    .await;
    let id = workflow["id"].as_str().expect("id").to_string();
    let started = app
        .post(
            &format!("/v1/workflows/{id}/runs"),
            &key,
            json!({"input": {}}),
        )
        .await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{}", started.text);
    let runs = ended_runs(&app, &key, &id, 1).await;
    assert_eq!(runs[0]["status"], "failed", "{:?}", runs[0]);
    let run = app
        .get(
            &format!("/v1/runs/{}", runs[0]["id"].as_str().expect("id")),
            &key,
        )
        .await;
    let error = run.body["steps"][0]["error"].as_str().unwrap_or_default();
    assert!(error.contains("loopback"), "{}", run.text);
    assert!(
        received.lock().expect("lock").is_empty(),
        "nothing reached the receiver"
    );
}

#[tokio::test]
async fn the_in_process_scheduler_starts_a_schedule_once_per_fire_time() {
    use chrono::TimeZone;
    let clock = Arc::new(basics::ManualClock::at(
        chrono::Utc
            .with_ymd_and_hms(2026, 3, 29, 0, 57, 30)
            .single()
            .expect("time"),
    ));
    let app = TestApp::builder().clock(clock.clone()).spawn().await;
    let (_, key) = app.connected_key("owner@example.com", SCOPES).await;
    let workflow = create_workflow(
        &app,
        &key,
        json!({
            "name": "Every minute in Paris",
            "trigger": {"type": "schedule", "cron": "* * * * *", "timezone": "Europe/Paris"},
            "steps": [{"id": "at", "type": "set", "values": {"fired": "{{ trigger.fire_time }}"}}]
        }),
    )
    .await;
    let id = workflow["id"].as_str().expect("id").to_string();
    // 00:58 UTC, then 00:59 and 01:00 UTC: Paris jumps from 01:59 to 03:00 in between.
    for minute in 1..=3 {
        clock.advance(chrono::Duration::minutes(1));
        ended_runs(&app, &key, &id, minute).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let runs = ended_runs(&app, &key, &id, 3).await;
    let mut fired: Vec<String> = runs
        .iter()
        .filter_map(|run| {
            run["trigger"]["data"]["fire_time"]
                .as_str()
                .map(str::to_string)
        })
        .collect();
    fired.sort();
    assert_eq!(
        fired,
        [
            "2026-03-29T00:58:00Z",
            "2026-03-29T00:59:00Z",
            "2026-03-29T01:00:00Z"
        ],
        "one run per fire time: {runs:?}"
    );
    let local = |fire: &str| {
        runs.iter()
            .find(|run| run["trigger"]["data"]["fire_time"] == fire)
            .map(|run| run["trigger"]["data"]["local_time"].clone())
    };
    // The clocks went forward between the last two: 01:59 in winter time, then 03:00 in summer.
    assert_eq!(
        local("2026-03-29T00:59:00Z"),
        Some(json!("2026-03-29T01:59:00+01:00"))
    );
    assert_eq!(
        local("2026-03-29T01:00:00Z"),
        Some(json!("2026-03-29T03:00:00+02:00"))
    );
}

#[tokio::test]
async fn an_airtable_ping_with_a_wrong_mac_is_refused_and_queues_nothing() {
    let app = TestApp::spawn().await;
    let (_, key) = app.connected_key("owner@example.com", SCOPES).await;
    create_workflow(
        &app,
        &key,
        json!({
            "name": "Watch deals",
            "trigger": {"type": "record_deleted", "base": BASE, "table": "Deals"},
            "steps": [{"id": "noop", "type": "set", "values": {}}]
        }),
    )
    .await;
    let hooks = app
        .straight(Method::GET, &format!("/v0/bases/{BASE}/webhooks"), None)
        .await;
    let url = hooks.body["webhooks"][0]["notificationUrl"]
        .as_str()
        .expect("the webhook's notification URL")
        .to_string();
    assert!(url.starts_with(&app.url("/v1/hooks/airtable/")), "{url}");
    let body = format!(
        r#"{{"base":{{"id":"{BASE}"}},"webhook":{{"id":"ach1"}},"timestamp":"2026-12-02T09:00:00.000Z"}}"#
    );
    for mac in [
        None,
        Some("hmac-sha256=00"),
        Some("hmac-sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
    ] {
        let mut request = app.http().post(&url).body(body.clone());
        if let Some(mac) = mac {
            request = request.header("X-Airtable-Content-MAC", mac);
        }
        let reply = app.send(request).await;
        assert_eq!(
            reply.status,
            StatusCode::UNAUTHORIZED,
            "{mac:?}: {}",
            reply.text
        );
    }
    let queued = app
        .platform()
        .queue
        .approximate_depth(ports::QueueName::Events)
        .await
        .expect("depth");
    assert_eq!(queued, 0, "a refused ping queues nothing");
}
