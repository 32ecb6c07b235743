//! Shared helpers for the HTTP tests: start a sandbox, send JSON, read status and body.

#![allow(dead_code)]

use airtable_sandbox::{DEMO_TOKEN, RateLimits, Sandbox, SandboxBuilder, SandboxHandle};
use reqwest::Method;
use serde_json::Value;

pub const BASE: &str = "appSandboxDemoCRM";

pub async fn start() -> SandboxHandle {
    start_with(Sandbox::builder().rate_limits(RateLimits::disabled())).await
}

pub async fn start_with(builder: SandboxBuilder) -> SandboxHandle {
    builder.start("127.0.0.1:0".parse().unwrap()).await.unwrap()
}

pub struct Client {
    pub url: String,
    pub token: String,
    http: reqwest::Client,
}

impl Client {
    pub fn new(sandbox: &SandboxHandle) -> Self {
        Self {
            url: sandbox.url(),
            token: DEMO_TOKEN.to_string(),
            http: reqwest::Client::new(),
        }
    }

    pub fn with_token(sandbox: &SandboxHandle, token: &str) -> Self {
        Self {
            token: token.to_string(),
            ..Self::new(sandbox)
        }
    }

    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{}", self.url, path));
        if !self.token.is_empty() {
            req = req.bearer_auth(&self.token);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        };
        (status, value)
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.send(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(Method::PATCH, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(Method::PUT, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> (u16, Value) {
        self.send(Method::DELETE, path, None).await
    }
}

pub fn names(body: &Value) -> Vec<String> {
    body["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["fields"]["Name"].as_str().unwrap_or("").to_string())
        .collect()
}

pub fn error_type(body: &Value) -> &str {
    body["error"]["type"].as_str().unwrap_or("")
}
