//! Shared by the program's benchmarks: a minimal keep-alive HTTP/1.1 client (so the
//! figures are the daemon's, not a client library's), the release daemon started on a
//! store, and the statistics.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// One keep-alive HTTP/1.1 connection.
pub struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    host: String,
}

impl Conn {
    pub fn open(addr: &str) -> Conn {
        let stream = TcpStream::connect(addr).expect("connect to the daemon");
        stream.set_nodelay(true).unwrap();
        Conn {
            reader: BufReader::new(stream.try_clone().unwrap()),
            writer: stream,
            host: addr.to_string(),
        }
    }

    /// Sends a request and reads the whole answer: (status, body).
    pub fn call(&mut self, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
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

    pub fn json(&mut self, method: &str, path: &str, body: Value, want: u16) -> Value {
        let (status, text) = self.call(method, path, Some(&body.to_string()));
        assert_eq!(status, want, "{method} {path}: {text}");
        serde_json::from_str(&text).unwrap()
    }
}

/// The release daemon on a loopback port; killed when dropped.
pub struct Daemon {
    child: Child,
    pub addr: String,
    _dir: tempfile::TempDir,
}

impl Daemon {
    /// `vm-system serve --db <db>` (`None`: a SQLite file in a temporary folder) with
    /// extra flags.
    pub fn start(db: Option<&str>, args: &[&str]) -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let file = dir.path().join("bench.db");
        let child = Command::new(env!("CARGO_BIN_EXE_vm-system"))
            .args(["serve", "--listen", &addr, "--db"])
            .arg(db.map_or(file.as_os_str(), std::ffi::OsStr::new))
            .arg("--library-cache")
            .arg(dir.path().join("libraries"))
            .args(args)
            .env_remove("VM_SYSTEM_TOKEN")
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the daemon");
        let started = Instant::now();
        loop {
            if let Ok(s) = TcpStream::connect(&addr) {
                drop(s);
                let mut c = Conn::open(&addr);
                if c.call("GET", "/health", None).0 == 200 {
                    break;
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "daemon did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
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

/// `BENCH_SCALE` times `n` (at least 3): `BENCH_SCALE=0.2` for a quick look.
pub fn scale(n: usize) -> usize {
    let s: f64 = std::env::var("BENCH_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1.0);
    ((n as f64 * s) as usize).max(3)
}

/// Median, 90th percentile and minimum of samples in microseconds.
pub fn stats(mut us: Vec<f64>) -> (f64, f64, f64) {
    us.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let at = |q: f64| us[((us.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.9), us[0])
}

/// Times `n` calls of `f` after a tenth as many to warm up.
pub fn time<F: FnMut()>(n: usize, mut f: F) -> (f64, f64, f64) {
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

/// `1.23 ms` or `456 µs`.
pub fn fmt(us: f64) -> String {
    if us >= 1000.0 {
        format!("{:.2} ms", us / 1000.0)
    } else {
        format!("{us:.0} µs")
    }
}

/// The one-minute load average (what else the machine was doing).
pub fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

/// A template with `limits` (its id).
pub fn template(c: &mut Conn, name: &str, limits: Value) -> String {
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

/// A ready session (its id).
pub fn session(c: &mut Conn, template: &str, worktree: &Path) -> String {
    let s = c.json(
        "POST",
        "/sessions",
        json!({"template_id": template, "workspace_id": "bench", "base_commit_oid": "0", "worktree_path": worktree}),
        201,
    );
    s["id"].as_str().unwrap().to_string()
}

/// Recorded executions per second: `clients` threads, each on its own session and
/// connection, running REPL `1+1` for `seconds`.
pub fn throughput(addr: &str, sessions: Vec<String>, seconds: f64) -> f64 {
    let clients = sessions.len();
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(clients + 1));
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
    total as f64 / started.elapsed().as_secs_f64()
}
