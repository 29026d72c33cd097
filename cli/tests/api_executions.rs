//! Executions: REPL and file runs (waiting and `wait: false`), list, get, events, cancel,
//! and every error status they can give.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::json;

fn post(daemon: &Daemon, path: &str, body: serde_json::Value) -> Reply {
    daemon.http.post(path, &body.to_string())
}

fn wait_status(daemon: &Daemon, id: &str, want: &str) -> Reply {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = daemon.http.get(&format!("/executions/{id}"));
        if r.json["status"] == want {
            return r;
        }
        assert!(Instant::now() < deadline, "never {want}: {}", r.body);
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn repl_records_values_exceptions_and_events() {
    let daemon = Daemon::start();
    let (_, s) = daemon.ready_session();
    let r = daemon
        .http
        .repl(&s, "console.log('hi', {a: 1}); var x = 40; x + 2");
    assert_eq!(r.status, 201, "{}", r.body);
    let e = &r.json;
    assert_eq!(e["status"], "ok");
    assert_eq!(e["kind"], "repl");
    assert_eq!(e["session_id"], s.as_str());
    assert_eq!(e["result"]["json"], 42);
    assert_eq!(e["result"]["preview"], "42");
    assert!(e["ended_at"].is_string());
    assert_eq!(e["metrics"]["event_count"], 3);
    // State persists between calls.
    assert_eq!(daemon.http.repl(&s, "x").json["result"]["json"], 40);

    let id = e["id"].as_str().unwrap();
    let events = daemon.http.get(&format!("/executions/{id}/events"));
    let types: Vec<&str> = events
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["input_echo", "console", "value"]);
    assert_eq!(events.json[1]["payload"]["text"], r#"hi {"a":1}"#);
    assert_eq!(events.json[0]["seq"], 1);
    let after = daemon
        .http
        .get(&format!("/executions/{id}/events?after_seq=2"));
    assert_eq!(after.json.as_array().unwrap().len(), 1);
    assert_eq!(after.json[0]["seq"], 3);
    daemon
        .http
        .get(&format!("/executions/{id}/events?after_seq=-1"))
        .assert_error(400, "VALIDATION_ERROR");
    assert_eq!(
        daemon.http.get(&format!("/executions/{id}")).json["result"]["json"],
        42
    );

    // A JavaScript exception is a finished execution, not an API error.
    let r = daemon.http.repl(&s, "throw new TypeError('bad')");
    assert_eq!(r.status, 201);
    assert_eq!(r.json["status"], "error");
    assert!(
        r.json["error"]["message"].as_str().unwrap().contains("bad"),
        "{}",
        r.body
    );
}

#[test]
fn run_file_with_args_and_env() {
    let daemon = Daemon::start();
    let t = daemon.template("files");
    let wt = daemon.worktree(
        "wt",
        &[(
            "jobs/sum.js",
            "console.log(__ENV__.MODE); __ARGS__.a + __ARGS__.b",
        )],
    );
    std::os::unix::fs::symlink("/etc/hostname", wt.join("link.js")).unwrap();
    let s = daemon.session(&t, &wt);
    let r = post(
        &daemon,
        "/executions/run-file",
        json!({"session_id": s, "path": "jobs/sum.js", "args": {"a": 1, "b": 2}, "env": {"MODE": "test"}}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json["kind"], "run_file");
    assert_eq!(r.json["path"], "jobs/sum.js");
    assert_eq!(r.json["result"]["json"], 3);
    assert_eq!(r.json["args"], json!({"a": 1, "b": 2}));
    post(
        &daemon,
        "/executions/run-file",
        json!({"session_id": s, "path": "../outside.js"}),
    )
    .assert_error(422, "INVALID_PATH");
    post(
        &daemon,
        "/executions/run-file",
        json!({"session_id": s, "path": "/etc/hostname"}),
    )
    .assert_error(422, "INVALID_PATH");
    post(
        &daemon,
        "/executions/run-file",
        json!({"session_id": s, "path": "link.js"}),
    )
    .assert_error(422, "INVALID_PATH");
    post(
        &daemon,
        "/executions/run-file",
        json!({"session_id": s, "path": "missing.js"}),
    )
    .assert_error(404, "FILE_NOT_FOUND");
    let r = post(
        &daemon,
        "/executions/run-file",
        json!({"session_id": s, "path": "jobs/sum.js", "args": [1]}),
    );
    r.assert_error(400, "INVALID_REQUEST");
    assert_eq!(r.json["error"]["details"]["field"], "args");
    post(
        &daemon,
        "/executions/run-file",
        json!({"session_id": s, "path": "jobs/sum.js", "env": {"N": 1}}),
    )
    .assert_error(400, "VALIDATION_ERROR");
    post(&daemon, "/executions/run-file", json!({"session_id": s}))
        .assert_error(400, "VALIDATION_ERROR");
    // Rejected requests left no record.
    let list = daemon.http.get(&format!("/executions?session_id={s}"));
    assert_eq!(list.json.as_array().unwrap().len(), 1);
}

#[test]
fn list_and_get_with_their_validation() {
    let daemon = Daemon::start();
    let (_, s) = daemon.ready_session();
    for i in 0..3 {
        daemon.http.repl(&s, &format!("{i}"));
    }
    let all = daemon.http.get(&format!("/executions?session_id={s}"));
    let results: Vec<i64> = all
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["result"]["json"].as_i64().unwrap())
        .collect();
    assert_eq!(results, [2, 1, 0], "newest first");
    let two = daemon
        .http
        .get(&format!("/executions?session_id={s}&limit=2"));
    assert_eq!(two.json.as_array().unwrap().len(), 2);
    let h = &daemon.http;
    h.get("/executions").assert_error(400, "VALIDATION_ERROR");
    h.get("/executions?session_id=nope")
        .assert_error(400, "VALIDATION_ERROR");
    for bad in ["0", "-1", "x"] {
        h.get(&format!("/executions?session_id={s}&limit={bad}"))
            .assert_error(400, "VALIDATION_ERROR");
    }
    let unknown = "00000000-0000-4000-8000-000000000000";
    h.get(&format!("/executions?session_id={unknown}"))
        .assert_error(404, "SESSION_NOT_FOUND");
    let r = h.get(&format!("/executions/{unknown}"));
    r.assert_error(404, "EXECUTION_NOT_FOUND");
    assert_eq!(r.json["error"]["details"]["execution_id"], unknown);
    h.get(&format!("/executions/{unknown}/events"))
        .assert_error(404, "EXECUTION_NOT_FOUND");
    h.get("/executions/nope")
        .assert_error(400, "VALIDATION_ERROR");
    h.post(&format!("/executions/{unknown}/cancel"), "{}")
        .assert_error(404, "EXECUTION_NOT_FOUND");
}

#[test]
fn repl_errors_by_status() {
    let daemon = Daemon::start();
    let (t, s) = daemon.ready_session();
    let h = &daemon.http;
    let unknown = "00000000-0000-4000-8000-000000000000";
    let r = h.repl(unknown, "1");
    r.assert_error(404, "SESSION_NOT_FOUND");
    assert_eq!(r.json["error"]["details"]["session_id"], unknown);
    h.repl("not-a-uuid", "1")
        .assert_error(400, "VALIDATION_ERROR");
    post(&daemon, "/executions/repl", json!({"session_id": s}))
        .assert_error(400, "VALIDATION_ERROR");
    post(
        &daemon,
        "/executions/repl",
        json!({"session_id": s, "input": 1}),
    )
    .assert_error(400, "INVALID_REQUEST");
    post(
        &daemon,
        "/executions/repl",
        json!({"session_id": s, "input": "1", "wait": "no"}),
    )
    .assert_error(400, "INVALID_REQUEST");
    h.post("/executions/repl", "{")
        .assert_error(400, "INVALID_REQUEST");

    // Busy: one run at a time per session, the second fails at once.
    let running = post(
        &daemon,
        "/executions/repl",
        json!({"session_id": s, "input": "while (true) {}", "wait": false}),
    );
    assert_eq!(running.status, 202);
    let r = h.repl(&s, "1");
    r.assert_error(409, "SESSION_BUSY");
    assert_eq!(r.json["error"]["details"]["session_id"], s.as_str());
    let id = running.json["id"].as_str().unwrap();
    assert_eq!(
        h.post(&format!("/executions/{id}/cancel"), "").json["status"],
        "cancelled"
    );

    // Output limit: 422 with the execution's id; its events up to the limit are stored.
    h.patch(
        &format!("/templates/{t}/settings"),
        r#"{"limits":{"max_events":5}}"#,
    );
    let limited = daemon.session(&t, &daemon.worktree("limited", &[]));
    let r = h.repl(&limited, "for (let i = 0; i < 100; i++) console.log(i)");
    r.assert_error(422, "OUTPUT_LIMIT_EXCEEDED");
    let exec = r.json["error"]["details"]["execution_id"].as_str().unwrap();
    let stored = h.get(&format!("/executions/{exec}"));
    assert_eq!(stored.json["status"], "error");

    // Not ready: a closed session.
    h.post(&format!("/sessions/{s}/close"), "{}");
    h.repl(&s, "1").assert_error(409, "SESSION_NOT_READY");
}

#[test]
fn wait_false_answers_202_at_once_and_the_run_goes_on() {
    let daemon = Daemon::start();
    let (_, s) = daemon.ready_session();
    let asked = Instant::now();
    let r = post(
        &daemon,
        "/executions/repl",
        json!({"session_id": s, "input": "await new Promise(r => setTimeout(r, 500)); 'late'", "wait": false}),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    assert!(asked.elapsed() < Duration::from_millis(450));
    assert_eq!(r.json["status"], "running");
    assert!(r.json["ended_at"].is_null());
    let id = r.json["id"].as_str().unwrap();
    assert_eq!(
        daemon.http.get(&format!("/executions/{id}")).json["status"],
        "running"
    );
    let done = wait_status(&daemon, id, "ok");
    assert_eq!(done.json["result"]["json"], "late");

    let t = daemon.template("wf");
    let wt = daemon.worktree("wf", &[("f.js", "6 * 7")]);
    let s2 = daemon.session(&t, &wt);
    let r = post(
        &daemon,
        "/executions/run-file",
        json!({"session_id": s2, "path": "f.js", "wait": false}),
    );
    assert_eq!(r.status, 202);
    let done = wait_status(&daemon, r.json["id"].as_str().unwrap(), "ok");
    assert_eq!(done.json["result"]["json"], 42);
}

#[test]
fn cancel_is_recorded_and_the_session_stays_usable() {
    let daemon = Daemon::start();
    let (_, s) = daemon.ready_session();
    let r = post(
        &daemon,
        "/executions/repl",
        json!({"session_id": s, "input": "console.log('started'); while (true) {}", "wait": false}),
    );
    let id = r.json["id"].as_str().unwrap().to_string();
    std::thread::sleep(Duration::from_millis(50));
    let c = daemon.http.post(&format!("/executions/{id}/cancel"), "{}");
    assert_eq!(c.status, 200, "{}", c.body);
    assert_eq!(c.json["status"], "cancelled");
    assert!(c.json["ended_at"].is_string());
    let events = daemon.http.get(&format!("/executions/{id}/events"));
    let last = events.json.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["type"], "system", "{last}");
    // Cancelling an ended execution returns it as it is.
    assert_eq!(
        daemon
            .http
            .post(&format!("/executions/{id}/cancel"), "")
            .json["status"],
        "cancelled"
    );
    assert_eq!(daemon.http.repl(&s, "1 + 1").json["result"]["json"], 2);
}

#[test]
fn a_long_execution_is_not_cut_by_the_server() {
    let daemon = Daemon::start();
    let (_, s) = daemon.ready_session();
    let started = Instant::now();
    let r = daemon.http.repl(
        &s,
        "await new Promise(r => setTimeout(r, 3000)); 'still here'",
    );
    assert!(started.elapsed() >= Duration::from_secs(3));
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json["result"]["json"], "still here");
}
