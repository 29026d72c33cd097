//! The daemon: `vm-system serve`. One `VmSystem` on `--db`, served over HTTP: the REST API
//! under `/api/v1` (`routes/`), the live event stream (`stream.rs`) and the web console
//! (`web.rs`) everywhere else.

mod auth;
mod error;
mod extract;
mod forward;
mod middleware;
mod routes;
mod stream;
mod views;
mod web;

use std::fs::File;
use std::io::Write;
use std::net::{SocketAddr, TcpListener as StdListener, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{header, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use axum::serve::ListenerExt;
use axum::Router;
use tower_http::cors::{AllowOrigin, CorsLayer};
use vm_system::{OpenOptions, VmSystem};

use crate::client::GlobalArgs;

/// What a closed session's `last_error` says after a shutdown.
const SHUTDOWN_REASON: &str = "the daemon shut down: its runtime is gone; create a new session";
/// Everything after SIGINT/SIGTERM must fit in this, then the process exits 0.
const SHUTDOWN_BUDGET: Duration = Duration::from_millis(4500);

/// Flags of `vm-system serve` (`--db` and `--token` are global flags).
#[derive(clap::Args)]
pub struct ServeArgs {
    /// Address to listen on (`host:port`). Anything but a loopback address needs --token.
    #[arg(long, default_value = "127.0.0.1:3210")]
    pub listen: String,
    /// Folder of installed libraries (`vm-system libs download` fills it).
    #[arg(long, default_value = ".vm-cache/libraries")]
    pub library_cache: PathBuf,
    /// Least severe log level written to stderr.
    #[arg(long, default_value = "info", value_parser = ["trace", "debug", "info", "warn", "error"])]
    pub log_level: String,
    /// Log line format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Send CORS headers allowing this origin (e.g. `http://localhost:5173`); none by default.
    #[arg(long)]
    pub cors_origin: Option<String>,
    /// On a shared store (`--db postgres://…`): the URL the other daemons use to reach this
    /// one. Default: `http://` and the address it listens on (set it when listening on
    /// 0.0.0.0 or behind NAT).
    #[arg(long, env = "VM_SYSTEM_ADVERTISE_URL")]
    pub advertise_url: Option<String>,
    /// Most live sessions this daemon holds; when every daemon is full, creating a session
    /// is 503 NO_CAPACITY.
    #[arg(long, env = "VM_SYSTEM_CAPACITY", default_value_t = 1000)]
    pub capacity: u32,
    /// On a shared store: a daemon whose heartbeat (sent every second) is older than this
    /// is dead, and its sessions are closed (`5s`, `2500ms`, `1m`; a bare number is
    /// seconds).
    #[arg(long, env = "VM_SYSTEM_HEARTBEAT_TIMEOUT", default_value = "5s", value_parser = parse_duration)]
    pub heartbeat_timeout: Duration,
}

/// `5s`, `2500ms`, `1m`, `3` (seconds): a positive duration.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (number, unit) = match t.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(at) => t.split_at(at),
        None => (t, "s"),
    };
    let n: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration: write e.g. 5s, 2500ms or 1m"))?;
    let secs = match unit.trim() {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        other => {
            return Err(format!(
                "unknown unit {other:?} in {text:?}: use ms, s or m"
            ))
        }
    };
    if !(secs > 0.0 && secs < 86_400.0) {
        return Err(format!("{text:?} must be more than 0 and less than a day"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Whether `--db` names a PostgreSQL store (shared by several daemons) rather than a file.
fn is_shared(db: &str) -> bool {
    db.starts_with("postgres://") || db.starts_with("postgresql://")
}

/// `--db` as it may be logged: a URL's password is hidden.
fn redacted(db: &str) -> String {
    if !is_shared(db) {
        return db.to_string();
    }
    let (scheme, rest) = db.split_once("://").unwrap_or(("", db));
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => {
            let userinfo = &rest[..at];
            let user = userinfo.split(':').next().unwrap_or("");
            let hidden = if userinfo.contains(':') { ":***" } else { "" };
            format!("{scheme}://{user}{hidden}{}", &rest[at..])
        }
        None => db.to_string(),
    }
}

/// `--log-format` choices.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per record.
    Text,
    /// One JSON object per line.
    Json,
}

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The one system of this daemon.
    pub vm: VmSystem,
    /// The relay to other daemons; `None` on a SQLite file, where this daemon is alone.
    pub forwarder: Option<forward::Forwarder>,
}

/// Whether a path belongs to the API (and so answers JSON, under the token).
pub fn is_api(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/")
}

/// Runs the daemon until SIGINT/SIGTERM.
pub fn serve(global: &GlobalArgs, args: ServeArgs) -> ExitCode {
    init_logs(&args);
    match run(global, args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("Error: {message}");
            ExitCode::from(1)
        }
    }
}

fn init_logs(args: &ServeArgs) {
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::new(&args.log_level))
        .with_target(false);
    match args.log_format {
        LogFormat::Text => builder.with_ansi(false).init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}

fn run(global: &GlobalArgs, args: ServeArgs) -> Result<(), String> {
    let token = global.token.clone().filter(|t| !t.is_empty());
    let addr = resolve(&args.listen)?;
    if !addr.ip().is_loopback() && token.is_none() {
        return Err(format!(
            "--listen {} is not a loopback address: set a token (--token or VM_SYSTEM_TOKEN) before serving other hosts",
            args.listen
        ));
    }
    let listener = StdListener::bind(addr).map_err(|e| {
        format!(
            "cannot listen on {}: {e}; is another vm-system daemon running there? Stop it or choose another address with --listen",
            args.listen
        )
    })?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    let shared = is_shared(&global.db);
    let db = redacted(&global.db);
    // On a shared store many daemons are the point; on a file, one.
    let _db_lock = if shared {
        None
    } else {
        Some(lock_database(&global.db, local)?)
    };
    let advertise_url = args
        .advertise_url
        .clone()
        .unwrap_or_else(|| format!("http://{local}"));
    if shared && args.advertise_url.is_none() && local.ip().is_unspecified() {
        tracing::warn!(
            advertise_url,
            "listening on every address: other daemons cannot reach this one at its default advertised URL; set --advertise-url"
        );
    }
    let vm = VmSystem::open_with(
        &global.db,
        OpenOptions {
            library_cache: Some(args.library_cache.clone()),
            advertise_url: Some(advertise_url.clone()),
            capacity: Some(args.capacity),
            heartbeat_timeout: Some(args.heartbeat_timeout),
        },
    )
    .map_err(|e| format!("cannot open database {db}: {e}"))?;
    if !shared {
        // Reading every session closes the rows an earlier daemon left live (its runtimes
        // are gone).
        let lost = vm
            .list_sessions(None)
            .map(|all| {
                all.iter()
                    .filter(|s| {
                        s.last_error
                            .as_deref()
                            .is_some_and(|e| e.starts_with("runtime lost"))
                    })
                    .count()
            })
            .unwrap_or(0);
        if lost > 0 {
            tracing::warn!(
                sessions = lost,
                "sessions left live by an earlier daemon read as closed"
            );
        }
    }
    let forwarder = if shared {
        let members = vm.clone();
        let alive: forward::Liveness = Arc::new(move |id: &str| {
            members
                .daemons()
                .map(|all| all.iter().any(|d| d.id == id && d.alive))
                .map_err(|e| e.to_string())
        });
        Some(forward::Forwarder::new(vm.daemon_id(), alive)?)
    } else {
        None
    };
    listener
        .set_nonblocking(true)
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // Blocking threads run JavaScript: room for its stack limit and host frames.
        .thread_stack_size(8 << 20)
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let state = AppState {
        vm: vm.clone(),
        forwarder,
    };
    let app = app(state, token.map(Arc::from), args.cors_origin.as_deref())?;
    let daemon_id = vm.daemon_id().to_string();
    let result = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener)
            .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
        let signals = Signals::new().map_err(|e| format!("cannot handle signals: {e}"))?;
        tracing::info!(
            listen_addr = %local,
            db = %db,
            daemon_id,
            advertise_url,
            capacity = args.capacity,
            version = env!("CARGO_PKG_VERSION"),
            "vm-system daemon listening"
        );
        serve_until_signal(listener, app, vm, signals).await
    });
    runtime.shutdown_timeout(Duration::from_millis(200));
    result
}

/// The first address `--listen` names.
fn resolve(listen: &str) -> Result<SocketAddr, String> {
    listen
        .to_socket_addrs()
        .map_err(|e| format!("--listen {listen:?} is not a host:port address: {e}"))?
        .next()
        .ok_or_else(|| format!("--listen {listen:?} resolves to no address"))
}

/// One daemon per database: a second one gets a clear error instead of sessions that
/// belong to another process. The lock goes with the process, however it ends.
fn lock_database(db: &str, local: SocketAddr) -> Result<File, String> {
    let path = format!("{db}.daemon-lock");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|e| format!("cannot open database {db}: {e}"))?;
    if file.try_lock().is_err() {
        let holder = std::fs::read_to_string(&path).unwrap_or_default();
        return Err(format!(
            "database {db} is already served by another vm-system daemon ({}); stop it or use another --db",
            holder.trim()
        ));
    }
    let _ = file.set_len(0);
    let _ = write!(file, "pid {}, listening on {local}", std::process::id());
    Ok(file)
}

/// The whole HTTP surface.
fn app(
    state: AppState,
    token: Option<Arc<str>>,
    cors_origin: Option<&str>,
) -> Result<Router, String> {
    let mut app = Router::new()
        .nest("/api/v1", routes::api())
        .fallback(outside_api)
        // Inside the token check: only an authorised request is relayed.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            forward::decide,
        ))
        .layer(DefaultBodyLimit::max(extract::BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(
            token,
            auth::require_token,
        ))
        .layer(axum::middleware::from_fn(middleware::envelope))
        .with_state(state);
    if let Some(origin) = cors_origin {
        let origin = HeaderValue::from_str(origin)
            .map_err(|_| format!("--cors-origin {origin:?} is not a valid origin"))?;
        app = app.layer(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list([origin]))
                .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE])
                .allow_headers([
                    header::AUTHORIZATION,
                    header::CONTENT_TYPE,
                    header::HeaderName::from_static("x-request-id"),
                    header::HeaderName::from_static("last-event-id"),
                ])
                .expose_headers([header::HeaderName::from_static("x-request-id")]),
        );
    }
    Ok(app.layer(axum::middleware::from_fn(middleware::request_log)))
}

/// Paths outside `/api/v1`: a JSON 404 under `/api`, the web console elsewhere.
async fn outside_api(req: Request) -> Response {
    if is_api(req.uri().path()) {
        return routes::unknown_route(req).await.into_response();
    }
    let (method, uri, headers) = (
        req.method().clone(),
        req.uri().clone(),
        req.headers().clone(),
    );
    web::handler(method, uri, headers).await
}

/// Serves until SIGINT/SIGTERM, then: stop accepting, cancel running executions and close
/// the live sessions (recorded), let the open requests finish, all within the budget.
async fn serve_until_signal(
    listener: tokio::net::TcpListener,
    app: Router,
    vm: VmSystem,
    signals: Signals,
) -> Result<(), String> {
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let stop = Arc::new(tokio::sync::Notify::new());
    let stopped = stop.clone();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move { stopped.notified().await })
            .await
    });
    let signal = signals.wait().await;
    let deadline = Instant::now() + SHUTDOWN_BUDGET;
    tracing::info!(
        signal,
        "shutting down: cancelling running executions, closing sessions"
    );
    stop.notify_one();
    let closing = tokio::task::spawn_blocking(move || vm.shutdown(SHUTDOWN_REASON));
    let deadline = tokio::time::Instant::from_std(deadline);
    if tokio::time::timeout_at(deadline, closing).await.is_err() {
        tracing::warn!("sessions still closing at the shutdown deadline");
    }
    match tokio::time::timeout_at(deadline, server).await {
        Ok(_) => tracing::info!("daemon stopped"),
        Err(_) => tracing::warn!("connections still open at the shutdown deadline: closing them"),
    }
    Ok(())
}

/// SIGINT and SIGTERM, handled from the moment the daemon says it listens.
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> std::io::Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    async fn wait(mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_with_their_unit() {
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("2500ms"), Ok(Duration::from_millis(2500)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        for bad in ["", "0", "0s", "-1s", "5h", "s", "five", "2 days"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_database_url_is_logged_without_its_password() {
        assert_eq!(
            redacted("postgres://vm:hunter2@db.example:5432/vm"),
            "postgres://vm:***@db.example:5432/vm"
        );
        assert_eq!(
            redacted("postgresql://vm@127.0.0.1/vm"),
            "postgresql://vm@127.0.0.1/vm"
        );
        assert_eq!(
            redacted("postgres://127.0.0.1/vm?user=a"),
            "postgres://127.0.0.1/vm?user=a"
        );
        assert_eq!(redacted("data/vm:x@y.db"), "data/vm:x@y.db");
        assert!(is_shared("postgres://h/d") && is_shared("postgresql://h/d"));
        assert!(!is_shared("vm-system.db") && !is_shared("./postgres://x"));
    }
}
