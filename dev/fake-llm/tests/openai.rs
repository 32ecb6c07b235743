//! The OpenAI Chat Completions wire format over HTTP: the tool loop, parallel calls, keys,
//! scripted errors and conversations the real API would refuse.

mod common;

use common::*;
use fake_llm::{DEFAULT_OPENAI_KEY, KeyCheck, Provider, Turn};
use serde_json::{Value, json};

fn tools() -> Value {
    json!([
        {"type": "function", "function": {"name": "list_records", "description": "List records of a table",
            "parameters": {"type": "object", "properties": {"table": {"type": "string"}}, "required": ["table"]}}},
        {"type": "function", "function": {"name": "get_base_schema", "description": "Tables and fields",
            "parameters": {"type": "object", "properties": {}}}}
    ])
}

fn user(text: &str) -> Value {
    json!({"role": "user", "content": text})
}

#[tokio::test]
async fn two_step_conversation_call_then_final_text() {
    let llm = start().await;
    llm.push_turn(
        Provider::OpenAi,
        Turn::tool_call(
            "list_records",
            json!({"table": "Companies", "maxRecords": 3}),
        )
        .with_usage(120, 18),
    );
    llm.push_turn(
        Provider::OpenAi,
        Turn::text("The first company is {tool_result/records/0/fields/Name}.").with_usage(260, 9),
    );

    let mut messages = vec![
        json!({"role": "system", "content": "You answer questions about Airtable data."}),
        user("Which company comes first?"),
    ];
    let first = openai(
        &llm,
        &json!({"model": "gpt-4o-mini", "messages": messages, "tools": tools(), "tool_choice": "auto"}),
    )
    .await;
    assert_eq!(first.status, 200, "{}", first.body);
    let b = &first.body;
    assert!(b["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert_eq!(b["object"], "chat.completion");
    assert!(b["created"].as_u64().unwrap() > 1_700_000_000);
    assert_eq!(b["model"], "gpt-4o-mini");
    let choice = &b["choices"][0];
    assert_eq!(choice["index"], 0);
    assert_eq!(choice["finish_reason"], "tool_calls");
    let message = &choice["message"];
    assert_eq!(message["role"], "assistant");
    assert_eq!(message["content"], Value::Null);
    let call = &message["tool_calls"][0];
    assert!(call["id"].as_str().unwrap().starts_with("call_"));
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "list_records");
    // Arguments are a JSON *string*, as in the real API.
    let args: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args, json!({"table": "Companies", "maxRecords": 3}));
    assert_eq!(b["usage"]["prompt_tokens"], 120);
    assert_eq!(b["usage"]["completion_tokens"], 18);
    assert_eq!(b["usage"]["total_tokens"], 138);
    assert!(first.headers.contains_key("x-request-id"));

    messages.push(message.clone());
    messages.push(json!({
        "role": "tool",
        "tool_call_id": call["id"],
        "content": json!({"records": [{"id": "rec1", "fields": {"Name": "Acme Robotics"}}]}).to_string()
    }));
    let second = openai(
        &llm,
        &json!({"model": "gpt-4o-mini", "messages": messages, "tools": tools()}),
    )
    .await;
    assert_eq!(second.status, 200, "{}", second.body);
    let choice = &second.body["choices"][0];
    assert_eq!(choice["finish_reason"], "stop");
    assert_eq!(
        choice["message"]["content"],
        "The first company is Acme Robotics."
    );
    assert!(choice["message"].get("tool_calls").is_none());
    assert_eq!(second.body["usage"]["total_tokens"], 269);

    let log = llm.requests();
    assert_eq!(log.len(), 2);
    assert_eq!(log[1].answered_by.as_deref(), Some("queue:openai"));
    let results = log[1].conversation().tool_results;
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].name, "list_records");
    assert_eq!(results[0].call_id.as_deref(), call["id"].as_str());
    assert_eq!(llm.remaining(Provider::OpenAi), 0);
}

#[tokio::test]
async fn several_tool_calls_in_one_turn() {
    let llm = start().await;
    llm.push_turn(
        Provider::OpenAi,
        Turn::tool_calls([
            ("list_records", json!({"table": "Companies"})),
            ("list_records", json!({"table": "Deals"})),
            ("get_base_schema", json!({})),
        ]),
    );
    llm.push_turn(
        Provider::OpenAi,
        Turn::text(
            "{tool_count} results from {tool_name}; schema: {tool_result:get_base_schema/tables/0}",
        ),
    );
    let mut messages = vec![user("Summarise companies and deals")];
    let first = openai(
        &llm,
        &json!({"model": "m", "messages": messages, "tools": tools()}),
    )
    .await;
    assert_eq!(first.status, 200, "{}", first.body);
    let message = first.body["choices"][0]["message"].clone();
    let calls = message["tool_calls"].as_array().unwrap().clone();
    assert_eq!(calls.len(), 3);
    let ids: std::collections::HashSet<&str> =
        calls.iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 3, "tool call ids are distinct");

    messages.push(message);
    // Results may come back in any order, each tagged with its tool_call_id.
    for call in calls.iter().rev() {
        let content = match call["function"]["name"].as_str().unwrap() {
            "get_base_schema" => json!({"tables": ["Companies", "Deals"]}).to_string(),
            _ => "[]".to_string(),
        };
        messages.push(json!({"role": "tool", "tool_call_id": call["id"], "content": content}));
    }
    let second = openai(
        &llm,
        &json!({"model": "m", "messages": messages, "tools": tools()}),
    )
    .await;
    assert_eq!(second.status, 200, "{}", second.body);
    assert_eq!(
        second.body["choices"][0]["message"]["content"],
        "3 results from get_base_schema, list_records, list_records; schema: Companies"
    );
}

#[tokio::test]
async fn wrong_and_missing_keys_get_401_and_keep_the_turn() {
    let llm = start().await;
    llm.push_turn(Provider::OpenAi, Turn::text("hello"));
    let body = json!({"model": "m", "messages": [user("hi")]});

    let wrong = openai_with_key(&llm, Some("sk-wrong-key-0000"), &body).await;
    assert_eq!(wrong.status, 401);
    let e = &wrong.body["error"];
    assert_eq!(e["type"], "invalid_request_error");
    assert_eq!(e["code"], "invalid_api_key");
    assert_eq!(e["param"], Value::Null);
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .starts_with("Incorrect API key provided: sk-")
    );
    assert!(
        !e["message"].as_str().unwrap().contains("sk-wrong-key-0000"),
        "the key is masked"
    );

    let missing = openai_with_key(&llm, None, &body).await;
    assert_eq!(missing.status, 401);
    assert_eq!(missing.body["error"]["code"], Value::Null);
    assert!(
        missing.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("You didn't provide an API key")
    );

    assert_eq!(
        llm.remaining(Provider::OpenAi),
        1,
        "rejected requests use no turn"
    );
    let ok = openai_with_key(&llm, Some(DEFAULT_OPENAI_KEY), &body).await;
    assert_eq!(ok.status, 200);

    let checks: Vec<KeyCheck> = llm.requests().iter().map(|r| r.api_key).collect();
    assert_eq!(
        checks,
        [KeyCheck::Invalid, KeyCheck::Missing, KeyCheck::Valid]
    );
    assert!(
        llm.requests()
            .iter()
            .all(|r| !r.headers.contains_key("authorization"))
    );

    // An OpenAI-compatible server without auth (Ollama, vLLM).
    llm.set_api_key(Provider::OpenAi, None);
    llm.push_turn(Provider::OpenAi, Turn::text("no key needed"));
    let open = openai_with_key(&llm, None, &body).await;
    assert_eq!(open.status, 200);
    assert_eq!(llm.last_request().unwrap().api_key, KeyCheck::NotChecked);
}

#[tokio::test]
async fn scripted_errors_use_openais_shape() {
    let llm = start().await;
    llm.push_turns(
        Provider::OpenAi,
        [
            Turn::error(429).with_retry_after(7),
            Turn::error(429).with_code("insufficient_quota"),
            Turn::error(500),
            Turn::error(400).with_message("This model's maximum context length is 128000 tokens."),
            Turn::error(401),
        ],
    );
    let body = json!({"model": "gpt-4o", "messages": [user("hi")]});

    let r = openai(&llm, &body).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.body["error"]["type"], "requests");
    assert_eq!(r.body["error"]["code"], "rate_limit_exceeded");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Rate limit reached for gpt-4o")
    );
    assert_eq!(r.headers["retry-after"], "7");

    let r = openai(&llm, &body).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.body["error"]["type"], "insufficient_quota");
    assert_eq!(r.body["error"]["code"], "insufficient_quota");

    let r = openai(&llm, &body).await;
    assert_eq!(r.status, 500);
    assert_eq!(
        r.body,
        json!({"error": {"message": "The server had an error while processing your request. Sorry about that!", "type": "server_error", "param": null, "code": null}})
    );

    let r = openai(&llm, &body).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["error"]["type"], "invalid_request_error");
    assert_eq!(
        r.body["error"]["message"],
        "This model's maximum context length is 128000 tokens."
    );

    let r = openai(&llm, &body).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body["error"]["code"], "invalid_api_key");
}

#[tokio::test]
async fn invalid_conversations_get_400_and_keep_the_turn() {
    let llm = start().await;
    llm.push_turn(Provider::OpenAi, Turn::text("never sent"));
    let assistant = json!({"role": "assistant", "content": null, "tool_calls": [
        {"id": "call_abc", "type": "function", "function": {"name": "list_records", "arguments": "{\"table\":\"Companies\"}"}}
    ]});
    let cases = [
        // A tool result answering an id the assistant never issued.
        (
            json!([user("hi"), assistant, {"role": "tool", "tool_call_id": "call_other", "content": "[]"}]),
            "messages with role 'tool' must be a response to a preceeding message with 'tool_calls'",
            json!("messages.[2].role"),
        ),
        // A tool result with no assistant tool call before it.
        (
            json!([user("hi"), {"role": "tool", "tool_call_id": "call_abc", "content": "[]"}]),
            "messages with role 'tool' must be a response to a preceeding message with 'tool_calls'",
            json!("messages.[1].role"),
        ),
        // The tool call never answered.
        (
            json!([user("hi"), assistant, user("and?")]),
            "The following tool_call_ids did not have response messages: call_abc",
            json!("messages.[1].role"),
        ),
        // The result sent as an object instead of a string.
        (
            json!([user("hi"), assistant, {"role": "tool", "tool_call_id": "call_abc", "content": {"records": []}}]),
            "expected one of a string or array of objects, but got an object instead",
            json!("messages[2].content"),
        ),
    ];
    for (messages, message, param) in cases {
        let r = openai(
            &llm,
            &json!({"model": "m", "messages": messages, "tools": tools()}),
        )
        .await;
        assert_eq!(r.status, 400, "{messages}");
        assert_eq!(r.body["error"]["type"], "invalid_request_error");
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains(message),
            "{}",
            r.body
        );
        assert_eq!(r.body["error"]["param"], param, "{}", r.body);
    }
    let r = openai(
        &llm,
        &json!({"model": "m", "messages": [user("hi")], "tool_choice": "auto"}),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["error"]["param"], "tool_choice");

    let raw = reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", llm.url()))
        .bearer_auth(DEFAULT_OPENAI_KEY)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 400);
    let body: Value = raw.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("We could not parse the JSON body")
    );
    assert_eq!(
        llm.remaining(Provider::OpenAi),
        1,
        "invalid requests use no turn"
    );
    assert!(
        llm.requests()
            .iter()
            .all(|r| r.status == 400 && r.answered_by.is_none())
    );
    assert_eq!(llm.requests().last().unwrap().body, json!("{not json"));
}
