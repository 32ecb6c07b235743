//! Helpers for the HTTP tests: start a fake, post to either provider, read status, headers and body.

#![allow(dead_code)]

use fake_llm::{DEFAULT_GEMINI_KEY, DEFAULT_OPENAI_KEY, FakeLlm, FakeLlmBuilder, FakeLlmHandle};
use reqwest::header::HeaderMap;
use serde_json::Value;

pub async fn start() -> FakeLlmHandle {
    start_with(FakeLlm::builder()).await
}

pub async fn start_with(builder: FakeLlmBuilder) -> FakeLlmHandle {
    builder.start("127.0.0.1:0".parse().unwrap()).await.unwrap()
}

pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

async fn read(resp: reqwest::Response) -> Answer {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    Answer {
        status,
        headers,
        body,
    }
}

/// `POST {base}/chat/completions` with the default key.
pub async fn openai(llm: &FakeLlmHandle, body: &Value) -> Answer {
    openai_with_key(llm, Some(DEFAULT_OPENAI_KEY), body).await
}

pub async fn openai_with_key(llm: &FakeLlmHandle, key: Option<&str>, body: &Value) -> Answer {
    let mut req = reqwest::Client::new()
        .post(format!("{}/chat/completions", llm.openai_base_url()))
        .json(body);
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    read(req.send().await.unwrap()).await
}

/// `POST {base}/v1beta/models/{model}:generateContent` with the default key.
pub async fn gemini(llm: &FakeLlmHandle, model: &str, body: &Value) -> Answer {
    gemini_with_key(llm, model, Some(DEFAULT_GEMINI_KEY), body).await
}

pub async fn gemini_with_key(
    llm: &FakeLlmHandle,
    model: &str,
    key: Option<&str>,
    body: &Value,
) -> Answer {
    let mut req = reqwest::Client::new()
        .post(format!(
            "{}/v1beta/models/{model}:generateContent",
            llm.gemini_base_url()
        ))
        .header("x-client-name", "fake-llm-tests")
        .json(body);
    if let Some(k) = key {
        req = req.header("x-goog-api-key", k);
    }
    read(req.send().await.unwrap()).await
}

pub async fn admin(
    llm: &FakeLlmHandle,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> Answer {
    let mut req = reqwest::Client::new().request(method, format!("{}{path}", llm.url()));
    if let Some(b) = body {
        req = req.json(&b);
    }
    read(req.send().await.unwrap()).await
}
