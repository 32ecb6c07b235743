//! The Lambda Runtime API, as much of it as a `lambda_runtime` binary uses: it long-polls
//! `GET /2018-06-01/runtime/invocation/next` for an event, and answers on
//! `POST .../invocation/{id}/response` or `.../invocation/{id}/error`, or reports a failed init
//! on `POST .../init/error`. One emulator serves one function process, one invocation at a
//! time, as Lambda does for one execution environment.
//!
//! It records when the process first asks for work (the end of its init) and, per invocation,
//! when the event was handed over and when the answer came back, so the cold-start benchmark
//! measures what Lambda bills and users wait for, without AWS.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tokio::sync::{Mutex, mpsc, oneshot, watch};

const NEXT: &str = "/2018-06-01/runtime/invocation/next";
const RESPONSE: &str = "/2018-06-01/runtime/invocation/{id}/response";
const ERROR: &str = "/2018-06-01/runtime/invocation/{id}/error";
const INIT_ERROR: &str = "/2018-06-01/runtime/init/error";

/// The header a runtime names its error type in, on `/error` and `/init/error`.
const ERROR_TYPE_HEADER: &str = "lambda-runtime-function-error-type";

/// How long an invocation may run, as announced in `Lambda-Runtime-Deadline-Ms` (API Gateway's
/// own limit: a function cannot usefully answer an HTTP request later than this).
const INVOCATION_TIMEOUT: Duration = Duration::from_secs(30);

/// What can go wrong between the emulator and the process it serves.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("cannot listen on 127.0.0.1: {0}")]
    Bind(std::io::Error),
    #[error("the function reported an init error ({error_type}): {body}")]
    InitFailed { error_type: String, body: String },
    #[error("the emulator stopped before the function answered")]
    Stopped,
}

/// How an invocation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The function's result (for an HTTP function, the API Gateway response JSON).
    Response(Bytes),
    /// The function failed: the error type it named, and its error document.
    Error { error_type: String, body: Bytes },
}

/// One invocation, with its timing.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub request_id: String,
    pub outcome: Outcome,
    /// When `GET /next` handed the event over.
    pub delivered_at: Instant,
    /// When the answer (response or error) arrived.
    pub answered_at: Instant,
}

impl Invocation {
    /// Event handed over to answer received: the function's own handling time, without our
    /// queueing or the process's start.
    pub fn duration(&self) -> Duration {
        self.answered_at
            .saturating_duration_since(self.delivered_at)
    }
}

/// Where the process is in its start.
#[derive(Debug, Clone)]
enum Readiness {
    Starting,
    /// Its first `GET /next` arrived at this instant: init is over.
    Polled(Instant),
    InitFailed {
        error_type: String,
        body: String,
    },
}

/// An event waiting for the process's next poll.
struct Pending {
    request_id: String,
    event: Bytes,
    delivered: oneshot::Sender<Instant>,
}

/// What the HTTP handlers share with [`RuntimeApi`].
struct Shared {
    function_arn: String,
    readiness: watch::Sender<Readiness>,
    events: Mutex<mpsc::Receiver<Pending>>,
    answers: std::sync::Mutex<HashMap<String, oneshot::Sender<(Outcome, Instant)>>>,
}

impl Shared {
    fn answer(&self, request_id: &str, outcome: Outcome) -> Response {
        let at = Instant::now();
        let waiter = self
            .answers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(request_id);
        match waiter {
            Some(waiter) => {
                // The invoker may have given up (timed out); the answer is then simply dropped.
                let _ = waiter.send((outcome, at));
                (StatusCode::ACCEPTED, r#"{"status":"OK"}"#).into_response()
            }
            None => (
                StatusCode::BAD_REQUEST,
                r#"{"errorType":"InvalidRequestID","errorMessage":"no invocation is waiting for this request id"}"#,
            )
                .into_response(),
        }
    }
}

/// A running Runtime API on a free loopback port. Stops when dropped.
pub struct RuntimeApi {
    address: SocketAddr,
    shared: Arc<Shared>,
    events: mpsc::Sender<Pending>,
    readiness: watch::Receiver<Readiness>,
    next_request: AtomicU64,
    server: tokio::task::JoinHandle<()>,
}

impl RuntimeApi {
    /// Starts the API for a function named `function_name` on `127.0.0.1:0`.
    pub async fn start(function_name: &str) -> Result<Self, EmulatorError> {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(EmulatorError::Bind)?;
        let address = listener.local_addr().map_err(EmulatorError::Bind)?;
        let (events, receiver) = mpsc::channel(1);
        let (readiness_sender, readiness) = watch::channel(Readiness::Starting);
        let shared = Arc::new(Shared {
            function_arn: format!("arn:aws:lambda:us-east-1:123456789012:function:{function_name}"),
            readiness: readiness_sender,
            events: Mutex::new(receiver),
            answers: std::sync::Mutex::new(HashMap::new()),
        });
        let router = Router::new()
            .route(NEXT, get(next))
            .route(RESPONSE, post(response))
            .route(ERROR, post(error))
            .route(INIT_ERROR, post(init_error))
            .with_state(Arc::clone(&shared));
        let server = tokio::spawn(async move {
            // Serving ends only with an accept error, when the process is going away anyway.
            let _ = axum::serve(listener, router).await;
        });
        Ok(Self {
            address,
            shared,
            events,
            readiness,
            next_request: AtomicU64::new(1),
            server,
        })
    }

    /// `host:port`, the form Lambda puts in `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The variables Lambda sets for every runtime, and that `lambda_runtime` requires (it
    /// panics without them), for a function of `memory_mb` MB. Credentials and region are the
    /// caller's: they depend on what the function talks to.
    pub fn lambda_environment(&self, function_name: &str, memory_mb: u32) -> Vec<(String, String)> {
        [
            ("AWS_LAMBDA_RUNTIME_API", self.address.to_string()),
            ("AWS_LAMBDA_FUNCTION_NAME", function_name.to_string()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", memory_mb.to_string()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_string()),
            (
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{function_name}"),
            ),
            (
                "AWS_LAMBDA_LOG_STREAM_NAME",
                "2026/01/01/[$LATEST]00000000000000000000000000000000".to_string(),
            ),
            ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_string()),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_string(), value))
        .collect()
    }

    /// Waits for the process's first `GET /next` and answers when it arrived; an init error
    /// the process reported instead fails.
    pub async fn first_poll(&self) -> Result<Instant, EmulatorError> {
        let mut readiness = self.readiness.clone();
        let state = readiness
            .wait_for(|state| !matches!(state, Readiness::Starting))
            .await
            .map_err(|_| EmulatorError::Stopped)?;
        match &*state {
            Readiness::Polled(at) => Ok(*at),
            Readiness::InitFailed { error_type, body } => Err(EmulatorError::InitFailed {
                error_type: error_type.clone(),
                body: body.clone(),
            }),
            Readiness::Starting => Err(EmulatorError::Stopped),
        }
    }

    /// Hands `event` to the process at its next poll and waits for its answer. Callers bound
    /// the wait themselves (a process that died never answers).
    pub async fn invoke(&self, event: Bytes) -> Result<Invocation, EmulatorError> {
        let number = self.next_request.fetch_add(1, Ordering::Relaxed);
        let request_id = format!("00000000-0000-4000-8000-{number:012}");
        let (answered, answer) = oneshot::channel();
        self.shared
            .answers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(request_id.clone(), answered);
        let (delivered, delivery) = oneshot::channel();
        self.events
            .send(Pending {
                request_id: request_id.clone(),
                event,
                delivered,
            })
            .await
            .map_err(|_| EmulatorError::Stopped)?;
        let delivered_at = delivery.await.map_err(|_| EmulatorError::Stopped)?;
        let (outcome, answered_at) = answer.await.map_err(|_| EmulatorError::Stopped)?;
        Ok(Invocation {
            request_id,
            outcome,
            delivered_at,
            answered_at,
        })
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn next(State(shared): State<Arc<Shared>>) -> Response {
    let now = Instant::now();
    shared.readiness.send_if_modified(|state| match state {
        Readiness::Starting => {
            *state = Readiness::Polled(now);
            true
        }
        _ => false,
    });
    let pending = shared.events.lock().await.recv().await;
    let Some(pending) = pending else {
        return (StatusCode::GONE, "the emulator is stopping").into_response();
    };
    let deadline = SystemTime::now()
        .checked_add(INVOCATION_TIMEOUT)
        .and_then(|at| at.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |since| since.as_millis());
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    };
    set("lambda-runtime-aws-request-id", pending.request_id.clone());
    set("lambda-runtime-deadline-ms", deadline.to_string());
    set(
        "lambda-runtime-invoked-function-arn",
        shared.function_arn.clone(),
    );
    set(
        "lambda-runtime-trace-id",
        "Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=0".to_string(),
    );
    set("content-type", "application/json".to_string());
    // The invoker may have stopped waiting; the process still gets its event.
    let _ = pending.delivered.send(Instant::now());
    (StatusCode::OK, headers, pending.event).into_response()
}

async fn response(
    State(shared): State<Arc<Shared>>,
    Path(request_id): Path<String>,
    body: Bytes,
) -> Response {
    shared.answer(&request_id, Outcome::Response(body))
}

async fn error(
    State(shared): State<Arc<Shared>>,
    Path(request_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let error_type = error_type(&headers);
    shared.answer(&request_id, Outcome::Error { error_type, body })
}

async fn init_error(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let error_type = error_type(&headers);
    let body = String::from_utf8_lossy(&body).into_owned();
    shared
        .readiness
        .send_replace(Readiness::InitFailed { error_type, body });
    (StatusCode::ACCEPTED, r#"{"status":"OK"}"#).into_response()
}

fn error_type(headers: &HeaderMap) -> String {
    headers
        .get(ERROR_TYPE_HEADER)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("Unhandled")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plays the runtime's side by hand: poll, then answer.
    async fn poll(http: &reqwest::Client, api: &RuntimeApi) -> reqwest::Response {
        http.get(format!("http://{}{NEXT}", api.address()))
            .send()
            .await
            .expect("next")
    }

    #[tokio::test]
    async fn an_event_goes_out_with_the_headers_the_runtime_needs_and_its_answer_comes_back() {
        let api = RuntimeApi::start("probe").await.expect("start");
        let http = reqwest::Client::new();
        let invoking = api.invoke(Bytes::from_static(br#"{"ping":1}"#));
        let runtime = async {
            let next = poll(&http, &api).await;
            let headers = next.headers().clone();
            let event = next.bytes().await.expect("event");
            let id = headers["lambda-runtime-aws-request-id"]
                .to_str()
                .expect("id")
                .to_string();
            let deadline: u128 = headers["lambda-runtime-deadline-ms"]
                .to_str()
                .expect("deadline")
                .parse()
                .expect("a number");
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .expect("clock")
                .as_millis();
            assert!(deadline > now, "the deadline lies ahead");
            assert_eq!(
                headers["lambda-runtime-invoked-function-arn"],
                "arn:aws:lambda:us-east-1:123456789012:function:probe"
            );
            assert!(headers.contains_key("lambda-runtime-trace-id"));
            assert_eq!(&event[..], br#"{"ping":1}"#);
            let answered = http
                .post(format!(
                    "http://{}/2018-06-01/runtime/invocation/{id}/response",
                    api.address()
                ))
                .body("pong")
                .send()
                .await
                .expect("response");
            assert_eq!(answered.status(), StatusCode::ACCEPTED);
        };
        let (invocation, ()) = tokio::join!(invoking, runtime);
        let invocation = invocation.expect("invocation");
        assert_eq!(invocation.outcome, Outcome::Response(Bytes::from("pong")));
        assert!(invocation.answered_at >= invocation.delivered_at);
        let polled = api.first_poll().await.expect("polled");
        assert!(polled <= invocation.delivered_at);
    }

    #[tokio::test]
    async fn a_function_error_carries_its_type() {
        let api = RuntimeApi::start("probe").await.expect("start");
        let http = reqwest::Client::new();
        let invoking = api.invoke(Bytes::from_static(b"{}"));
        let runtime = async {
            let next = poll(&http, &api).await;
            let id = next.headers()["lambda-runtime-aws-request-id"]
                .to_str()
                .expect("id")
                .to_string();
            http.post(format!(
                "http://{}/2018-06-01/runtime/invocation/{id}/error",
                api.address()
            ))
            .header(ERROR_TYPE_HEADER, "Handler.Boom")
            .body(r#"{"errorType":"Boom","errorMessage":"no"}"#)
            .send()
            .await
            .expect("error");
        };
        let (invocation, ()) = tokio::join!(invoking, runtime);
        match invocation.expect("invocation").outcome {
            Outcome::Error { error_type, body } => {
                assert_eq!(error_type, "Handler.Boom");
                assert!(body.starts_with(br#"{"errorType""#));
            }
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn an_init_error_fails_the_wait_for_the_first_poll() {
        let api = RuntimeApi::start("probe").await.expect("start");
        reqwest::Client::new()
            .post(format!("http://{}{INIT_ERROR}", api.address()))
            .header(ERROR_TYPE_HEADER, "Runtime.ConfigError")
            .body("QUEUE_RUNS_URL is not set")
            .send()
            .await
            .expect("init error");
        match api.first_poll().await {
            Err(EmulatorError::InitFailed { error_type, body }) => {
                assert_eq!(error_type, "Runtime.ConfigError");
                assert_eq!(body, "QUEUE_RUNS_URL is not set");
            }
            other => panic!("expected an init error, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn an_answer_for_an_unknown_request_is_refused() {
        let api = RuntimeApi::start("probe").await.expect("start");
        let refused = reqwest::Client::new()
            .post(format!(
                "http://{}/2018-06-01/runtime/invocation/nope/response",
                api.address()
            ))
            .body("{}")
            .send()
            .await
            .expect("response");
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    }
}
