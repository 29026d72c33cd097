//! The daemon's own duties: the token, the loopback default, the body limit, CORS,
//! SIGTERM/SIGINT while an execution runs, a killed daemon's sessions, a second daemon on
//! the same port or database.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use serde_json::json;

#[test]
fn with_a_token_every_api_request_needs_it() {
    let mut daemon = Daemon::with_args(&["--token", "s3cret"]);
    daemon.http.get("/health").assert_error(401, "UNAUTHORIZED");
    daemon
        .http
        .request(
            "GET",
            "/templates",
            None,
            &[("Authorization", "Bearer wrong")],
        )
        .assert_error(401, "UNAUTHORIZED");
    daemon
        .http
        .request("GET", "/templates", None, &[("Authorization", "s3cret")])
        .assert_error(401, "UNAUTHORIZED");
    daemon
        .http
        .request("GET", "/nope", None, &[])
        .assert_error(401, "UNAUTHORIZED");
    // The console's files are not secret; its API calls carry the token.
    assert_eq!(daemon.http.request_raw("GET", "/", None, &[]).status, 200);
    daemon.http.token = Some("s3cret".into());
    assert_eq!(daemon.http.get("/health").status, 200);
    assert_eq!(daemon.http.get("/templates").body, "[]");
    daemon.kill();
    // The token may come from the environment.
    let daemon = Daemon::start_with(Options {
        env: vec![("VM_SYSTEM_TOKEN".into(), "from-env".into())],
        ..Options::default()
    });
    daemon.http.get("/health").assert_error(401, "UNAUTHORIZED");
    let r = daemon.http.request(
        "GET",
        "/health",
        None,
        &[("Authorization", "Bearer from-env")],
    );
    assert_eq!(r.status, 200);
}

#[test]
fn other_hosts_are_refused_without_a_token() {
    let err = Daemon::try_start(Options {
        listen: Some("0.0.0.0:0".into()),
        ..Options::default()
    })
    .err()
    .expect("started on 0.0.0.0 without a token");
    assert_eq!(err.0.and_then(|s| s.code()), Some(1));
    assert!(err.1.contains("not a loopback address"), "{}", err.1);
    assert!(err.1.contains("--token"), "{}", err.1);
    // With a token it serves.
    let daemon = Daemon::start_with(Options {
        listen: Some("0.0.0.0:0".into()),
        args: vec!["--token".into(), "t".into()],
        ..Options::default()
    });
    let port = daemon.addr.rsplit(':').next().unwrap();
    let mut http = Http::new(&format!("127.0.0.1:{port}"));
    http.token = Some("t".into());
    assert_eq!(http.get("/health").status, 200);
}

/// Sends raw bytes, returns the status code and the body of the answer.
fn raw(addr: &str, head: &str, body: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    // The daemon may answer before reading everything; a write error then is expected.
    let _ = stream.write_all(body);
    // Every request here says `Connection: close`: the answer ends at end of stream.
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    let mut text = String::from_utf8_lossy(&out).to_string();
    // An interim `100 Continue` may come first.
    while text.starts_with("HTTP/1.1 100") {
        text = text
            .split_once("\r\n\r\n")
            .map(|x| x.1.to_string())
            .unwrap_or_default();
    }
    let status = text
        .split_whitespace()
        .nth(1)
        .unwrap_or("0")
        .parse()
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|x| x.1.to_string())
        .unwrap_or_default();
    (status, body)
}

#[test]
fn bodies_over_8_mib_are_refused() {
    let daemon = Daemon::start();
    // Announced too large: refused before the body is sent.
    let head = format!(
        "POST /api/v1/templates HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
        9 << 20
    );
    let (status, body) = raw(&daemon.addr, &head, b"");
    assert_eq!(status, 413, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"]["code"], "PAYLOAD_TOO_LARGE");
    // Sent in chunks with no length: refused once it passes the limit.
    let name = "n".repeat((8 << 20) + 16);
    let doc = format!(r#"{{"name":"{name}"}}"#);
    let chunked = format!("{:x}\r\n{doc}\r\n0\r\n\r\n", doc.len());
    let head = "POST /api/v1/templates HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    let (status, body) = raw(&daemon.addr, head, chunked.as_bytes());
    assert_eq!(status, 413, "{body}");
    // Just under the limit is read (and then judged on its content).
    let big = format!(r#"{{"name":"{}"}}"#, "n".repeat((8 << 20) - 64));
    let r = daemon.http.post("/templates", &big);
    assert_ne!(r.status, 413, "{}", &r.body[..r.body.len().min(200)]);
    // The daemon is fine afterwards.
    assert_eq!(daemon.http.get("/health").status, 200);
}

#[test]
fn cors_headers_only_for_the_named_origin() {
    let daemon = Daemon::start();
    let r = daemon
        .http
        .request("GET", "/health", None, &[("Origin", "http://elsewhere")]);
    assert_eq!(r.header("access-control-allow-origin"), None);
    let daemon = Daemon::with_args(&["--cors-origin", "http://localhost:5173"]);
    let r = daemon.http.request(
        "GET",
        "/health",
        None,
        &[("Origin", "http://localhost:5173")],
    );
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("http://localhost:5173")
    );
    let r = daemon.http.request(
        "OPTIONS",
        "/templates",
        None,
        &[
            ("Origin", "http://localhost:5173"),
            ("Access-Control-Request-Method", "POST"),
            ("Access-Control-Request-Headers", "content-type"),
        ],
    );
    assert_eq!(r.status, 200);
    assert!(r
        .header("access-control-allow-methods")
        .unwrap()
        .contains("POST"));
    let r = daemon
        .http
        .request("GET", "/health", None, &[("Origin", "http://evil")]);
    assert_eq!(r.header("access-control-allow-origin"), None);
}

fn stop_during_a_run(signal: &str) {
    let mut daemon = Daemon::start();
    let (_, s) = daemon.ready_session();
    let (_, idle) = daemon.ready_session();
    let addr = daemon.addr.clone();
    let sid = s.clone();
    let waiting = std::thread::spawn(move || Http::new(&addr).repl(&sid, "while (true) {}"));
    let deadline = Instant::now() + Duration::from_secs(10);
    let exec_id = loop {
        let list = daemon.http.get(&format!("/executions?session_id={s}"));
        if let Some(id) = list.json[0]["id"].as_str() {
            break id.to_string();
        }
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(10));
    };
    let asked = Instant::now();
    daemon.signal(signal);
    let status = daemon
        .wait_exit(Duration::from_secs(5))
        .expect("still running 5 s after the signal");
    assert!(status.success(), "{status:?}");
    assert!(asked.elapsed() < Duration::from_secs(5));
    // The client that waited got the cancelled record.
    let answer = waiting.join().unwrap();
    assert_eq!(answer.status, 201, "{}", answer.body);
    assert_eq!(answer.json["status"], "cancelled");
    // Everything was recorded: read it back with a new daemon on the same database.
    let dir = daemon.dir.clone();
    let again = Daemon::start_with(Options {
        dir: Some(dir),
        ..Options::default()
    });
    let exec = again.http.get(&format!("/executions/{exec_id}"));
    assert_eq!(exec.json["status"], "cancelled", "{}", exec.body);
    assert!(exec.json["ended_at"].is_string());
    for id in [&s, &idle] {
        let session = again.http.get(&format!("/sessions/{id}"));
        assert_eq!(session.json["status"], "closed");
        assert!(
            session.json["last_error"]
                .as_str()
                .unwrap()
                .contains("daemon shut down"),
            "{}",
            session.body
        );
    }
    drop(again);
    drop(daemon);
}

#[test]
fn sigterm_cancels_running_executions_and_closes_sessions() {
    stop_during_a_run("TERM");
}

#[test]
fn sigint_does_the_same() {
    stop_during_a_run("INT");
}

#[test]
fn sessions_of_a_killed_daemon_read_closed_on_the_next_start() {
    let mut daemon = Daemon::start();
    let (_, s) = daemon.ready_session();
    let running = daemon.http.post(
        "/executions/repl",
        &json!({"session_id": s, "input": "console.log('x'); while (true) {}", "wait": false})
            .to_string(),
    );
    assert_eq!(running.status, 202);
    daemon.kill();
    let again = Daemon::start_with(Options {
        dir: Some(daemon.dir.clone()),
        ..Options::default()
    });
    let session = again.http.get(&format!("/sessions/{s}"));
    assert_eq!(session.json["status"], "closed", "{}", session.body);
    assert!(session.json["closed_at"].is_string());
    assert!(session.json["last_error"]
        .as_str()
        .unwrap()
        .contains("runtime lost"));
    // Its stored records are still there; the run can no longer go on.
    let exec_id = running.json["id"].as_str().unwrap();
    assert_eq!(
        again.http.get(&format!("/executions/{exec_id}")).status,
        200
    );
    again
        .http
        .repl(&s, "1")
        .assert_error(409, "SESSION_NOT_READY");
    assert!(
        again.logs().iter().any(|l| l.contains("earlier daemon")),
        "{:?}",
        again.logs()
    );
}

#[test]
fn a_second_daemon_on_the_same_port_or_database_exits_with_a_clear_error() {
    let daemon = Daemon::start();
    let other = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--listen", &daemon.addr, "--db"])
        .arg(other.path().join("x.db"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Error: cannot listen on"), "{err}");
    assert!(err.contains("another vm-system daemon"), "{err}");
    assert!(out.stdout.is_empty());

    let out = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--db"])
        .arg(&daemon.db)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("already served by another vm-system daemon"),
        "{err}"
    );
    // The first one did not notice.
    assert_eq!(daemon.http.get("/health").status, 200);
}

#[test]
fn a_database_in_a_missing_folder_is_a_clear_error() {
    let out = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--db",
            "/nonexistent/dir/x.db",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Error: cannot open database /nonexistent/dir/x.db"),
        "{err}"
    );
}
