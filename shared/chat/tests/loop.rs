//! The tool loop with a scripted model (a unit test of the orchestrator: the real providers'
//! wire formats are tested against the fake LLM servers) and the real tools on the sandbox.

use std::sync::{Arc, Mutex};

use accounts::{Credential, Principal, Scope, Scopes};
use airtable::{Airtable, BaseId, ClientConfig, RateLimiter, RateLimits, RecordId, TableRef};
use airtable_sandbox::{DEMO_BASE_ID, DEMO_TOKEN, Sandbox};
use async_trait::async_trait;
use basics::{Clock, RandomIds, SystemClock};
use chat::{BudgetSettings, ChatError, ChatLimits, ChatRequest, ChatService, TurnContext};
use llm::{
    ChatModel, Completion, FunctionDeclaration, LlmError, Message, ModelPrice, ToolCall, Usage,
};
use metering::UsageTally;
use serde_json::{Value, json};
use tools::{Registry, ToolContext};

/// A model that answers from a script and remembers what it was sent.
#[derive(Debug, Default)]
struct ScriptedModel {
    turns: Mutex<Vec<Completion>>,
    seen: Mutex<Vec<(Vec<Message>, Vec<String>)>>,
}

impl ScriptedModel {
    fn new(turns: Vec<Completion>) -> Arc<Self> {
        Arc::new(Self {
            turns: Mutex::new(turns.into_iter().rev().collect()),
            seen: Mutex::default(),
        })
    }

    fn calls(&self) -> Vec<(Vec<Message>, Vec<String>)> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

#[async_trait]
impl ChatModel for ScriptedModel {
    fn model(&self) -> &str {
        "scripted-1"
    }

    async fn complete(
        &self,
        _system: &str,
        messages: &[Message],
        tools: &[FunctionDeclaration],
    ) -> Result<Completion, LlmError> {
        if let Ok(mut seen) = self.seen.lock() {
            seen.push((
                messages.to_vec(),
                tools.iter().map(|t| t.name.clone()).collect(),
            ));
        }
        // The final answer quotes the last tool result, so tests can see it came from real data.
        let next = self.turns.lock().ok().and_then(|mut t| t.pop());
        Ok(match next {
            Some(mut turn) => {
                if let (Some(text), Some(Message::Tool { content, .. })) =
                    (&turn.text, messages.last())
                {
                    turn.text = Some(text.replace("{tool_result}", &content.to_string()));
                }
                turn
            }
            None => text("out of script"),
        })
    }
}

fn calls(list: &[(&str, Value)]) -> Completion {
    Completion {
        text: None,
        tool_calls: list
            .iter()
            .enumerate()
            .map(|(i, (name, args))| ToolCall {
                id: format!("call_{i}"),
                name: name.to_string(),
                arguments: args.clone(),
                signature: None,
            })
            .collect(),
        usage: Usage {
            input_tokens: 1_000,
            output_tokens: 50,
        },
        finish_reason: Some("tool_calls".into()),
    }
}

fn text(answer: &str) -> Completion {
    Completion {
        text: Some(answer.to_string()),
        tool_calls: vec![],
        usage: Usage {
            input_tokens: 2_000,
            output_tokens: 100,
        },
        finish_reason: Some("stop".into()),
    }
}

struct Setup {
    sandbox: airtable_sandbox::SandboxHandle,
    _dir: tempfile::TempDir,
    service: ChatService,
    tools: ToolContext,
    store: Arc<dyn ports::TableStore>,
}

async fn setup(limits: ChatLimits) -> Setup {
    let sandbox = Sandbox::builder()
        .no_rate_limits()
        .start("127.0.0.1:0".parse().expect("address"))
        .await
        .expect("sandbox");
    let dir = tempfile::tempdir().expect("tempdir");
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let db = embedded::Database::open(&dir.path().join("c.sqlite")).expect("db");
    let store: Arc<dyn ports::TableStore> =
        Arc::new(embedded::SqliteStore::new(db, Arc::clone(&clock)));
    let limiter = RateLimiter::with_limits(
        Arc::clone(&store),
        Arc::clone(&clock),
        RateLimits::unlimited(),
    );
    let config = ClientConfig::new(DEMO_TOKEN.to_string().into()).with_base_url(sandbox.url());
    let airtable = Airtable::with_clock(config, limiter, Arc::clone(&clock)).expect("client");
    let service = ChatService::new(
        Arc::clone(&store),
        clock,
        Arc::new(RandomIds),
        Arc::new(Registry::standard()),
        limits,
    );
    Setup {
        sandbox,
        _dir: dir,
        service,
        tools: ToolContext::new(airtable),
        store,
    }
}

fn principal(scopes: &[Scope]) -> Principal {
    Principal {
        tenant_id: "ten_chat".into(),
        user_id: "usr_chat".into(),
        scopes: scopes.iter().copied().collect::<Scopes>(),
        credential: Credential::ApiKey {
            key_id: "key".into(),
        },
    }
}

const PRICE: ModelPrice = ModelPrice {
    input_per_million: 1.0,
    output_per_million: 10.0,
};

fn request(message: &str, allow_writes: bool) -> ChatRequest {
    ChatRequest {
        message: message.into(),
        session_id: None,
        base_id: Some(DEMO_BASE_ID.into()),
        model: None,
        allow_writes,
    }
}

#[tokio::test]
async fn two_tool_calls_then_an_answer_from_real_data_with_usage_and_cost() {
    let s = setup(ChatLimits::default()).await;
    let model = ScriptedModel::new(vec![
        calls(&[(
            "list_tables",
            json!({"base_id": DEMO_BASE_ID, "detail": "names"}),
        )]),
        calls(&[(
            "analyze_table",
            json!({"base_id": DEMO_BASE_ID, "table": "Deals", "fields": ["Amount"]}),
        )]),
        text("Here is what I found: {tool_result}"),
    ]);
    let tally = UsageTally::new();
    let who = principal(&Scope::ALL[..]);
    let reply = s
        .service
        .turn(
            TurnContext {
                principal: &who,
                model: model.clone(),
                price: PRICE,
                tools: s.tools.clone(),
                usage: &tally,
            },
            request("What is the total deal amount?", false),
        )
        .await
        .expect("turn");
    assert_eq!(reply.status, "complete");
    assert_eq!(reply.tool_calls.len(), 2);
    assert!(
        reply.tool_calls.iter().all(|c| c.ok),
        "{:?}",
        reply.tool_calls
    );
    assert!(
        reply.reply.contains("\"record_count\""),
        "answer built from the tool's data: {}",
        reply.reply
    );
    assert_eq!(reply.usage.input_tokens, 4_000);
    assert_eq!(reply.usage.output_tokens, 200);
    let expected = (4_000.0 * 1.0 + 200.0 * 10.0) / 1_000_000.0;
    assert!((reply.usage.cost_usd - expected).abs() < 1e-12);
    let counted: std::collections::BTreeMap<String, i64> = tally.take().into_iter().collect();
    assert_eq!(counted.get("llm.calls"), Some(&3));
    assert_eq!(counted.get("llm.input_tokens"), Some(&4_000));
    assert_eq!(counted.get("llm.cost_micro_usd"), Some(&6_000));
    // Writes are off: the model was never offered a write tool.
    let offered = &model.calls()[0].1;
    assert!(offered.contains(&"list_records".to_string()));
    assert!(!offered.iter().any(|n| n.starts_with("create")
        || n.starts_with("update")
        || n.starts_with("delete")
        || n.starts_with("upsert")));
    // The session keeps the history and continues.
    let session = s
        .service
        .sessions()
        .get("ten_chat", &reply.session_id)
        .await
        .expect("get")
        .expect("saved");
    assert!(session.messages.len() >= 6);
    let sessions = s.service.sessions().list("ten_chat").await.expect("list");
    assert_eq!(sessions.len(), 1);
    assert!(
        s.service
            .sessions()
            .list("ten_other")
            .await
            .expect("list")
            .is_empty()
    );
}

#[tokio::test]
async fn with_writes_off_a_write_call_fails_back_to_the_model_and_changes_nothing() {
    let s = setup(ChatLimits::default()).await;
    let model = ScriptedModel::new(vec![
        calls(&[
            (
                "delete_records",
                json!({"base_id": DEMO_BASE_ID, "table": "Contacts", "record_ids": ["recCt000000000001"]}),
            ),
            (
                "get_record",
                json!({"base_id": DEMO_BASE_ID, "table": "Contacts", "record_id": "recCt000000000001"}),
            ),
        ]),
        text("Done: {tool_result}"),
    ]);
    let tally = UsageTally::new();
    let writer = principal(&Scope::ALL[..]);
    let reply = s
        .service
        .turn(
            TurnContext {
                principal: &writer,
                model: model.clone(),
                price: PRICE,
                tools: s.tools.clone(),
                usage: &tally,
            },
            request("Delete Ada", false),
        )
        .await
        .expect("turn");
    assert!(!reply.tool_calls[0].ok);
    assert!(
        reply.tool_calls[0].summary.contains("no tool"),
        "{}",
        reply.tool_calls[0].summary
    );
    assert!(reply.tool_calls[1].ok, "the independent read still ran");
    // The error went back to the model as the call's result, paired with its id.
    let second_call = &model.calls()[1].0;
    assert!(second_call.iter().any(|m| matches!(m, Message::Tool { call_id, content, .. } if call_id == "call_0" && content.get("error").is_some())));
    let still_there = s
        .tools
        .airtable
        .table(
            BaseId::parse(DEMO_BASE_ID).expect("base"),
            TableRef::parse("Contacts").expect("table"),
        )
        .get(&RecordId::parse("recCt000000000001").expect("record"))
        .await;
    assert!(still_there.is_ok(), "nothing was deleted");

    // A reader asking with allow_writes gets no write tools either.
    let reader = principal(&[Scope::RecordsRead, Scope::SchemaRead, Scope::Chat]);
    let model = ScriptedModel::new(vec![text("ok")]);
    s.service
        .turn(
            TurnContext {
                principal: &reader,
                model: model.clone(),
                price: PRICE,
                tools: s.tools.clone(),
                usage: &tally,
            },
            request("hi", true),
        )
        .await
        .expect("turn");
    assert!(!model.calls()[0].1.iter().any(|n| n == "create_records"));
}

/// A model's tool call whose arguments the tool's schema or id types refuse gets the refusal
/// back as the call's result, naming the argument, and nothing reaches Airtable: ids cannot
/// steer the tenant's token to `meta/whoami` or `meta/bases`, and declared limits hold.
#[tokio::test]
async fn tool_calls_with_bad_arguments_are_refused_back_to_the_model_without_an_upstream_call() {
    let s = setup(ChatLimits::default()).await;
    let bad: [(&str, Value, &str); 4] = [
        (
            "get_record",
            json!({"base_id": "meta", "table": "whoami", "record_id": ".."}),
            "/base_id",
        ),
        (
            "list_records",
            json!({"base_id": "meta", "table": "bases"}),
            "/base_id",
        ),
        (
            "list_records",
            json!({"base_id": DEMO_BASE_ID, "table": ".."}),
            "/table",
        ),
        (
            "search_records",
            json!({"base_id": DEMO_BASE_ID, "table": "Contacts", "query": "x".repeat(501)}),
            "/query: longer than 500 characters",
        ),
    ];
    let model = ScriptedModel::new(vec![
        calls(
            &bad.iter()
                .map(|(name, args, _)| (*name, args.clone()))
                .collect::<Vec<_>>(),
        ),
        text("Sorry: {tool_result}"),
    ]);
    let tally = UsageTally::new();
    let reader = principal(&[Scope::RecordsRead, Scope::Chat]);
    s.sandbox.reset_counters();
    let reply = s
        .service
        .turn(
            TurnContext {
                principal: &reader,
                model: model.clone(),
                price: PRICE,
                tools: s.tools.clone(),
                usage: &tally,
            },
            request("Who am I?", false),
        )
        .await
        .expect("turn");
    assert_eq!(reply.tool_calls.len(), bad.len());
    for (report, (name, _, named)) in reply.tool_calls.iter().zip(&bad) {
        assert!(!report.ok, "{name} ran");
        assert!(
            report.summary.contains("invalid arguments") && report.summary.contains(named),
            "{name}: {}",
            report.summary
        );
    }
    // Each refusal went back to the model as its call's result.
    let second = &model.calls()[1].0;
    for i in 0..bad.len() {
        let id = format!("call_{i}");
        assert!(
            second.iter().any(|m| matches!(m, Message::Tool { call_id, content, .. } if *call_id == id && content["error"].as_str().is_some_and(|e| e.contains("invalid arguments")))),
            "{id}"
        );
    }
    assert_eq!(
        s.sandbox.counters().total_requests,
        0,
        "nothing reached Airtable: {:?}",
        s.sandbox.counters().routes.keys().collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn an_exhausted_budget_refuses_before_any_model_call() {
    let s = setup(ChatLimits::default()).await;
    s.service
        .budgets()
        .set(
            "ten_chat",
            BudgetSettings {
                monthly_usd: 0.000_001,
                alert_threshold: 0.5,
            },
        )
        .await
        .expect("budget");
    let model = ScriptedModel::new(vec![text("never")]);
    let tally = UsageTally::new();
    let who = principal(&Scope::ALL[..]);
    let refused = s
        .service
        .turn(
            TurnContext {
                principal: &who,
                model: model.clone(),
                price: PRICE,
                tools: s.tools.clone(),
                usage: &tally,
            },
            request("How many deals?", false),
        )
        .await;
    assert!(
        matches!(refused, Err(ChatError::BudgetExceeded { .. })),
        "{refused:?}"
    );
    assert!(model.calls().is_empty(), "no provider call");
    assert!(tally.take().is_empty());
}

#[tokio::test]
async fn concurrent_calls_and_the_round_limit() {
    let s = setup(ChatLimits {
        max_rounds: 2,
        ..ChatLimits::default()
    })
    .await;
    let model = ScriptedModel::new(vec![
        calls(&[
            (
                "get_record",
                json!({"base_id": DEMO_BASE_ID, "table": "Contacts", "record_id": "recCt000000000001"}),
            ),
            (
                "get_record",
                json!({"base_id": DEMO_BASE_ID, "table": "Contacts", "record_id": "recCt000000000002"}),
            ),
            ("list_bases", json!({})),
        ]),
        calls(&[("list_bases", json!({}))]),
        text("never reached"),
    ]);
    let tally = UsageTally::new();
    let who = principal(&Scope::ALL[..]);
    let reply = s
        .service
        .turn(
            TurnContext {
                principal: &who,
                model,
                price: PRICE,
                tools: s.tools.clone(),
                usage: &tally,
            },
            request("Loop", false),
        )
        .await
        .expect("turn");
    assert_eq!(reply.status, "incomplete");
    assert_eq!(reply.tool_calls.len(), 4);
    assert!(reply.tool_calls.iter().all(|c| c.ok));
    let bad = s
        .service
        .turn(
            TurnContext {
                principal: &who,
                model: ScriptedModel::new(vec![]),
                price: PRICE,
                tools: s.tools.clone(),
                usage: &tally,
            },
            ChatRequest {
                session_id: Some("chat_missing".into()),
                ..request("x", false)
            },
        )
        .await;
    assert!(matches!(bad, Err(ChatError::UnknownSession(_))));
    let empty = s
        .service
        .turn(
            TurnContext {
                principal: &who,
                model: ScriptedModel::new(vec![]),
                price: PRICE,
                tools: s.tools.clone(),
                usage: &tally,
            },
            request("   ", false),
        )
        .await;
    assert!(matches!(empty, Err(ChatError::Invalid(_))));
}

#[tokio::test]
async fn crossing_the_alert_threshold_records_one_alert_per_month() {
    let s = setup(ChatLimits::default()).await;
    // Each scripted answer costs $0.003; the threshold is half of $0.01.
    s.service
        .budgets()
        .set(
            "ten_chat",
            BudgetSettings {
                monthly_usd: 0.01,
                alert_threshold: 0.5,
            },
        )
        .await
        .expect("budget");
    let who = principal(&Scope::ALL[..]);
    let usage = metering::UsageCounters::new(Arc::clone(&s.store), Arc::new(SystemClock));
    for _ in 0..3 {
        let tally = UsageTally::new();
        s.service
            .turn(
                TurnContext {
                    principal: &who,
                    model: ScriptedModel::new(vec![text("ok")]),
                    price: PRICE,
                    tools: s.tools.clone(),
                    usage: &tally,
                },
                request("hi", false),
            )
            .await
            .expect("turn within budget");
        usage
            .record_request_with("ten_chat", "chat", &tally.take())
            .await
            .expect("recorded");
    }
    let month = metering::month_of(chrono::Utc::now());
    let alerts = s
        .service
        .budgets()
        .alerts("ten_chat", &month)
        .await
        .expect("alerts");
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].kind, "threshold");
    assert!(
        (s.service
            .budgets()
            .spent_usd("ten_chat")
            .await
            .expect("spent")
            - 0.009)
            .abs()
            < 1e-9
    );
    // The next turn would pass the budget: refused, and the exhausted alert is not recorded
    // until spend actually reaches it.
    let tally = UsageTally::new();
    let refused = s
        .service
        .turn(
            TurnContext {
                principal: &who,
                model: ScriptedModel::new(vec![text("ok")]),
                price: PRICE,
                tools: s.tools.clone(),
                usage: &tally,
            },
            request("hi", false),
        )
        .await;
    assert!(
        matches!(refused, Err(ChatError::BudgetExceeded { .. })),
        "{refused:?}"
    );
}

/// A model slower than the turn's time budget.
#[derive(Debug)]
struct SlowModel;

#[async_trait]
impl ChatModel for SlowModel {
    fn model(&self) -> &str {
        "slow-1"
    }

    async fn complete(
        &self,
        _: &str,
        _: &[Message],
        _: &[FunctionDeclaration],
    ) -> Result<Completion, LlmError> {
        tokio::time::sleep(std::time::Duration::from_secs(30)).await;
        Ok(text("too late"))
    }
}

#[tokio::test]
async fn a_model_slower_than_the_turn_budget_ends_the_turn_incomplete_in_time() {
    let s = setup(ChatLimits {
        turn_budget: std::time::Duration::from_millis(300),
        ..ChatLimits::default()
    })
    .await;
    let tally = UsageTally::new();
    let who = principal(&Scope::ALL[..]);
    let started = std::time::Instant::now();
    let reply = s
        .service
        .turn(
            TurnContext {
                principal: &who,
                model: Arc::new(SlowModel),
                price: PRICE,
                tools: s.tools.clone(),
                usage: &tally,
            },
            request("hi", false),
        )
        .await
        .expect("turn");
    assert_eq!(reply.status, "incomplete");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let session = s
        .service
        .sessions()
        .get("ten_chat", &reply.session_id)
        .await
        .expect("get")
        .expect("saved");
    assert!(
        matches!(session.messages[0], Message::User { .. }),
        "the question is kept for a retry"
    );
}
