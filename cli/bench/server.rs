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

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::{SystemTime, UNIX_EPOCH};

use common::{fmt, scale, session, stats, template, time, Conn, Daemon};
use serde_json::{json, Value};

fn row(name: &str, target: &str, (median, p90, min): (f64, f64, f64)) {
    println!(
        "| {name} | {} | {} | {} | {target} |",
        fmt(median),
        fmt(p90),
        fmt(min)
    );
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let daemon = Daemon::start(None, &[]);
    let worktree = tempfile::tempdir().unwrap();
    std::fs::write(
        worktree.path().join("fib.js"),
        "function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2) }\nfib(25)\n",
    )
    .unwrap();
    let wt = worktree.path().canonicalize().unwrap();
    let mut c = Conn::open(&daemon.addr);
    let t = template(&mut c, "bench", json!({"max_events": 100000}));
    let s = session(&mut c, &t, &wt);

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

    throughput(&daemon.addr, &t, &wt);
    sse_latency(&daemon.addr, &mut c, &s);
}

/// Recorded executions per second: 8 clients, each on its own session and connection.
fn throughput(addr: &str, template: &str, wt: &std::path::Path) {
    const CLIENTS: usize = 8;
    let seconds = 3.0 * scale(100) as f64 / 100.0;
    let mut setup = Conn::open(addr);
    let sessions: Vec<String> = (0..CLIENTS)
        .map(|_| session(&mut setup, template, wt))
        .collect();
    let rate = common::throughput(addr, sessions, seconds);
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
