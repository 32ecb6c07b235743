//! `http` steps: one outbound request through the SSRF-guarded client. The body is sent as
//! JSON; `Idempotency-Key: run:<id>:step:<i>` lets a receiver drop the resend that follows a
//! crash between the request and its checkpoint; `sign` adds the `X-PyAirtable-Signature`
//! scheme with the workflow's secret.

use std::sync::Arc;
use std::time::Duration;

use basics::Clock;
use basics::signature::{SIGNATURE_HEADER, TIMESTAMP_HEADER, sign};
use outbound_http::{OutboundError, OutboundHttp, OutboundRequest};
use serde_json::{Value, json};

use super::{StepError, StepOutput, StepScope};
use crate::error::AutomationError;
use crate::model::StepKind;
use crate::seams::WorkflowSecrets;

/// The most response body bytes kept in a step's output (text beyond is cut).
pub const MAX_OUTPUT_BODY_BYTES: usize = 16 * 1024;

/// The longest timeout a step may ask for.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct HttpSteps {
    client: Arc<dyn OutboundHttp>,
    secrets: Arc<dyn WorkflowSecrets>,
    clock: Arc<dyn Clock>,
    /// `<public URL>/v1/hooks/`: the platform's own inbound hooks, which a step may not call
    /// (a webhook-triggered workflow posting to its own hook would start itself for ever).
    own_hooks: Option<String>,
}

impl HttpSteps {
    pub fn new(
        client: Arc<dyn OutboundHttp>,
        secrets: Arc<dyn WorkflowSecrets>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            client,
            secrets,
            clock,
            own_hooks: None,
        }
    }

    /// Refuses requests to the platform's own inbound hooks under `public_url`.
    pub fn refusing_own_hooks(mut self, public_url: &str) -> Self {
        self.own_hooks = Some(format!("{}/v1/hooks/", public_url.trim_end_matches('/')));
        self
    }

    /// Whether `url` is one of the platform's own hooks (compared without case, as hosts are).
    fn calls_own_hooks(&self, url: &str) -> bool {
        self.own_hooks.as_deref().is_some_and(|hooks| {
            url.trim_start()
                .get(..hooks.len())
                .is_some_and(|start| start.eq_ignore_ascii_case(hooks))
        })
    }

    pub async fn run(
        &self,
        scope: &StepScope<'_>,
        kind: &StepKind,
    ) -> Result<StepOutput, StepError> {
        let StepKind::Http {
            method,
            url,
            headers,
            body,
            sign: signed,
            timeout_seconds,
        } = kind
        else {
            return Err(StepError::Permanent(format!(
                "{} is not an http step",
                kind.type_name()
            )));
        };
        if self.calls_own_hooks(url) {
            return Err(StepError::Permanent(
                "an http step may not call the platform's own inbound hooks (it would start runs from runs)".into(),
            ));
        }
        let body = body
            .as_ref()
            .map(serde_json::to_vec)
            .transpose()
            .map_err(|e| StepError::Permanent(format!("body: {e}")))?;
        let mut sent_headers: Vec<(String, String)> = headers
            .iter()
            .filter(|(name, _)| !is_reserved(name))
            .map(|(n, v)| (n.clone(), v.clone()))
            .collect();
        let typed = sent_headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("content-type"));
        if body.is_some() && !typed {
            sent_headers.push(("Content-Type".into(), "application/json".into()));
        }
        sent_headers.push(("Idempotency-Key".into(), scope.idempotency_key()));
        if *signed {
            let secret = self
                .secrets
                .signing_secret(scope.tenant_id, scope.workflow_id)
                .await
                .map_err(|e| match e {
                    AutomationError::NotFound(_) => {
                        StepError::Permanent(format!("signing secret: {e}"))
                    }
                    other => StepError::Transient(format!("signing secret: {other}")),
                })?;
            let timestamp = self.clock.now().timestamp();
            let signature = sign(&secret, timestamp, body.as_deref().unwrap_or_default());
            sent_headers.push((TIMESTAMP_HEADER.into(), timestamp.to_string()));
            sent_headers.push((SIGNATURE_HEADER.into(), signature));
        }
        let request = OutboundRequest {
            method: method.to_ascii_uppercase(),
            url: url.clone(),
            headers: sent_headers,
            body,
            timeout: Some(
                timeout_seconds
                    .map(|s| Duration::from_secs(u64::from(s)))
                    .unwrap_or(MAX_TIMEOUT)
                    .min(MAX_TIMEOUT),
            ),
        };
        let response = self.client.send(request).await.map_err(classify)?;
        let content_type = response
            .headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("content-type"))
            .map(|(_, v)| v.clone());
        let output = json!({
            "status": response.status,
            "headers": {"content-type": content_type},
            "body": output_body(&response.body),
        });
        match response.status {
            200..=299 => Ok(output),
            429 | 500..=599 => Err(StepError::Transient(format!(
                "{} answered {}",
                response.final_url, response.status
            ))),
            status => Err(StepError::Permanent(format!(
                "{} answered {status}",
                response.final_url
            ))),
        }
    }
}

/// Headers the step sets itself; a user's value would forge or break them (refused when the
/// workflow is saved, dropped here for one saved before that check).
pub fn is_reserved(name: &str) -> bool {
    [
        "content-length",
        "host",
        "idempotency-key",
        "x-pyairtable-signature",
        "x-pyairtable-timestamp",
    ]
    .iter()
    .any(|reserved| name.eq_ignore_ascii_case(reserved))
}

/// The body as JSON when it parses, else as text, cut to [`MAX_OUTPUT_BODY_BYTES`].
fn output_body(body: &[u8]) -> Value {
    if body.len() <= MAX_OUTPUT_BODY_BYTES
        && let Ok(value) = serde_json::from_slice::<Value>(body)
    {
        return value;
    }
    let cut = &body[..body.len().min(MAX_OUTPUT_BODY_BYTES)];
    let text = String::from_utf8_lossy(cut).into_owned();
    Value::String(text)
}

fn classify(err: OutboundError) -> StepError {
    match err {
        OutboundError::Timeout | OutboundError::Network(_) => StepError::Transient(err.to_string()),
        OutboundError::Invalid(_)
        | OutboundError::Refused(_)
        | OutboundError::TooLarge(_)
        | OutboundError::TooManyRedirects => StepError::Permanent(err.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_json_when_they_parse_and_cut_text_otherwise() {
        assert_eq!(output_body(br#"{"ok":true}"#), json!({"ok": true}));
        assert_eq!(output_body(b"plain"), json!("plain"));
        let long = vec![b'a'; MAX_OUTPUT_BODY_BYTES + 10];
        assert_eq!(
            output_body(&long).as_str().map(str::len),
            Some(MAX_OUTPUT_BODY_BYTES)
        );
    }

    #[derive(Debug)]
    struct NoSecrets;

    #[async_trait::async_trait]
    impl WorkflowSecrets for NoSecrets {
        async fn signing_secret(
            &self,
            _tenant_id: &str,
            _workflow_id: &crate::model::WorkflowId,
        ) -> Result<String, AutomationError> {
            Err(AutomationError::NotFound("secret".into()))
        }
    }

    #[derive(Debug)]
    struct Unused;

    #[async_trait::async_trait]
    impl OutboundHttp for Unused {
        async fn send(
            &self,
            _request: OutboundRequest,
        ) -> Result<outbound_http::OutboundResponse, outbound_http::OutboundError> {
            Err(outbound_http::OutboundError::Invalid("not used".into()))
        }
    }

    #[test]
    fn the_platforms_own_hooks_are_recognised_in_any_case() {
        let steps = HttpSteps::new(
            Arc::new(Unused),
            Arc::new(NoSecrets),
            Arc::new(basics::SystemClock),
        )
        .refusing_own_hooks("https://api.example.com/");
        for own in [
            "https://api.example.com/v1/hooks/workflows/wfl_a",
            "HTTPS://API.EXAMPLE.COM/v1/hooks/airtable/x",
            "  https://api.example.com/v1/hooks/",
        ] {
            assert!(steps.calls_own_hooks(own), "{own}");
        }
        for other in [
            "https://api.example.com/v1/workflows",
            "https://api.example.com.evil.test/v1/hooks/x",
            "https://hooks.example.com/v1/hooks/x",
            "é",
        ] {
            assert!(!steps.calls_own_hooks(other), "{other}");
        }
    }

    #[test]
    fn reserved_headers_cannot_be_set_by_the_step() {
        assert!(is_reserved("X-PyAirtable-Signature"));
        assert!(is_reserved("idempotency-key"));
        assert!(!is_reserved("Authorization"));
    }
}
