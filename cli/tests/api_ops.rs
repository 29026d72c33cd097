//! `/health`, `/runtime/summary`, `/daemons` (alone on a SQLite file) and the serve flags of a
//! shared store, and what every request gets: `X-Request-Id`, the error
//! envelope for unknown routes and methods, one log line on stderr, nothing on stdout.

mod common;

use std::time::{Duration, Instant};

use common::*;

#[test]
fn healthy_within_a_second_of_start() {
    let started = Instant::now();
    let daemon = Daemon::start();
    loop {
        let r = daemon.http.get("/health");
        if r.status == 200 {
            assert_eq!(r.body, r#"{"status":"ok"}"#);
            assert_eq!(r.header("content-type"), Some("application/json"));
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "not healthy after 1 s"
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    // HEAD works where GET does.
    assert_eq!(
        daemon.http.request("HEAD", "/health", None, &[]).status,
        200
    );
}

#[test]
fn runtime_summary_lists_live_sessions() {
    let daemon = Daemon::start();
    let r = daemon.http.get("/runtime/summary");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, r#"{"active_sessions":0,"active_session_ids":[]}"#);
    let (_, a) = daemon.ready_session();
    let (_, b) = daemon.ready_session();
    let mut ids = vec![a.clone(), b];
    ids.sort();
    let r = daemon.http.get("/runtime/summary");
    assert_eq!(r.json["active_sessions"], 2);
    assert_eq!(r.json["active_session_ids"], serde_json::json!(ids));
    daemon.http.post(&format!("/sessions/{a}/close"), "{}");
    assert_eq!(
        daemon.http.get("/runtime/summary").json["active_sessions"],
        1
    );
}

#[test]
fn request_ids_are_echoed_when_sane_and_made_up_otherwise() {
    let daemon = Daemon::start();
    let mine = "client-req-42";
    let r = daemon
        .http
        .request("GET", "/health", None, &[("X-Request-Id", mine)]);
    assert_eq!(r.header("x-request-id"), Some(mine));
    // Errors carry one too.
    let r = daemon
        .http
        .request("GET", "/templates/nope", None, &[("X-Request-Id", mine)]);
    assert_eq!(r.status, 400);
    assert_eq!(r.header("x-request-id"), Some(mine));
    for bad in ["has space".to_string(), "x".repeat(129)] {
        let r = daemon
            .http
            .request("GET", "/health", None, &[("X-Request-Id", &bad)]);
        let id = r.header("x-request-id").unwrap();
        assert_ne!(id, bad);
        assert_eq!(id.len(), 36, "{id}");
    }
    let a = daemon.http.get("/health");
    let b = daemon.http.get("/health");
    assert_ne!(a.header("x-request-id"), b.header("x-request-id"));
    assert_eq!(
        daemon
            .http
            .request(
                "GET",
                "/health",
                None,
                &[("X-Request-Id", &"y".repeat(128))]
            )
            .header("x-request-id")
            .map(str::len),
        Some(128)
    );
}

#[test]
fn unknown_routes_and_methods_answer_the_envelope() {
    let daemon = Daemon::start();
    for path in [
        "/nope",
        "/templates/",
        "/api/v2/health",
        "/api",
        "/api/other",
    ] {
        let r = daemon.http.get(path);
        r.assert_error(404, "NOT_FOUND");
        assert!(r.header("x-request-id").is_some());
    }
    let r = daemon.http.request("PUT", "/templates", Some("{}"), &[]);
    r.assert_error(405, "METHOD_NOT_ALLOWED");
    let allow = r.header("allow").unwrap();
    assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
    daemon
        .http
        .request("DELETE", "/health", None, &[])
        .assert_error(405, "METHOD_NOT_ALLOWED");
    daemon
        .http
        .request("POST", "/executions/repl/extra", Some("{}"), &[])
        .assert_error(404, "NOT_FOUND");
}

#[test]
fn outside_the_api_the_web_console_answers() {
    let daemon = Daemon::start();
    let r = daemon.http.request_raw("GET", "/", None, &[]);
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    assert!(r.header("x-request-id").is_some());
    let r = daemon.http.request_raw("GET", "/sessions/abc", None, &[]);
    assert_eq!(r.status, 200);
}

#[test]
fn one_log_line_per_request_on_stderr_and_nothing_on_stdout() {
    let mut daemon = Daemon::start();
    daemon
        .http
        .request("GET", "/health", None, &[("X-Request-Id", "trace-me-1")]);
    daemon.http.get("/templates/not-a-uuid");
    // A request's line is written once its answer has gone: wait for both lines.
    let deadline = Instant::now() + Duration::from_secs(5);
    let line = loop {
        let logs = daemon.logs();
        let refused = logs
            .iter()
            .any(|l| l.contains("path=/api/v1/templates/not-a-uuid") && l.contains("status=400"));
        if let (Some(line), true) = (logs.iter().find(|l| l.contains("trace-me-1")), refused) {
            break line.clone();
        }
        assert!(Instant::now() < deadline, "missing log lines: {logs:?}");
        std::thread::sleep(Duration::from_millis(10));
    };
    for part in [
        "method=GET",
        "path=/api/v1/health",
        "status=200",
        "duration_ms=",
    ] {
        assert!(line.contains(part), "{line}");
    }
    daemon.signal("TERM");
    assert!(daemon.wait_exit(Duration::from_secs(5)).unwrap().success());
    assert!(daemon.stdout().is_empty(), "{:?}", daemon.stdout());
}

#[test]
fn json_logs_are_one_object_per_line() {
    let daemon = Daemon::with_args(&["--log-format", "json"]);
    daemon
        .http
        .request("GET", "/health", None, &[("X-Request-Id", "json-line-1")]);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let logs = daemon.logs();
        if let Some(line) = logs.iter().find(|l| l.contains("json-line-1")) {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(v["status"], 200);
            assert_eq!(v["method"], "GET");
            assert_eq!(v["request_id"], "json-line-1");
            break;
        }
        assert!(Instant::now() < deadline, "no log line: {logs:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
    let first: serde_json::Value = serde_json::from_str(&daemon.logs()[0]).unwrap();
    assert!(first["listen_addr"].is_string(), "{first}");
}

#[test]
fn alone_on_a_sqlite_file_the_daemon_lists_itself() {
    let daemon = Daemon::with_args(&["--capacity", "2", "--advertise-url", "http://vm-a:3210"]);
    let r = daemon.http.get("/daemons");
    assert_eq!(r.status, 200, "{}", r.body);
    let me = r.json["self"].as_str().unwrap();
    let members = r.json["daemons"].as_array().unwrap();
    assert_eq!(members.len(), 1, "{}", r.body);
    let d = &members[0];
    assert_eq!(d["id"], me);
    assert_eq!(d["advertise_url"], "http://vm-a:3210");
    assert_eq!(d["capacity"], 2);
    assert_eq!(d["alive"], true);
    assert_eq!(d["live_sessions"], 0);
    // Capacity counts live sessions: the third is 503 NO_CAPACITY, a close frees room.
    let (t, s) = daemon.ready_session();
    let wt = daemon.worktree("more", &[]);
    daemon.session(&t, &wt);
    assert_eq!(
        daemon.http.get("/daemons").json["daemons"][0]["live_sessions"],
        2
    );
    let body = serde_json::json!({"template_id": t, "workspace_id": "w", "base_commit_oid": "c", "worktree_path": wt}).to_string();
    daemon
        .http
        .post("/sessions", &body)
        .assert_error(503, "NO_CAPACITY");
    daemon.http.post(&format!("/sessions/{s}/close"), "{}");
    assert_eq!(daemon.http.post("/sessions", &body).status, 201);
    // The CLI's table marks it.
    let out = std::process::Command::new(BIN)
        .args(["--server-url", &daemon.url(), "ops", "daemons"])
        .env_remove("VM_SYSTEM_TOKEN")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let row = text.lines().nth(2).unwrap();
    assert!(row.starts_with(&format!("* {me}")), "{text}");
    assert!(row.contains("http://vm-a:3210"), "{text}");
}

#[test]
fn bad_cluster_flags_are_refused() {
    for (args, status, says) in [
        (vec!["--heartbeat-timeout", "soon"], 2, "not a duration"),
        (vec!["--heartbeat-timeout", "1s"], 1, "heartbeat"),
        (vec!["--capacity", "0"], 1, "capacity"),
        (vec!["--capacity", "lots"], 2, "--capacity"),
    ] {
        let err = Daemon::try_start(Options {
            args: args.iter().map(|s| s.to_string()).collect(),
            ..Options::default()
        })
        .err()
        .unwrap_or_else(|| panic!("{args:?} was accepted"));
        assert_eq!(
            err.0.and_then(|s| s.code()),
            Some(status),
            "{args:?}: {}",
            err.1
        );
        assert!(err.1.contains(says), "{args:?}: {}", err.1);
    }
}
