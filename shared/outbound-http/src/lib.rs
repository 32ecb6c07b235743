//! Outbound HTTP for workflow `http` steps, guarded against server-side request forgery: a
//! user-written URL must not reach the platform's own network (loopback, private ranges,
//! link-local, the cloud metadata service), neither directly, nor through a name that resolves
//! there, nor through a redirect.
//!
//! [`OutboundHttp`] is what steps depend on; [`GuardedClient`] implements it.
//!
//! How a request goes: the URL, method and headers are checked ([`rules`]); the request is sent
//! through hyper with automatic redirects off; the one connector ([`connect`]) resolves the host
//! ([`resolve::Resolver`]), refuses it if ANY address it resolves to fails the guard
//! ([`guard::classify`]) and dials only the vetted addresses ([`connect::Dialer`]); a redirect
//! is followed by us ([`redirect`]), at most five, each hop through the same rules and
//! connector; the body is read as a stream up to the size cap; the whole exchange has one
//! deadline.
//!
//! Wiring (one client per process, shared; production sets no option):
//!
//! ```no_run
//! use std::sync::Arc;
//! use outbound_http::{GuardedClient, OutboundHttp};
//!
//! # fn wire() -> Result<(), outbound_http::BuildError> {
//! let outbound: Arc<dyn OutboundHttp> = Arc::new(GuardedClient::builder().build()?);
//! # let _ = outbound;
//! # Ok(())
//! # }
//! ```

mod body;
mod client;
pub mod connect;
pub mod guard;
mod redirect;
pub mod resolve;
pub mod rules;

use std::time::Duration;

use async_trait::async_trait;

pub use client::{
    BuildError, CONNECT_TIMEOUT, DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_TIMEOUT, GuardedClient,
    GuardedClientBuilder, MAX_TIMEOUT,
};
pub use connect::{Dialer, TcpDialer};
pub use guard::{AddressClass, Refusal, classify};
pub use redirect::MAX_REDIRECTS;
pub use resolve::{Resolver, StaticResolver, SystemResolver};

/// One outbound request, after templating.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundRequest {
    /// `GET`, `POST`, `PUT`, `PATCH`, `DELETE` or `HEAD`.
    pub method: String,
    /// An absolute `https://` or `http://` URL.
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    /// The whole exchange's limit (connect, redirects, body), capped by the client's own.
    pub timeout: Option<Duration>,
}

/// The answer (after redirects).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The URL that answered, after redirects.
    pub final_url: String,
}

/// Why a request was not made or did not finish.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutboundError {
    /// The URL is not an absolute http(s) URL, or the method or a header is not allowed.
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The guard refused the destination (the message names the address class, e.g.
    /// "loopback"); no connection was attempted.
    #[error("refused: {0}")]
    Refused(String),
    #[error("the request timed out")]
    Timeout,
    /// The response body passed the size cap.
    #[error("the response is larger than {0} bytes")]
    TooLarge(usize),
    #[error("too many redirects")]
    TooManyRedirects,
    /// Connecting or exchanging failed (DNS, TLS, reset).
    #[error("network: {0}")]
    Network(String),
}

/// Sends outbound requests.
#[async_trait]
pub trait OutboundHttp: Send + Sync + std::fmt::Debug {
    async fn send(&self, request: OutboundRequest) -> Result<OutboundResponse, OutboundError>;
}
