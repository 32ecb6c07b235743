//! Forwarding: sending a caller's request to Airtable as it is, for the `/v0` gateway.
//!
//! The typed API ([`crate::TableClient`], [`crate::meta`]) is for code that knows what it wants.
//! A gateway must instead carry every parameter a client sends, including ones this crate does
//! not model, and return Airtable's answer byte for byte. It still goes through the one request
//! path, so forwarded calls are rate-limited, budgeted and retried like every other call.

use reqwest::Method;
use serde_json::Value;

use crate::Airtable;
use crate::error::AirtableError;
pub use crate::http::RawAnswer;
use crate::ids::BaseId;
use crate::path::ApiPath;
use crate::retry::Idempotency;

/// One request to forward.
#[derive(Debug, Clone)]
pub struct Forward {
    pub method: Method,
    /// The path after `/v0/`: built from parsed ids only, so a caller's text cannot steer it.
    pub path: ApiPath,
    /// The raw query string (without `?`), passed on verbatim.
    pub query: Option<String>,
    pub body: Option<Value>,
    /// The base whose 5/s budget the call spends; `None` for token-wide calls.
    pub base_id: Option<BaseId>,
    pub idempotency: Idempotency,
}

impl Airtable {
    /// Sends `request` and returns Airtable's final answer: a success or a 4xx refusal other
    /// than 429, as Airtable sent it. Our rate limit, exhausted retries and network failures are
    /// errors.
    pub async fn forward(&self, request: &Forward) -> Result<RawAnswer, AirtableError> {
        let transport = self.transport();
        let mut call =
            transport.call(request.method.clone(), &request.path, request.idempotency)?;
        call.url
            .set_query(request.query.as_deref().filter(|q| !q.is_empty()));
        if let Some(body) = &request.body {
            call = call.body(body.clone());
        }
        if let Some(base_id) = &request.base_id {
            call = call.base(base_id);
        }
        transport.send_raw(&call).await
    }
}
