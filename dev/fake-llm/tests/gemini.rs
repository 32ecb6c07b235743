//! The Gemini generateContent wire format over HTTP: the tool loop (with Gemini 3 thought
//! signatures), parallel calls, keys, scripted errors and conversations the real API would refuse.

mod common;

use common::*;
use fake_llm::{DEFAULT_GEMINI_KEY, FakeLlm, KeyCheck, Provider, Turn};
use serde_json::{Value, json};

fn tools() -> Value {
    json!([{"functionDeclarations": [
        {"name": "list_records", "description": "List records of a table",
         "parameters": {"type": "object", "properties": {"table": {"type": "string"}}, "required": ["table"]}},
        {"name": "get_base_schema", "description": "Tables and fields", "parameters": {"type": "object", "properties": {}}}
    ]}])
}

fn user(text: &str) -> Value {
    json!({"role": "user", "parts": [{"text": text}]})
}

fn request(contents: &[Value]) -> Value {
    json!({
        "contents": contents,
        "tools": tools(),
        "systemInstruction": {"parts": [{"text": "You answer questions about Airtable data."}]},
        "generationConfig": {"temperature": 0.1, "maxOutputTokens": 1024}
    })
}

#[tokio::test]
async fn two_step_conversation_call_then_final_text() {
    let llm = start().await;
    let model = "gemini-3-flash-preview";
    llm.push_turn(
        Provider::Gemini,
        Turn::tool_call("list_records", json!({"table": "Companies"})).with_usage(150, 12),
    );
    llm.push_turn(
        Provider::Gemini,
        Turn::text("The first company is {tool_result/records/0/fields/Name}.").with_usage(300, 10),
    );

    let mut contents = vec![user("Which company comes first?")];
    let first = gemini(&llm, model, &request(&contents)).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let b = &first.body;
    let candidate = &b["candidates"][0];
    assert_eq!(candidate["finishReason"], "STOP");
    assert_eq!(candidate["index"], 0);
    let content = &candidate["content"];
    assert_eq!(content["role"], "model");
    let part = &content["parts"][0];
    assert_eq!(part["functionCall"]["name"], "list_records");
    assert_eq!(part["functionCall"]["args"], json!({"table": "Companies"}));
    assert!(
        part["functionCall"].get("id").is_none(),
        "ids are off by default"
    );
    assert!(
        part["thoughtSignature"]
            .as_str()
            .is_some_and(|s| !s.is_empty())
    );
    assert_eq!(
        b["usageMetadata"]["promptTokenCount"], 150,
        "{}",
        b["usageMetadata"]
    );
    assert_eq!(b["usageMetadata"]["candidatesTokenCount"], 12);
    assert_eq!(b["usageMetadata"]["totalTokenCount"], 162);
    assert_eq!(b["modelVersion"], model);
    assert!(b["responseId"].is_string());

    // Gemini 3: the model's turn goes back as it came, thought signature included.
    contents.push(content.clone());
    contents.push(json!({"role": "user", "parts": [{"functionResponse": {
        "name": "list_records",
        "response": {"records": [{"id": "rec1", "fields": {"Name": "Acme Robotics"}}]}
    }}]}));
    let second = gemini(&llm, model, &request(&contents)).await;
    assert_eq!(second.status, 200, "{}", second.body);
    assert_eq!(
        second.body["candidates"][0]["content"]["parts"],
        json!([{"text": "The first company is Acme Robotics."}])
    );
    assert_eq!(second.body["usageMetadata"]["totalTokenCount"], 310);

    // Dropping the signature is what a careless client does; Gemini 3 refuses it.
    llm.push_turn(Provider::Gemini, Turn::text("unused"));
    let mut stripped = contents.clone();
    stripped[1]["parts"][0]
        .as_object_mut()
        .unwrap()
        .remove("thoughtSignature");
    let refused = gemini(&llm, model, &request(&stripped)).await;
    assert_eq!(refused.status, 400);
    assert_eq!(refused.body["error"]["status"], "INVALID_ARGUMENT");
    assert!(
        refused.body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Function call is missing a thought_signature in functionCall parts.")
    );

    let log = llm.requests_for(Provider::Gemini);
    assert_eq!(log.len(), 3);
    assert_eq!(log[0].model, model);
    assert_eq!(
        log[0].path,
        format!("/v1beta/models/{model}:generateContent")
    );
    assert_eq!(log[1].conversation().tool_results[0].name, "list_records");
    assert_eq!(
        log[0].headers.get("x-client-name").map(String::as_str),
        Some("fake-llm-tests")
    );
    assert!(!log[0].headers.contains_key("x-goog-api-key"));
}

#[tokio::test]
async fn several_function_calls_in_one_turn() {
    let llm = start_with(FakeLlm::builder().gemini_function_call_ids(true)).await;
    llm.push_turn(
        Provider::Gemini,
        Turn::tool_calls([
            ("list_records", json!({"table": "Companies"})),
            ("list_records", json!({"table": "Deals"})),
            ("get_base_schema", json!({})),
        ]),
    );
    llm.push_turn(
        Provider::Gemini,
        Turn::text("{tool_count} results; tables: {tool_result:get_base_schema/tables}"),
    );
    let mut contents = vec![user("Summarise companies and deals")];
    let first = gemini(&llm, "gemini-2.5-flash", &request(&contents)).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let content = first.body["candidates"][0]["content"].clone();
    let parts = content["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 3);
    // Parallel calls: only the first part carries the thought signature.
    assert!(parts[0].get("thoughtSignature").is_some());
    assert!(parts[1].get("thoughtSignature").is_none());
    assert!(parts[2].get("thoughtSignature").is_none());

    let responses: Vec<Value> = parts
        .iter()
        .map(|p| {
            let call = &p["functionCall"];
            let response = if call["name"] == "get_base_schema" {
                json!({"tables": ["Companies", "Deals"]})
            } else {
                json!({"records": []})
            };
            json!({"functionResponse": {"id": call["id"], "name": call["name"], "response": response}})
        })
        .collect();
    contents.push(content);
    contents.push(json!({"role": "user", "parts": responses}));
    let second = gemini(&llm, "gemini-2.5-flash", &request(&contents)).await;
    assert_eq!(second.status, 200, "{}", second.body);
    assert_eq!(
        second.body["candidates"][0]["content"]["parts"][0]["text"],
        r#"3 results; tables: ["Companies","Deals"]"#
    );

    // One response short of the calls.
    contents.last_mut().unwrap()["parts"]
        .as_array_mut()
        .unwrap()
        .pop();
    let short = gemini(&llm, "gemini-2.5-flash", &request(&contents)).await;
    assert_eq!(short.status, 400);
    assert_eq!(
        short.body["error"]["message"],
        "Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn."
    );
}

#[tokio::test]
async fn wrong_and_missing_keys_get_googles_answers() {
    let llm = start().await;
    llm.push_turn(Provider::Gemini, Turn::text("hello"));
    let body = json!({"contents": [user("hi")]});

    let wrong = gemini_with_key(&llm, "gemini-2.5-flash", Some("AIza-wrong"), &body).await;
    assert_eq!(wrong.status, 400);
    let e = &wrong.body["error"];
    assert_eq!(e["code"], 400);
    assert_eq!(e["status"], "INVALID_ARGUMENT");
    assert_eq!(
        e["message"],
        "API key not valid. Please pass a valid API key."
    );
    assert_eq!(e["details"][0]["reason"], "API_KEY_INVALID");

    let missing = gemini_with_key(&llm, "gemini-2.5-flash", None, &body).await;
    assert_eq!(missing.status, 403);
    assert_eq!(missing.body["error"]["status"], "PERMISSION_DENIED");

    assert_eq!(
        llm.remaining(Provider::Gemini),
        1,
        "rejected requests use no turn"
    );

    // The key may also come as ?key=.
    let by_query = reqwest::Client::new()
        .post(format!(
            "{}/v1beta/models/gemini-2.5-flash:generateContent?key={DEFAULT_GEMINI_KEY}",
            llm.url()
        ))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(by_query.status(), 200);
    let checks: Vec<KeyCheck> = llm.requests().iter().map(|r| r.api_key).collect();
    assert_eq!(
        checks,
        [KeyCheck::Invalid, KeyCheck::Missing, KeyCheck::Valid]
    );
}

#[tokio::test]
async fn scripted_errors_use_googles_shape() {
    let llm = start().await;
    llm.push_turns(
        Provider::Gemini,
        [
            Turn::error(429).with_retry_after(37),
            Turn::error(503),
            Turn::error(500),
            Turn::error(401),
            Turn::error(400).with_message(
                "The input token count exceeds the maximum number of tokens allowed.",
            ),
        ],
    );
    let body = json!({"contents": [user("hi")]});
    let model = "gemini-2.5-pro";

    let r = gemini(&llm, model, &body).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.body["error"]["code"], 429);
    assert_eq!(r.body["error"]["status"], "RESOURCE_EXHAUSTED");
    let details = r.body["error"]["details"].as_array().unwrap();
    assert!(
        details
            .iter()
            .any(|d| d["@type"] == "type.googleapis.com/google.rpc.RetryInfo"
                && d["retryDelay"] == "37s")
    );

    let r = gemini(&llm, model, &body).await;
    assert_eq!(
        (r.status, r.body["error"]["status"].clone()),
        (503, json!("UNAVAILABLE"))
    );
    assert_eq!(
        r.body["error"]["message"],
        "The model is overloaded. Please try again later."
    );

    let r = gemini(&llm, model, &body).await;
    assert_eq!(
        (r.status, r.body["error"]["status"].clone()),
        (500, json!("INTERNAL"))
    );

    let r = gemini(&llm, model, &body).await;
    assert_eq!(
        (r.status, r.body["error"]["status"].clone()),
        (401, json!("UNAUTHENTICATED"))
    );

    let r = gemini(&llm, model, &body).await;
    assert_eq!(
        r.body,
        json!({"error": {"code": 400, "message": "The input token count exceeds the maximum number of tokens allowed.", "status": "INVALID_ARGUMENT"}})
    );
}

#[tokio::test]
async fn invalid_conversations_get_400_and_keep_the_turn() {
    let llm = start().await;
    llm.push_turn(Provider::Gemini, Turn::text("never sent"));
    let call = json!({"role": "model", "parts": [{"functionCall": {"name": "list_records", "args": {"table": "Companies"}}}]});
    let cases = [
        // A function response with no function call before it.
        (
            vec![
                user("hi"),
                json!({"role": "user", "parts": [{"functionResponse": {"name": "list_records", "response": {}}}]}),
            ],
            "Please ensure that function response turn comes immediately after a function call turn.",
        ),
        // A function call not answered.
        (
            vec![user("hi"), call.clone(), user("and?")],
            "Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn.",
        ),
        // The response as a string, not an object.
        (
            vec![
                user("hi"),
                call.clone(),
                json!({"role": "user", "parts": [{"functionResponse": {"name": "list_records", "response": "[]"}}]}),
            ],
            "google.protobuf.Struct",
        ),
        // The role OpenAI would use.
        (
            vec![
                user("hi"),
                json!({"role": "assistant", "parts": [{"text": "x"}]}),
                user("y"),
            ],
            "Please use a valid role: user, model.",
        ),
    ];
    for (contents, message) in cases {
        let r = gemini(
            &llm,
            "gemini-2.5-flash",
            &json!({"contents": contents, "tools": tools()}),
        )
        .await;
        assert_eq!(r.status, 400, "{contents:?}");
        assert_eq!(r.body["error"]["code"], 400);
        assert_eq!(r.body["error"]["status"], "INVALID_ARGUMENT");
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains(message),
            "{}",
            r.body
        );
    }
    // An unknown field, e.g. an OpenAI-style parameter.
    let r = gemini(
        &llm,
        "gemini-2.5-flash",
        &json!({"contents": [user("hi")], "max_tokens": 10}),
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Unknown name \"max_tokens\"")
    );
    assert_eq!(
        llm.remaining(Provider::Gemini),
        1,
        "invalid requests use no turn"
    );

    // Only generateContent is implemented.
    let stream = reqwest::Client::new()
        .post(format!(
            "{}/v1beta/models/gemini-2.5-flash:streamGenerateContent",
            llm.url()
        ))
        .header("x-goog-api-key", DEFAULT_GEMINI_KEY)
        .json(&json!({"contents": [user("hi")]}))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 404);
}
