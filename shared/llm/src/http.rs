//! The one HTTP path both providers share: send JSON, read JSON, classify failures.

use std::time::Duration;

use serde_json::Value;

use crate::error::{LlmError, error_message};

/// A model call may take a while (long answers, thinking models), but a chat turn has a budget
/// under API Gateway's 30 s; the orchestrator bounds the whole turn, this bounds one call.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(25);

/// The process's one HTTP client for model providers. Building a client loads TLS roots and
/// costs milliseconds; a chat turn builds its model per request, so they share this one (and its
/// connection pool). `reqwest::Client` is a cheap handle to shared state.
pub(crate) fn client() -> Result<reqwest::Client, LlmError> {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    if let Some(client) = CLIENT.get() {
        return Ok(client.clone());
    }
    let client = reqwest::Client::builder()
        .timeout(CALL_TIMEOUT)
        .connect_timeout(Duration::from_secs(5))
        .user_agent(concat!("pyairtable-on-lambda/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| LlmError::Unavailable {
            provider: "HTTP client",
            message: e.to_string(),
        })?;
    Ok(CLIENT.get_or_init(|| client).clone())
}

/// Posts `body` and returns the JSON answer of a 2xx, or the provider's error.
pub(crate) async fn post_json(
    provider: &'static str,
    request: reqwest::RequestBuilder,
    body: &Value,
) -> Result<Value, LlmError> {
    let response = request
        .json(body)
        .send()
        .await
        .map_err(|e| LlmError::Unavailable {
            provider,
            message: e.without_url().to_string(),
        })?;
    let status = response.status().as_u16();
    let text = response.text().await.map_err(|e| LlmError::Unavailable {
        provider,
        message: e.without_url().to_string(),
    })?;
    if !(200..300).contains(&status) {
        let message = error_message(&text);
        return Err(if status >= 500 || status == 429 {
            LlmError::Unavailable {
                provider,
                message: format!("{status}: {message}"),
            }
        } else {
            LlmError::Refused {
                provider,
                status,
                message,
            }
        });
    }
    serde_json::from_str(&text).map_err(|e| LlmError::Decode {
        provider,
        message: e.to_string(),
    })
}
