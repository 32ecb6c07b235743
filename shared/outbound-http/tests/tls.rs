//! `https://` URLs go over TLS with certificate verification on: a server on 127.0.0.1 with a
//! self-signed certificate (tests/fixtures, valid for 127.0.0.1 and loopback-name.test) is
//! reached through the allowance, and the handshake fails on the unknown issuer.

mod support;

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::mpsc;

use outbound_http::{OutboundError, OutboundHttp};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use support::{TripwireDialer, client_with, get};

const CERT: &[u8] = include_bytes!("fixtures/self-signed-cert.pem");
const KEY: &[u8] = include_bytes!("fixtures/self-signed-key.pem");

/// Accepts one connection on a thread and runs the server side of the handshake; reports
/// whether the client ever completed it (it must not).
fn self_signed_server() -> (SocketAddr, mpsc::Receiver<bool>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let certs = vec![CertificateDer::from_pem_slice(CERT).expect("cert")];
    let key = PrivateKeyDer::from_pem_slice(KEY).expect("key");
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("server config");
    let (done, handshake) = mpsc::channel();
    std::thread::spawn(move || {
        let Ok((mut socket, _)) = listener.accept() else {
            return;
        };
        let mut connection =
            rustls::ServerConnection::new(Arc::new(config)).expect("server connection");
        while connection.is_handshaking() {
            if connection.complete_io(&mut socket).is_err() {
                break;
            }
        }
        let _ = done.send(!connection.is_handshaking());
    });
    (addr, handshake)
}

#[tokio::test]
async fn https_verifies_the_server_certificate() {
    for host in ["127.0.0.1", "loopback-name.test"] {
        let (addr, handshake) = self_signed_server();
        let dialer = Arc::new(TripwireDialer::default());
        let client = client_with(&dialer, &[addr], |b| b);
        let url = format!("https://{host}:{}/", addr.port());

        let outcome = client.send(get(&url)).await;

        match outcome {
            Err(OutboundError::Network(message)) => {
                assert!(
                    message.contains("invalid peer certificate: UnknownIssuer"),
                    "{url}: {message}"
                )
            }
            other => panic!("{url}: expected a certificate failure, got {other:?}"),
        }
        assert_eq!(dialer.dialled(), [addr], "{url}");
        assert_eq!(
            handshake.recv().ok(),
            Some(false),
            "{url}: handshake completed"
        );
    }
}
