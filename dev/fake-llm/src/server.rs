//! Starting the fake: a builder (keys, script, strictness), the axum app (both providers' paths
//! plus `/_fake/…` admin endpoints), a control for scripting and reading the request log, and a
//! handle that knows the URLs and shuts the server down.

use crate::conversation::Conversation;
use crate::script::{Provider, Reply, Rule, Script, ToolCall, Turn, Usage};
use crate::{gemini, openai, template};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use background_server::BackgroundServer;
use rand::Rng;
use rand::distr::Alphanumeric;
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The Gemini key a fresh server accepts (`x-goog-api-key` or `?key=`).
pub const DEFAULT_GEMINI_KEY: &str = "fake-gemini-key";
/// The OpenAI key a fresh server accepts (`Authorization: Bearer …`).
pub const DEFAULT_OPENAI_KEY: &str = "sk-fake-openai-key";

/// Request bodies up to this size are accepted (a long conversation with tool results).
const BODY_LIMIT: usize = 10 * 1024 * 1024;

/// Headers never recorded.
const SECRET_HEADERS: &[&str] = &[
    "authorization",
    "x-goog-api-key",
    "cookie",
    "proxy-authorization",
    "api-key",
];

#[derive(Debug, thiserror::Error)]
pub enum FakeLlmError {
    #[error("could not listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// A response about to be sent: status, extra headers, JSON body.
#[derive(Debug, Clone)]
pub(crate) struct HttpReply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Value,
}

impl HttpReply {
    pub(crate) fn json(status: u16, body: Value) -> Self {
        HttpReply {
            status,
            headers: Vec::new(),
            body,
        }
    }
}

impl IntoResponse for HttpReply {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, Json(self.body)).into_response();
        for (name, value) in self.headers {
            if let Ok(v) = HeaderValue::from_str(&value) {
                response
                    .headers_mut()
                    .insert(HeaderName::from_static(name), v);
            }
        }
        response
    }
}

/// How the request's API key compared with the configured one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyCheck {
    Valid,
    Invalid,
    Missing,
    /// No key is configured for the provider; any (or none) is accepted.
    NotChecked,
}

/// One request as it reached the fake, and what it answered.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordedRequest {
    /// 1, 2, 3… in arrival order across both providers.
    pub seq: u64,
    pub provider: Provider,
    /// From the path (Gemini) or the body's `model` (OpenAI).
    pub model: String,
    pub path: String,
    /// Lower-case names; `authorization`, `x-goog-api-key` and cookies are left out.
    pub headers: BTreeMap<String, String>,
    pub api_key: KeyCheck,
    /// The JSON body; a string when the body was not JSON.
    pub body: Value,
    pub status: u16,
    pub response: Value,
    /// `queue:gemini`, `queue:openai`, `queue:any` or `rule:N`; `None` when no turn was used.
    pub answered_by: Option<String>,
    /// Why the fake refused on the script's account (no turn left, a call to a tool not offered).
    pub note: Option<String>,
}

impl RecordedRequest {
    /// The conversation as the fake read it (tool results, offered tools, last user text).
    pub fn conversation(&self) -> Conversation {
        Conversation::read(self.provider, &self.body)
    }

    /// Names of the tools the request let the model call.
    pub fn offered_tools(&self) -> Vec<String> {
        self.conversation().offered_tools
    }
}

/// Entry point: `FakeLlm::builder()…start(addr)`.
pub struct FakeLlm;

impl FakeLlm {
    pub fn builder() -> FakeLlmBuilder {
        FakeLlmBuilder {
            gemini_key: Some(DEFAULT_GEMINI_KEY.into()),
            openai_key: Some(DEFAULT_OPENAI_KEY.into()),
            script: Script::default(),
            strict_tools: true,
            gemini_call_ids: false,
        }
    }
}

#[derive(Debug, Clone)]
pub struct FakeLlmBuilder {
    gemini_key: Option<String>,
    openai_key: Option<String>,
    script: Script,
    strict_tools: bool,
    gemini_call_ids: bool,
}

impl FakeLlmBuilder {
    pub fn gemini_key(mut self, key: impl Into<String>) -> Self {
        self.gemini_key = Some(key.into());
        self
    }

    pub fn openai_key(mut self, key: impl Into<String>) -> Self {
        self.openai_key = Some(key.into());
        self
    }

    /// Accept any key, or none, for this provider (an OpenAI-compatible server without auth).
    pub fn no_key_check(mut self, provider: Provider) -> Self {
        match provider {
            Provider::Gemini => self.gemini_key = None,
            Provider::OpenAi => self.openai_key = None,
        }
        self
    }

    /// The initial script (also what `reset` goes back to).
    pub fn script(mut self, script: Script) -> Self {
        self.script = script;
        self
    }

    /// By default a scripted call to a tool the request did not offer is refused (400 with a
    /// `fake-llm script:` message), since a real model cannot call it; this lets it through, to
    /// test how the platform handles a hallucinated tool.
    pub fn allow_unoffered_tool_calls(mut self) -> Self {
        self.strict_tools = false;
        self
    }

    /// Gemini function calls carry an `id` (which function responses may echo); off by default.
    pub fn gemini_function_call_ids(mut self, on: bool) -> Self {
        self.gemini_call_ids = on;
        self
    }

    /// Builds the app without binding, for `tower::ServiceExt::oneshot` tests.
    pub fn build(self) -> (Router, FakeLlmControl) {
        let initial = Initial {
            keys: Keys {
                gemini: self.gemini_key,
                openai: self.openai_key,
            },
            script: self.script,
        };
        let shared = Arc::new(Shared {
            state: Mutex::new(Inner::new(&initial)),
            initial,
            strict_tools: self.strict_tools,
            gemini_call_ids: self.gemini_call_ids,
        });
        (app(shared.clone()), FakeLlmControl { shared })
    }

    /// Binds `addr` (use `127.0.0.1:0` in tests) and serves in a background task.
    pub async fn start(self, addr: SocketAddr) -> Result<FakeLlmHandle, FakeLlmError> {
        let (router, control) = self.build();
        let server = BackgroundServer::start(addr, router, "fake LLM")
            .await
            .map_err(|source| FakeLlmError::Bind { addr, source })?;
        Ok(FakeLlmHandle { server, control })
    }
}

#[derive(Debug, Clone)]
struct Keys {
    gemini: Option<String>,
    openai: Option<String>,
}

impl Keys {
    fn get(&self, p: Provider) -> Option<&str> {
        match p {
            Provider::Gemini => self.gemini.as_deref(),
            Provider::OpenAi => self.openai.as_deref(),
        }
    }

    fn set(&mut self, p: Provider, key: Option<String>) {
        match p {
            Provider::Gemini => self.gemini = key,
            Provider::OpenAi => self.openai = key,
        }
    }
}

#[derive(Debug)]
struct Initial {
    keys: Keys,
    script: Script,
}

#[derive(Debug)]
struct Inner {
    keys: Keys,
    gemini: VecDeque<Turn>,
    openai: VecDeque<Turn>,
    any: VecDeque<Turn>,
    /// Each rule with how many times it answered.
    rules: Vec<(Rule, u32)>,
    requests: Vec<RecordedRequest>,
    signatures: HashSet<String>,
    seq: u64,
}

impl Inner {
    fn new(initial: &Initial) -> Self {
        let mut s = Inner {
            keys: initial.keys.clone(),
            gemini: VecDeque::new(),
            openai: VecDeque::new(),
            any: VecDeque::new(),
            rules: Vec::new(),
            requests: Vec::new(),
            signatures: HashSet::new(),
            seq: 0,
        };
        s.append(initial.script.clone());
        s
    }

    fn append(&mut self, script: Script) {
        self.gemini.extend(script.gemini);
        self.openai.extend(script.openai);
        self.any.extend(script.any);
        self.rules.extend(script.rules.into_iter().map(|r| (r, 0)));
    }

    fn clear_script(&mut self) {
        self.gemini.clear();
        self.openai.clear();
        self.any.clear();
        self.rules.clear();
    }

    fn queue(&mut self, p: Provider) -> &mut VecDeque<Turn> {
        match p {
            Provider::Gemini => &mut self.gemini,
            Provider::OpenAi => &mut self.openai,
        }
    }

    /// The provider's queue, then the shared queue, then the first matching rule with uses left.
    fn next_turn(&mut self, p: Provider, c: &Conversation) -> Option<(Turn, String)> {
        if let Some(t) = self.queue(p).pop_front() {
            return Some((t, format!("queue:{p}")));
        }
        if let Some(t) = self.any.pop_front() {
            return Some((t, "queue:any".into()));
        }
        for (i, (rule, used)) in self.rules.iter_mut().enumerate() {
            let provider_ok = rule.provider.is_none_or(|rp| rp == p);
            let uses_left = rule.times.is_none_or(|n| *used < n);
            if provider_ok && uses_left && rule.when.matches(c) {
                *used += 1;
                return Some((rule.turn.clone(), format!("rule:{i}")));
            }
        }
        None
    }

    /// The remaining script, with how often each rule answered.
    fn pending(&self) -> Value {
        let script = Script {
            gemini: self.gemini.iter().cloned().collect(),
            openai: self.openai.iter().cloned().collect(),
            any: self.any.iter().cloned().collect(),
            rules: self.rules.iter().map(|(r, _)| r.clone()).collect(),
        };
        let mut v = serde_json::to_value(script).unwrap_or_else(|_| json!({}));
        v["rules_used"] = json!(self.rules.iter().map(|(_, n)| *n).collect::<Vec<_>>());
        v
    }
}

#[derive(Debug)]
struct Shared {
    state: Mutex<Inner>,
    initial: Initial,
    strict_tools: bool,
    gemini_call_ids: bool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Scripting and inspection, with or without a listening socket.
#[derive(Debug, Clone)]
pub struct FakeLlmControl {
    shared: Arc<Shared>,
}

impl FakeLlmControl {
    /// Queues a turn for one provider.
    pub fn push_turn(&self, provider: Provider, turn: Turn) -> &Self {
        lock(&self.shared.state).queue(provider).push_back(turn);
        self
    }

    pub fn push_turns(&self, provider: Provider, turns: impl IntoIterator<Item = Turn>) -> &Self {
        lock(&self.shared.state).queue(provider).extend(turns);
        self
    }

    /// Queues a turn for whichever provider asks next (after its own queue is empty).
    pub fn push_any(&self, turn: Turn) -> &Self {
        lock(&self.shared.state).any.push_back(turn);
        self
    }

    /// Adds a standing rule, used when the queues are empty.
    pub fn add_rule(&self, rule: Rule) -> &Self {
        lock(&self.shared.state).rules.push((rule, 0));
        self
    }

    /// Adds a script's turns and rules to what is there.
    pub fn append_script(&self, script: Script) -> &Self {
        lock(&self.shared.state).append(script);
        self
    }

    /// Replaces the turns and rules (the request log stays).
    pub fn set_script(&self, script: Script) -> &Self {
        let mut st = lock(&self.shared.state);
        st.clear_script();
        st.append(script);
        drop(st);
        self
    }

    /// Turns still queued for this provider (not counting `any`).
    pub fn remaining(&self, provider: Provider) -> usize {
        lock(&self.shared.state).queue(provider).len()
    }

    /// Turns still queued in all queues.
    pub fn remaining_total(&self) -> usize {
        let st = lock(&self.shared.state);
        st.gemini.len() + st.openai.len() + st.any.len()
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.state).requests.clone()
    }

    pub fn requests_for(&self, provider: Provider) -> Vec<RecordedRequest> {
        lock(&self.shared.state)
            .requests
            .iter()
            .filter(|r| r.provider == provider)
            .cloned()
            .collect()
    }

    pub fn last_request(&self) -> Option<RecordedRequest> {
        lock(&self.shared.state).requests.last().cloned()
    }

    pub fn clear_requests(&self) {
        lock(&self.shared.state).requests.clear();
    }

    /// Changes the accepted key (`None`: accept any key or none).
    pub fn set_api_key(&self, provider: Provider, key: Option<String>) {
        lock(&self.shared.state).keys.set(provider, key);
    }

    pub fn api_key(&self, provider: Provider) -> Option<String> {
        lock(&self.shared.state)
            .keys
            .get(provider)
            .map(str::to_string)
    }

    /// Back to the builder's state: its keys and script; an empty request log.
    pub fn reset(&self) {
        *lock(&self.shared.state) = Inner::new(&self.shared.initial);
    }
}

/// A running fake.
#[derive(Debug)]
pub struct FakeLlmHandle {
    server: BackgroundServer,
    control: FakeLlmControl,
}

impl std::ops::Deref for FakeLlmHandle {
    type Target = FakeLlmControl;
    fn deref(&self) -> &FakeLlmControl {
        &self.control
    }
}

impl FakeLlmHandle {
    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// What `GEMINI_BASE_URL` should be: requests go to `{this}/v1beta/models/{model}:generateContent`.
    pub fn gemini_base_url(&self) -> String {
        self.url()
    }

    /// What `OPENAI_BASE_URL` should be: requests go to `{this}/chat/completions`.
    pub fn openai_base_url(&self) -> String {
        format!("{}/v1", self.url())
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    pub fn control(&self) -> FakeLlmControl {
        self.control.clone()
    }

    /// Stops accepting connections and waits for in-flight requests.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

fn app(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1beta/models/{target}", post(gemini_route))
        .route("/v1/models/{target}", post(gemini_route))
        .route("/v1/chat/completions", post(openai_route))
        .route("/chat/completions", post(openai_route))
        .route("/_fake/script", get(get_script).post(post_script))
        .route("/_fake/turns/{queue}", post(post_turns))
        .route("/_fake/requests", get(get_requests).delete(delete_requests))
        .route("/_fake/reset", post(reset))
        .route("/_fake/keys", get(get_keys).post(post_keys))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(shared)
}

type Shd = State<Arc<Shared>>;

fn random_id(len: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then(|| v.to_string())
    })
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn recorded_headers(headers: &HeaderMap) -> BTreeMap<String, String> {
    headers
        .iter()
        .filter(|(name, _)| !SECRET_HEADERS.contains(&name.as_str()))
        .map(|(name, value)| {
            (
                name.as_str().to_string(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect()
}

async fn gemini_route(
    State(shared): Shd,
    Path(target): Path<String>,
    RawQuery(query): RawQuery,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some((model, method)) = target.rsplit_once(':') else {
        return gemini::error(
            404,
            format!("fake-llm: no method in '{target}'; expected {{model}}:generateContent"),
        )
        .into_response();
    };
    if method != "generateContent" {
        return gemini::error(
            404,
            format!("fake-llm implements generateContent only, not '{method}'."),
        )
        .into_response();
    }
    let key = header_str(&headers, "x-goog-api-key")
        .map(str::to_string)
        .or_else(|| query_param(query.as_deref(), "key"));
    let incoming = Incoming {
        provider: Provider::Gemini,
        model: Some(model.to_string()),
        path: uri.path().to_string(),
        key,
        headers,
        body,
    };
    answer(&shared, incoming).await
}

async fn openai_route(State(shared): Shd, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let key = header_str(&headers, "authorization").map(|h| {
        h.strip_prefix("Bearer ")
            .or_else(|| h.strip_prefix("bearer "))
            .unwrap_or("")
            .trim()
            .to_string()
    });
    let incoming = Incoming {
        provider: Provider::OpenAi,
        model: None,
        path: uri.path().to_string(),
        key,
        headers,
        body,
    };
    answer(&shared, incoming).await
}

struct Incoming {
    provider: Provider,
    model: Option<String>,
    path: String,
    key: Option<String>,
    headers: HeaderMap,
    body: Bytes,
}

/// What a request gets, before it is recorded and sent.
struct Decision {
    reply: HttpReply,
    answered_by: Option<String>,
    note: Option<String>,
    delay: Option<Duration>,
}

impl Decision {
    fn plain(reply: HttpReply) -> Self {
        Decision {
            reply,
            answered_by: None,
            note: None,
            delay: None,
        }
    }
}

async fn answer(shared: &Shared, req: Incoming) -> Response {
    let provider = req.provider;
    let (mut reply, delay) = respond(shared, req);
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    if provider == Provider::OpenAi {
        reply
            .headers
            .push(("x-request-id", format!("req_{}", random_id(24))));
    }
    reply.into_response()
}

/// Decides the answer and records the request (before any scripted delay).
fn respond(shared: &Shared, req: Incoming) -> (HttpReply, Option<Duration>) {
    let parsed: Result<Value, serde_json::Error> = serde_json::from_slice(&req.body);
    let body_value = match &parsed {
        Ok(v) => v.clone(),
        Err(_) => Value::String(String::from_utf8_lossy(&req.body).into_owned()),
    };
    let model = req.model.clone().unwrap_or_else(|| {
        body_value
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    });

    let mut st = lock(&shared.state);
    let api_key = match (st.keys.get(req.provider), req.key.as_deref()) {
        (None, _) => KeyCheck::NotChecked,
        (Some(_), None | Some("")) => KeyCheck::Missing,
        (Some(expected), Some(got)) if expected == got => KeyCheck::Valid,
        (Some(_), Some(_)) => KeyCheck::Invalid,
    };
    let decision = decide(shared, &mut st, &req, parsed, &model, api_key);
    st.seq += 1;
    let record = RecordedRequest {
        seq: st.seq,
        provider: req.provider,
        model,
        path: req.path,
        headers: recorded_headers(&req.headers),
        api_key,
        body: body_value,
        status: decision.reply.status,
        response: decision.reply.body.clone(),
        answered_by: decision.answered_by,
        note: decision.note,
    };
    st.requests.push(record);
    (decision.reply, decision.delay)
}

fn decide(
    shared: &Shared,
    st: &mut Inner,
    req: &Incoming,
    parsed: Result<Value, serde_json::Error>,
    model: &str,
    api_key: KeyCheck,
) -> Decision {
    let p = req.provider;
    if matches!(api_key, KeyCheck::Missing | KeyCheck::Invalid) {
        let provided = req.key.as_deref();
        return Decision::plain(match p {
            Provider::Gemini => gemini::auth_error(provided),
            Provider::OpenAi => openai::auth_error(provided),
        });
    }
    let body = match parsed {
        Ok(b) => b,
        Err(e) => {
            return Decision::plain(match p {
                Provider::Gemini => gemini::unparsable_body(&e),
                Provider::OpenAi => openai::unparsable_body(),
            });
        }
    };
    let valid = match p {
        Provider::Gemini => gemini::validate(&body, model, &st.signatures),
        Provider::OpenAi => openai::validate(&body),
    };
    if let Err(reply) = valid {
        return Decision::plain(reply);
    }

    let conversation = Conversation::read(p, &body);
    let Some((turn, answered_by)) = st.next_turn(p, &conversation) else {
        let note = format!(
            "fake-llm script: no turn left for {p} and no rule matched (the conversation ends with {:?})",
            conversation.last
        );
        return Decision {
            reply: script_error(p, &note),
            answered_by: None,
            note: Some(note),
            delay: None,
        };
    };
    let delay = turn.delay_ms.map(Duration::from_millis);
    let mut decision = Decision {
        reply: HttpReply::json(200, Value::Null),
        answered_by: Some(answered_by),
        note: None,
        delay,
    };
    let prompt_tokens = (req.body.len() as u64 / 4).max(1);
    let usage = |completion_chars: usize| {
        turn.usage.unwrap_or(Usage {
            prompt_tokens,
            completion_tokens: (completion_chars as u64 / 4).max(1),
        })
    };

    decision.reply = match &turn.reply {
        Reply::Error(e) => match p {
            Provider::Gemini => gemini::scripted_error(e, model),
            Provider::OpenAi => openai::scripted_error(e, model),
        },
        Reply::ToolCalls(calls) => {
            if let Some(note) = unoffered(shared, calls, &conversation) {
                decision.reply = script_error(p, &note);
                decision.note = Some(note);
                return decision;
            }
            let size: usize = calls
                .iter()
                .map(|c| c.name.len() + c.args.to_string().len())
                .sum();
            let usage = usage(size);
            match p {
                Provider::Gemini => {
                    let signature = random_id(48);
                    st.signatures.insert(signature.clone());
                    let ids: Option<Vec<String>> = shared
                        .gemini_call_ids
                        .then(|| calls.iter().map(|_| random_id(8).to_lowercase()).collect());
                    let s = gemini::Success {
                        model,
                        usage,
                        response_id: random_id(22),
                    };
                    HttpReply::json(
                        200,
                        gemini::tool_calls(calls, &signature, ids.as_deref(), &s),
                    )
                }
                Provider::OpenAi => {
                    let ids: Vec<String> = calls
                        .iter()
                        .map(|_| format!("call_{}", random_id(24)))
                        .collect();
                    let s = openai_success(model, usage);
                    HttpReply::json(200, openai::tool_calls(calls, &ids, &s))
                }
            }
        }
        Reply::Text(t) => {
            let answer = template::render(t, &conversation);
            let usage = usage(answer.len());
            match p {
                Provider::Gemini => {
                    let s = gemini::Success {
                        model,
                        usage,
                        response_id: random_id(22),
                    };
                    HttpReply::json(200, gemini::text(&answer, &s))
                }
                Provider::OpenAi => {
                    HttpReply::json(200, openai::text(&answer, &openai_success(model, usage)))
                }
            }
        }
    };
    decision
}

fn openai_success(model: &str, usage: Usage) -> openai::Success<'_> {
    openai::Success {
        model,
        usage,
        id: format!("chatcmpl-{}", random_id(29)),
        created: now_secs(),
    }
}

/// A real model only calls tools it was offered.
fn unoffered(shared: &Shared, calls: &[ToolCall], c: &Conversation) -> Option<String> {
    if !shared.strict_tools {
        return None;
    }
    let missing: Vec<&str> = calls
        .iter()
        .map(|call| call.name.as_str())
        .filter(|name| !c.offered_tools.iter().any(|t| t == name))
        .collect();
    (!missing.is_empty()).then(|| {
        format!(
            "fake-llm script: the turn calls {missing:?}, which the request did not offer (offered: {:?})",
            c.offered_tools
        )
    })
}

/// The script, not the client, is at fault: a 400 that clients do not retry, with a clear message.
fn script_error(p: Provider, note: &str) -> HttpReply {
    match p {
        Provider::Gemini => {
            let mut r = gemini::error(400, note);
            r.body["error"]["status"] = json!("FAILED_PRECONDITION");
            r
        }
        Provider::OpenAi => openai::error(
            400,
            note,
            "invalid_request_error",
            None,
            Some("fake_llm_script"),
        ),
    }
}

fn admin_error(message: impl Into<String>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "error": { "message": message.into() } })),
    )
        .into_response()
}

async fn get_script(State(s): Shd) -> Json<Value> {
    Json(lock(&s.state).pending())
}

/// Body: a [`Script`] plus optional `"append": true` (default: replace turns and rules).
async fn post_script(State(s): Shd, body: Bytes) -> Response {
    let mut value: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return admin_error(format!("not JSON: {e}")),
    };
    let append = match value.as_object_mut().and_then(|o| o.remove("append")) {
        None => false,
        Some(Value::Bool(b)) => b,
        Some(other) => return admin_error(format!("append: expected a boolean, got {other}")),
    };
    let script: Script = match serde_json::from_value(value) {
        Ok(s) => s,
        Err(e) => return admin_error(format!("not a script: {e}")),
    };
    let mut st = lock(&s.state);
    if !append {
        st.clear_script();
    }
    st.append(script);
    Json(st.pending()).into_response()
}

/// `POST /_fake/turns/{gemini|openai|any}` with one turn or an array of turns.
async fn post_turns(State(s): Shd, Path(queue): Path<String>, body: Bytes) -> Response {
    let turns: Vec<Turn> = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Array(items)) => match items
            .into_iter()
            .map(serde_json::from_value)
            .collect::<Result<Vec<Turn>, _>>()
        {
            Ok(t) => t,
            Err(e) => return admin_error(format!("not a turn: {e}")),
        },
        Ok(v) => match serde_json::from_value(v) {
            Ok(t) => vec![t],
            Err(e) => return admin_error(format!("not a turn: {e}")),
        },
        Err(e) => return admin_error(format!("not JSON: {e}")),
    };
    let mut st = lock(&s.state);
    match queue.as_str() {
        "gemini" => st.gemini.extend(turns),
        "openai" => st.openai.extend(turns),
        "any" => st.any.extend(turns),
        other => {
            return admin_error(format!(
                "unknown queue '{other}': use gemini, openai or any"
            ));
        }
    }
    Json(st.pending()).into_response()
}

/// `GET /_fake/requests[?provider=gemini|openai]`
async fn get_requests(State(s): Shd, RawQuery(query): RawQuery) -> Response {
    let filter = match query_param(query.as_deref(), "provider").as_deref() {
        None => None,
        Some("gemini") => Some(Provider::Gemini),
        Some("openai") => Some(Provider::OpenAi),
        Some(other) => return admin_error(format!("unknown provider '{other}'")),
    };
    let st = lock(&s.state);
    let requests: Vec<&RecordedRequest> = st
        .requests
        .iter()
        .filter(|r| filter.is_none_or(|p| r.provider == p))
        .collect();
    Json(json!({ "requests": requests })).into_response()
}

async fn delete_requests(State(s): Shd) -> Json<Value> {
    lock(&s.state).requests.clear();
    Json(json!({ "ok": true }))
}

async fn reset(State(s): Shd) -> Json<Value> {
    *lock(&s.state) = Inner::new(&s.initial);
    Json(json!({ "reset": true }))
}

async fn get_keys(State(s): Shd) -> Json<Value> {
    let st = lock(&s.state);
    Json(json!({ "gemini": st.keys.gemini, "openai": st.keys.openai }))
}

/// `{"gemini": "key" | null, "openai": ...}`: a field left out keeps its key; null accepts any.
async fn post_keys(State(s): Shd, body: Bytes) -> Response {
    let value: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return admin_error(format!("not JSON: {e}")),
    };
    let Some(obj) = value.as_object() else {
        return admin_error("expected an object");
    };
    let mut updates = Vec::new();
    for (name, key) in obj {
        let provider = match name.as_str() {
            "gemini" => Provider::Gemini,
            "openai" => Provider::OpenAi,
            other => return admin_error(format!("unknown provider '{other}'")),
        };
        let key = match key {
            Value::Null => None,
            Value::String(k) => Some(k.clone()),
            other => return admin_error(format!("{name}: expected a string or null, got {other}")),
        };
        updates.push((provider, key));
    }
    let mut st = lock(&s.state);
    for (p, k) in updates {
        st.keys.set(p, k);
    }
    Json(json!({ "gemini": st.keys.gemini, "openai": st.keys.openai })).into_response()
}

async fn not_found(method: Method, uri: Uri) -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({ "error": { "code": 404, "message": format!("fake-llm: no route for {method} {}", uri.path()), "status": "NOT_FOUND" } })),
    )
        .into_response()
}
