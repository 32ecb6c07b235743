//! A loopback HTTP proxy that forwards every request to one upstream (moto, in the benchmark)
//! and counts them. A function pointed at it through `AWS_ENDPOINT_URL` shows how many store,
//! queue and secret round trips a request costs, which is what its latency on AWS is made of.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderName, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;

/// Headers that belong to one hop, not to the request: the proxy's client sets its own.
const HOP_HEADERS: [HeaderName; 4] = [
    header::HOST,
    header::CONNECTION,
    header::CONTENT_LENGTH,
    header::TRANSFER_ENCODING,
];

struct Shared {
    upstream: String,
    client: reqwest::Client,
    requests: AtomicU64,
}

/// A running proxy on a free loopback port. Stops when dropped.
pub struct CountingProxy {
    address: SocketAddr,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl CountingProxy {
    /// Starts forwarding to `upstream` (`http://host:port`).
    pub async fn start(upstream: &str) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let address = listener.local_addr()?;
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_string(),
            client: reqwest::Client::new(),
            requests: AtomicU64::new(0),
        });
        let router = Router::new()
            .fallback(forward)
            .with_state(Arc::clone(&shared));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(Self {
            address,
            shared,
            server,
        })
    }

    /// The proxy's base URL, for `AWS_ENDPOINT_URL`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// How many requests have arrived so far (forwarded or not).
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::SeqCst)
    }
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn forward(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    shared.requests.fetch_add(1, Ordering::SeqCst);
    let (parts, body) = request.into_parts();
    let path = parts.uri.path_and_query().map_or("/", |path| path.as_str());
    let body = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(body) => body,
        Err(err) => return bad_gateway(format!("cannot read the request body: {err}")),
    };
    let mut headers = parts.headers;
    for name in &HOP_HEADERS {
        headers.remove(name);
    }
    let answer = shared
        .client
        .request(parts.method, format!("{}{path}", shared.upstream))
        .headers(headers)
        .body(body)
        .send()
        .await;
    let answer = match answer {
        Ok(answer) => answer,
        Err(err) => return bad_gateway(format!("upstream: {err}")),
    };
    let status = answer.status();
    let mut headers = answer.headers().clone();
    for name in &HOP_HEADERS {
        headers.remove(name);
    }
    match answer.bytes().await {
        Ok(body) => {
            let mut response = Response::new(Body::from(body));
            *response.status_mut() = status;
            *response.headers_mut() = headers;
            response
        }
        Err(err) => bad_gateway(format!("upstream body: {err}")),
    }
}

fn bad_gateway(message: String) -> Response {
    (StatusCode::BAD_GATEWAY, Bytes::from(message)).into_response()
}

#[cfg(test)]
mod tests {
    use axum::routing::post;

    use super::*;

    #[tokio::test]
    async fn requests_are_forwarded_whole_and_counted() {
        let upstream = Router::new().route(
            "/echo",
            post(|headers: axum::http::HeaderMap, body: Bytes| async move {
                let target = headers
                    .get("x-amz-target")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                (StatusCode::CREATED, [("x-seen-target", target)], body)
            }),
        );
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
        let address = listener.local_addr().expect("address");
        tokio::spawn(async move { axum::serve(listener, upstream).await });
        let proxy = CountingProxy::start(&format!("http://{address}"))
            .await
            .expect("proxy");
        assert_eq!(proxy.requests(), 0);
        let http = reqwest::Client::new();
        for round in 1..=2u64 {
            let answer = http
                .post(format!("{}/echo?x=1", proxy.url()))
                .header("x-amz-target", "DynamoDB_20120810.GetItem")
                .body("payload")
                .send()
                .await
                .expect("through the proxy");
            assert_eq!(answer.status(), StatusCode::CREATED);
            assert_eq!(
                answer.headers()["x-seen-target"],
                "DynamoDB_20120810.GetItem"
            );
            assert_eq!(answer.text().await.expect("body"), "payload");
            assert_eq!(proxy.requests(), round);
        }
    }
}
