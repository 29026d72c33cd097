//! Shared by the program's integration tests: start the real `vm-system` binary as a
//! daemon on an ephemeral loopback port (its own database and worktree in a temporary
//! folder), talk to it over HTTP, stop it with a signal or kill it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_vm-system");

/// A running daemon; killed when dropped.
pub struct Daemon {
    child: Option<Child>,
    /// `127.0.0.1:<port>`.
    pub addr: String,
    /// The database file.
    pub db: PathBuf,
    /// A folder for the test's files (the database is in it); removed on drop unless the
    /// daemon was started in a folder the test owns.
    pub dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    logs: Arc<Mutex<Vec<String>>>,
    stdout: Arc<Mutex<Vec<u8>>>,
    /// A plain client for this daemon.
    pub http: Http,
}

/// How to start a daemon.
#[derive(Default)]
pub struct Options {
    /// Extra arguments after `serve`.
    pub args: Vec<String>,
    /// Extra environment variables.
    pub env: Vec<(String, String)>,
    /// Folder holding the database (a new temporary one when `None`).
    pub dir: Option<PathBuf>,
    /// `--listen` (default `127.0.0.1:0`).
    pub listen: Option<String>,
    /// `--db` (default: `vm-system.db` in the test's folder), e.g. a `postgres://` URL.
    pub db: Option<String>,
}

impl Daemon {
    /// A daemon with default flags on a new database.
    pub fn start() -> Daemon {
        Self::start_with(Options::default())
    }

    /// A daemon with extra `serve` arguments (e.g. `["--token", "t"]`).
    pub fn with_args(args: &[&str]) -> Daemon {
        Self::start_with(Options {
            args: args.iter().map(|s| s.to_string()).collect(),
            ..Options::default()
        })
    }

    /// Starts a daemon and waits until it says it listens.
    pub fn start_with(options: Options) -> Daemon {
        match Self::try_start(options) {
            Ok(d) => d,
            Err((status, logs)) => panic!("the daemon did not start ({status:?}):\n{logs}"),
        }
    }

    /// Starts a daemon; on failure, its exit status and stderr.
    pub fn try_start(options: Options) -> Result<Daemon, (Option<ExitStatus>, String)> {
        let (tmp, dir) = match options.dir {
            Some(dir) => (None, dir),
            None => {
                let tmp = tempfile::tempdir().unwrap();
                let dir = tmp.path().canonicalize().unwrap();
                (Some(tmp), dir)
            }
        };
        let db = dir.join("vm-system.db");
        let mut cmd = Command::new(BIN);
        cmd.arg("serve")
            .arg("--listen")
            .arg(options.listen.as_deref().unwrap_or("127.0.0.1:0"))
            .arg("--db")
            .arg(
                options
                    .db
                    .as_deref()
                    .map_or(db.as_os_str(), std::ffi::OsStr::new),
            )
            .arg("--library-cache")
            .arg(dir.join("libraries"))
            .args(&options.args)
            .env_remove("VM_SYSTEM_TOKEN")
            .env_remove("VM_SYSTEM_DB")
            .env_remove("VM_SYSTEM_SERVER_URL")
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in &options.env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn vm-system");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (addr_tx, addr_rx) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        let sink = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                // Text logs say `listen_addr=…`, JSON logs `"listen_addr":"…"`.
                if let Some(rest) = line.split("listen_addr").nth(1) {
                    let addr: String = rest
                        .trim_start_matches(['=', '"', ':'])
                        .chars()
                        .take_while(|c| !c.is_whitespace() && *c != '"')
                        .collect();
                    let _ = addr_tx.send(addr);
                }
                sink.lock().unwrap().push(line);
            }
        });
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let mut out = child.stdout.take().unwrap();
        let out_sink = stdout.clone();
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = out.read_to_end(&mut buf);
            out_sink.lock().unwrap().extend(buf);
        });
        let started = Instant::now();
        loop {
            match addr_rx.recv_timeout(Duration::from_millis(50)) {
                Ok(addr) => {
                    return Ok(Daemon {
                        child: Some(child),
                        http: Http::new(&addr),
                        addr,
                        db,
                        dir,
                        _tmp: tmp,
                        logs,
                        stdout,
                    })
                }
                Err(_) => {
                    if let Some(status) = child.try_wait().unwrap() {
                        std::thread::sleep(Duration::from_millis(50));
                        return Err((Some(status), logs.lock().unwrap().join("\n")));
                    }
                    if started.elapsed() > Duration::from_secs(20) {
                        let _ = child.kill();
                        return Err((None, logs.lock().unwrap().join("\n")));
                    }
                }
            }
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// Everything it wrote to stderr so far.
    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap().clone()
    }

    /// Everything it wrote to stdout (complete once it has exited).
    pub fn stdout(&self) -> Vec<u8> {
        self.stdout.lock().unwrap().clone()
    }

    /// Sends a signal (`"TERM"`, `"INT"`, `"KILL"`).
    pub fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{name} failed");
    }

    /// Waits for the process to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let child = self.child.as_mut()?;
        let started = Instant::now();
        while started.elapsed() < timeout {
            if let Some(status) = child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }

    /// Kills it at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// A new template (its id).
    pub fn template(&self, name: &str) -> String {
        let r = self
            .http
            .post("/templates", &json!({"name": name}).to_string());
        assert_eq!(r.status, 201, "{}", r.body);
        r.json["id"].as_str().unwrap().to_string()
    }

    /// A worktree folder under the test's folder, with files.
    pub fn worktree(&self, name: &str, files: &[(&str, &str)]) -> PathBuf {
        let root = self.dir.join(name);
        std::fs::create_dir_all(&root).unwrap();
        for (rel, content) in files {
            let p = root.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, content).unwrap();
        }
        root
    }

    /// A ready session of `template_id` on `worktree` (its id).
    pub fn session(&self, template_id: &str, worktree: &Path) -> String {
        let r = self.http.post(
            "/sessions",
            &json!({
                "template_id": template_id,
                "workspace_id": "ws-1",
                "base_commit_oid": "abc123",
                "worktree_path": worktree,
            })
            .to_string(),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        r.json["id"].as_str().unwrap().to_string()
    }

    /// A template and a ready session on an empty worktree: (template id, session id).
    pub fn ready_session(&self) -> (String, String) {
        let t = self.template(&format!("t-{}", uuid_like()));
        let wt = self.worktree(&format!("wt-{}", uuid_like()), &[]);
        let s = self.session(&t, &wt);
        (t, s)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
    }
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Headers, names lower-case.
    pub headers: Vec<(String, String)>,
    /// The body as text.
    pub body: String,
    /// The body as JSON (`Null` when it is not JSON).
    pub json: Value,
}

impl Reply {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The error envelope's code (panics when the body is not one).
    pub fn code(&self) -> &str {
        self.json["error"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("not an error envelope: {} {}", self.status, self.body))
    }

    /// Asserts an error status and code, and that the answer is the JSON envelope.
    pub fn assert_error(&self, status: u16, code: &str) -> &Self {
        assert_eq!((self.status, self.code()), (status, code), "{}", self.body);
        assert_eq!(self.header("content-type"), Some("application/json"));
        assert!(self.json["error"]["message"].is_string(), "{}", self.body);
        self
    }
}

/// A keep-alive HTTP client for one daemon; paths are relative to `/api/v1`.
pub struct Http {
    agent: ureq::Agent,
    base: String,
    /// Sent as `Authorization: Bearer …` when set.
    pub token: Option<String>,
}

impl Http {
    /// A client of `host:port`.
    pub fn new(addr: &str) -> Http {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .allow_non_standard_methods(true)
            .build()
            .into();
        Http {
            agent,
            base: format!("http://{addr}"),
            token: None,
        }
    }

    /// Any request to a path under `/api/v1` (a path that starts with `/api` is taken as
    /// is).
    pub fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let full = if path.starts_with("/api") {
            path.to_string()
        } else {
            format!("/api/v1{path}")
        };
        self.request_raw(method, &full, body, headers)
    }

    /// Any request to a path from the root (the web console's paths, for instance).
    pub fn request_raw(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let url = format!("{}{path}", self.base);
        let mut req = ureq::http::Request::builder().method(method).uri(&url);
        if let Some(t) = &self.token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        if body.is_some() {
            req = req.header("Content-Type", "application/json");
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let result = match body {
            Some(b) => self.agent.run(req.body(b.to_string()).unwrap()),
            None => self.agent.run(req.body(()).unwrap()),
        };
        let mut response = result.unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        let body = response
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_string()
            .unwrap_or_default();
        let json = serde_json::from_str(&body).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
            json,
        }
    }

    /// `GET`.
    pub fn get(&self, path: &str) -> Reply {
        self.request("GET", path, None, &[])
    }

    /// `POST` with a JSON body.
    pub fn post(&self, path: &str, body: &str) -> Reply {
        self.request("POST", path, Some(body), &[])
    }

    /// `PATCH` with a JSON body.
    pub fn patch(&self, path: &str, body: &str) -> Reply {
        self.request("PATCH", path, Some(body), &[])
    }

    /// `DELETE`.
    pub fn delete(&self, path: &str) -> Reply {
        self.request("DELETE", path, None, &[])
    }

    /// Runs a REPL snippet and waits: the final execution record.
    pub fn repl(&self, session_id: &str, input: &str) -> Reply {
        self.post(
            "/executions/repl",
            &json!({"session_id": session_id, "input": input}).to_string(),
        )
    }
}

/// One parsed Server-Sent Event.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sse {
    /// `id:`.
    pub id: Option<String>,
    /// `event:`.
    pub event: String,
    /// `data:`.
    pub data: String,
}

impl Sse {
    /// The data as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data).unwrap()
    }
}

/// An open event stream, read with a plain TCP connection so the test sees the bytes the
/// daemon sends, when it sends them.
pub struct SseReader {
    reader: BufReader<std::net::TcpStream>,
    /// The response's status line and headers.
    pub head: Vec<String>,
}

impl SseReader {
    /// Opens `GET /api/v1<path>` with extra header lines.
    pub fn open(addr: &str, path: &str, headers: &[&str]) -> SseReader {
        use std::io::Write;
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut request =
            format!("GET /api/v1{path} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n");
        for h in headers {
            request.push_str(h);
            request.push_str("\r\n");
        }
        request.push_str("\r\n");
        stream.write_all(request.as_bytes()).unwrap();
        let mut reader = BufReader::new(stream);
        let mut head = Vec::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let line = line.trim_end().to_string();
            if line.is_empty() {
                break;
            }
            head.push(line);
        }
        SseReader { reader, head }
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        self.head[0]
            .split_whitespace()
            .nth(1)
            .unwrap()
            .parse()
            .unwrap()
    }

    /// The next event (comments skipped); `None` at the end of the stream.
    pub fn next_event(&mut self) -> Option<Sse> {
        let mut event = Sse::default();
        let mut any = false;
        loop {
            let line = self.chunked_line()?;
            if line.is_empty() {
                if any {
                    if event.event.is_empty() {
                        event.event = "message".into();
                    }
                    return Some(event);
                }
                continue;
            }
            if line.starts_with(':') {
                continue;
            }
            any = true;
            let (field, value) = line.split_once(':').unwrap_or((&line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value).to_string();
            match field {
                "id" => event.id = Some(value),
                "event" => event.event = value,
                "data" => {
                    if !event.data.is_empty() {
                        event.data.push('\n');
                    }
                    event.data.push_str(&value);
                }
                _ => {}
            }
        }
    }

    /// Every event until the stream ends.
    pub fn all(&mut self) -> Vec<Sse> {
        std::iter::from_fn(|| self.next_event()).collect()
    }

    /// Pending bytes of the current chunk.
    fn chunked_line(&mut self) -> Option<String> {
        // The body is chunked: chunk-size lines interleave with the event lines. A chunk
        // holds whole lines here (the daemon writes whole events), so size lines are
        // recognised as hex numbers alone on a line followed by data of that length.
        loop {
            let mut line = String::new();
            if self.reader.read_line(&mut line).ok()? == 0 {
                return None;
            }
            let trimmed = line.trim_end_matches(['\r', '\n']);
            if trimmed.is_empty() && line.ends_with("\r\n") {
                // The CRLF that closes a chunk.
                continue;
            }
            if line.ends_with("\r\n")
                && !trimmed.is_empty()
                && trimmed.chars().all(|c| c.is_ascii_hexdigit())
            {
                if trimmed == "0" {
                    return None;
                }
                continue;
            }
            return Some(trimmed.to_string());
        }
    }
}
