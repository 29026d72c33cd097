//! Forwarding to a session's owner. A session's runtime lives in the daemon that built it;
//! on a shared store any daemon may receive a request that needs that runtime. This module
//! relays such a request to the owner over HTTP — same method, path, query, headers
//! (hop-by-hop ones dropped) and body, streamed both ways — and relays the answer back
//! unchanged, event streams included.
//!
//! A relayed request carries `X-Vm-System-Forwarded-By: <this daemon's id>`; the owner
//! answers it itself and never relays it again. An owner that cannot be reached (connect
//! refused or timed out, connection reset) is `502 OWNER_UNREACHABLE`; so is an owner that
//! accepted the request and then stopped answering, as soon as its heartbeat says it is no
//! longer alive (checked every second while waiting), so a client never hangs on it.

use std::error::Error as StdError;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, Uri, Version};
use axum::response::{IntoResponse, Response};
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::task::JoinHandle;
use tokio::time::Sleep;

use axum::extract::State;
use axum::middleware::Next;
use vm_system::{DaemonInfo, ExecutionStatus, Location, Placement, VmSystem};

use super::error::{ApiError, ApiResult, OWNER_UNREACHABLE};
use super::extract::bytes;
use super::routes::blocking;
use super::AppState;

/// The header that marks a relayed request; its value is the relaying daemon's id.
pub const FORWARDED_BY: &str = "x-vm-system-forwarded-by";
/// Longest a connection to an owner may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// While an owner is silent, how often its heartbeat is checked.
const LIVENESS_CHECK: Duration = Duration::from_secs(1);
/// Idle connections kept open to each owner, so a relay does not pay a TCP handshake.
const IDLE_PER_OWNER: usize = 64;

/// The daemon a request is relayed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// Its member id.
    pub id: String,
    /// Its advertised URL (`http://host:port`, maybe with a path prefix).
    pub url: String,
}

/// Whether a member is alive by heartbeat: `Ok(false)` when it is dead or gone, `Err` when
/// the store cannot say (then the relay keeps waiting). Called on a blocking thread.
pub type Liveness = Arc<dyn Fn(&str) -> Result<bool, String> + Send + Sync>;

/// The relay: a pooled HTTP/1.1 client and this daemon's id.
#[derive(Clone)]
pub struct Forwarder {
    client: Client<HttpConnector, Body>,
    self_id: HeaderValue,
    alive: Liveness,
}

/// Headers that describe one connection, not the message (RFC 9110 §7.6.1): never relayed.
const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

impl Forwarder {
    /// A relay for the daemon `self_id`; `alive` answers whether an owner still heartbeats.
    pub fn new(self_id: &str, alive: Liveness) -> Result<Forwarder, String> {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(IDLE_PER_OWNER)
            .build(connector);
        let self_id = HeaderValue::from_str(self_id)
            .map_err(|_| format!("daemon id {self_id:?} cannot be sent in a header"))?;
        Ok(Forwarder {
            client,
            self_id,
            alive,
        })
    }

    /// Relays `req` to `owner` and returns its answer, or `502 OWNER_UNREACHABLE`.
    pub async fn forward(&self, req: Request, owner: &Owner) -> Response {
        let (mut parts, body) = req.into_parts();
        let uri = match owner_uri(&owner.url, &parts.uri) {
            Ok(uri) => uri,
            Err(why) => return unreachable(owner, &why).into_response(),
        };
        strip_hop_by_hop(&mut parts.headers);
        // The client names the owner's host itself.
        parts.headers.remove(header::HOST);
        parts.headers.insert(FORWARDED_BY, self.self_id.clone());
        parts.uri = uri;
        parts.version = Version::HTTP_11;
        let sent = self.client.request(Request::from_parts(parts, body));
        let answer = match self.until_dead(owner, sent).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(e)) => return unreachable(owner, &describe(&e)).into_response(),
            Err(dead) => return dead.into_response(),
        };
        let (mut parts, body) = answer.into_parts();
        strip_hop_by_hop(&mut parts.headers);
        let body = Watched {
            inner: body,
            alive: self.alive.clone(),
            owner: owner.clone(),
            sleep: Box::pin(tokio::time::sleep(LIVENESS_CHECK)),
            check: None,
        };
        Response::from_parts(parts, Body::new(body))
    }

    /// Awaits `fut`, checking every second that the owner is alive; a dead owner ends the
    /// wait with `502 OWNER_UNREACHABLE`.
    async fn until_dead<F: Future>(&self, owner: &Owner, fut: F) -> Result<F::Output, ApiError> {
        tokio::pin!(fut);
        let start = tokio::time::Instant::now() + LIVENESS_CHECK;
        let mut tick = tokio::time::interval_at(start, LIVENESS_CHECK);
        loop {
            tokio::select! {
                biased;
                out = &mut fut => return Ok(out),
                _ = tick.tick() => {
                    if check(&self.alive, &owner.id).await == Some(false) {
                        return Err(stopped(owner));
                    }
                }
            }
        }
    }
}

/// Asks the store whether `id` is alive; `None` when it cannot say.
async fn check(alive: &Liveness, id: &str) -> Option<bool> {
    let (alive, id) = (alive.clone(), id.to_string());
    tokio::task::spawn_blocking(move || alive(&id))
        .await
        .ok()
        .and_then(Result::ok)
}

/// `http://owner[/prefix]` + the request's path and query.
fn owner_uri(base: &str, uri: &Uri) -> Result<Uri, String> {
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let full = format!("{}{path}", base.trim_end_matches('/'));
    let parsed: Uri = full
        .parse()
        .map_err(|e| format!("its advertised URL {base:?} is not a URL: {e}"))?;
    if parsed.scheme_str() != Some("http") {
        return Err(format!(
            "its advertised URL {base:?} is not an http:// URL (https is not supported between daemons)"
        ));
    }
    Ok(parsed)
}

/// Drops the hop-by-hop headers, including those the `Connection` header names.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in HOP_BY_HOP.iter().chain(&named) {
        headers.remove(name);
    }
}

/// The transport error and its causes, in one line.
fn describe(e: &(dyn StdError + 'static)) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = c.source();
    }
    text
}

/// `502 OWNER_UNREACHABLE`: the owner could not be reached.
fn unreachable(owner: &Owner, why: &str) -> ApiError {
    ApiError::new(
        OWNER_UNREACHABLE,
        format!(
            "the daemon that holds this session ({} at {}) cannot be reached: {why}",
            owner.id, owner.url
        ),
    )
    .detail("daemon_id", owner.id.as_str())
}

/// `502 OWNER_UNREACHABLE`: the owner accepted the request, then its heartbeat stopped.
fn stopped(owner: &Owner) -> ApiError {
    ApiError::new(
        OWNER_UNREACHABLE,
        format!(
            "the daemon that holds this session ({} at {}) stopped answering: its heartbeat is older than the timeout",
            owner.id, owner.url
        ),
    )
    .detail("daemon_id", owner.id.as_str())
}

/// The owner's answer body, relayed frame by frame. While it is silent its owner's
/// heartbeat is checked every second; a dead owner ends the body with an error (the
/// connection is cut: the status line is already sent, so a truncated body is the only
/// way left to say it).
struct Watched {
    inner: Incoming,
    alive: Liveness,
    owner: Owner,
    sleep: Pin<Box<Sleep>>,
    check: Option<JoinHandle<Result<bool, String>>>,
}

type BoxError = Box<dyn StdError + Send + Sync>;

impl http_body::Body for Watched {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            // The owner spoke: the next check is a full period from now.
            let next = tokio::time::Instant::now() + LIVENESS_CHECK;
            this.sleep.as_mut().reset(next);
            return Poll::Ready(frame.map(|f| f.map_err(BoxError::from)));
        }
        loop {
            if let Some(check) = this.check.as_mut() {
                let answer = std::task::ready!(Pin::new(check).poll(cx));
                this.check = None;
                if matches!(answer, Ok(Ok(false))) {
                    let e = stopped(&this.owner);
                    tracing::warn!(daemon_id = %this.owner.id, "relayed answer cut: its owner stopped");
                    return Poll::Ready(Some(Err(format!("{e:?}").into())));
                }
                let next = tokio::time::Instant::now() + LIVENESS_CHECK;
                this.sleep.as_mut().reset(next);
            }
            std::task::ready!(this.sleep.as_mut().poll(cx));
            let (alive, id) = (this.alive.clone(), this.owner.id.clone());
            this.check = Some(tokio::task::spawn_blocking(move || alive(&id)));
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// What a request needs from the runtime, and so where it is answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `POST /sessions`: the placement policy picks the daemon.
    Place,
    /// `POST /executions/repl|run-file`: the owner of the body's `session_id`.
    SessionInBody,
    /// `POST /sessions/{id}/close`, `DELETE /sessions/{id}`: the session's owner.
    Session(String),
    /// `POST /executions/{id}/cancel`: the owner of the execution's session.
    Execution(String),
    /// `GET /executions/{id}/events/stream`: the owner while the execution runs.
    Stream(String),
}

/// The runtime requests among the API's routes (`path` is the full path, `/api/v1/…`);
/// `None` for everything a daemon answers from the store. Ids are taken as written: a
/// malformed one is answered locally with the route's own error.
pub fn target(method: &Method, path: &str) -> Option<Target> {
    let rest = path.strip_prefix("/api/v1/")?;
    let parts: Vec<&str> = rest.split('/').collect();
    let id = |s: &str| {
        uuid::Uuid::parse_str(s)
            .ok()
            .map(|u| u.hyphenated().to_string())
    };
    match (method.as_str(), parts.as_slice()) {
        ("POST", ["sessions"]) => Some(Target::Place),
        ("POST", ["executions", "repl" | "run-file"]) => Some(Target::SessionInBody),
        ("POST", ["sessions", s, "close"]) | ("DELETE", ["sessions", s]) => {
            id(s).map(Target::Session)
        }
        ("POST", ["executions", e, "cancel"]) => id(e).map(Target::Execution),
        ("GET", ["executions", e, "events", "stream"]) => id(e).map(Target::Stream),
        _ => None,
    }
}

/// The `session_id` of a repl or run-file body, when it is one: anything malformed is
/// left to the local route, which says what is wrong.
pub fn session_in_body(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Probe {
        session_id: Option<String>,
    }
    let probe: Probe = serde_json::from_slice(body).ok()?;
    let raw = probe.session_id?;
    uuid::Uuid::parse_str(raw.trim())
        .ok()
        .map(|u| u.hyphenated().to_string())
}

/// The one decision point, as a middleware in front of the API: a runtime request whose
/// session lives in another daemon is relayed there; everything else (reads, a request
/// already relayed, a daemon alone on a SQLite file, a session held here, closed or
/// orphaned) is answered by this daemon's routes, which ask the core as usual.
pub async fn decide(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(forwarder) = state.forwarder.clone() else {
        return next.run(req).await;
    };
    if req.headers().contains_key(FORWARDED_BY) {
        return next.run(req).await;
    }
    let Some(target) = target(req.method(), req.uri().path()) else {
        return next.run(req).await;
    };
    let (req, body_session) = if target == Target::SessionInBody {
        // The session is named in the body: read it (it is small), then pass it on whole.
        let (parts, body) = req.into_parts();
        let bytes = match bytes(Request::from_parts(parts.clone(), body), &()).await {
            Ok(bytes) => bytes,
            Err(e) => return e.into_response(),
        };
        let session = session_in_body(&bytes);
        (Request::from_parts(parts, Body::from(bytes)), session)
    } else {
        (req, None)
    };
    // A session whose owner the core already knows is routed without waiting for the
    // store (and without a blocking thread); anything else asks it.
    let known = match &target {
        Target::SessionInBody => body_session.as_deref(),
        Target::Session(id) => Some(id.as_str()),
        _ => None,
    }
    .and_then(|id| state.vm.locate_session_known(id));
    let owner = match known {
        Some(location) => Ok(owner_at(remote(Ok(location)))),
        None => {
            let vm = state.vm.clone();
            blocking(move || owner_of(&vm, target, body_session)).await
        }
    };
    match owner {
        Ok(Some(owner)) => forwarder.forward(req, &owner).await,
        Ok(None) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

/// Where a runtime request goes: `Some(owner)` to relay it, `None` to answer it here.
/// A lookup that fails is answered here too: the route asks the core again and answers
/// with its error (unknown id, store unavailable). Only placement answers with its own
/// error: no daemon has room.
fn owner_of(
    vm: &VmSystem,
    target: Target,
    body_session: Option<String>,
) -> ApiResult<Option<Owner>> {
    let remote = match target {
        Target::Place => match vm.place_session()? {
            Placement::Here => None,
            Placement::Remote(d) => Some(d),
        },
        Target::SessionInBody => body_session.and_then(|id| remote(vm.locate_session(&id))),
        Target::Session(id) => remote(vm.locate_session(&id)),
        Target::Execution(id) => remote(vm.locate_execution(&id)),
        // An ended execution's events are all in the store: replayed here.
        Target::Stream(id) => remote(vm.locate_execution(&id)).filter(|_| {
            vm.get_execution(&id)
                .is_ok_and(|e| e.status == ExecutionStatus::Running)
        }),
    };
    Ok(owner_at(remote))
}

fn owner_at(member: Option<DaemonInfo>) -> Option<Owner> {
    member.and_then(|d| d.advertise_url.map(|url| Owner { id: d.id, url }))
}

fn remote(location: vm_system::Result<Location>) -> Option<DaemonInfo> {
    match location {
        Ok(Location::Remote(d)) => Some(d),
        Ok(Location::Local) | Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;
    use std::time::Instant;

    use axum::routing::{any, get};
    use axum::Router;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    }

    /// Serves `app` on a loopback port; its `http://` URL.
    async fn serve(app: Router) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}")
    }

    fn always_alive() -> Liveness {
        Arc::new(|_| Ok(true))
    }

    fn owner(url: &str) -> Owner {
        Owner {
            id: "owner-1".into(),
            url: url.into(),
        }
    }

    async fn body_text(r: Response) -> Result<String, String> {
        axum::body::to_bytes(r.into_body(), usize::MAX)
            .await
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .map_err(|e| e.to_string())
    }

    /// The owner echoes what it received as JSON, with a status and headers of its own.
    async fn echo(req: Request) -> Response {
        let (parts, body) = req.into_parts();
        let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        let headers: serde_json::Map<String, serde_json::Value> = parts
            .headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap().into()))
            .collect();
        let seen = serde_json::json!({
            "method": parts.method.as_str(),
            "uri": parts.uri.to_string(),
            "headers": headers,
            "body": String::from_utf8_lossy(&body),
        });
        let mut r = (axum::http::StatusCode::IM_A_TEAPOT, axum::Json(seen)).into_response();
        r.headers_mut()
            .insert("x-owner-said", HeaderValue::from_static("hello"));
        r.headers_mut()
            .insert("x-request-id", HeaderValue::from_static("rid-from-owner"));
        r
    }

    #[test]
    fn relays_method_path_query_headers_and_body_and_answers_unchanged() {
        rt().block_on(async {
            let url = serve(Router::new().fallback(any(echo))).await;
            let f = Forwarder::new("relay-7", always_alive()).unwrap();
            let req = Request::builder()
                .method("DELETE")
                .uri("http://relay.example/api/v1/sessions/x?a=1&b=two")
                .header("authorization", "Bearer s3cret")
                .header("x-request-id", "rid-1")
                .header("content-type", "application/json")
                .header("connection", "keep-alive, x-private")
                .header("x-private", "hop")
                .header("keep-alive", "timeout=5")
                .header("te", "trailers")
                .body(Body::from(r#"{"k":"v"}"#))
                .unwrap();
            let r = f.forward(req, &owner(&format!("{url}/"))).await;
            assert_eq!(r.status().as_u16(), 418);
            assert_eq!(r.headers()["x-owner-said"], "hello");
            assert_eq!(r.headers()["x-request-id"], "rid-from-owner");
            assert_eq!(r.headers()["content-type"], "application/json");
            let seen: serde_json::Value =
                serde_json::from_str(&body_text(r).await.unwrap()).unwrap();
            assert_eq!(seen["method"], "DELETE");
            assert_eq!(seen["uri"], "/api/v1/sessions/x?a=1&b=two");
            assert_eq!(seen["body"], r#"{"k":"v"}"#);
            let h = &seen["headers"];
            assert_eq!(h["authorization"], "Bearer s3cret");
            assert_eq!(h["x-request-id"], "rid-1");
            assert_eq!(h[FORWARDED_BY], "relay-7");
            assert_eq!(h["host"], url.trim_start_matches("http://"));
            for hop in ["x-private", "keep-alive", "te"] {
                assert!(h.get(hop).is_none(), "{hop} was relayed: {h}");
            }
        });
    }

    #[test]
    fn streams_the_answer_as_the_owner_writes_it() {
        rt().block_on(async {
            let url =
                streaming_owner(b"first\n", Duration::from_millis(600), Some(b"second\n")).await;
            let f = Forwarder::new("relay", always_alive()).unwrap();
            let started = Instant::now();
            let r = f.forward(get_req("/s"), &owner(&url)).await;
            let mut body = r.into_body();
            let first = next_data(&mut body).await.unwrap();
            assert_eq!(&first[..], b"first\n");
            assert!(
                started.elapsed() < Duration::from_millis(400),
                "the first chunk waited for the whole body: {:?}",
                started.elapsed()
            );
            let second = next_data(&mut body).await.unwrap();
            assert_eq!(&second[..], b"second\n");
            assert!(started.elapsed() >= Duration::from_millis(550));
        });
    }

    #[test]
    fn streams_the_request_body_to_the_owner() {
        rt().block_on(async {
            let url = serve(Router::new().fallback(any(echo))).await;
            let f = Forwarder::new("relay", always_alive()).unwrap();
            let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, BoxError>>(4);
            tokio::spawn(async move {
                let _ = tx.send(Ok(Bytes::from_static(b"part1-"))).await;
                tokio::time::sleep(Duration::from_millis(100)).await;
                let _ = tx.send(Ok(Bytes::from_static(b"part2"))).await;
            });
            let req = Request::builder()
                .method("POST")
                .uri("/api/v1/executions/repl")
                .body(Body::from_stream(futures_stream(rx)))
                .unwrap();
            let r = f.forward(req, &owner(&url)).await;
            let seen: serde_json::Value =
                serde_json::from_str(&body_text(r).await.unwrap()).unwrap();
            assert_eq!(seen["body"], "part1-part2");
        });
    }

    #[test]
    fn a_refused_connection_is_owner_unreachable_at_once() {
        rt().block_on(async {
            // A port that was just free: nothing listens there.
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let f = Forwarder::new("relay", always_alive()).unwrap();
            let started = Instant::now();
            let r = f
                .forward(get_req("/x"), &owner(&format!("http://127.0.0.1:{port}")))
                .await;
            assert_eq!(r.status().as_u16(), 502);
            assert!(started.elapsed() < Duration::from_secs(1));
            let v: serde_json::Value = serde_json::from_str(&body_text(r).await.unwrap()).unwrap();
            assert_eq!(v["error"]["code"], "OWNER_UNREACHABLE");
            assert_eq!(v["error"]["details"]["daemon_id"], "owner-1");
            let message = v["error"]["message"].as_str().unwrap();
            assert!(message.contains("cannot be reached"), "{message}");
        });
    }

    #[test]
    fn a_bad_advertised_url_is_owner_unreachable() {
        rt().block_on(async {
            let f = Forwarder::new("relay", always_alive()).unwrap();
            for url in ["https://127.0.0.1:1", "not a url"] {
                let r = f.forward(get_req("/x"), &owner(url)).await;
                assert_eq!(r.status().as_u16(), 502, "{url}");
            }
        });
    }

    /// An owner that accepts connections and never answers.
    async fn silent_owner() -> (String, tokio::task::JoinHandle<()>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        (format!("http://{addr}"), task)
    }

    /// Alive for the first `n` checks, then dead; counts the checks.
    fn dies_after(n: usize) -> (Liveness, Arc<AtomicUsize>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let alive: Liveness = Arc::new(move |id| {
            assert_eq!(id, "owner-1");
            Ok(c.fetch_add(1, Ordering::SeqCst) < n)
        });
        (alive, calls)
    }

    #[test]
    fn an_owner_that_stops_answering_is_owner_unreachable_once_its_heartbeat_is_stale() {
        rt().block_on(async {
            let (url, _task) = silent_owner().await;
            let (alive, calls) = dies_after(1);
            let f = Forwarder::new("relay", alive).unwrap();
            let started = Instant::now();
            let r = f.forward(get_req("/x"), &owner(&url)).await;
            let waited = started.elapsed();
            assert_eq!(r.status().as_u16(), 502);
            // Checked at 1 s (alive), then at 2 s (dead).
            assert!(
                waited >= Duration::from_millis(1900) && waited < Duration::from_millis(3500),
                "{waited:?}"
            );
            assert_eq!(calls.load(Ordering::SeqCst), 2);
            let v: serde_json::Value = serde_json::from_str(&body_text(r).await.unwrap()).unwrap();
            assert_eq!(v["error"]["code"], "OWNER_UNREACHABLE");
            assert!(v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("stopped answering"));
        });
    }

    #[test]
    fn a_slow_owner_that_is_alive_is_waited_for() {
        rt().block_on(async {
            let app = Router::new().route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_millis(2300)).await;
                    "done"
                }),
            );
            let url = serve(app).await;
            // The store cannot answer once, then says alive: neither ends the wait.
            let calls = Arc::new(AtomicUsize::new(0));
            let c = calls.clone();
            let alive: Liveness = Arc::new(move |_| match c.fetch_add(1, Ordering::SeqCst) {
                0 => Err("store unavailable".into()),
                _ => Ok(true),
            });
            let f = Forwarder::new("relay", alive).unwrap();
            let r = f.forward(get_req("/slow"), &owner(&url)).await;
            assert_eq!(r.status().as_u16(), 200);
            assert_eq!(body_text(r).await.unwrap(), "done");
            assert!(calls.load(Ordering::SeqCst) >= 2);
        });
    }

    #[test]
    fn a_stream_whose_owner_dies_is_cut() {
        rt().block_on(async {
            // The owner sends its head and one chunk, then goes silent for good.
            let url = streaming_owner(b"event\n", Duration::from_secs(3600), None).await;
            let dead = Arc::new(Mutex::new(false));
            let d = dead.clone();
            let alive: Liveness = Arc::new(move |_| Ok(!*d.lock().unwrap()));
            let f = Forwarder::new("relay", alive).unwrap();
            let r = f.forward(get_req("/s"), &owner(&url)).await;
            assert_eq!(r.status().as_u16(), 200);
            let mut body = r.into_body();
            assert_eq!(&next_data(&mut body).await.unwrap()[..], b"event\n");
            // Alive: a silent stream stays open past a check.
            let waiting = tokio::time::timeout(Duration::from_millis(1500), next_data(&mut body));
            assert!(
                waiting.await.is_err(),
                "the stream ended while its owner lived"
            );
            *dead.lock().unwrap() = true;
            let started = Instant::now();
            let end = tokio::time::timeout(Duration::from_secs(3), next_data(&mut body))
                .await
                .expect("the stream hung after its owner died");
            assert!(end.is_err(), "the stream should end with an error: {end:?}");
            assert!(started.elapsed() < Duration::from_millis(1500));
        });
    }

    #[test]
    fn connections_to_an_owner_are_reused() {
        rt().block_on(async {
            let accepted = Arc::new(AtomicUsize::new(0));
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let count = accepted.clone();
            let listener = axum::serve::ListenerExt::tap_io(listener, move |_| {
                count.fetch_add(1, Ordering::SeqCst);
            });
            let app = Router::new().route("/x", get(|| async { "ok" }));
            tokio::spawn(async move { axum::serve(listener, app).await });
            let f = Forwarder::new("relay", always_alive()).unwrap();
            let o = owner(&format!("http://{addr}"));
            for _ in 0..5 {
                let r = f.forward(get_req("/x"), &o).await;
                assert_eq!(body_text(r).await.unwrap(), "ok");
                // The connection goes back to the pool once its task has seen the end.
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            assert_eq!(accepted.load(Ordering::SeqCst), 1);
        });
    }

    #[test]
    fn runtime_requests_are_recognised_and_reads_are_not() {
        let id = "01a23363-f0cc-750d-ab7b-9d817aed1cae";
        let up = "01A23363-F0CC-750D-AB7B-9D817AED1CAE";
        let t = |m: &str, p: &str| target(&Method::from_bytes(m.as_bytes()).unwrap(), p);
        assert_eq!(t("POST", "/api/v1/sessions"), Some(Target::Place));
        assert_eq!(
            t("POST", "/api/v1/executions/repl"),
            Some(Target::SessionInBody)
        );
        assert_eq!(
            t("POST", "/api/v1/executions/run-file"),
            Some(Target::SessionInBody)
        );
        assert_eq!(
            t("POST", &format!("/api/v1/sessions/{up}/close")),
            Some(Target::Session(id.into()))
        );
        assert_eq!(
            t("DELETE", &format!("/api/v1/sessions/{id}")),
            Some(Target::Session(id.into()))
        );
        assert_eq!(
            t("POST", &format!("/api/v1/executions/{id}/cancel")),
            Some(Target::Execution(id.into()))
        );
        assert_eq!(
            t("GET", &format!("/api/v1/executions/{id}/events/stream")),
            Some(Target::Stream(id.into()))
        );
        for (m, p) in [
            ("GET", "/api/v1/sessions".to_string()),
            ("GET", format!("/api/v1/sessions/{id}")),
            ("GET", format!("/api/v1/executions/{id}")),
            ("GET", format!("/api/v1/executions/{id}/events")),
            ("GET", "/api/v1/daemons".to_string()),
            ("POST", "/api/v1/templates".to_string()),
            ("POST", "/api/v1/sessions/not-a-uuid/close".to_string()),
            ("DELETE", "/api/v1/sessions/not-a-uuid".to_string()),
            ("POST", format!("/api/v1/sessions/{id}/close/extra")),
            ("POST", "/api/v2/sessions".to_string()),
            ("GET", "/sessions".to_string()),
        ] {
            assert_eq!(t(m, &p), None, "{m} {p}");
        }
    }

    #[test]
    fn the_session_id_is_read_from_a_body_leniently() {
        let id = "01a23363-f0cc-750d-ab7b-9d817aed1cae";
        let body = format!(
            r#"{{"session_id":"{}","input":"1","wait":false}}"#,
            id.to_uppercase()
        );
        assert_eq!(session_in_body(body.as_bytes()), Some(id.to_string()));
        assert_eq!(session_in_body(br#"{"session_id":"nope"}"#), None);
        assert_eq!(session_in_body(br#"{"session_id":5}"#), None);
        assert_eq!(session_in_body(br#"{"input":"1"}"#), None);
        assert_eq!(session_in_body(b"{"), None);
    }

    fn get_req(path: &str) -> Request {
        Request::builder().uri(path).body(Body::empty()).unwrap()
    }

    async fn next_data(body: &mut Body) -> Result<Bytes, String> {
        use http_body::Body as _;
        loop {
            let frame = std::future::poll_fn(|cx| Pin::new(&mut *body).poll_frame(cx)).await;
            match frame {
                None => return Err("end of body".into()),
                Some(Err(e)) => return Err(e.to_string()),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        return Ok(data);
                    }
                }
            }
        }
    }

    /// An owner answering `GET /s` with a streamed body: `first`, then after `pause`,
    /// `second` (if any) and the end.
    async fn streaming_owner(
        first: &'static [u8],
        pause: Duration,
        second: Option<&'static [u8]>,
    ) -> String {
        let app = Router::new().route(
            "/s",
            get(move || async move {
                let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, BoxError>>(4);
                tokio::spawn(async move {
                    let _ = tx.send(Ok(Bytes::from_static(first))).await;
                    tokio::time::sleep(pause).await;
                    if let Some(second) = second {
                        let _ = tx.send(Ok(Bytes::from_static(second))).await;
                    }
                });
                Body::from_stream(futures_stream(rx))
            }),
        );
        serve(app).await
    }

    /// A receiver as a `Stream` of body chunks.
    fn futures_stream(
        mut rx: tokio::sync::mpsc::Receiver<Result<Bytes, BoxError>>,
    ) -> impl futures_core::Stream<Item = Result<Bytes, BoxError>> + Send + 'static {
        struct S<F>(F);
        impl<F: FnMut(&mut Context<'_>) -> Poll<Option<Result<Bytes, BoxError>>> + Unpin>
            futures_core::Stream for S<F>
        {
            type Item = Result<Bytes, BoxError>;
            fn poll_next(
                mut self: Pin<&mut Self>,
                cx: &mut Context<'_>,
            ) -> Poll<Option<Self::Item>> {
                (self.0)(cx)
            }
        }
        S(move |cx: &mut Context<'_>| rx.poll_recv(cx))
    }
}
