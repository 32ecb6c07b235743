//! Inbound webhook triggers: a request signed with the workflow's secret starts one run (and a
//! replay of it starts nothing new); a wrong secret, a stale timestamp or a tampered body is
//! refused and starts nothing; unknown, disabled and non-webhook workflows are refused.

mod workflows_support;

use std::sync::Arc;

use automations::{AutomationError, InboundHooks, WorkflowId};
use basics::Clock;
use basics::signature::sign;
use serde_json::json;
use workflows_support::*;

const NOW: &str = "2026-06-01T10:00:00Z";
const BODY: &[u8] = br#"{"deal":"recAAAAAAAAAAAAAA","amount":1200}"#;

struct Inbound {
    setup: Setup,
    starter: Arc<FakeStarter>,
    hooks: InboundHooks,
    id: WorkflowId,
    secret: String,
}

async fn inbound() -> Inbound {
    let setup = setup_at(NOW);
    let created = setup
        .workflows
        .create(TENANT, webhook_spec("From the CRM"))
        .await
        .expect("create");
    let starter = Arc::new(FakeStarter::default());
    let hooks = InboundHooks::new(
        Arc::clone(&setup.store.store),
        Arc::new(setup.clock.clone()),
        starter.clone(),
    );
    Inbound {
        setup,
        starter,
        hooks,
        id: created.workflow.id,
        secret: created.signing_secret,
    }
}

impl Inbound {
    fn now(&self) -> i64 {
        self.setup.clock.epoch_seconds()
    }

    async fn send(
        &self,
        id: &str,
        signature: &str,
        timestamp: i64,
        body: &[u8],
    ) -> Result<automations::RunId, AutomationError> {
        self.hooks
            .receive(id, Some(signature), Some(&timestamp.to_string()), body)
            .await
    }
}

#[tokio::test]
async fn a_signed_request_starts_one_run_and_its_replay_starts_nothing_new() {
    let t = inbound().await;
    let ts = t.now();
    let signature = sign(&t.secret, ts, BODY);
    let run = t
        .send(t.id.as_str(), &signature, ts, BODY)
        .await
        .expect("run");
    let started = t.starter.started();
    assert_eq!(started.len(), 1);
    assert_eq!(started[0].run_id, run);
    assert_eq!(started[0].trigger.kind, "webhook");
    assert_eq!(
        started[0].trigger.data,
        json!({"body": {"deal": "recAAAAAAAAAAAAAA", "amount": 1200}})
    );
    assert_eq!(
        started[0].dedup_key.as_deref(),
        Some(format!("webhook:{}:{signature}", t.id).as_str())
    );

    // The same request again, a minute later: the same run, nothing new started.
    t.setup.clock.advance(chrono::Duration::minutes(1));
    let again = t
        .send(t.id.as_str(), &signature, ts, BODY)
        .await
        .expect("replay");
    assert_eq!(again, run);
    assert_eq!(t.starter.started().len(), 1);
}

#[tokio::test]
async fn wrong_secret_stale_timestamp_and_tampered_body_are_unauthorized_and_start_nothing() {
    let t = inbound().await;
    let ts = t.now();
    let cases = [
        (
            "wrong secret",
            sign("whsec_guess", ts, BODY),
            ts,
            BODY.to_vec(),
        ),
        (
            "stale timestamp",
            sign(&t.secret, ts - 301, BODY),
            ts - 301,
            BODY.to_vec(),
        ),
        (
            "tampered body",
            sign(&t.secret, ts, BODY),
            ts,
            br#"{"deal":"recAAAAAAAAAAAAAA","amount":9999}"#.to_vec(),
        ),
    ];
    for (case, signature, timestamp, body) in cases {
        let err = t
            .send(t.id.as_str(), &signature, timestamp, &body)
            .await
            .expect_err(case);
        assert!(
            matches!(err, AutomationError::Unauthorized(_)),
            "{case}: {err:?}"
        );
    }
    let missing = t.hooks.receive(t.id.as_str(), None, None, BODY).await;
    assert!(matches!(missing, Err(AutomationError::Unauthorized(_))));
    assert!(t.starter.started().is_empty());
}

#[tokio::test]
async fn unknown_disabled_and_non_webhook_workflows_and_non_json_bodies_are_refused() {
    let t = inbound().await;
    let ts = t.now();
    let signature = sign(&t.secret, ts, BODY);
    for unknown in ["wfl_000999", "not-an-id", "../wfl_1"] {
        let err = t
            .send(unknown, &signature, ts, BODY)
            .await
            .expect_err(unknown);
        assert!(matches!(err, AutomationError::NotFound(_)), "{unknown}");
    }

    let text = b"hello";
    let err = t
        .send(t.id.as_str(), &sign(&t.secret, ts, text), ts, text)
        .await
        .expect_err("not json");
    match err {
        AutomationError::Invalid(problems) => assert_eq!(problems[0].path, "/body"),
        other => panic!("{other:?}"),
    }

    t.setup
        .workflows
        .patch(TENANT, &t.id, json!({"enabled": false}))
        .await
        .expect("disable");
    let err = t
        .send(t.id.as_str(), &signature, ts, BODY)
        .await
        .expect_err("disabled");
    assert!(matches!(err, AutomationError::Conflict(_)), "{err:?}");

    let manual = t
        .setup
        .workflows
        .create(
            TENANT,
            spec(json!({"name": "manual", "trigger": {"type": "manual"}, "steps": [set_step()]})),
        )
        .await
        .expect("create");
    let err = t
        .send(
            manual.workflow.id.as_str(),
            &sign(&manual.signing_secret, ts, BODY),
            ts,
            BODY,
        )
        .await
        .expect_err("manual");
    assert!(matches!(err, AutomationError::NotFound(_)), "{err:?}");
    assert!(t.starter.started().is_empty());
}
