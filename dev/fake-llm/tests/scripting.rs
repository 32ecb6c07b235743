//! Rules, the shared queue, script problems, delays, the request log and the admin endpoints.

mod common;

use common::*;
use fake_llm::{Condition, FakeLlm, Provider, Rule, Script, Turn};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

fn openai_tools(names: &[&str]) -> Value {
    Value::Array(
        names
            .iter()
            .map(|n| json!({"type": "function", "function": {"name": n, "parameters": {"type": "object"}}}))
            .collect(),
    )
}

fn gemini_tools(names: &[&str]) -> Value {
    json!([{"functionDeclarations": names.iter().map(|n| json!({"name": n})).collect::<Vec<_>>()}])
}

/// Rules alone drive the whole loop, in both formats: call a tool on the user's question, then
/// answer from the tool's result.
#[tokio::test]
async fn rules_answer_from_tool_results_in_both_formats() {
    let llm = start().await;
    llm.add_rule(Rule::new(
        Condition::All(vec![
            Condition::LastIsUserText,
            Condition::LastUserTextContains("companies".into()),
        ]),
        Turn::tool_call("list_records", json!({"table": "Companies"})),
    ));
    llm.add_rule(Rule::answer_tool_results(
        "You asked \"{user_text}\": {tool_result/records/0/fields/Name}",
    ));

    // OpenAI
    let mut messages = vec![json!({"role": "user", "content": "List the COMPANIES"})];
    let first = openai(
        &llm,
        &json!({"model": "m", "messages": messages, "tools": openai_tools(&["list_records"])}),
    )
    .await;
    assert_eq!(first.status, 200, "{}", first.body);
    let message = first.body["choices"][0]["message"].clone();
    let id = message["tool_calls"][0]["id"].clone();
    messages.push(message);
    messages.push(json!({"role": "tool", "tool_call_id": id, "content": "{\"records\":[{\"fields\":{\"Name\":\"Globex\"}}]}"}));
    let second = openai(
        &llm,
        &json!({"model": "m", "messages": messages, "tools": openai_tools(&["list_records"])}),
    )
    .await;
    assert_eq!(
        second.body["choices"][0]["message"]["content"],
        "You asked \"List the COMPANIES\": Globex"
    );

    // Gemini
    let mut contents = vec![json!({"role": "user", "parts": [{"text": "companies please"}]})];
    let first = gemini(
        &llm,
        "gemini-3-pro-preview",
        &json!({"contents": contents, "tools": gemini_tools(&["list_records"])}),
    )
    .await;
    assert_eq!(first.status, 200, "{}", first.body);
    contents.push(first.body["candidates"][0]["content"].clone());
    contents.push(json!({"role": "user", "parts": [{"functionResponse": {"name": "list_records", "response": {"records": [{"fields": {"Name": "Initech"}}]}}}]}));
    let second = gemini(
        &llm,
        "gemini-3-pro-preview",
        &json!({"contents": contents, "tools": gemini_tools(&["list_records"])}),
    )
    .await;
    assert_eq!(
        second.body["candidates"][0]["content"]["parts"][0]["text"],
        "You asked \"companies please\": Initech"
    );

    let answered: Vec<Option<String>> = llm.requests().into_iter().map(|r| r.answered_by).collect();
    let rule = |i: u32| Some(format!("rule:{i}"));
    assert_eq!(answered, [rule(0), rule(1), rule(0), rule(1)]);
}

#[tokio::test]
async fn queues_come_before_rules_and_rules_can_run_out() {
    let llm = start().await;
    llm.add_rule(Rule::new(Condition::Always, Turn::text("rule")).times(1));
    llm.push_any(Turn::text("any"));
    llm.push_turn(Provider::OpenAi, Turn::text("openai"));
    let body = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
    let mut answers = Vec::new();
    for _ in 0..3 {
        let r = openai(&llm, &body).await;
        answers.push(r.body["choices"][0]["message"]["content"].clone());
    }
    assert_eq!(answers, [json!("openai"), json!("any"), json!("rule")]);

    // Nothing left: a 400 that names the problem, and a note in the log.
    let r = openai(&llm, &body).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["error"]["code"], "fake_llm_script");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no turn left for openai")
    );
    assert!(llm.last_request().unwrap().note.is_some());

    let r = gemini(
        &llm,
        "gemini-2.5-flash",
        &json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["error"]["status"], "FAILED_PRECONDITION");
}

/// A real model cannot call a tool it was not offered; neither can the fake, unless told to.
#[tokio::test]
async fn calls_to_tools_not_offered_are_refused() {
    let llm = start().await;
    llm.push_turn(
        Provider::OpenAi,
        Turn::tool_call("delete_records", json!({"ids": ["rec1"]})),
    );
    let body = json!({"model": "m", "messages": [{"role": "user", "content": "delete it"}], "tools": openai_tools(&["list_records"])});
    let r = openai(&llm, &body).await;
    assert_eq!(r.status, 400);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("\"delete_records\"")
    );
    let record = llm.last_request().unwrap();
    assert_eq!(record.offered_tools(), ["list_records"]);
    assert!(record.note.unwrap().contains("did not offer"));

    // tool_choice "none" offers nothing.
    llm.push_turn(Provider::OpenAi, Turn::tool_call("list_records", json!({})));
    let none = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "tools": openai_tools(&["list_records"]), "tool_choice": "none"});
    assert_eq!(openai(&llm, &none).await.status, 400);

    // Gemini: functionCallingConfig.allowedFunctionNames narrows the offer.
    llm.push_turn(
        Provider::Gemini,
        Turn::tool_call("update_records", json!({})),
    );
    let restricted = json!({
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
        "tools": gemini_tools(&["list_records", "update_records"]),
        "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["list_records"]}}
    });
    assert_eq!(
        gemini(&llm, "gemini-2.5-flash", &restricted).await.status,
        400
    );
    assert_eq!(
        llm.last_request().unwrap().offered_tools(),
        ["list_records"]
    );

    // Opt-in: let a hallucinated tool call through.
    let lax = start_with(FakeLlm::builder().allow_unoffered_tool_calls()).await;
    lax.push_turn(
        Provider::OpenAi,
        Turn::tool_call("delete_records", json!({})),
    );
    let r = openai(&lax, &body).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body["choices"][0]["message"]["tool_calls"][0]["function"]["name"],
        "delete_records"
    );
}

/// The request is in the log as soon as it arrives, while a slow turn is still pending.
#[tokio::test]
async fn slow_turns_are_recorded_on_arrival() {
    let llm = start().await;
    llm.push_turn(
        Provider::OpenAi,
        Turn::text("slow").with_delay(Duration::from_millis(400)),
    );
    let url = llm.openai_base_url();
    let pending = tokio::spawn(async move {
        reqwest::Client::new()
            .post(format!("{url}/chat/completions"))
            .bearer_auth(fake_llm::DEFAULT_OPENAI_KEY)
            .json(&json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}))
            .send()
            .await
            .unwrap()
            .status()
    });
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(llm.requests().len(), 1);
    assert!(!pending.is_finished());
    assert_eq!(pending.await.unwrap(), 200);
}

#[tokio::test]
async fn concurrent_requests_each_take_one_turn() {
    let llm = start().await;
    for i in 0..8 {
        llm.push_turn(Provider::OpenAi, Turn::text(format!("answer {i}")));
    }
    let body = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let url = llm.openai_base_url();
        let body = body.clone();
        tasks.push(tokio::spawn(async move {
            let r: Value = reqwest::Client::new()
                .post(format!("{url}/chat/completions"))
                .bearer_auth(fake_llm::DEFAULT_OPENAI_KEY)
                .json(&body)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            r["choices"][0]["message"]["content"]
                .as_str()
                .unwrap()
                .to_string()
        }));
    }
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    answers.sort();
    let expected: Vec<String> = (0..8).map(|i| format!("answer {i}")).collect();
    assert_eq!(answers, expected);
    let seqs: Vec<u64> = llm.requests().iter().map(|r| r.seq).collect();
    assert_eq!(seqs, (1..=8).collect::<Vec<_>>());
}

/// What Python or curl does: script over HTTP, read the log, reset.
#[tokio::test]
async fn admin_endpoints_script_and_inspect() {
    let llm = start().await;
    let script = json!({
        "openai": [
            {"tool_calls": [{"name": "list_records", "args": {"table": "Companies"}}], "usage": {"prompt_tokens": 11, "completion_tokens": 2}}
        ],
        "rules": [
            {"when": "last_is_tool_result", "text": "Got {tool_result}", "provider": "openai"}
        ]
    });
    let r = admin(&llm, Method::POST, "/_fake/script", Some(script)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["openai"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["rules_used"], json!([0]));

    let r = admin(
        &llm,
        Method::POST,
        "/_fake/turns/gemini",
        Some(json!([{"text": "g1"}, {"error": 503}])),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(llm.remaining(Provider::Gemini), 2);

    let r = admin(
        &llm,
        Method::POST,
        "/_fake/script",
        Some(json!({"append": true, "rules": [{"when": "always", "text": "fallback"}]})),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["rules_used"], json!([0, 0]));
    assert_eq!(llm.remaining_total(), 3);

    let mut messages = vec![json!({"role": "user", "content": "hi"})];
    let first = openai(&llm, &json!({"model": "gpt-4.1", "messages": messages, "tools": openai_tools(&["list_records"])})).await;
    assert_eq!(first.body["usage"]["total_tokens"], 13);
    let message = first.body["choices"][0]["message"].clone();
    messages.push(json!({"role": "tool", "tool_call_id": message["tool_calls"][0]["id"], "content": "3 rows"}));
    messages.insert(1, message);
    let second = openai(&llm, &json!({"model": "gpt-4.1", "messages": messages, "tools": openai_tools(&["list_records"])})).await;
    assert_eq!(
        second.body["choices"][0]["message"]["content"],
        "Got 3 rows"
    );

    let log = admin(&llm, Method::GET, "/_fake/requests?provider=openai", None).await;
    let requests = log.body["requests"].as_array().unwrap();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0]["provider"], "openai");
    assert_eq!(requests[0]["model"], "gpt-4.1");
    assert_eq!(requests[0]["api_key"], "valid");
    assert_eq!(requests[0]["status"], 200);
    assert_eq!(requests[1]["answered_by"], "rule:0");
    assert_eq!(requests[1]["body"]["messages"][2]["role"], "tool");
    assert_eq!(
        requests[1]["response"]["choices"][0]["message"]["content"],
        "Got 3 rows"
    );
    assert!(requests[0]["headers"].get("authorization").is_none());
    let none = admin(&llm, Method::GET, "/_fake/requests?provider=gemini", None).await;
    assert_eq!(none.body["requests"], json!([]));

    let pending = admin(&llm, Method::GET, "/_fake/script", None).await;
    assert_eq!(
        pending.body["gemini"],
        json!([{"text": "g1"}, {"error": {"status": 503}}])
    );
    assert_eq!(pending.body["rules_used"], json!([1, 0]));

    let keys = admin(
        &llm,
        Method::POST,
        "/_fake/keys",
        Some(json!({"openai": "sk-rotated"})),
    )
    .await;
    assert_eq!(keys.body["openai"], "sk-rotated");
    assert_eq!(
        openai(
            &llm,
            &json!({"model": "m", "messages": [{"role": "user", "content": "x"}]})
        )
        .await
        .status,
        401
    );

    let bad = admin(
        &llm,
        Method::POST,
        "/_fake/script",
        Some(json!({"openai": [{"txt": "typo"}]})),
    )
    .await;
    assert_eq!(bad.status, 400);
    assert!(
        bad.body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("not a script")
    );
    let bad = admin(
        &llm,
        Method::POST,
        "/_fake/turns/claude",
        Some(json!({"text": "x"})),
    )
    .await;
    assert_eq!(bad.status, 400);

    let r = admin(&llm, Method::POST, "/_fake/reset", None).await;
    assert_eq!(r.status, 200);
    assert!(llm.requests().is_empty());
    assert_eq!(llm.remaining_total(), 0);
    assert_eq!(
        llm.api_key(Provider::OpenAi).as_deref(),
        Some(fake_llm::DEFAULT_OPENAI_KEY)
    );

    let r = admin(&llm, Method::DELETE, "/_fake/requests", None).await;
    assert_eq!(r.status, 200);
    let r = admin(&llm, Method::GET, "/nowhere", None).await;
    assert_eq!(r.status, 404);
}

/// A script given to the builder is there from the start and comes back on reset.
#[tokio::test]
async fn builder_script_and_reset() {
    let script = Script::from_json(
        r#"{"any": [{"text": "first"}], "rules": [{"when": "always", "text": "again"}]}"#,
    )
    .unwrap();
    let llm = start_with(FakeLlm::builder().script(script).gemini_key("AIza-test")).await;
    let body = json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]});
    let r = gemini_with_key(&llm, "gemini-2.5-flash", Some("AIza-test"), &body).await;
    assert_eq!(
        r.body["candidates"][0]["content"]["parts"][0]["text"],
        "first"
    );
    let r = gemini_with_key(&llm, "gemini-2.5-flash", Some("AIza-test"), &body).await;
    assert_eq!(
        r.body["candidates"][0]["content"]["parts"][0]["text"],
        "again"
    );
    llm.reset();
    let r = gemini_with_key(&llm, "gemini-2.5-flash", Some("AIza-test"), &body).await;
    assert_eq!(
        r.body["candidates"][0]["content"]["parts"][0]["text"],
        "first"
    );
    llm.shutdown().await;
}
