//! The runs queue's consumer on the AWS adapters (DynamoDB and SQS on moto), exactly as the
//! `worker-runs` Lambda runs it: messages are received from SQS and handed over as the SQS event
//! Lambda delivers, through `triggers::sqs::handle_sqs_event` and the automations' run worker.
//!
//! - A batch names exactly its failed runs in `batchItemFailures`; the handled ones, deleted as
//!   the event source mapping deletes them, are gone, and the failed ones come back after the
//!   worker's backoff.
//! - A run that fails on every receive reaches the runs DLQ by SQS's own redrive policy, is
//!   listed by the API, and once redriven completes with its write made once.
//!
//! The dev server's in-process workers are off (`Workers::default()`), so the test is the only
//! consumer of the queues. Skipped without `MOTO_ENDPOINT` (fails instead when
//! `REQUIRE_MOTO=1`, as `./scripts/test` sets it).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use ports::queue::MAX_RECEIVES;
use ports::{Message, QueueName};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use testkit::{DEMO_BASE_ID, TestApp};

/// The account id in moto's ARNs.
const MOTO_ACCOUNT: &str = "123456789012";

/// How long a received message stays hidden before the worker decides: a short visibility
/// timeout, so that a handled message that was NOT deleted would be back within the test.
const BATCH_VISIBILITY: Duration = Duration::from_secs(8);

/// The longest the worker's first backoff hides a failed message (5 s + 20 % jitter), plus
/// slack for a busy machine.
const FIRST_BACKOFF_AT_MOST: Duration = Duration::from_secs(10);

/// Each Airtable call's whole budget (retries included): a 503 that keeps coming fails the
/// step in about this long instead of the default budget.
const AIRTABLE_BUDGET: Duration = Duration::from_millis(1500);

/// Deals the failing workflow marks as won.
const DEALS: [&str; 2] = ["recDl000000000001", "recDl000000000002"];

/// A platform on moto with nothing consuming its queues, and an API key of a tenant whose
/// Airtable is the sandbox.
struct OnMoto {
    app: TestApp,
    key: String,
}

impl OnMoto {
    async fn start(label: &str) -> Option<Self> {
        let moto = testkit::moto_endpoint("the runs queue against moto")?;
        let app = TestApp::builder()
            .on_moto(&moto, label)
            .without_sandbox_rate_limits()
            .gateway_latency_budget(AIRTABLE_BUDGET)
            .workers(|_| devserver::Workers::default())
            .spawn()
            .await;
        let (_access, key) = app
            .connected_key(&format!("{label}@example.com"), &["workflows"])
            .await;
        Some(Self { app, key })
    }

    /// Saves a manually triggered workflow of `steps`; its id.
    async fn workflow(&self, name: &str, steps: Value) -> String {
        self.app
            .post(
                "/v1/workflows",
                &self.key,
                json!({"name": name, "trigger": {"type": "manual"}, "steps": steps}),
            )
            .await
            .expect(StatusCode::CREATED)
            .str("/id")
    }

    /// Starts a run of `workflow` with `input` over the API; the run's id.
    async fn start_run(&self, workflow: &str, input: Value) -> String {
        self.app
            .post(
                &format!("/v1/workflows/{workflow}/runs"),
                &self.key,
                json!({"input": input}),
            )
            .await
            .expect(StatusCode::ACCEPTED)
            .str("/id")
    }

    /// `GET /v1/runs/{id}`.
    async fn run(&self, run: &str) -> Value {
        self.app
            .get(&format!("/v1/runs/{run}"), &self.key)
            .await
            .expect(StatusCode::OK)
            .body
    }

    async fn dead_letters(&self) -> Vec<Value> {
        let reply = self
            .app
            .get("/v1/runs/dead-letters", &self.key)
            .await
            .expect(StatusCode::OK);
        reply.body["dead_letters"]
            .as_array()
            .cloned()
            .unwrap_or_else(|| panic!("no dead_letters in {}", reply.text))
    }

    /// Receives from the runs queue until `count` messages came or `within` passed.
    async fn receive(&self, count: usize, within: Duration) -> Vec<Message> {
        let deadline = Instant::now() + within;
        let mut received = Vec::new();
        while received.len() < count && Instant::now() < deadline {
            let batch = self
                .app
                .platform()
                .queue
                .receive(
                    QueueName::Runs,
                    10,
                    BATCH_VISIBILITY,
                    Duration::from_secs(1),
                )
                .await
                .expect("receive from moto's SQS");
            received.extend(batch);
        }
        received
    }

    /// Hands `messages` to the run worker as the SQS event Lambda delivers and answers the
    /// message ids the function reported in `batchItemFailures`.
    async fn deliver(&self, messages: &[Message]) -> BTreeSet<String> {
        let event = serde_json::from_value(self.lambda_event(messages)).expect("an SQS event");
        let worker = self.app.platform().automations().run_worker();
        let response = triggers::sqs::handle_sqs_event(worker.as_ref(), event)
            .await
            .expect("the batch is handled");
        let response = serde_json::to_value(response).expect("the response serialises");
        response["batchItemFailures"]
            .as_array()
            .unwrap_or_else(|| panic!("no batchItemFailures in {response}"))
            .iter()
            .map(|failure| {
                failure["itemIdentifier"]
                    .as_str()
                    .unwrap_or_else(|| panic!("a failure without an id: {response}"))
                    .to_string()
            })
            .collect()
    }

    /// What Lambda's SQS event source sends for `messages` of the runs queue.
    fn lambda_event(&self, messages: &[Message]) -> Value {
        let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into());
        let arn = format!(
            "arn:aws:sqs:{region}:{MOTO_ACCOUNT}:{}{}",
            self.app.resource_prefix(),
            QueueName::Runs.logical_name()
        );
        let records: Vec<Value> = messages
            .iter()
            .map(|message| {
                json!({
                    "messageId": message.id,
                    "receiptHandle": message.receipt,
                    "body": message.body,
                    "attributes": {
                        "ApproximateReceiveCount": message.receive_count.to_string(),
                        "SenderId": "AROAEXAMPLEROLEID:api-workflows",
                    },
                    "messageAttributes": {},
                    "eventSource": "aws:sqs",
                    "eventSourceARN": arn,
                    "awsRegion": region,
                })
            })
            .collect();
        json!({ "Records": records })
    }

    /// Deletes the handled messages, as the event source mapping does after the function
    /// returns.
    async fn delete_handled(&self, messages: &[Message], failed: &BTreeSet<String>) {
        for message in messages.iter().filter(|m| !failed.contains(&m.id)) {
            self.app
                .platform()
                .queue
                .delete(QueueName::Runs, &message.receipt)
                .await
                .expect("delete a handled message");
        }
    }

    async fn depth(&self, queue: QueueName) -> u64 {
        self.app
            .platform()
            .queue
            .approximate_depth(queue)
            .await
            .expect("queue depth")
    }

    /// Responses with `status` the sandbox gave on `route`.
    fn answered(&self, route: &str, status: u16) -> u64 {
        self.app
            .sandbox()
            .counters()
            .routes
            .get(route)
            .and_then(|counters| counters.statuses.get(&status).copied())
            .unwrap_or(0)
    }

    /// Every request to `route` fails with 503 until [`OnMoto::heal`].
    fn fail_route(&self, route: &str) {
        self.app
            .sandbox()
            .control()
            .faults()
            .set_rate(route, 1.0, vec![503]);
    }

    fn heal(&self) {
        self.app.sandbox().control().faults().clear();
    }
}

/// The run a runs-queue message is for.
fn run_of(message: &Message) -> String {
    let body: Value = serde_json::from_str(&message.body).expect("a run message");
    body["run_id"].as_str().expect("a run id").to_string()
}

/// Whether a recorded error is one of the transient failures the injected 503s cause: the
/// 503 itself once the client's retries are spent, or the platform's own per-base limiter
/// refusing a further retry within the call's budget (the 503s used up the base's slots).
fn transient(error: &Value) -> bool {
    error
        .as_str()
        .is_some_and(|e| e.contains("503") || e.contains("rate limited by the Airtable gateway"))
}

fn ids(messages: &[Message]) -> BTreeSet<String> {
    messages.iter().map(|m| m.id.clone()).collect()
}

fn register_company() -> Value {
    json!([{
        "id": "company", "type": "airtable.create", "base": DEMO_BASE_ID, "table": "Companies",
        "fields": {"Name": "{{ input.name }}"}
    }])
}

fn mark_won() -> Value {
    json!([{
        "id": "won", "type": "airtable.update", "base": DEMO_BASE_ID, "table": "Deals",
        "record": "{{ input.deal }}", "fields": {"Stage": "Won"}
    }])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_reports_exactly_its_failed_runs_and_only_those_come_back() {
    let Some(w) = OnMoto::start("runs-batch").await else {
        return;
    };
    let register = w.workflow("register", register_company()).await;
    let win = w.workflow("win", mark_won()).await;
    let companies_before = w.app.sandbox_record_count("Companies").await;
    // Updates fail with 503 (transient) until healed; creates go through.
    w.fail_route("update_record");
    let mut succeeding = BTreeSet::new();
    for n in 1..=3 {
        succeeding.insert(
            w.start_run(&register, json!({"name": format!("Batch Co {n}")}))
                .await,
        );
    }
    let mut failing = BTreeSet::new();
    for deal in DEALS {
        failing.insert(w.start_run(&win, json!({"deal": deal})).await);
    }

    let batch = w.receive(5, Duration::from_secs(20)).await;
    let received_at = Instant::now();
    assert_eq!(batch.len(), 5, "every run's message is on the queue");
    assert!(batch.iter().all(|m| m.receive_count == 1));
    let run_by_message: BTreeMap<String, String> =
        batch.iter().map(|m| (m.id.clone(), run_of(m))).collect();
    let failing_messages: BTreeSet<String> = run_by_message
        .iter()
        .filter(|(_, run)| failing.contains(*run))
        .map(|(id, _)| id.clone())
        .collect();

    let failed = w.deliver(&batch).await;
    assert_eq!(
        failed, failing_messages,
        "batchItemFailures names exactly the runs whose step failed"
    );
    w.delete_handled(&batch, &failed).await;

    for run in &succeeding {
        let view = w.run(run).await;
        assert_eq!(view["status"], "succeeded", "{view}");
        assert_eq!(view["steps"][0]["status"], "succeeded", "{view}");
    }
    for run in &failing {
        let view = w.run(run).await;
        assert_eq!(view["status"], "running", "{view}");
        let step = &view["steps"][0];
        assert_eq!(step["attempts"], 1, "{view}");
        assert!(transient(&step["error"]), "{view}");
    }
    assert!(
        w.receive(1, Duration::from_secs(1)).await.is_empty(),
        "the failed messages are hidden for their backoff"
    );

    // Past both the worker's backoff and the batch's visibility timeout, only the failed
    // messages come back: a handled message left undeleted would be visible again by now.
    w.heal();
    let mut back = Vec::new();
    while back.len() < failing.len() || received_at.elapsed() < BATCH_VISIBILITY {
        assert!(
            received_at.elapsed() < BATCH_VISIBILITY + FIRST_BACKOFF_AT_MOST,
            "the failed messages did not come back; got {:?}",
            ids(&back)
        );
        back.extend(w.receive(1, Duration::from_secs(1)).await);
    }
    back.extend(w.receive(1, Duration::from_secs(1)).await);
    assert_eq!(
        ids(&back),
        failing_messages,
        "exactly the failed messages came back"
    );
    assert!(back.iter().all(|m| m.receive_count == 2), "{back:?}");

    // Redelivered with Airtable healthy, they succeed; the queue is empty.
    let failed = w.deliver(&back).await;
    assert!(failed.is_empty(), "{failed:?}");
    w.delete_handled(&back, &failed).await;
    for run in &failing {
        let view = w.run(run).await;
        assert_eq!(view["status"], "succeeded", "{view}");
        assert_eq!(view["steps"][0]["attempts"], 2, "{view}");
        assert_eq!(
            view["steps"][0]["output"]["fields"]["Stage"], "Won",
            "{view}"
        );
    }
    assert_eq!(w.answered("update_record", 200), 2, "one update per deal");
    assert_eq!(w.answered("create_records", 200), 3, "one create per run");
    assert_eq!(
        w.app.sandbox_record_count("Companies").await,
        companies_before + 3
    );
    assert!(w.receive(1, Duration::from_secs(1)).await.is_empty());
    assert_eq!(w.depth(QueueName::Runs).await, 0);
    assert_eq!(w.depth(QueueName::RunsDlq).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_failing_every_receive_reaches_the_dlq_and_a_redrive_completes_it_once() {
    let Some(w) = OnMoto::start("runs-dlq").await else {
        return;
    };
    let register = w.workflow("register", register_company()).await;
    let companies_before = w.app.sandbox_record_count("Companies").await;
    w.fail_route("create_records");
    let run = w.start_run(&register, json!({"name": "Redriven Co"})).await;

    for receive in 1..=MAX_RECEIVES {
        let batch = w.receive(1, Duration::from_secs(10)).await;
        assert_eq!(batch.len(), 1, "receive {receive}");
        let message = &batch[0];
        assert_eq!(message.receive_count, receive);
        assert_eq!(run_of(message), run);
        let failed = w.deliver(&batch).await;
        assert_eq!(failed, ids(&batch), "receive {receive} fails");
        if receive < MAX_RECEIVES {
            let view = w.run(&run).await;
            assert_eq!(view["status"], "running", "{view}");
            assert_eq!(view["steps"][0]["attempts"], receive, "{view}");
            // Skip the backoff the worker set: SQS's receive count is what this test drives.
            w.app
                .platform()
                .queue
                .change_visibility(QueueName::Runs, &message.receipt, Duration::ZERO)
                .await
                .expect("make the message visible again");
        }
    }
    // On the last receive the worker marked the run a dead letter and released the message;
    // the next receive makes moto's redrive policy move it to the runs DLQ.
    let view = w.run(&run).await;
    assert_eq!(view["status"], "dead_letter", "{view}");
    assert!(w.receive(1, Duration::from_secs(2)).await.is_empty());
    assert_eq!(w.depth(QueueName::Runs).await, 0);
    assert_eq!(w.depth(QueueName::RunsDlq).await, 1);

    let letters = w.dead_letters().await;
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0]["run_id"], run.as_str());
    let error = &letters[0]["error"];
    assert!(
        error
            .as_str()
            .is_some_and(|e| e.contains(&format!("after {MAX_RECEIVES} deliveries")))
            && transient(error),
        "{error}"
    );
    assert_eq!(w.answered("create_records", 200), 0, "nothing was written");

    w.heal();
    let redriven = w
        .app
        .call(
            Method::POST,
            &format!("/v1/runs/dead-letters/{run}/redrive"),
            &w.key,
            None,
        )
        .await
        .expect(StatusCode::ACCEPTED);
    assert_eq!(redriven.body["status"], "queued", "{}", redriven.text);
    assert_eq!(
        w.depth(QueueName::RunsDlq).await,
        0,
        "the DLQ copy was removed"
    );
    assert!(w.dead_letters().await.is_empty());

    let batch = w.receive(1, Duration::from_secs(10)).await;
    assert_eq!(batch.len(), 1, "the redrive enqueued the run");
    assert_eq!(run_of(&batch[0]), run);
    let failed = w.deliver(&batch).await;
    assert!(failed.is_empty(), "{failed:?}");
    w.delete_handled(&batch, &failed).await;

    let view = w.run(&run).await;
    assert_eq!(view["status"], "succeeded", "{view}");
    let step = &view["steps"][0];
    assert_eq!(step["attempts"], MAX_RECEIVES + 1, "{view}");
    assert_eq!(step["output"]["fields"]["Name"], "Redriven Co", "{view}");
    assert_eq!(w.answered("create_records", 200), 1, "written exactly once");
    assert_eq!(
        w.app.sandbox_record_count("Companies").await,
        companies_before + 1
    );
    assert!(w.receive(1, Duration::from_secs(1)).await.is_empty());
    assert_eq!(w.depth(QueueName::RunsDlq).await, 0);
}
