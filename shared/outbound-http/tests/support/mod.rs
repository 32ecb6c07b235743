//! Doubles for the outbound client's tests. Nothing here sends a packet outside 127.0.0.0/8:
//! names resolve from a table, and the dialer refuses (and records) any address that is not
//! loopback, so a guard bug fails the test instead of reaching the network.

#![allow(dead_code)]

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use outbound_http::{Dialer, GuardedClient, GuardedClientBuilder, OutboundRequest, StaticResolver};
use tokio::net::TcpStream;

/// A dialer that dials loopback only. Any other address is recorded as a violation and NOT
/// dialled; `assert_clean` fails the test if there was one.
#[derive(Debug, Default)]
pub struct TripwireDialer {
    dialled: Mutex<Vec<SocketAddr>>,
    violations: Mutex<Vec<SocketAddr>>,
}

impl TripwireDialer {
    /// Every address the client asked to dial, in order.
    pub fn dialled(&self) -> Vec<SocketAddr> {
        self.dialled.lock().expect("lock").clone()
    }

    /// Fails the test if the client ever asked to dial a non-loopback address.
    pub fn assert_clean(&self) {
        let violations = self.violations.lock().expect("lock").clone();
        assert!(
            violations.is_empty(),
            "the client tried to dial non-loopback addresses: {violations:?}"
        );
    }
}

#[async_trait]
impl Dialer for TripwireDialer {
    async fn dial(&self, addr: SocketAddr) -> io::Result<TcpStream> {
        self.dialled.lock().expect("lock").push(addr);
        if !addr.ip().is_loopback() {
            self.violations.lock().expect("lock").push(addr);
            return Err(io::Error::other(format!(
                "tripwire: would have dialled {addr}"
            )));
        }
        TcpStream::connect(addr).await
    }
}

/// A dialer that never finishes connecting (for the connect timeout).
#[derive(Debug, Default)]
pub struct HangingDialer;

#[async_trait]
impl Dialer for HangingDialer {
    async fn dial(&self, _addr: SocketAddr) -> io::Result<TcpStream> {
        std::future::pending().await
    }
}

fn ip(text: &str) -> IpAddr {
    text.parse().expect("test address")
}

/// The names the tests use, each resolving where its name says.
pub fn resolver() -> StaticResolver {
    StaticResolver::new()
        .with("localhost", [ip("127.0.0.1"), ip("::1")])
        // Reaches a test server only through the allowance for its exact ip:port.
        .with("loopback-name.test", [ip("127.0.0.1")])
        .with("ten.test", [ip("10.0.0.1")])
        .with("internal.test", [ip("10.0.0.7")])
        .with("private172.test", [ip("172.16.5.4")])
        .with("private192.test", [ip("192.168.1.1")])
        .with("metadata.test", [ip("169.254.169.254")])
        .with("metadata6.test", [ip("fd00:ec2::254")])
        .with("linklocal.test", [ip("169.254.10.10")])
        .with("loop6.test", [ip("::1")])
        .with("mapped.test", [ip("::ffff:127.0.0.1")])
        .with("nat64.test", [ip("64:ff9b::a9fe:a9fe")])
        .with("cgnat.test", [ip("100.64.1.1")])
        // A public address first, a private one second: refused as a whole, nothing dialled.
        .with("mixed.test", [ip("93.184.216.34"), ip("10.0.0.2")])
        .with("mixed6.test", [ip("2606:4700::1"), ip("fe80::1")])
}

/// A client over the tripwire dialer and the table resolver, with `allowed` exempt.
pub fn client_with(
    dialer: &Arc<TripwireDialer>,
    allowed: &[SocketAddr],
    tune: impl FnOnce(GuardedClientBuilder) -> GuardedClientBuilder,
) -> GuardedClient {
    let mut builder = GuardedClient::builder()
        .resolver(Arc::new(resolver()))
        .dialer(dialer.clone());
    for addr in allowed {
        builder = builder.allow_socket_addr(*addr);
    }
    tune(builder).build().expect("client")
}

pub fn get(url: &str) -> OutboundRequest {
    OutboundRequest {
        method: "GET".to_string(),
        url: url.to_string(),
        headers: Vec::new(),
        body: None,
        timeout: Some(Duration::from_secs(5)),
    }
}
