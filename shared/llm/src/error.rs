//! What can go wrong calling a model provider.

#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    /// The provider refused the request (bad request, bad key, over its quota).
    #[error("{provider} refused the request ({status}): {message}")]
    Refused {
        provider: &'static str,
        status: u16,
        message: String,
    },
    /// The provider failed or could not be reached.
    #[error("{provider} is unavailable: {message}")]
    Unavailable {
        provider: &'static str,
        message: String,
    },
    /// The provider answered something we could not read.
    #[error("{provider} answered something unreadable: {message}")]
    Decode {
        provider: &'static str,
        message: String,
    },
}

/// The `error.message` of a provider's error body (both providers use that shape), or a bounded
/// piece of the body.
pub(crate) fn error_message(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| body.chars().take(300).collect())
}
