//! The guarded client: the URL rules, our own redirect loop, the guarded connector, timeouts and
//! the size cap, behind [`OutboundHttp`].

use std::error::Error as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use http::header::{HeaderValue, LOCATION, USER_AGENT};
use http_body_util::Full;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls_platform_verifier::BuilderVerifierExt;

use crate::body::read_capped;
use crate::connect::{Allowance, ConnectError, Dialer, GuardedConnector, TcpDialer};
use crate::redirect::{Hop, MAX_REDIRECTS, next_hop};
use crate::resolve::{Resolver, SystemResolver};
use crate::rules::{parse_headers, parse_method, parse_url};
use crate::{OutboundError, OutboundHttp, OutboundRequest, OutboundResponse};

/// Connecting (resolution included) to one host takes at most this long by default.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// A request's whole exchange (connects, redirects, body) when it does not say.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest any request may take, whatever it asks: a step runs inside a Lambda invocation.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(30);
/// The default response size cap.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 1024 * 1024;

const DEFAULT_USER_AGENT: &str = concat!(
    "pyairtable-on-lambda-automations/",
    env!("CARGO_PKG_VERSION")
);

/// Building the client failed (the TLS roots could not be loaded).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("outbound HTTP client: {0}")]
pub struct BuildError(String);

/// The SSRF-guarded client workflow `http` steps use. Build one per process (it holds the TLS
/// configuration and a connection pool) and share it: it is a cheap `Clone`.
#[derive(Clone)]
pub struct GuardedClient {
    http: Client<HttpsConnector<GuardedConnector>, Full<Bytes>>,
    default_timeout: Duration,
    max_response_bytes: usize,
    user_agent: HeaderValue,
    /// Kept for `Debug` only: a client with an allowance says so in logs.
    allowance: Arc<Allowance>,
}

impl std::fmt::Debug for GuardedClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardedClient")
            .field("default_timeout", &self.default_timeout)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("test_only_allowance", &self.allowance)
            .finish_non_exhaustive()
    }
}

/// Options for [`GuardedClient`]. Production needs none: `GuardedClient::builder().build()`.
#[derive(Debug, Clone)]
pub struct GuardedClientBuilder {
    resolver: Arc<dyn Resolver>,
    dialer: Arc<dyn Dialer>,
    allowance: Allowance,
    connect_timeout: Duration,
    default_timeout: Duration,
    max_response_bytes: usize,
    user_agent: Option<String>,
}

impl GuardedClient {
    pub fn builder() -> GuardedClientBuilder {
        GuardedClientBuilder {
            resolver: Arc::new(SystemResolver),
            dialer: Arc::new(TcpDialer),
            allowance: Allowance::default(),
            connect_timeout: CONNECT_TIMEOUT,
            default_timeout: DEFAULT_TIMEOUT,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            user_agent: None,
        }
    }
}

impl GuardedClientBuilder {
    /// Where host names are resolved (default: the system resolver). Tests pass a
    /// `StaticResolver` so that no DNS query leaves the machine.
    pub fn resolver(mut self, resolver: Arc<dyn Resolver>) -> Self {
        self.resolver = resolver;
        self
    }

    /// How vetted addresses are dialled (default: TCP connect). Tests pass a double that fails
    /// if asked to dial anything but loopback.
    pub fn dialer(mut self, dialer: Arc<dyn Dialer>) -> Self {
        self.dialer = dialer;
        self
    }

    /// **TEST AND DEV ONLY. NEVER SET IN PRODUCTION.** Lets requests reach exactly this
    /// `ip:port` although the guard refuses it (a test's own server on 127.0.0.1, the dev
    /// server's local receiver). The guard itself is unchanged: any other port on the same
    /// address, and every other address, is still refused, and redirects are vetted as
    /// always. Matches the address a URL's host is or resolves to, with the URL's port.
    pub fn allow_socket_addr(mut self, addr: SocketAddr) -> Self {
        self.allowance.insert(addr);
        self
    }

    /// Connecting to one host (resolution included); default 5 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// A request's whole exchange when it does not set its own; default 10 s, at most 30 s.
    pub fn default_timeout(mut self, timeout: Duration) -> Self {
        self.default_timeout = timeout.min(MAX_TIMEOUT);
        self
    }

    /// The response size cap; default 1 MiB.
    pub fn max_response_bytes(mut self, cap: usize) -> Self {
        self.max_response_bytes = cap;
        self
    }

    /// The `User-Agent` sent when the request does not set one.
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = Some(user_agent.into());
        self
    }

    pub fn build(self) -> Result<GuardedClient, BuildError> {
        let user_agent = match self.user_agent {
            None => HeaderValue::from_static(DEFAULT_USER_AGENT),
            Some(ua) => HeaderValue::from_str(&ua)
                .map_err(|_| BuildError(format!("user agent {ua:?} is not a header value")))?,
        };
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| BuildError(e.to_string()))?
            .with_platform_verifier()
            .map_err(|e| BuildError(e.to_string()))?
            .with_no_client_auth();
        let allowance = Arc::new(self.allowance);
        let connector = GuardedConnector {
            resolver: self.resolver,
            dialer: self.dialer,
            allowance: allowance.clone(),
            connect_timeout: self.connect_timeout,
        };
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(connector);
        let http = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(https);
        Ok(GuardedClient {
            http,
            default_timeout: self.default_timeout,
            max_response_bytes: self.max_response_bytes,
            user_agent,
            allowance,
        })
    }
}

#[async_trait]
impl OutboundHttp for GuardedClient {
    async fn send(&self, request: OutboundRequest) -> Result<OutboundResponse, OutboundError> {
        let method = parse_method(&request.method).map_err(OutboundError::Invalid)?;
        let url = parse_url(&request.url).map_err(|e| OutboundError::Invalid(e.to_string()))?;
        let mut headers = parse_headers(&request.headers).map_err(OutboundError::Invalid)?;
        if !headers.contains_key(USER_AGENT) {
            headers.insert(USER_AGENT, self.user_agent.clone());
        }
        let hop = Hop {
            method,
            url,
            headers,
            body: request.body.map(Bytes::from),
        };
        let limit = effective_timeout(request.timeout, self.default_timeout);
        match tokio::time::timeout(limit, self.exchange(hop)).await {
            Ok(result) => result,
            Err(_) => Err(OutboundError::Timeout),
        }
    }
}

impl GuardedClient {
    /// Sends `hop` and follows redirects, each hop through the connector's guard.
    async fn exchange(&self, mut hop: Hop) -> Result<OutboundResponse, OutboundError> {
        for redirects in 0..=MAX_REDIRECTS {
            let response = self.send_once(&hop).await.map_err(|error| match error {
                // Say it was a redirect: the user's own URL looked fine.
                OutboundError::Refused(why) if redirects > 0 => {
                    OutboundError::Refused(format!("redirect to {}: {why}", hop.url))
                }
                other => other,
            })?;
            let status = response.status();
            match next_hop(&hop, status, response.headers().get(LOCATION))? {
                Some(next) => hop = next,
                None => return self.finish(response, hop).await,
            }
        }
        Err(OutboundError::TooManyRedirects)
    }

    async fn send_once(
        &self,
        hop: &Hop,
    ) -> Result<http::Response<hyper::body::Incoming>, OutboundError> {
        let uri: http::Uri = hop
            .url
            .as_str()
            .parse()
            .map_err(|e| OutboundError::Invalid(format!("URL {}: {e}", hop.url)))?;
        let mut request = http::Request::builder()
            .method(hop.method.clone())
            .uri(uri)
            .body(Full::new(hop.body.clone().unwrap_or_default()))
            .map_err(|e| OutboundError::Invalid(e.to_string()))?;
        *request.headers_mut() = hop.headers.clone();
        self.http.request(request).await.map_err(request_error)
    }

    async fn finish(
        &self,
        response: http::Response<hyper::body::Incoming>,
        hop: Hop,
    ) -> Result<OutboundResponse, OutboundError> {
        let (parts, body) = response.into_parts();
        let body = read_capped(&parts.headers, body, self.max_response_bytes).await?;
        let headers = parts
            .headers
            .iter()
            .map(|(name, value)| {
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                (name.as_str().to_string(), value)
            })
            .collect();
        Ok(OutboundResponse {
            status: parts.status.as_u16(),
            headers,
            body: body.to_vec(),
            final_url: hop.url.to_string(),
        })
    }
}

/// The request's own limit, or the default, never more than [`MAX_TIMEOUT`].
fn effective_timeout(requested: Option<Duration>, default: Duration) -> Duration {
    requested.unwrap_or(default).min(MAX_TIMEOUT)
}

/// Turns hyper's error back into ours: the connector's refusal and timeout travel inside it.
fn request_error(error: hyper_util::client::legacy::Error) -> OutboundError {
    let mut source = error.source();
    while let Some(cause) = source {
        if let Some(connect) = cause.downcast_ref::<ConnectError>() {
            return match connect {
                ConnectError::Refused { .. } => OutboundError::Refused(connect.to_string()),
                ConnectError::Timeout(_) => OutboundError::Timeout,
                ConnectError::Resolve(_) | ConnectError::Dial { .. } => {
                    OutboundError::Network(connect.to_string())
                }
            };
        }
        source = cause.source();
    }
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    OutboundError::Network(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_may_shorten_or_lengthen_its_deadline_but_never_past_the_maximum() {
        let default = DEFAULT_TIMEOUT;
        assert_eq!(effective_timeout(None, default), DEFAULT_TIMEOUT);
        let short = Duration::from_secs(2);
        assert_eq!(effective_timeout(Some(short), default), short);
        let long = Duration::from_secs(25);
        assert_eq!(effective_timeout(Some(long), default), long);
        let huge = Duration::from_secs(3600);
        assert_eq!(effective_timeout(Some(huge), default), MAX_TIMEOUT);
    }

    #[test]
    fn the_default_timeout_is_capped_too() {
        let builder = GuardedClient::builder().default_timeout(Duration::from_secs(600));
        assert_eq!(builder.default_timeout, MAX_TIMEOUT);
    }
}
