//! The one place a connection is made: resolve the host, vet EVERY address it resolves to, and
//! dial only vetted addresses. Resolution and dialling happen here, once, so there is no window
//! between the check and the connection for a DNS answer to change (DNS rebinding), and no code
//! path (redirect, pooled reconnect) that reaches a socket without the guard.

use std::collections::HashSet;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_trait::async_trait;
use http::Uri;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::guard::{Refusal, classify};
use crate::resolve::Resolver;

/// Opens a TCP connection to one vetted address. A seam so that tests can prove nothing is
/// dialled outside loopback: their double fails the test if asked for another address.
#[async_trait]
pub trait Dialer: Send + Sync + std::fmt::Debug {
    async fn dial(&self, addr: SocketAddr) -> io::Result<TcpStream>;
}

/// Production dialling: a plain TCP connect.
#[derive(Debug, Clone, Copy, Default)]
pub struct TcpDialer;

#[async_trait]
impl Dialer for TcpDialer {
    async fn dial(&self, addr: SocketAddr) -> io::Result<TcpStream> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }
}

/// Why no connection was made. Carried through hyper's error chain and turned back into an
/// `OutboundError` by the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    /// The guard refused the address `host` is, or one it resolves to. Nothing was dialled.
    #[error("{}", refused_message(host, refusal))]
    Refused { host: String, refusal: Refusal },
    #[error("{0}")]
    Resolve(String),
    #[error("connecting to {host}: {message}")]
    Dial { host: String, message: String },
    #[error("connecting took longer than {0:?}")]
    Timeout(Duration),
}

/// "10.0.0.1 is a private address" for a literal, "internal.example resolves to a private
/// address (10.0.0.1)" for a name: the user sees which of their hosts is the problem.
fn refused_message(host: &str, refusal: &Refusal) -> String {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if bare.parse::<IpAddr>().is_ok() {
        format!("{host} is a {} address", refusal.class)
    } else {
        format!(
            "{host} resolves to a {} address ({})",
            refusal.class, refusal.ip
        )
    }
}

/// The exact `ip:port` pairs that skip the guard. TEST AND DEV ONLY: production never sets
/// one (see `GuardedClientBuilder::allow_socket_addr`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Allowance(HashSet<SocketAddr>);

impl Allowance {
    pub(crate) fn insert(&mut self, addr: SocketAddr) {
        self.0.insert(addr);
    }

    /// `Ok` if `addr` may be dialled: exactly allowed, or passed by the guard.
    fn vet(&self, addr: SocketAddr) -> Result<(), Refusal> {
        if self.0.contains(&addr) {
            return Ok(());
        }
        classify(addr.ip())
    }
}

/// The hyper connector: `Uri` in, vetted TCP stream out (TLS is layered on top by
/// hyper-rustls, so SNI and certificate checks use the URL's host name).
#[derive(Debug, Clone)]
pub(crate) struct GuardedConnector {
    pub(crate) resolver: Arc<dyn Resolver>,
    pub(crate) dialer: Arc<dyn Dialer>,
    pub(crate) allowance: Arc<Allowance>,
    pub(crate) connect_timeout: Duration,
}

impl GuardedConnector {
    async fn connect(self, dst: Uri) -> Result<TokioIo<TcpStream>, ConnectError> {
        let limit = self.connect_timeout;
        match tokio::time::timeout(limit, self.resolve_vet_dial(dst)).await {
            Ok(result) => result,
            Err(_) => Err(ConnectError::Timeout(limit)),
        }
    }

    async fn resolve_vet_dial(&self, dst: Uri) -> Result<TokioIo<TcpStream>, ConnectError> {
        let host = dst
            .host()
            .ok_or_else(|| ConnectError::Resolve("the URL has no host".to_string()))?
            .to_string();
        let port = dst
            .port_u16()
            .unwrap_or(if dst.scheme_str() == Some("https") {
                443
            } else {
                80
            });
        let addrs = self.vetted_addrs(&host, port).await?;
        let mut last_error = None;
        for addr in addrs {
            match self.dialer.dial(addr).await {
                Ok(stream) => return Ok(TokioIo::new(stream)),
                Err(e) => last_error = Some(e),
            }
        }
        Err(ConnectError::Dial {
            host,
            message: last_error.map_or_else(|| "no address".to_string(), |e| e.to_string()),
        })
    }

    /// The addresses to dial: all of them pass the guard, or none is returned. A name that
    /// resolves to one public and one private address is refused: which one a client would
    /// use is not ours to predict, and mixing them is a classic rebinding trick.
    async fn vetted_addrs(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, ConnectError> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let ips = match bare.parse::<IpAddr>() {
            Ok(ip) => vec![ip],
            Err(_) => self
                .resolver
                .resolve(host)
                .await
                .map_err(ConnectError::Resolve)?,
        };
        if ips.is_empty() {
            return Err(ConnectError::Resolve(format!("{host} has no address")));
        }
        let addrs: Vec<SocketAddr> = ips
            .into_iter()
            .map(|ip| SocketAddr::new(ip, port))
            .collect();
        for addr in &addrs {
            self.allowance
                .vet(*addr)
                .map_err(|refusal| ConnectError::Refused {
                    host: host.to_string(),
                    refusal,
                })?;
        }
        Ok(addrs)
    }
}

impl tower::Service<Uri> for GuardedConnector {
    type Response = TokioIo<TcpStream>;
    type Error = ConnectError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        Box::pin(self.clone().connect(dst))
    }
}
