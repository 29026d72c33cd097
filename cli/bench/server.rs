//! Benchmark of the daemon over HTTP keep-alive (not a timed test):
//!
//! ```text
//! cargo bench -p vm-system-cli --bench server
//! ```
//!
//! Starts the release `vm-system serve` on a SQLite file in a temporary folder, then measures,
//! with a minimal HTTP/1.1 client (one keep-alive connection per client thread, so the
//! figures are the daemon's, not a client library's):
//! a REPL `1+1` round trip, session create + close, a snippet printing 1,000 console lines,
//! a `fib(25)` run-file, recorded executions per second with 8 clients on 8 sessions, and
//! how long a live event takes from being emitted to reaching a stream's reader.
//! `BENCH_SCALE=0.2` shortens every loop (for a quick look).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

/// One keep-alive HTTP/1.1 connection.
struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    host: String,
}

impl Conn {
    fn open(addr: &str) -> Conn {
        let stream = TcpStream::connect(addr).expect("connect to the daemon");
        stream.set_nodelay(true).unwrap();
        Conn {
            reader: BufReader::new(stream.try_clone().unwrap()),
            writer: stream,
            host: addr.to_string(),
        }
    }

    /// Sends a request and reads the whole answer: (status, body).
    fn call(&mut self, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
        let body = body.unwrap_or("");
        let request = format!(
            "{method} /api/v1{path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.host,
            body.len()
        );
        self.writer.write_all(request.as_bytes()).unwrap();
        let mut status = 0;
        let mut length = 0usize;
        let mut line = String::new();
        loop {
            line.clear();
            self.reader.read_line(&mut line).unwrap();
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if status == 0 {
                status = l.split_whitespace().nth(1).unwrap().parse().unwrap();
            } else if let Some(v) = l
                .to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().to_string())
            {
                length = v.parse().unwrap();
            }
        }
        let mut buf = vec![0u8; length];
        self.reader.read_exact(&mut buf).unwrap();
        (status, String::from_utf8(buf).unwrap())
    }

    fn json(&mut self, method: &str, path: &str, body: Value, want: u16) -> Value {
        let (status, text) = self.call(method, path, Some(&body.to_string()));
        assert_eq!(status, want, "{method} {path}: {text}");
        serde_json::from_str(&text).unwrap()
    }
}

struct Daemon {
    child: Child,
    addr: String,
    _dir: tempfile::TempDir,
}

impl Daemon {
    fn start() -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let child = Command::new(env!("CARGO_BIN_EXE_vm-system"))
            .args(["serve", "--listen", &addr, "--db"])
            .arg(dir.path().join("bench.db"))
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the daemon");
        let started = Instant::now();
        while TcpStream::connect(&addr).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "daemon did not start"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        Daemon {
            child,
            addr,
            _dir: dir,
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn scale(n: usize) -> usize {
    let s: f64 = std::env::var("BENCH_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1.0);
    ((n as f64 * s) as usize).max(3)
}

/// Median, 90th percentile and minimum of samples in microseconds.
fn stats(mut us: Vec<f64>) -> (f64, f64, f64) {
    us.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let at = |q: f64| us[((us.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.9), us[0])
}

fn time<F: FnMut()>(n: usize, mut f: F) -> (f64, f64, f64) {
    for _ in 0..n.div_ceil(10) {
        f();
    }
    let samples = (0..n)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    stats(samples)
}

fn row(name: &str, target: &str, (median, p90, min): (f64, f64, f64)) {
    println!(
        "| {name} | {} | {} | {} | {target} |",
        fmt(median),
        fmt(p90),
        fmt(min)
    );
}

fn fmt(us: f64) -> String {
    if us >= 1000.0 {
        format!("{:.2} ms", us / 1000.0)
    } else {
        format!("{us:.0} µs")
    }
}

fn template(c: &mut Conn, name: &str, limits: Value) -> String {
    let t = c.json("POST", "/templates", json!({"name": name}), 201);
    let id = t["id"].as_str().unwrap().to_string();
    c.json(
        "PATCH",
        &format!("/templates/{id}/settings"),
        json!({"limits": limits}),
        200,
    );
    id
}

fn session(c: &mut Conn, template: &str, worktree: &str) -> String {
    let s = c.json(
        "POST",
        "/sessions",
        json!({"template_id": template, "workspace_id": "bench", "base_commit_oid": "0", "worktree_path": worktree}),
        201,
    );
    s["id"].as_str().unwrap().to_string()
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let daemon = Daemon::start();
    let worktree = tempfile::tempdir().unwrap();
    std::fs::write(
        worktree.path().join("fib.js"),
        "function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2) }\nfib(25)\n",
    )
    .unwrap();
    let wt = worktree.path().canonicalize().unwrap();
    let wt = wt.to_str().unwrap();
    let mut c = Conn::open(&daemon.addr);
    let t = template(&mut c, "bench", json!({"max_events": 100000}));
    let s = session(&mut c, &t, wt);

    println!("| measurement | median | p90 | min | target |");
    println!("|---|---|---|---|---|");

    let repl = json!({"session_id": s, "input": "1+1"}).to_string();
    row(
        "REPL `1+1` round trip",
        "≤ 150 µs",
        time(scale(3000), || {
            let (status, _) = c.call("POST", "/executions/repl", Some(&repl));
            assert_eq!(status, 201);
        }),
    );

    let create = json!({"template_id": t, "workspace_id": "bench", "base_commit_oid": "0", "worktree_path": wt}).to_string();
    row(
        "session create + close",
        "≤ 1 ms",
        time(scale(300), || {
            let (status, body) = c.call("POST", "/sessions", Some(&create));
            assert_eq!(status, 201, "{body}");
            let id: Value = serde_json::from_str(&body).unwrap();
            let (status, _) = c.call(
                "POST",
                &format!("/sessions/{}/close", id["id"].as_str().unwrap()),
                Some("{}"),
            );
            assert_eq!(status, 200);
        }),
    );

    let lines =
        json!({"session_id": s, "input": "for (let i = 0; i < 1000; i++) console.log('line', i)"})
            .to_string();
    row(
        "1,000 console lines",
        "≤ 8 ms",
        time(scale(100), || {
            let (status, body) = c.call("POST", "/executions/repl", Some(&lines));
            assert_eq!(status, 201, "{body}");
        }),
    );

    let fib = json!({"session_id": s, "path": "fib.js"}).to_string();
    row(
        "`fib(25)` run-file",
        "≤ 15 ms",
        time(scale(30), || {
            let (status, body) = c.call("POST", "/executions/run-file", Some(&fib));
            assert_eq!(status, 201, "{body}");
        }),
    );

    throughput(&daemon.addr, &t, wt);
    sse_latency(&daemon.addr, &mut c, &s);
}

/// Recorded executions per second: 8 clients, each on its own session and connection.
fn throughput(addr: &str, template: &str, wt: &str) {
    const CLIENTS: usize = 8;
    let seconds = 3.0 * scale(100) as f64 / 100.0;
    let mut setup = Conn::open(addr);
    let sessions: Vec<String> = (0..CLIENTS)
        .map(|_| session(&mut setup, template, wt))
        .collect();
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(CLIENTS + 1));
    let handles: Vec<_> = sessions
        .into_iter()
        .map(|s| {
            let addr = addr.to_string();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let mut c = Conn::open(&addr);
                let body = json!({"session_id": s, "input": "1+1"}).to_string();
                barrier.wait();
                let started = Instant::now();
                let mut n = 0u64;
                while started.elapsed().as_secs_f64() < seconds {
                    let (status, _) = c.call("POST", "/executions/repl", Some(&body));
                    assert_eq!(status, 201);
                    n += 1;
                }
                n
            })
        })
        .collect();
    barrier.wait();
    let started = Instant::now();
    let total: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    let rate = total as f64 / started.elapsed().as_secs_f64();
    println!("| recorded executions/s, 8 clients on 8 sessions | {rate:.0}/s | | | ≥ 5,000/s |");
}

/// From an event's emission to its arrival on an open stream. The snippet waits for
/// agreed wall-clock instants and logs at each; the reader notes when each line arrives.
fn sse_latency(addr: &str, c: &mut Conn, session: &str) {
    let count = scale(40);
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let marks: Vec<u64> = (0..count as u64).map(|i| now_ms + 400 + i * 25).collect();
    let input = format!(
        "for (const t of {marks:?}) {{ while (Date.now() < t) {{}} console.log(String(t)) }}"
    );
    let exec = c.json(
        "POST",
        "/executions/repl",
        json!({"session_id": session, "input": input, "wait": false}),
        202,
    );
    let id = exec["id"].as_str().unwrap();
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_nodelay(true).unwrap();
    write!(
        stream,
        "GET /api/v1/executions/{id}/events/stream HTTP/1.1\r\nHost: {addr}\r\n\r\n"
    )
    .unwrap();
    let mut reader = BufReader::new(stream);
    let mut samples = Vec::new();
    let mut line = String::new();
    let mut console = false;
    while samples.len() < count {
        line.clear();
        if reader.read_line(&mut line).unwrap() == 0 {
            break;
        }
        let arrived = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        if line.starts_with("event: ") {
            console = line.trim_end() == "event: console";
        } else if console && line.starts_with("data: ") {
            let event: Value = serde_json::from_str(line[6..].trim_end()).unwrap();
            let mark: f64 = event["payload"]["text"].as_str().unwrap().parse().unwrap();
            samples.push(arrived.as_secs_f64() * 1e6 - mark * 1000.0);
        }
    }
    row(
        "SSE event latency (emitted → read by the client)",
        "≤ 5 ms",
        stats(samples),
    );
}
