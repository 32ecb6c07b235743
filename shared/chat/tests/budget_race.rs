//! The monthly budget under concurrency, on both backends: the embedded SQLite store and the AWS
//! adapters against moto (when `MOTO_ENDPOINT` is set, as `./scripts/test` sets it). Turns
//! started together when the budget has room for three model calls make three provider calls;
//! the rest are refused with `BudgetExceeded` before reaching the provider. A failed call gives
//! its reservation back, and a reservation its process never settled stops counting after its
//! lease.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use accounts::{Credential, Principal, Scope, Scopes};
use airtable::{Airtable, ClientConfig, RateLimiter, RateLimits};
use async_trait::async_trait;
use basics::{Clock, IdGenerator, ManualClock, RandomIds};
use chat::budget::micro_usd;
use chat::{BudgetSettings, ChatError, ChatLimits, ChatRequest, ChatService, TurnContext};
use embedded::{Database, SqliteStore};
use futures::future::join_all;
use llm::{ChatModel, Completion, FunctionDeclaration, LlmError, Message, ModelPrice, Usage};
use metering::{UsageCounters, UsageTally};
use ports::TableStore;
use tools::{Registry, ToolContext};

/// One dollar per million tokens either way: a cost in micro-dollars is a token count.
const PRICE: ModelPrice = ModelPrice {
    input_per_million: 1.0,
    output_per_million: 1.0,
};

/// Output tokens of every answer: each call's cost passes its input-only estimate by this.
const OUTPUT_TOKENS: u64 = 7;

/// A provider that answers in words after a pause (so the burst's calls are in flight
/// together), counting the calls that reach it. It bills exactly the input the chat loop
/// estimates (the conversation, system prompt and tool declarations, four characters a token)
/// plus [`OUTPUT_TOKENS`], so the only estimate error is the output.
#[derive(Debug, Default)]
struct CountingModel {
    calls: AtomicUsize,
    fail: bool,
}

#[async_trait]
impl ChatModel for CountingModel {
    fn model(&self) -> &str {
        "counting-1"
    }

    async fn complete(
        &self,
        system: &str,
        messages: &[Message],
        tools: &[FunctionDeclaration],
    ) -> Result<Completion, LlmError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(150)).await;
        if self.fail {
            return Err(LlmError::Unavailable {
                provider: "counting",
                message: "down".into(),
            });
        }
        let chars = serde_json::to_string(messages).map_or(0, |s| s.len())
            + system.len()
            + serde_json::to_string(tools).map_or(0, |s| s.len());
        Ok(Completion {
            text: Some("ok".into()),
            tool_calls: vec![],
            usage: Usage {
                input_tokens: (chars / 4 + 1) as u64,
                output_tokens: OUTPUT_TOKENS,
            },
            finish_reason: Some("stop".into()),
        })
    }
}

async fn backends(clock: &ManualClock) -> Vec<(&'static str, Arc<dyn TableStore>)> {
    let clock = Arc::new(clock.clone());
    let sqlite = SqliteStore::new(Database::in_memory().expect("db"), clock.clone());
    let mut stores: Vec<(&'static str, Arc<dyn TableStore>)> = vec![("sqlite", Arc::new(sqlite))];
    if let Some(moto) = aws_adapters::testing::moto_store("chat-budget-", clock).await {
        stores.push(("moto", Arc::new(moto)));
    }
    stores
}

/// The chat service on a store, with tools whose Airtable is never reached (the model answers
/// in words).
fn service(store: &Arc<dyn TableStore>, clock: &ManualClock) -> (ChatService, ToolContext) {
    let clock: Arc<dyn Clock> = Arc::new(clock.clone());
    let limiter = RateLimiter::with_limits(
        Arc::clone(store),
        Arc::clone(&clock),
        RateLimits::unlimited(),
    );
    let config =
        ClientConfig::new("patUnused".to_string().into()).with_base_url("http://127.0.0.1:9");
    let airtable = Airtable::with_clock(config, limiter, Arc::clone(&clock)).expect("client");
    let service = ChatService::new(
        Arc::clone(store),
        clock,
        Arc::new(RandomIds),
        Arc::new(Registry::standard()),
        ChatLimits::default(),
    );
    (service, ToolContext::new(airtable))
}

fn principal(tenant_id: &str) -> Principal {
    Principal {
        tenant_id: tenant_id.into(),
        user_id: "usr_budget".into(),
        scopes: Scope::ALL.iter().copied().collect::<Scopes>(),
        credential: Credential::ApiKey {
            key_id: "key".into(),
        },
    }
}

fn request() -> ChatRequest {
    ChatRequest {
        message: "How many deals are open?".into(),
        session_id: None,
        base_id: None,
        model: None,
        allow_writes: false,
    }
}

/// One turn as the chat function runs it: the turn, then the request's usage written at its end.
async fn turn(
    service: &ChatService,
    tools: &ToolContext,
    store: &Arc<dyn TableStore>,
    clock: &ManualClock,
    tenant_id: &str,
    model: Arc<CountingModel>,
) -> Result<chat::ChatReply, ChatError> {
    let tally = UsageTally::new();
    let who = principal(tenant_id);
    let reply = service
        .turn(
            TurnContext {
                principal: &who,
                model,
                price: PRICE,
                tools: tools.clone(),
                usage: &tally,
            },
            request(),
        )
        .await;
    UsageCounters::new(Arc::clone(store), Arc::new(clock.clone()))
        .record_request_with(tenant_id, "chat", &tally.take())
        .await
        .expect("usage recorded");
    reply
}

fn tenant() -> String {
    format!("ten_{}", RandomIds.random_token(10))
}

/// The input-only estimate a turn reserves (in micro-dollars), measured with a turn of the same
/// request on a tenant without a budget: the counting model bills exactly the estimated input.
async fn reserved_per_call(
    service: &ChatService,
    tools: &ToolContext,
    store: &Arc<dyn TableStore>,
    clock: &ManualClock,
) -> i64 {
    let reply = turn(
        service,
        tools,
        store,
        clock,
        &tenant(),
        Arc::new(CountingModel::default()),
    )
    .await
    .expect("a turn without a budget");
    micro_usd(PRICE.cost(reply.usage.input_tokens, 0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_turns_at_once_make_only_the_calls_the_budget_allows() {
    let clock = ManualClock::starting_now();
    for (backend, store) in backends(&clock).await {
        let (service, tools) = service(&store, &clock);
        let reserved = reserved_per_call(&service, &tools, &store, &clock).await;
        let actual = micro_usd(PRICE.cost(reserved as u64, OUTPUT_TOKENS));
        assert!(actual > reserved && actual - reserved < reserved / 6);
        // Room for three reservations and half of a fourth.
        let budget_micro = 3 * reserved + reserved / 2;
        let tenant_id = tenant();
        service
            .budgets()
            .set(
                &tenant_id,
                BudgetSettings {
                    monthly_usd: budget_micro as f64 / 1_000_000.0,
                    alert_threshold: 0.5,
                },
            )
            .await
            .expect("budget");

        let model = Arc::new(CountingModel::default());
        let turns = (0..20).map(|_| {
            let (service, tools, store, clock, tenant_id, model) = (
                service.clone(),
                tools.clone(),
                Arc::clone(&store),
                clock.clone(),
                tenant_id.clone(),
                Arc::clone(&model),
            );
            tokio::spawn(
                async move { turn(&service, &tools, &store, &clock, &tenant_id, model).await },
            )
        });
        let results: Vec<_> = join_all(turns)
            .await
            .into_iter()
            .map(|r| r.expect("task"))
            .collect();
        let answered = results.iter().filter(|r| r.is_ok()).count();
        let refused = results
            .iter()
            .filter(|r| matches!(r, Err(ChatError::BudgetExceeded { .. })))
            .count();
        let others: Vec<_> = results
            .iter()
            .filter_map(|r| r.as_ref().err())
            .filter(|e| !matches!(e, ChatError::BudgetExceeded { .. }))
            .map(ToString::to_string)
            .collect();
        assert!(others.is_empty(), "{backend}: {others:?}");
        let calls = model.calls.load(Ordering::SeqCst);
        assert_eq!(calls, 3, "{backend}: provider calls ({answered} answered)");
        assert_eq!((answered, refused), (3, 17), "{backend}");

        // Spend is what the three calls cost; the guaranteed bound is the budget plus the
        // estimate errors of the calls in flight when it ran out (here it stays under the budget).
        let view = service
            .budgets()
            .view(&tenant_id, None)
            .await
            .expect("view");
        let spent = micro_usd(view.spent_usd);
        assert_eq!(spent, 3 * actual, "{backend}: {view:?}");
        assert!(
            spent <= budget_micro + 3 * (actual - reserved),
            "{backend}: {view:?}"
        );
        let month = metering::month_of(clock.now());
        let ledger = service
            .admission()
            .totals(&tenant_id, &month)
            .await
            .expect("ledger");
        assert_eq!(
            (ledger.committed, ledger.settled),
            (3 * actual, 3 * actual),
            "{backend}: nothing is left reserved"
        );
        assert!(
            service
                .admission()
                .holds(&tenant_id, &month)
                .await
                .expect("holds")
                .is_empty(),
            "{backend}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_call_gives_its_reservation_back() {
    let clock = ManualClock::starting_now();
    for (backend, store) in backends(&clock).await {
        let (service, tools) = service(&store, &clock);
        let reserved = reserved_per_call(&service, &tools, &store, &clock).await;
        let tenant_id = tenant();
        let budget_micro = reserved + reserved / 2;
        service
            .budgets()
            .set(
                &tenant_id,
                BudgetSettings {
                    monthly_usd: budget_micro as f64 / 1_000_000.0,
                    alert_threshold: 0.8,
                },
            )
            .await
            .expect("budget");
        // Three failures one after another: each reserved the only call's room and gave it back.
        let failing = Arc::new(CountingModel {
            fail: true,
            ..CountingModel::default()
        });
        for _ in 0..3 {
            let failed = turn(
                &service,
                &tools,
                &store,
                &clock,
                &tenant_id,
                Arc::clone(&failing),
            )
            .await;
            assert!(matches!(failed, Err(ChatError::Model(_))), "{backend}");
        }
        assert_eq!(failing.calls.load(Ordering::SeqCst), 3, "{backend}");
        let month = metering::month_of(clock.now());
        let ledger = service
            .admission()
            .totals(&tenant_id, &month)
            .await
            .expect("ledger");
        assert_eq!((ledger.committed, ledger.settled), (0, 0), "{backend}");
        let model = Arc::new(CountingModel::default());
        turn(&service, &tools, &store, &clock, &tenant_id, model.clone())
            .await
            .unwrap_or_else(|e| panic!("{backend}: the budget is still there: {e}"));
        assert_eq!(model.calls.load(Ordering::SeqCst), 1, "{backend}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reservation_never_settled_stops_counting_after_its_lease() {
    let clock = ManualClock::starting_now();
    for (backend, store) in backends(&clock).await {
        let (service, _tools) = service(&store, &clock);
        let tenant_id = tenant();
        let admission = service.admission();
        // A process reserved the whole budget and died before its call settled.
        let abandoned = admission
            .reserve(&tenant_id, 1_000, Some(1_000))
            .await
            .expect("store");
        assert!(abandoned.is_ok(), "{backend}: {abandoned:?}");
        let refused = admission
            .reserve(&tenant_id, 1, Some(1_000))
            .await
            .expect("store");
        assert!(
            refused.is_err(),
            "{backend}: the hold counts while it is live"
        );
        clock.advance(chrono::Duration::seconds(
            chat::admission::HOLD_LEASE_SECONDS + 1,
        ));
        let admitted = admission
            .reserve(&tenant_id, 600, Some(1_000))
            .await
            .expect("store")
            .unwrap_or_else(|r| panic!("{backend}: the stale hold was swept: {r:?}"));
        let month = metering::month_of(clock.now());
        let ledger = admission.totals(&tenant_id, &month).await.expect("ledger");
        assert_eq!((ledger.committed, ledger.settled), (600, 0), "{backend}");
        // The abandoned call's process comes back after all (it never can within a turn's
        // time budget, but the accounting stays right): its cost is counted, not its hold.
        if let Ok(hold) = abandoned {
            admission.settle(hold, 900).await.expect("late settle");
        }
        admission.settle(admitted, 500).await.expect("settle");
        let ledger = admission.totals(&tenant_id, &month).await.expect("ledger");
        assert_eq!(
            (ledger.committed, ledger.settled),
            (1_400, 1_400),
            "{backend}"
        );
        assert!(
            admission
                .holds(&tenant_id, &month)
                .await
                .expect("holds")
                .is_empty(),
            "{backend}"
        );
    }
}
