//! The client against real servers on 127.0.0.1, reached through the test-only allowance:
//! a signed POST arrives whole, redirects are re-vetted at every hop, credentials stay with
//! their origin, and the timeouts and the size cap hold. Every dial goes through the tripwire.

mod support;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get as get_route};
use outbound_http::{GuardedClient, OutboundError, OutboundHttp, OutboundRequest};
use support::{HangingDialer, TripwireDialer, client_with, get};

/// What a server received.
#[derive(Debug, Clone)]
struct Received {
    method: Method,
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

#[derive(Clone, Default)]
struct Server {
    received: Arc<Mutex<Vec<Received>>>,
    /// Where `/to-other` redirects.
    other: Arc<Mutex<Option<SocketAddr>>>,
}

impl Server {
    fn received(&self) -> Vec<Received> {
        self.received.lock().expect("lock").clone()
    }
}

fn redirect(status: StatusCode, location: &str) -> Response {
    (status, [(header::LOCATION, location.to_string())]).into_response()
}

async fn record(
    State(server): State<Server>,
    method: Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    server.received.lock().expect("lock").push(Received {
        method,
        path: uri.path().to_string(),
        headers,
        body,
    });
    (StatusCode::OK, [("x-answer", "yes")], "received").into_response()
}

async fn chain(Path(n): Path<usize>) -> Response {
    if n == 0 {
        return (StatusCode::OK, "end of chain").into_response();
    }
    redirect(StatusCode::FOUND, &format!("/chain/{}", n - 1))
}

async fn to_other(State(server): State<Server>) -> Response {
    let other = server
        .other
        .lock()
        .expect("lock")
        .expect("other server set");
    redirect(
        StatusCode::TEMPORARY_REDIRECT,
        &format!("http://{other}/record"),
    )
}

async fn slow() -> &'static str {
    tokio::time::sleep(Duration::from_secs(20)).await;
    "too late"
}

async fn big() -> Vec<u8> {
    vec![b'x'; 2 * 1024 * 1024]
}

/// An endless chunked body: only a client that stops at its cap ever returns.
async fn endless() -> Body {
    let chunk = Bytes::from(vec![b'y'; 64 * 1024]);
    Body::from_stream(futures::stream::repeat_with(move || {
        Ok::<_, Infallible>(chunk.clone())
    }))
}

fn router(server: Server) -> Router {
    Router::new()
        .route("/record", any(record))
        .route("/landing", any(record))
        .route("/chain/{n}", get_route(chain))
        .route("/to-other", any(to_other))
        .route(
            "/to-other-port",
            get_route(|State(s): State<Server>| async move {
                let other = s.other.lock().expect("lock").expect("other server set");
                redirect(
                    StatusCode::FOUND,
                    &format!("http://127.0.0.1:{}/record", other.port()),
                )
            }),
        )
        .route(
            "/to-internal",
            any(|| async { redirect(StatusCode::FOUND, "http://internal.test/") }),
        )
        .route(
            "/to-metadata",
            any(|| async {
                redirect(
                    StatusCode::TEMPORARY_REDIRECT,
                    "http://169.254.169.254/latest/meta-data/",
                )
            }),
        )
        .route(
            "/to-file",
            any(|| async { redirect(StatusCode::FOUND, "file:///etc/passwd") }),
        )
        .route(
            "/see-other",
            any(|| async { redirect(StatusCode::SEE_OTHER, "/landing") }),
        )
        .route(
            "/same-origin",
            any(|| async { redirect(StatusCode::TEMPORARY_REDIRECT, "/record") }),
        )
        .route("/slow", get_route(slow))
        .route("/big", get_route(big))
        .route("/endless", get_route(endless))
        .with_state(server)
}

/// Serves `router` on 127.0.0.1 at a free port.
async fn serve(server: Server) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        axum::serve(listener, router(server)).await.expect("serve");
    });
    addr
}

/// A listener on 127.0.0.1 that only counts the connections it accepts.
async fn counting_listener() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        while listener.accept().await.is_ok() {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    });
    (addr, accepted)
}

fn setup(allowed: &[SocketAddr]) -> (Arc<TripwireDialer>, GuardedClient) {
    let dialer = Arc::new(TripwireDialer::default());
    let client = client_with(&dialer, allowed, |b| b);
    (dialer, client)
}

fn now() -> i64 {
    let elapsed = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock");
    i64::try_from(elapsed.as_secs()).expect("seconds")
}

fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn a_signed_post_arrives_with_its_body_and_headers() {
    let server = Server::default();
    let addr = serve(server.clone()).await;
    let (dialer, client) = setup(&[addr]);
    let body = br#"{"deal":"Acme","stage":"Won"}"#.to_vec();
    let timestamp = now();
    let signature = basics::signature::sign("hook-secret", timestamp, &body);
    let response = client
        .send(OutboundRequest {
            method: "post".to_string(),
            url: format!("http://{addr}/record?x=1"),
            headers: vec![
                ("Content-Type".to_string(), "application/json".to_string()),
                ("X-PyAirtable-Timestamp".to_string(), timestamp.to_string()),
                ("X-PyAirtable-Signature".to_string(), signature),
                ("X-Custom".to_string(), "custom value".to_string()),
            ],
            body: Some(body.clone()),
            timeout: None,
        })
        .await
        .expect("sent");

    assert_eq!(response.status, 200);
    assert_eq!(response.body, b"received");
    assert_eq!(response.final_url, format!("http://{addr}/record?x=1"));
    assert!(
        response
            .headers
            .contains(&("x-answer".to_string(), "yes".to_string()))
    );
    let received = server.received();
    assert_eq!(received.len(), 1);
    let got = &received[0];
    assert_eq!(got.method, Method::POST);
    assert_eq!(got.path, "/record");
    assert_eq!(got.body.as_ref(), body.as_slice());
    assert_eq!(
        header_text(&got.headers, "content-type"),
        Some("application/json")
    );
    assert_eq!(header_text(&got.headers, "x-custom"), Some("custom value"));
    assert_eq!(
        header_text(&got.headers, "host"),
        Some(addr.to_string().as_str())
    );
    let user_agent = header_text(&got.headers, "user-agent").expect("user agent");
    assert!(
        user_agent.starts_with("pyairtable-on-lambda-automations/"),
        "{user_agent}"
    );
    basics::signature::verify(
        "hook-secret",
        header_text(&got.headers, "x-pyairtable-signature"),
        header_text(&got.headers, "x-pyairtable-timestamp"),
        &got.body,
        now(),
    )
    .expect("the signature verifies at the receiver");
    assert_eq!(dialer.dialled(), [addr]);
    dialer.assert_clean();
}

#[tokio::test]
async fn the_allowance_is_exact_other_ports_and_addresses_stay_refused() {
    let server = Server::default();
    let addr = serve(server.clone()).await;
    let (other, accepted) = counting_listener().await;
    let (dialer, client) = setup(&[addr]);
    for url in [
        format!("http://{other}/"),
        format!("http://127.0.0.2:{}/", addr.port()),
        format!("http://[::1]:{}/", addr.port()),
        format!("http://[::ffff:127.0.0.1]:{}/", other.port()),
    ] {
        let outcome = client.send(get(&url)).await;
        assert!(
            matches!(outcome, Err(OutboundError::Refused(_))),
            "{url}: {outcome:?}"
        );
    }
    assert_eq!(dialer.dialled(), []);
    assert_eq!(accepted.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_redirect_to_another_loopback_port_is_refused_at_the_hop() {
    let server = Server::default();
    let addr = serve(server.clone()).await;
    let (other, accepted) = counting_listener().await;
    *server.other.lock().expect("lock") = Some(other);
    let (dialer, client) = setup(&[addr]);

    let outcome = client
        .send(get(&format!("http://{addr}/to-other-port")))
        .await;

    match outcome {
        Err(OutboundError::Refused(message)) => assert_eq!(
            message,
            format!(
                "redirect to http://127.0.0.1:{}/record: 127.0.0.1 is a loopback address",
                other.port()
            )
        ),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(
        dialer.dialled(),
        [addr],
        "only the allowed server was dialled"
    );
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        0,
        "the other port saw no connection"
    );
    dialer.assert_clean();
}

#[tokio::test]
async fn redirects_to_private_metadata_or_non_http_destinations_are_refused_at_the_hop() {
    let server = Server::default();
    let addr = serve(server.clone()).await;
    let (dialer, client) = setup(&[addr]);
    for (path, expected) in [
        (
            "/to-internal",
            "redirect to http://internal.test/: internal.test resolves to a private address (10.0.0.7)",
        ),
        (
            "/to-metadata",
            "redirect to http://169.254.169.254/latest/meta-data/: 169.254.169.254 is a cloud metadata address",
        ),
        ("/to-file", "is not http or https"),
    ] {
        let outcome = client.send(get(&format!("http://{addr}{path}"))).await;
        match outcome {
            Err(OutboundError::Refused(message)) => {
                assert!(message.contains(expected), "{path}: {message}")
            }
            other => panic!("{path}: expected a refusal, got {other:?}"),
        }
    }
    assert!(dialer.dialled().iter().all(|dialled| *dialled == addr));
    dialer.assert_clean();
}

#[tokio::test]
async fn five_redirects_are_followed_and_a_sixth_is_too_many() {
    let server = Server::default();
    let addr = serve(server).await;
    let (_dialer, client) = setup(&[addr]);
    let response = client
        .send(get(&format!("http://{addr}/chain/5")))
        .await
        .expect("five redirects");
    assert_eq!(response.status, 200);
    assert_eq!(response.body, b"end of chain");
    assert_eq!(response.final_url, format!("http://{addr}/chain/0"));
    let outcome = client.send(get(&format!("http://{addr}/chain/6"))).await;
    assert_eq!(outcome, Err(OutboundError::TooManyRedirects));
}

#[tokio::test]
async fn see_other_turns_a_post_into_a_get_without_body() {
    let server = Server::default();
    let addr = serve(server.clone()).await;
    let (_dialer, client) = setup(&[addr]);
    let response = client
        .send(OutboundRequest {
            method: "POST".to_string(),
            url: format!("http://{addr}/see-other"),
            headers: vec![("Content-Type".to_string(), "application/json".to_string())],
            body: Some(b"{\"a\":1}".to_vec()),
            timeout: None,
        })
        .await
        .expect("followed");
    assert_eq!(response.final_url, format!("http://{addr}/landing"));
    let received = server.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].path, "/landing");
    assert_eq!(received[0].method, Method::GET);
    assert!(received[0].body.is_empty());
    assert_eq!(header_text(&received[0].headers, "content-type"), None);
}

fn with_credentials(url: String) -> OutboundRequest {
    OutboundRequest {
        method: "POST".to_string(),
        url,
        headers: vec![
            (
                "Authorization".to_string(),
                "Bearer secret-token".to_string(),
            ),
            ("X-Api-Key".to_string(), "secret-key".to_string()),
            ("Accept".to_string(), "application/json".to_string()),
        ],
        body: Some(b"payload".to_vec()),
        timeout: None,
    }
}

#[tokio::test]
async fn credentials_follow_a_same_origin_redirect_but_never_another_origin() {
    let first = Server::default();
    let first_addr = serve(first.clone()).await;
    let second = Server::default();
    let second_addr = serve(second.clone()).await;
    *first.other.lock().expect("lock") = Some(second_addr);
    let (dialer, client) = setup(&[first_addr, second_addr]);

    client
        .send(with_credentials(format!("http://{first_addr}/same-origin")))
        .await
        .expect("same origin");
    let same = first.received();
    assert_eq!(same.len(), 1);
    assert_eq!(same[0].method, Method::POST, "307 keeps the method");
    assert_eq!(same[0].body.as_ref(), b"payload");
    assert_eq!(
        header_text(&same[0].headers, "authorization"),
        Some("Bearer secret-token")
    );
    assert_eq!(
        header_text(&same[0].headers, "x-api-key"),
        Some("secret-key")
    );

    let response = client
        .send(with_credentials(format!("http://{first_addr}/to-other")))
        .await
        .expect("cross origin");
    assert_eq!(response.final_url, format!("http://{second_addr}/record"));
    let cross = second.received();
    assert_eq!(cross.len(), 1);
    assert_eq!(cross[0].body.as_ref(), b"payload");
    assert_eq!(header_text(&cross[0].headers, "authorization"), None);
    assert_eq!(header_text(&cross[0].headers, "x-api-key"), None);
    assert_eq!(
        header_text(&cross[0].headers, "accept"),
        Some("application/json")
    );
    dialer.assert_clean();
}

#[tokio::test]
async fn a_slow_server_times_out() {
    let server = Server::default();
    let addr = serve(server).await;
    let (_dialer, client) = setup(&[addr]);
    let request = OutboundRequest {
        timeout: Some(Duration::from_millis(300)),
        ..get(&format!("http://{addr}/slow"))
    };
    assert_eq!(client.send(request).await, Err(OutboundError::Timeout));
}

#[tokio::test]
async fn a_connect_that_hangs_times_out() {
    let addr: SocketAddr = "127.0.0.1:9".parse().expect("addr");
    let client = GuardedClient::builder()
        .dialer(Arc::new(HangingDialer))
        .allow_socket_addr(addr)
        .connect_timeout(Duration::from_millis(200))
        .build()
        .expect("client");
    let outcome = client.send(get(&format!("http://{addr}/"))).await;
    assert_eq!(outcome, Err(OutboundError::Timeout));
}

#[tokio::test]
async fn a_big_body_is_cut_at_the_cap() {
    let server = Server::default();
    let addr = serve(server).await;
    let (_dialer, client) = setup(&[addr]);
    let outcome = client.send(get(&format!("http://{addr}/big"))).await;
    assert_eq!(outcome, Err(OutboundError::TooLarge(1024 * 1024)));
    // An endless chunked body (no length to judge by) is cut as it streams.
    let outcome = client.send(get(&format!("http://{addr}/endless"))).await;
    assert_eq!(outcome, Err(OutboundError::TooLarge(1024 * 1024)));

    let dialer = Arc::new(TripwireDialer::default());
    let roomy = client_with(&dialer, &[addr], |b| b.max_response_bytes(3 * 1024 * 1024));
    let response = roomy
        .send(get(&format!("http://{addr}/big")))
        .await
        .expect("fits");
    assert_eq!(response.body.len(), 2 * 1024 * 1024);
}

/// Answers 127.0.0.1 the first time and a private address ever after, counting its calls: a
/// client that resolved twice (once to check, once to connect) would dial the second answer.
#[derive(Debug, Default)]
struct RebindingResolver {
    calls: AtomicUsize,
}

#[async_trait::async_trait]
impl outbound_http::Resolver for RebindingResolver {
    async fn resolve(&self, _host: &str) -> Result<Vec<std::net::IpAddr>, String> {
        let first = self.calls.fetch_add(1, Ordering::SeqCst) == 0;
        let ip = if first { "127.0.0.1" } else { "10.0.0.9" };
        Ok(vec![ip.parse().expect("ip")])
    }
}

#[tokio::test]
async fn a_name_is_resolved_once_per_connection_and_its_vetted_answer_is_what_is_dialled() {
    let server = Server::default();
    let addr = serve(server.clone()).await;
    let dialer = Arc::new(TripwireDialer::default());
    let resolver = Arc::new(RebindingResolver::default());
    let client = GuardedClient::builder()
        .resolver(resolver.clone())
        .dialer(dialer.clone())
        .allow_socket_addr(addr)
        .build()
        .expect("client");

    let url = format!("http://rebind.test:{}/record", addr.port());
    let response = client.send(get(&url)).await.expect("sent");

    assert_eq!(response.status, 200);
    assert_eq!(resolver.calls.load(Ordering::SeqCst), 1);
    assert_eq!(dialer.dialled(), [addr]);
    dialer.assert_clean();
    let received = server.received();
    let host = format!("rebind.test:{}", addr.port());
    assert_eq!(
        header_text(&received[0].headers, "host"),
        Some(host.as_str())
    );
}

#[tokio::test]
async fn a_name_reaches_an_allowed_address_and_nothing_else() {
    let server = Server::default();
    let addr = serve(server.clone()).await;
    let (dialer, client) = setup(&[addr]);
    let response = client
        .send(get(&format!(
            "http://loopback-name.test:{}/record",
            addr.port()
        )))
        .await
        .expect("sent");
    assert_eq!(response.status, 200);
    // The same name on another port is loopback like any other.
    let outcome = client
        .send(get(&format!(
            "http://loopback-name.test:{}/record",
            addr.port() ^ 1
        )))
        .await;
    match outcome {
        Err(OutboundError::Refused(message)) => assert_eq!(
            message,
            "loopback-name.test resolves to a loopback address (127.0.0.1)"
        ),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(dialer.dialled(), [addr]);
}
