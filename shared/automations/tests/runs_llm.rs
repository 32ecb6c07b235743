//! `llm` steps through the chat catalog against the fake LLM server: the completion's text,
//! tokens and cost in the output and the tenant's usage, and the budget refusing a step before
//! any provider call, which fails the run (a refusal does not pass by retrying).

mod runs_support;

use std::sync::Arc;

use automations::runs::RunSettings;
use automations::steps::LlmSteps;
use automations::{RunStatus, StepStatus};
use basics::{Env, RandomIds};
use chat::{BudgetSettings, CatalogSettings, ChatLimits, ChatService, ModelCatalog};
use fake_llm::{DEFAULT_OPENAI_KEY, FakeLlm, FakeLlmHandle, Provider, Turn};
use llm::PriceTable;
use metering::UsageCounters;
use runs_support::{Delivery, TENANT, World, world_custom};
use serde_json::json;

const MODEL: &str = "gpt-4o-mini";

/// The world, the fake, the chat service (for budgets) and the tempdir of the keys.
async fn setup() -> (World, FakeLlmHandle, ChatService, tempfile::TempDir) {
    let fake = FakeLlm::builder()
        .start("127.0.0.1:0".parse().expect("address"))
        .await
        .expect("fake llm");
    let dir = tempfile::tempdir().expect("tempdir");
    let base_url = fake.openai_base_url();
    let mut chat_out = None;
    let w = world_custom(RunSettings::default(), |store, clock| {
        let secrets = Arc::new(embedded::FileSecrets::new(
            dir.path().join("llm-secrets.json"),
            Env::from_pairs([("OPENAI_API_KEY", DEFAULT_OPENAI_KEY)]),
        ));
        let catalog = ModelCatalog::new(
            CatalogSettings {
                default_model: MODEL.into(),
                gemini_base_url: base_url.clone(),
                openai_base_url: base_url.clone(),
                prices: PriceTable::parse(
                    r#"{"gpt-4o-mini": {"input_per_million": 1.0, "output_per_million": 10.0}}"#,
                )
                .expect("prices"),
            },
            secrets,
        );
        let chat = ChatService::new(
            Arc::clone(&store),
            Arc::clone(&clock),
            Arc::new(RandomIds),
            Arc::new(tools::Registry::standard()),
            ChatLimits::default(),
        );
        chat_out = Some(chat.clone());
        Some(LlmSteps::new(
            chat,
            catalog,
            UsageCounters::new(store, clock),
        ))
    })
    .await;
    (w, fake, chat_out.expect("chat"), dir)
}

fn steps() -> serde_json::Value {
    json!([{"id": "summary", "type": "llm", "prompt": "Summarise deal {{ input.deal }}"}])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prompt_is_completed_counted_and_costed() {
    let (w, fake, _chat, _dir) = setup().await;
    fake.push_turn(
        Provider::OpenAi,
        Turn::text("A big renewal.").with_usage(1_000, 100),
    );
    let run_id = w.start(steps(), json!({"deal": "Acme"})).await;
    assert_eq!(w.drain().await, vec![Delivery::Handled]);
    let view = w.view(&run_id).await;
    assert_eq!(
        view.run.status,
        RunStatus::Succeeded,
        "{:?}",
        view.run.error
    );
    let output = &view.steps[0].output;
    assert_eq!(output["text"], "A big renewal.");
    assert_eq!(output["model"], MODEL);
    assert_eq!(output["input_tokens"], 1_000);
    assert_eq!(output["output_tokens"], 100);
    assert!((output["cost_usd"].as_f64().unwrap_or_default() - 0.002).abs() < 1e-9);
    let sent = fake.requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].conversation().last_user_text.as_deref(),
        Some("Summarise deal Acme")
    );
    assert!(sent[0].conversation().offered_tools.is_empty());
    let usage = w.month_usage().await;
    assert_eq!(usage.get("llm.calls"), Some(&1));
    assert_eq!(usage.get("llm.input_tokens"), Some(&1_000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_budget_refuses_the_step_before_any_provider_call() {
    let (w, fake, chat, _dir) = setup().await;
    chat.budgets()
        .set(
            TENANT,
            BudgetSettings {
                monthly_usd: 0.0,
                alert_threshold: 0.8,
            },
        )
        .await
        .expect("budget");
    let run_id = w.start(steps(), json!({"deal": "Acme"})).await;
    assert_eq!(w.drain().await, vec![Delivery::Handled]);
    let view = w.view(&run_id).await;
    assert_eq!(view.run.status, RunStatus::Failed);
    assert_eq!(view.steps[0].status, StepStatus::Failed);
    assert!(
        view.run.error.unwrap_or_default().contains("budget"),
        "the error says why"
    );
    assert!(fake.requests().is_empty());
}
