//! Chat with your data over HTTP against the dev server binary, its Airtable sandbox and a
//! scripted fake LLM (`fake-llm`, started in this process): the tool loop for both providers
//! (Gemini and an OpenAI-compatible endpoint) answering from real sandbox data, tokens and cost
//! in the reply and the usage counters, writes that stay off unless allowed, budgets (refusal
//! before any provider call, spend, one threshold alert), sessions and their tenant, the model
//! list, and the errors a client can act on.

use fake_llm::{
    Condition, DEFAULT_GEMINI_KEY, FakeLlm, FakeLlmBuilder, KeyCheck, Last, Provider,
    RecordedRequest, Rule, Turn,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use testkit::{DEMO_BASE_ID as BASE, Reply, TestApp, TestAppBuilder};

/// The models this deployment offers, with their prices (USD per million tokens).
const GEMINI_MODEL: &str = "gemini-2.5-flash";
const GEMINI_PRICE: (f64, f64) = (0.30, 2.50);
const OPENAI_MODEL: &str = "gpt-4.1-mini";
const OPENAI_PRICE: (f64, f64) = (0.40, 1.60);
/// An OpenAI-compatible model with a round price, for budget arithmetic.
const CUSTOM_MODEL: &str = "acme-chat-1";
const CUSTOM_PRICE: (f64, f64) = (1.0, 1.0);

/// Every tool that changes something; none may be offered while writes are off.
const WRITE_TOOLS: [&str; 8] = [
    "create_records",
    "update_records",
    "upsert_records",
    "delete_records",
    "create_table",
    "update_table",
    "create_field",
    "update_field",
];

/// The platform pointed at a fresh fake LLM `llm`, with both keys and the price table set. These
/// tests also read the sandbox straight; its per-base limit is not what they test.
fn chat_platform(llm: FakeLlmBuilder) -> TestAppBuilder {
    TestApp::builder()
        .fake_llm(llm)
        .without_sandbox_rate_limits()
        .model_prices([
            (GEMINI_MODEL, GEMINI_PRICE.0, GEMINI_PRICE.1),
            (OPENAI_MODEL, OPENAI_PRICE.0, OPENAI_PRICE.1),
            (CUSTOM_MODEL, CUSTOM_PRICE.0, CUSTOM_PRICE.1),
        ])
}

/// [`chat_platform`] with the fake LLM's defaults.
async fn start() -> TestApp {
    chat_platform(FakeLlm::builder()).spawn().await
}

/// The cost of a call in micro-dollars, computed exactly (tokens × price per million tokens is
/// micro-dollars), rounded up as the platform counts spend.
fn micro_usd(price: (f64, f64), input: u64, output: u64) -> i64 {
    // Prices here have at most two decimals: work in hundredths of a micro-dollar.
    let hundredths = |p: f64| (p * 100.0).round() as i64;
    let total = input as i64 * hundredths(price.0) + output as i64 * hundredths(price.1);
    (total + 99) / 100
}

fn cost_usd(price: (f64, f64), input: u64, output: u64) -> f64 {
    (input as f64 * price.0 + output as f64 * price.1) / 1_000_000.0
}

fn assert_close(actual: &Value, expected: f64, what: &str) {
    let actual = actual
        .as_f64()
        .unwrap_or_else(|| panic!("{what}: not a number"));
    assert!(
        (actual - expected).abs() < 1e-12,
        "{what}: {actual} != {expected}"
    );
}

/// The chat routes' calls, on the kit's app.
trait ChatCalls {
    async fn chat(&self, bearer: &str, body: Value) -> Reply;
    async fn chat_ok(&self, bearer: &str, body: Value) -> Value;
    async fn counters(&self, access: &str) -> Value;
    async fn budget(&self, access: &str) -> Value;
    async fn set_budget(&self, access: &str, monthly_usd: f64, alert_threshold: f64);
}

impl ChatCalls for TestApp {
    async fn chat(&self, bearer: &str, body: Value) -> Reply {
        self.post("/v1/chat", bearer, body).await
    }

    /// A chat turn that must succeed.
    async fn chat_ok(&self, bearer: &str, body: Value) -> Value {
        self.chat(bearer, body).await.expect(StatusCode::OK).body
    }

    async fn counters(&self, access: &str) -> Value {
        self.get("/v1/usage/summary", access)
            .await
            .expect(StatusCode::OK)
            .body
    }

    async fn budget(&self, access: &str) -> Value {
        self.get("/v1/budget", access)
            .await
            .expect(StatusCode::OK)
            .body
    }

    async fn set_budget(&self, access: &str, monthly_usd: f64, alert_threshold: f64) {
        let reply = self
            .call(
                Method::PUT,
                "/v1/budget",
                access,
                Some(json!({"monthly_usd": monthly_usd, "alert_threshold": alert_threshold})),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        assert_eq!(reply.body["monthly_usd"], json!(monthly_usd));
        assert_eq!(reply.body["alert_threshold"], json!(alert_threshold));
    }
}

fn tool_names(reply: &Value) -> Vec<&str> {
    reply["tool_calls"]
        .as_array()
        .map(|calls| calls.iter().filter_map(|c| c["name"].as_str()).collect())
        .unwrap_or_default()
}

fn assert_no_write_tools(request: &RecordedRequest) {
    let conversation = request.conversation();
    for tool in WRITE_TOOLS {
        assert!(
            !conversation.declared_tools.iter().any(|t| t == tool),
            "{tool} was declared to the model: {:?}",
            conversation.declared_tools
        );
    }
    assert!(
        conversation
            .offered_tools
            .iter()
            .any(|t| t == "list_records"),
        "read tools are offered: {:?}",
        conversation.offered_tools
    );
}

/// The user messages a recorded request carries, in order, in either wire format.
fn user_texts(request: &RecordedRequest) -> Vec<String> {
    match request.provider {
        Provider::Gemini => request.body["contents"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|c| c["role"] == "user")
            .filter_map(|c| c["parts"][0]["text"].as_str().map(str::to_string))
            .collect(),
        Provider::OpenAi => request.body["messages"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|m| m["role"] == "user")
            .filter_map(|m| m["content"].as_str().map(str::to_string))
            .collect(),
    }
}

/// A turn needing two tool calls (list_tables, then list_records) whose final answer the fake
/// builds from the second tool's result, with scripted tokens; checked end to end.
async fn two_tool_calls_answer_from_the_sandbox(
    provider: Provider,
    model: &str,
    price: (f64, f64),
) {
    let platform = start().await;
    let access = platform.connected_owner("ada@example.com").await;
    let key = platform
        .mint_api_key(&access, &["chat", "records:read", "schema:read"])
        .await;

    // A record only the sandbox knows: made straight there, with a random headcount.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let name = format!("Zephyr Quarries {nanos}");
    let employees = 7_000 + u64::from(nanos % 1_000);
    let created = platform
        .straight(
            Method::POST,
            &format!("/v0/{BASE}/Companies"),
            Some(json!({"records": [{"fields": {"Name": name, "Employees": employees}}]})),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.text);
    let record_id = created.body["records"][0]["id"]
        .as_str()
        .expect("record id")
        .to_string();

    // Tokens chosen so that some calls cost a whole number of micro-dollars that floating
    // point lands a hair above (e.g. 1 200 × $0.30 + 60 × $2.50 per million = 510 µ$).
    let usage = [(1_200u64, 60u64), (2_100, 90), (2_600, 25)];
    let list_records = json!({
        "base_id": BASE,
        "table": "Companies",
        "filter_formula": format!("{{Name}} = '{name}'"),
        "fields": ["Name", "Employees"],
    });
    platform.llm().push_turns(
        provider,
        [
            Turn::tool_call("list_tables", json!({"base_id": BASE}))
                .with_usage(usage[0].0, usage[0].1),
            Turn::tool_call("list_records", list_records.clone())
                .with_usage(usage[1].0, usage[1].1),
        ],
    );
    platform.llm().add_rule(
        Rule::new(
            Condition::LastIsToolResult,
            Turn::text(
                "{tool_result:list_records/records/0/fields/Name} ({tool_result:list_records/records/0/id}) \
                 has {tool_result:list_records/records/0/fields/Employees} employees.",
            )
            .with_usage(usage[2].0, usage[2].1),
        )
        .for_provider(provider),
    );

    let message = format!("How many employees does {name} have?");
    let reply = platform
        .chat_ok(
            &key,
            json!({"message": message, "base_id": BASE, "model": model}),
        )
        .await;

    // The answer is the sandbox's data, through the platform's tools.
    assert_eq!(
        reply["reply"],
        format!("{name} ({record_id}) has {employees} employees."),
        "{reply}"
    );
    assert_eq!(reply["status"], "complete");
    assert_eq!(reply["model"], model);
    assert!(
        reply["session_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );
    assert_eq!(tool_names(&reply), ["list_tables", "list_records"]);
    let calls = reply["tool_calls"].as_array().expect("tool calls");
    assert!(calls.iter().all(|c| c["ok"] == true), "{reply}");
    assert_eq!(calls[0]["arguments"], json!({"base_id": BASE}));
    assert_eq!(calls[1]["arguments"], list_records);
    assert!(
        calls[0]["summary"]
            .as_str()
            .is_some_and(|s| s.contains('3')),
        "{reply}"
    );
    assert!(
        calls[1]["summary"]
            .as_str()
            .is_some_and(|s| s.contains("1 record")),
        "{reply}"
    );

    // Tokens as scripted, and cost at the configured prices.
    let input: u64 = usage.iter().map(|u| u.0).sum();
    let output: u64 = usage.iter().map(|u| u.1).sum();
    assert_eq!(reply["usage"]["input_tokens"], input);
    assert_eq!(reply["usage"]["output_tokens"], output);
    assert_close(
        &reply["usage"]["cost_usd"],
        cost_usd(price, input, output),
        "cost_usd",
    );

    // The same in the tenant's usage counters (spend per call, rounded up to a micro-dollar).
    let summary = platform.counters(&access).await;
    let counters = &summary["counters"];
    assert_eq!(counters["llm.calls"], 3, "{summary}");
    assert_eq!(counters["llm.input_tokens"], input, "{summary}");
    assert_eq!(counters["llm.output_tokens"], output, "{summary}");
    let micro: i64 = usage.iter().map(|u| micro_usd(price, u.0, u.1)).sum();
    assert_eq!(counters["llm.cost_micro_usd"], micro, "{summary}");
    assert_eq!(summary["llm"]["calls"], 3);
    // The tools' Airtable calls count too: list_tables reads the base's schema and
    // list_records its records, one call each, both against the demo base.
    assert_eq!(summary["airtable"]["calls"], 2, "{summary}");
    assert_eq!(
        summary["airtable"]["calls_by_base"]["appSandboxDemoCRM"], 2,
        "{summary}"
    );
    assert_close(
        &summary["llm"]["cost_usd"],
        micro as f64 / 1e6,
        "summary llm.cost_usd",
    );

    // What the provider received: three calls, all to this provider and model, with the key.
    let other = match provider {
        Provider::Gemini => Provider::OpenAi,
        Provider::OpenAi => Provider::Gemini,
    };
    assert!(platform.llm().requests_for(other).is_empty());
    let log = platform.llm().requests_for(provider);
    assert_eq!(log.len(), 3, "{log:#?}");
    for request in &log {
        assert_eq!(request.model, model);
        assert_eq!(request.api_key, KeyCheck::Valid);
        assert_eq!(request.status, 200, "{:?}", request.response);
        assert_no_write_tools(request);
    }
    let first = log[0].conversation();
    assert_eq!(first.last, Last::UserText);
    assert_eq!(first.last_user_text.as_deref(), Some(message.as_str()));

    // The tool results went back as the provider expects them.
    let tables = log[1].conversation();
    assert_eq!(tables.last, Last::ToolResults);
    assert_eq!(tables.tool_results.len(), 1);
    assert_eq!(tables.tool_results[0].name, "list_tables");
    assert_eq!(tables.tool_results[0].content["count"], 3);
    assert!(
        tables.tool_results[0].raw.contains("tblCompanies00000"),
        "{}",
        tables.tool_results[0].raw
    );
    let records = log[2].conversation();
    assert_eq!(records.tool_results.len(), 1);
    assert_eq!(records.tool_results[0].name, "list_records");
    assert_eq!(
        records.tool_results[0].content["records"][0]["id"],
        record_id
    );
    match provider {
        Provider::Gemini => {
            let contents = log[1].body["contents"].as_array().expect("contents");
            assert_eq!(contents.len(), 3, "user, model call, function response");
            let call_part = &contents[1]["parts"][0];
            assert_eq!(contents[1]["role"], "model");
            assert_eq!(call_part["functionCall"]["name"], "list_tables");
            assert_eq!(call_part["functionCall"]["args"], json!({"base_id": BASE}));
            // The thought signature the fake issued comes back unchanged.
            let issued =
                &log[0].response["candidates"][0]["content"]["parts"][0]["thoughtSignature"];
            assert!(issued.is_string(), "{:?}", log[0].response);
            assert_eq!(&call_part["thoughtSignature"], issued);
            let response = &contents[2];
            assert_eq!(response["role"], "user");
            let function_response = &response["parts"][0]["functionResponse"];
            assert_eq!(function_response["name"], "list_tables");
            assert!(function_response["response"].is_object());
            assert_eq!(function_response["response"]["count"], 3);
        }
        Provider::OpenAi => {
            let messages = log[1].body["messages"].as_array().expect("messages");
            assert_eq!(messages.len(), 4, "system, user, assistant call, tool");
            assert_eq!(messages[0]["role"], "system");
            let issued = &log[0].response["choices"][0]["message"]["tool_calls"][0]["id"];
            assert!(issued.is_string(), "{:?}", log[0].response);
            assert_eq!(messages[2]["role"], "assistant");
            assert_eq!(messages[2]["tool_calls"][0]["id"], *issued);
            assert_eq!(
                messages[2]["tool_calls"][0]["function"]["name"],
                "list_tables"
            );
            let arguments = messages[2]["tool_calls"][0]["function"]["arguments"]
                .as_str()
                .expect("arguments are JSON text");
            assert_eq!(
                serde_json::from_str::<Value>(arguments).ok(),
                Some(json!({"base_id": BASE}))
            );
            assert_eq!(messages[3]["role"], "tool");
            assert_eq!(messages[3]["tool_call_id"], *issued);
            let content = messages[3]["content"]
                .as_str()
                .expect("tool content is text");
            let parsed: Value = serde_json::from_str(content).expect("tool content is JSON");
            assert_eq!(parsed["count"], 3);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gemini_turn_with_two_tool_calls_answers_from_sandbox_data_with_tokens_and_cost() {
    two_tool_calls_answer_from_the_sandbox(Provider::Gemini, GEMINI_MODEL, GEMINI_PRICE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_compatible_turn_with_two_tool_calls_answers_from_sandbox_data_with_tokens_and_cost()
{
    two_tool_calls_answer_from_the_sandbox(Provider::OpenAi, OPENAI_MODEL, OPENAI_PRICE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_writes_off_the_model_gets_no_write_tools_and_cannot_change_data() {
    // The fake lets a model call a tool it was not offered: a model that invents one.
    let platform = chat_platform(FakeLlm::builder().allow_unoffered_tool_calls())
        .spawn()
        .await;
    let access = platform.connected_owner("grace@example.com").await;
    let target = "recCo000000000005";
    let before = platform.sandbox_record_count("Companies").await;
    let destructive = Turn::tool_calls([
        (
            "delete_records",
            json!({"base_id": BASE, "table": "Companies", "record_ids": [target]}),
        ),
        (
            "create_records",
            json!({"base_id": BASE, "table": "Companies", "records": [{"fields": {"Name": "Should Not Exist"}}]}),
        ),
    ]);
    platform
        .llm()
        .add_rule(Rule::answer_tool_results("Tool said: {tool_result}"));

    // The owner holds records:write, but the request does not allow writes (left out, or false).
    for allow in [None, Some(false)] {
        platform.llm().clear_requests();
        platform
            .llm()
            .push_turn(Provider::Gemini, destructive.clone());
        let mut body =
            json!({"message": "Delete Edge Logistics and add a company", "base_id": BASE});
        if let Some(allow) = allow {
            body["allow_writes"] = json!(allow);
        }
        let reply = platform.chat_ok(&access, body).await;
        assert_eq!(tool_names(&reply), ["delete_records", "create_records"]);
        for call in reply["tool_calls"].as_array().expect("calls") {
            assert_eq!(call["ok"], false, "{reply}");
            assert!(
                call["summary"]
                    .as_str()
                    .is_some_and(|s| s.contains("no tool")),
                "{reply}"
            );
        }
        let log = platform.llm().requests();
        assert_eq!(log.len(), 2);
        assert_no_write_tools(&log[0]);
        assert_no_write_tools(&log[1]);
        // The model heard that the tools do not exist.
        let results = log[1].conversation().tool_results;
        assert_eq!(results.len(), 2);
        assert!(
            results.iter().all(|r| r.raw.contains("no tool")),
            "{results:?}"
        );
        assert!(
            reply["reply"]
                .as_str()
                .is_some_and(|r| r.contains("no tool")),
            "{reply}"
        );
    }

    // Nothing changed in Airtable.
    assert_eq!(platform.sandbox_record_count("Companies").await, before);
    let still_there = platform
        .straight(Method::GET, &format!("/v0/{BASE}/Companies/{target}"), None)
        .await;
    assert_eq!(still_there.status, StatusCode::OK, "{}", still_there.text);

    // The control: with writes allowed, the same owner's model gets the write tools and they work.
    platform.llm().clear_requests();
    platform.llm().push_turn(
        Provider::Gemini,
        Turn::tool_call(
            "create_records",
            json!({"base_id": BASE, "table": "Companies", "records": [{"fields": {"Name": "Allowed Write Co"}}]}),
        ),
    );
    let reply = platform
        .chat_ok(
            &access,
            json!({"message": "Add Allowed Write Co", "base_id": BASE, "allow_writes": true}),
        )
        .await;
    assert_eq!(reply["tool_calls"][0]["ok"], true, "{reply}");
    let offered = platform.llm().requests()[0].offered_tools();
    for tool in WRITE_TOOLS {
        assert!(offered.iter().any(|t| t == tool), "{tool}: {offered:?}");
    }
    assert_eq!(platform.sandbox_record_count("Companies").await, before + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_records_read_key_gets_no_write_tools_even_when_it_asks_for_writes() {
    let platform = chat_platform(FakeLlm::builder().allow_unoffered_tool_calls())
        .spawn()
        .await;
    let access = platform.connected_owner("hedy@example.com").await;
    let reader = platform
        .mint_api_key(&access, &["chat", "records:read", "schema:read"])
        .await;
    let target = "recCo000000000004";
    let before = platform.sandbox_record_count("Companies").await;
    platform.llm().push_turn(
        Provider::OpenAi,
        Turn::tool_call(
            "delete_records",
            json!({"base_id": BASE, "table": "Companies", "record_ids": [target]}),
        ),
    );
    platform
        .llm()
        .add_rule(Rule::answer_tool_results("Tool said: {tool_result}"));
    let reply = platform
        .chat_ok(
            &reader,
            json!({"message": "Delete Delta Foods", "base_id": BASE, "model": OPENAI_MODEL, "allow_writes": true}),
        )
        .await;
    assert_eq!(tool_names(&reply), ["delete_records"]);
    assert_eq!(reply["tool_calls"][0]["ok"], false, "{reply}");
    let log = platform.llm().requests();
    assert_eq!(log.len(), 2);
    assert_no_write_tools(&log[0]);
    assert_no_write_tools(&log[1]);
    // The system prompt says writes are off.
    assert!(
        log[0].body["messages"][0]["content"]
            .as_str()
            .is_some_and(|s| s.contains("cannot change data")),
        "{}",
        log[0].body["messages"][0]
    );
    assert_eq!(platform.sandbox_record_count("Companies").await, before);
    let still_there = platform
        .straight(Method::GET, &format!("/v0/{BASE}/Companies/{target}"), None)
        .await;
    assert_eq!(still_there.status, StatusCode::OK, "{}", still_there.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exhausted_budget_is_refused_before_any_provider_call_until_it_is_raised() {
    let platform = start().await;
    let access = platform.connected_owner("katherine@example.com").await;

    // Budgets: PUT needs admin, GET needs usage:read; nonsense is refused.
    let usage_reader = platform.mint_api_key(&access, &["usage:read"]).await;
    let chatter = platform.mint_api_key(&access, &["chat"]).await;
    let put = platform
        .call(
            Method::PUT,
            "/v1/budget",
            &usage_reader,
            Some(json!({"monthly_usd": 1.0, "alert_threshold": 0.5})),
        )
        .await;
    assert_eq!(put.status, StatusCode::FORBIDDEN, "{}", put.text);
    assert_eq!(put.error_type(), "INSUFFICIENT_SCOPE");
    let get = platform
        .call(Method::GET, "/v1/budget", &chatter, None)
        .await;
    assert_eq!(get.status, StatusCode::FORBIDDEN, "{}", get.text);
    let unset = platform.budget(&usage_reader).await;
    assert_eq!(unset["monthly_usd"], Value::Null);
    assert_eq!(unset["spent_usd"], 0.0);
    for bad in [
        json!({"monthly_usd": -1, "alert_threshold": 0.5}),
        json!({"monthly_usd": 1, "alert_threshold": 0}),
        json!({"monthly_usd": 1, "alert_threshold": 1.5}),
        json!({"monthly_usd": 1}),
    ] {
        let refused = platform
            .call(Method::PUT, "/v1/budget", &access, Some(bad.clone()))
            .await;
        assert_eq!(
            refused.status,
            StatusCode::BAD_REQUEST,
            "{bad}: {}",
            refused.text
        );
    }

    platform.set_budget(&access, 0.000001, 0.5).await;
    platform
        .llm()
        .push_turn(Provider::Gemini, Turn::text("never sent").with_usage(10, 1));
    let refused = platform
        .chat(&access, json!({"message": "How many deals are open?"}))
        .await;
    assert_eq!(
        refused.status,
        StatusCode::PAYMENT_REQUIRED,
        "{}",
        refused.text
    );
    assert_eq!(refused.error_type(), "BUDGET_EXCEEDED");
    let message = refused.error_message();
    assert!(
        message.contains("budget") && message.contains("PUT /v1/budget"),
        "the message says what happened and what to do: {message}"
    );
    assert!(
        platform.llm().requests().is_empty(),
        "no provider call: {:?}",
        platform.llm().requests()
    );
    assert_eq!(platform.llm().remaining(Provider::Gemini), 1);
    let counters = platform.counters(&access).await;
    assert_eq!(counters["llm"]["calls"], 0, "{counters}");
    let budget = platform.budget(&access).await;
    assert_eq!(budget["spent_usd"], 0.0);
    assert_eq!(
        budget["alerts"],
        json!([]),
        "nothing was spent, so nothing crossed"
    );

    // Raised, a turn passes, and its spend shows.
    platform.set_budget(&access, 5.0, 0.5).await;
    let reply = platform
        .chat_ok(&access, json!({"message": "How many deals are open?"}))
        .await;
    assert_eq!(reply["reply"], "never sent");
    assert_eq!(platform.llm().requests().len(), 1);
    let budget = platform.budget(&usage_reader).await;
    assert_eq!(budget["monthly_usd"], 5.0);
    assert_eq!(budget["alert_threshold"], 0.5);
    assert!(
        budget["month"]
            .as_str()
            .is_some_and(|m| m.len() == 7 && m.as_bytes()[4] == b'-'),
        "{budget}"
    );
    assert_close(
        &budget["spent_usd"],
        micro_usd(GEMINI_PRICE, 10, 1) as f64 / 1e6,
        "spent_usd",
    );
    assert_eq!(budget["alerts"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crossing_the_alert_threshold_records_exactly_one_threshold_alert() {
    let platform = start().await;
    let access = platform.connected_owner("margaret@example.com").await;
    // 10 000 + 1 000 tokens at $1 per million: $0.011 a turn; threshold at $0.02.
    platform.set_budget(&access, 0.04, 0.5).await;
    let per_turn = micro_usd(CUSTOM_PRICE, 10_000, 1_000);
    assert_eq!(per_turn, 11_000);
    let kinds = |budget: &Value| -> Vec<String> {
        let mut kinds: Vec<String> = budget["alerts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a["kind"].as_str().map(str::to_string))
            .collect();
        kinds.sort();
        kinds
    };
    let turn = |n: usize| json!({"message": format!("question {n}"), "model": CUSTOM_MODEL});

    let mut expected = Vec::new();
    for n in 1..=4 {
        platform.llm().push_turn(
            Provider::OpenAi,
            Turn::text(format!("answer {n}")).with_usage(10_000, 1_000),
        );
        let reply = platform.chat_ok(&access, turn(n)).await;
        assert_eq!(reply["reply"], format!("answer {n}"));
        let budget = platform.budget(&access).await;
        assert_close(
            &budget["spent_usd"],
            (per_turn * n as i64) as f64 / 1e6,
            "spent_usd",
        );
        // $0.011, $0.022 (threshold crossed), $0.033 (still one), $0.044 (budget reached).
        match n {
            2 => expected.push("threshold".to_string()),
            4 => expected.insert(0, "exhausted".to_string()),
            _ => {}
        }
        assert_eq!(kinds(&budget), expected, "after turn {n}: {budget}");
        if n >= 2 {
            let threshold = budget["alerts"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|a| a["kind"] == "threshold")
                .cloned()
                .unwrap_or_default();
            assert_close(
                &threshold["spent_usd"],
                0.022,
                "spend when the threshold was crossed",
            );
            assert_eq!(threshold["monthly_usd"], 0.04);
        }
    }
    // The usage summary lists the same alerts.
    let summary = platform.counters(&access).await;
    assert_eq!(
        summary["budget"]["alerts"].as_array().map(Vec::len),
        Some(2)
    );
    assert_eq!(summary["counters"]["llm.cost_micro_usd"], per_turn * 4);

    // Past the budget, the next turn is refused without a provider call.
    platform.llm().clear_requests();
    platform
        .llm()
        .push_turn(Provider::OpenAi, Turn::text("never sent"));
    let refused = platform.chat(&access, turn(5)).await;
    assert_eq!(
        refused.status,
        StatusCode::PAYMENT_REQUIRED,
        "{}",
        refused.text
    );
    assert_eq!(refused.error_type(), "BUDGET_EXCEEDED");
    assert!(platform.llm().requests().is_empty());
    let budget = platform.budget(&access).await;
    assert_eq!(kinds(&budget), ["exhausted", "threshold"], "no alert twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_carry_history_to_the_model_and_belong_to_their_tenant() {
    let platform = start().await;
    let alice = platform.connected_owner("alice@example.com").await;
    let bob = platform.connected_owner("bob@example.com").await;

    // First turn: a tool call, then an answer.
    let first_message = "Which tables are there? marker-alpha";
    platform.llm().push_turns(
        Provider::Gemini,
        [
            Turn::tool_call("list_tables", json!({"base_id": BASE})),
            Turn::text("There are 3 tables: Companies, Contacts and Deals."),
        ],
    );
    let first = platform
        .chat_ok(&alice, json!({"message": first_message}))
        .await;
    let session = first["session_id"]
        .as_str()
        .expect("session id")
        .to_string();

    // Second turn in the same session: the model receives the whole history, which the fake
    // also checks is a valid Gemini conversation (call, response, signature).
    platform.llm().clear_requests();
    platform
        .llm()
        .push_turn(Provider::Gemini, Turn::text("Companies has 5 records."));
    let second = platform
        .chat_ok(
            &alice,
            json!({"message": "And how big is the first one?", "session_id": session}),
        )
        .await;
    assert_eq!(second["session_id"], session);
    let log = platform.llm().requests();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].status, 200, "{:?}", log[0].response);
    assert_eq!(
        user_texts(&log[0]),
        [first_message, "And how big is the first one?"]
    );
    let contents = log[0].body["contents"].as_array().expect("contents");
    assert_eq!(contents.len(), 5, "{contents:?}");
    assert_eq!(
        contents[1]["parts"][0]["functionCall"]["name"],
        "list_tables"
    );
    assert_eq!(
        contents[2]["parts"][0]["functionResponse"]["name"],
        "list_tables"
    );
    assert_eq!(
        contents[3]["parts"][0]["text"],
        "There are 3 tables: Companies, Contacts and Deals."
    );

    // Listed and shown to its tenant.
    let listed = platform
        .call(Method::GET, "/v1/chat/sessions", &alice, None)
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    let sessions = listed.body["sessions"].as_array().expect("sessions");
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0]["id"], session);
    assert_eq!(sessions[0]["title"], first_message);
    assert_eq!(sessions[0]["model"], GEMINI_MODEL);
    assert_eq!(sessions[0]["message_count"], 6);
    let path = format!("/v1/chat/sessions/{session}");
    let shown = platform.call(Method::GET, &path, &alice, None).await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.text);
    let roles: Vec<&str> = shown.body["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["role"].as_str())
        .collect();
    assert_eq!(
        roles,
        [
            "user",
            "assistant",
            "tool",
            "assistant",
            "user",
            "assistant"
        ]
    );

    // Another tenant: 404 for everything about it, and no model call.
    platform.llm().clear_requests();
    platform
        .llm()
        .push_turn(Provider::Gemini, Turn::text("never sent"));
    for (method, body) in [(Method::GET, None), (Method::DELETE, None)] {
        let foreign = platform.call(method.clone(), &path, &bob, body).await;
        assert_eq!(
            foreign.status,
            StatusCode::NOT_FOUND,
            "{method}: {}",
            foreign.text
        );
        assert_eq!(foreign.error_type(), "SESSION_NOT_FOUND");
    }
    let hijack = platform
        .chat(&bob, json!({"message": "continue", "session_id": session}))
        .await;
    assert_eq!(hijack.status, StatusCode::NOT_FOUND, "{}", hijack.text);
    assert_eq!(hijack.error_type(), "SESSION_NOT_FOUND");
    assert!(platform.llm().requests().is_empty());
    let bobs = platform
        .call(Method::GET, "/v1/chat/sessions", &bob, None)
        .await;
    assert_eq!(bobs.body["sessions"], json!([]));
    let unknown = platform
        .chat(
            &alice,
            json!({"message": "continue", "session_id": "chat_nope"}),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.text);
    assert!(platform.llm().requests().is_empty());

    // The owner's delete: 204, then gone.
    let deleted = platform.call(Method::DELETE, &path, &alice, None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text);
    let gone = platform.call(Method::GET, &path, &alice, None).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    let again = platform.call(Method::DELETE, &path, &alice, None).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    let listed = platform
        .call(Method::GET, "/v1/chat/sessions", &alice, None)
        .await;
    assert_eq!(listed.body["sessions"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn models_lists_the_configured_models_with_prices_and_the_default() {
    let platform = start().await;
    let access = platform.owner("barbara@example.com").await;
    let models = platform
        .call(Method::GET, "/v1/models", &access, None)
        .await;
    assert_eq!(models.status, StatusCode::OK, "{}", models.text);
    let listed = models.body["models"].as_array().expect("models");
    let view = |id: &str| {
        listed
            .iter()
            .find(|m| m["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("{id} missing from {listed:?}"))
    };
    assert_eq!(listed.len(), 3, "{listed:?}");
    for (id, provider, price, default) in [
        (GEMINI_MODEL, "gemini", GEMINI_PRICE, true),
        (OPENAI_MODEL, "openai_compatible", OPENAI_PRICE, false),
        (CUSTOM_MODEL, "openai_compatible", CUSTOM_PRICE, false),
    ] {
        let model = view(id);
        assert_eq!(model["provider"], provider, "{model}");
        assert_eq!(model["input_per_million_usd"], price.0, "{model}");
        assert_eq!(model["output_per_million_usd"], price.1, "{model}");
        assert_eq!(model["default"], default, "{model}");
    }
    let no_chat = platform.mint_api_key(&access, &["records:read"]).await;
    let refused = platform
        .call(Method::GET, "/v1/models", &no_chat, None)
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    // CHAT_MODEL moves the default, and a turn without a model goes to that model's endpoint.
    let platform = chat_platform(FakeLlm::builder())
        .chat_model(CUSTOM_MODEL)
        .spawn()
        .await;
    let access = platform.connected_owner("barbara@example.com").await;
    let models = platform
        .call(Method::GET, "/v1/models", &access, None)
        .await;
    let defaults: Vec<&str> = models.body["models"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["default"] == true)
        .filter_map(|m| m["id"].as_str())
        .collect();
    assert_eq!(defaults, [CUSTOM_MODEL]);
    platform
        .llm()
        .push_turn(Provider::OpenAi, Turn::text("hello from the default"));
    let reply = platform.chat_ok(&access, json!({"message": "hi"})).await;
    assert_eq!(reply["model"], CUSTOM_MODEL);
    let log = platform.llm().requests();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].provider, Provider::OpenAi);
    assert_eq!(log[0].model, CUSTOM_MODEL);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_unknown_model_empty_message_provider_refusals_and_no_connection() {
    let platform = start().await;
    let access = platform.connected_owner("frances@example.com").await;

    let unknown = platform
        .chat(&access, json!({"message": "hi", "model": "gpt-99-ultra"}))
        .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST, "{}", unknown.text);
    assert_eq!(unknown.error_type(), "UNKNOWN_MODEL");
    assert!(
        unknown.error_message().contains("/v1/models"),
        "{}",
        unknown.text
    );

    for message in ["", "   \n\t"] {
        let empty = platform.chat(&access, json!({"message": message})).await;
        assert_eq!(
            empty.status,
            StatusCode::BAD_REQUEST,
            "{message:?}: {}",
            empty.text
        );
        assert_eq!(empty.error_type(), "INVALID_REQUEST");
    }
    let too_long = platform
        .chat(&access, json!({"message": "x".repeat(8_001)}))
        .await;
    assert_eq!(
        too_long.status,
        StatusCode::BAD_REQUEST,
        "{}",
        too_long.text
    );
    let missing = platform.chat(&access, json!({})).await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST, "{}", missing.text);
    let unknown_field = platform
        .chat(&access, json!({"message": "hi", "temperature": 2}))
        .await;
    assert_eq!(
        unknown_field.status,
        StatusCode::BAD_REQUEST,
        "{}",
        unknown_field.text
    );
    assert!(
        platform.llm().requests().is_empty(),
        "none of these reached a model"
    );

    // The provider refusing (401, 400, a wrong key) is the provider's refusal: 502 MODEL_REFUSED.
    platform.llm().push_turn(Provider::Gemini, Turn::error(401));
    platform
        .llm()
        .push_turn(Provider::OpenAi, Turn::error(400).with_message("bad tools"));
    for model in [GEMINI_MODEL, OPENAI_MODEL] {
        let refused = platform
            .chat(&access, json!({"message": "hi", "model": model}))
            .await;
        assert_eq!(
            refused.status,
            StatusCode::BAD_GATEWAY,
            "{model}: {}",
            refused.text
        );
        assert_eq!(refused.error_type(), "MODEL_REFUSED", "{}", refused.text);
    }
    let log = platform.llm().requests();
    assert_eq!(log.iter().map(|r| r.status).collect::<Vec<_>>(), [401, 400]);
    platform
        .llm()
        .set_api_key(Provider::Gemini, Some("a-different-key".into()));
    let wrong_key = platform.chat(&access, json!({"message": "hi"})).await;
    assert_eq!(
        wrong_key.status,
        StatusCode::BAD_GATEWAY,
        "{}",
        wrong_key.text
    );
    assert_eq!(wrong_key.error_type(), "MODEL_REFUSED");
    assert!(
        !wrong_key.text.contains(DEFAULT_GEMINI_KEY),
        "the key is never shown: {}",
        wrong_key.text
    );
    assert_eq!(
        platform.llm().last_request().map(|r| r.api_key),
        Some(KeyCheck::Invalid)
    );
    platform
        .llm()
        .set_api_key(Provider::Gemini, Some(DEFAULT_GEMINI_KEY.into()));

    // A provider outage is not a refusal.
    platform.llm().push_turn(Provider::Gemini, Turn::error(503));
    let outage = platform.chat(&access, json!({"message": "hi"})).await;
    assert_eq!(outage.status, StatusCode::BAD_GATEWAY, "{}", outage.text);
    assert_eq!(outage.error_type(), "MODEL_UNAVAILABLE");

    // No chat scope, and no Airtable connection.
    let no_chat = platform.mint_api_key(&access, &["records:read"]).await;
    let forbidden = platform.chat(&no_chat, json!({"message": "hi"})).await;
    assert_eq!(
        forbidden.status,
        StatusCode::FORBIDDEN,
        "{}",
        forbidden.text
    );
    assert_eq!(forbidden.error_type(), "INSUFFICIENT_SCOPE");
    platform.llm().clear_requests();
    let unconnected = platform.owner("nobody@example.com").await;
    let not_connected = platform.chat(&unconnected, json!({"message": "hi"})).await;
    assert_eq!(
        not_connected.status,
        StatusCode::CONFLICT,
        "{}",
        not_connected.text
    );
    assert_eq!(not_connected.error_type(), "AIRTABLE_NOT_CONNECTED");
    assert!(platform.llm().requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gemini_model_without_a_key_is_not_configured() {
    let platform = chat_platform(FakeLlm::builder())
        .without_model_key(Provider::Gemini)
        .spawn()
        .await;
    let access = platform.connected_owner("radia@example.com").await;
    let reply = platform.chat(&access, json!({"message": "hi"})).await;
    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        reply.text
    );
    assert_eq!(reply.error_type(), "MODEL_NOT_CONFIGURED");
    assert!(
        reply.error_message().contains("GEMINI_API_KEY"),
        "{}",
        reply.text
    );
    assert!(platform.llm().requests().is_empty());

    // The OpenAI-compatible models, which have their key, still work.
    platform
        .llm()
        .push_turn(Provider::OpenAi, Turn::text("still here"));
    let reply = platform
        .chat_ok(&access, json!({"message": "hi", "model": OPENAI_MODEL}))
        .await;
    assert_eq!(reply["reply"], "still here");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turn_past_its_round_limit_is_incomplete_and_its_session_continues() {
    let platform = start().await;
    let access = platform.connected_owner("joan@example.com").await;
    // A model that never stops calling tools: six rounds, then the loop gives up.
    platform.llm().add_rule(
        Rule::new(
            Condition::Always,
            Turn::tool_call("list_tables", json!({"base_id": BASE})).with_usage(100, 10),
        )
        .times(6),
    );
    let reply = platform
        .chat_ok(&access, json!({"message": "Keep looking"}))
        .await;
    assert_eq!(reply["status"], "incomplete", "{reply}");
    assert_eq!(reply["tool_calls"].as_array().map(Vec::len), Some(6));
    assert!(
        reply["reply"]
            .as_str()
            .is_some_and(|r| r.contains("continue"))
    );
    assert_eq!(reply["usage"]["input_tokens"], 600);
    assert_eq!(reply["usage"]["output_tokens"], 60);
    assert_eq!(platform.llm().requests().len(), 6);
    let summary = platform.counters(&access).await;
    assert_eq!(summary["counters"]["llm.calls"], 6, "{summary}");

    // The session is well formed for the provider: continuing it works.
    platform.llm().clear_requests();
    platform
        .llm()
        .push_turn(Provider::Gemini, Turn::text("Three tables."));
    let next = platform
        .chat_ok(
            &access,
            json!({"message": "continue", "session_id": reply["session_id"]}),
        )
        .await;
    assert_eq!(next["status"], "complete");
    assert_eq!(next["reply"], "Three tables.");
    let log = platform.llm().requests();
    assert_eq!(log.len(), 1);
    assert_eq!(user_texts(&log[0]), ["Keep looking", "continue"]);
}
