//! Sessions: create (with startup files), list by status, get, close (twice), delete,
//! and the failures of each.

mod common;

use common::*;
use serde_json::json;

fn create(daemon: &Daemon, body: serde_json::Value) -> Reply {
    daemon.http.post("/sessions", &body.to_string())
}

#[test]
fn create_get_list_close() {
    let daemon = Daemon::start();
    let h = &daemon.http;
    let t = daemon.template("sessions");
    let wt = daemon.worktree("wt", &[]);
    let r = create(
        &daemon,
        json!({"template_id": t, "workspace_id": "ws", "base_commit_oid": "abc", "worktree_path": wt}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let s = r.json["id"].as_str().unwrap().to_string();
    for (key, value) in [
        ("status", json!("ready")),
        ("vm_id", json!(t)),
        ("template_id", json!(t)),
        ("workspace_id", json!("ws")),
        ("base_commit_oid", json!("abc")),
        ("worktree_path", json!(wt)),
        ("closed_at", json!(null)),
        ("last_error", json!(null)),
    ] {
        assert_eq!(r.json[key], value, "{key}: {}", r.body);
    }
    assert!(r.json["created_at"].is_string());
    assert_eq!(h.get(&format!("/sessions/{s}")).json, r.json);

    let other = daemon.session(&t, &wt);
    let list = h.get("/sessions");
    let ids: Vec<&str> = list
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [other.as_str(), s.as_str()], "newest first");

    let closed = h.post(&format!("/sessions/{s}/close"), "{}");
    assert_eq!(closed.status, 200, "{}", closed.body);
    assert_eq!(closed.json["status"], "closed");
    assert!(closed.json["closed_at"].is_string());
    // Closing again returns it as it is.
    let again = h.post(&format!("/sessions/{s}/close"), "");
    assert_eq!(again.status, 200);
    assert_eq!(again.json, closed.json);
    h.post(&format!("/sessions/{s}/close"), r#"{"force":true}"#)
        .assert_error(400, "INVALID_REQUEST");
    let deleted = h.delete(&format!("/sessions/{other}"));
    assert_eq!(
        (deleted.status, deleted.json["status"].as_str()),
        (200, Some("closed"))
    );

    let ready = h.get("/sessions?status=ready");
    assert_eq!(ready.body, "[]");
    let closed = h.get("/sessions?status=closed");
    assert_eq!(closed.json.as_array().unwrap().len(), 2);
    assert_eq!(h.get("/sessions?status=").json.as_array().unwrap().len(), 2);
    h.get("/sessions?status=sleeping")
        .assert_error(400, "VALIDATION_ERROR");
}

#[test]
fn bad_requests_and_unknown_ids() {
    let daemon = Daemon::start();
    let h = &daemon.http;
    let t = daemon.template("bad");
    let wt = daemon.worktree("wt", &[]);
    let unknown = "00000000-0000-4000-8000-000000000000";
    let r = create(
        &daemon,
        json!({"template_id": t, "workspace_id": "ws", "base_commit_oid": "abc"}),
    );
    r.assert_error(400, "VALIDATION_ERROR");
    assert!(r.json["error"]["message"]
        .as_str()
        .unwrap()
        .contains("worktree_path"));
    create(&daemon, json!({"template_id": "zzz", "workspace_id": "ws", "base_commit_oid": "abc", "worktree_path": wt}))
        .assert_error(400, "VALIDATION_ERROR");
    let r = create(
        &daemon,
        json!({"template_id": unknown, "workspace_id": "ws", "base_commit_oid": "abc", "worktree_path": wt}),
    );
    r.assert_error(404, "TEMPLATE_NOT_FOUND");
    assert_eq!(r.json["error"]["details"]["template_id"], unknown);
    create(&daemon, json!({"template_id": t, "workspace_id": "ws", "base_commit_oid": "abc", "worktree_path": "relative/dir"}))
        .assert_error(400, "VALIDATION_ERROR");
    create(&daemon, json!({"template_id": t, "workspace_id": "ws", "base_commit_oid": "abc", "worktree_path": "/does/not/exist"}))
        .assert_error(400, "VALIDATION_ERROR");
    create(
        &daemon,
        json!({"template_id": t, "workspace_id": 1, "base_commit_oid": "abc", "worktree_path": wt}),
    )
    .assert_error(400, "INVALID_REQUEST");
    create(&daemon, json!({"template_id": t, "workspace_id": "ws", "base_commit_oid": "abc", "worktree_path": wt, "vm_id": t}))
        .assert_error(400, "INVALID_REQUEST");

    let r = h.get(&format!("/sessions/{unknown}"));
    r.assert_error(404, "SESSION_NOT_FOUND");
    assert_eq!(r.json["error"]["details"]["session_id"], unknown);
    h.post(&format!("/sessions/{unknown}/close"), "{}")
        .assert_error(404, "SESSION_NOT_FOUND");
    h.delete(&format!("/sessions/{unknown}"))
        .assert_error(404, "SESSION_NOT_FOUND");
    h.get("/sessions/xyz").assert_error(400, "VALIDATION_ERROR");
    h.post("/sessions/xyz/close", "{}")
        .assert_error(400, "VALIDATION_ERROR");
}

#[test]
fn startup_files_run_in_order_and_failures_name_the_session() {
    let daemon = Daemon::start();
    let h = &daemon.http;
    let t = daemon.template("boot");
    let files = format!("/templates/{t}/startup-files");
    h.post(&files, r#"{"path":"b.js","order_index":20}"#);
    h.post(&files, r#"{"path":"a.js","order_index":10}"#);
    let wt = daemon.worktree(
        "ok",
        &[
            ("a.js", "globalThis.order = ['a'];"),
            ("b.js", "order.push('b');"),
        ],
    );
    let s = daemon.session(&t, &wt);
    let r = h.repl(&s, "order.join(',')");
    assert_eq!(r.json["result"]["json"], "a,b", "{}", r.body);

    // A startup file that throws: 422 STARTUP_FAILED with the crashed session's id.
    let broken = daemon.worktree(
        "broken",
        &[("a.js", "throw new Error('boom')"), ("b.js", "")],
    );
    let r = create(
        &daemon,
        json!({"template_id": t, "workspace_id": "ws", "base_commit_oid": "abc", "worktree_path": broken}),
    );
    r.assert_error(422, "STARTUP_FAILED");
    let crashed = r.json["error"]["details"]["session_id"]
        .as_str()
        .unwrap()
        .to_string();
    let session = h.get(&format!("/sessions/{crashed}"));
    assert_eq!(session.json["status"], "crashed");
    assert!(session.json["last_error"]
        .as_str()
        .unwrap()
        .contains("boom"));
    h.repl(&crashed, "1").assert_error(409, "SESSION_NOT_READY");
    // Closing a crashed session returns it as it is.
    assert_eq!(
        h.post(&format!("/sessions/{crashed}/close"), "{}").json["status"],
        "crashed"
    );

    // A missing startup file: 404 FILE_NOT_FOUND, also with the session id.
    let missing = daemon.worktree("missing", &[("a.js", "")]);
    let r = create(
        &daemon,
        json!({"template_id": t, "workspace_id": "ws", "base_commit_oid": "abc", "worktree_path": missing}),
    );
    r.assert_error(404, "FILE_NOT_FOUND");
    assert!(r.json["error"]["details"]["session_id"].is_string());
}

#[test]
fn a_missing_library_crashes_the_session_with_how_to_install_it() {
    let daemon = Daemon::start();
    let t = daemon.template("libs");
    daemon.http.post(
        &format!("/templates/{t}/libraries"),
        r#"{"name":"lodash-4.17.21"}"#,
    );
    let wt = daemon.worktree("wt", &[]);
    let r = create(
        &daemon,
        json!({"template_id": t, "workspace_id": "ws", "base_commit_oid": "abc", "worktree_path": wt}),
    );
    r.assert_error(422, "STARTUP_FAILED");
    assert!(
        r.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("lodash"),
        "{}",
        r.body
    );
    // Installed in the daemon's cache, the library loads.
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../core/tests/fixtures/libraries/lodash-4.17.21.js"
    );
    std::fs::create_dir_all(daemon.dir.join("libraries")).unwrap();
    std::fs::copy(fixture, daemon.dir.join("libraries/lodash-4.17.21.js")).unwrap();
    let s = daemon.session(&t, &wt);
    let r = daemon.http.repl(&s, "_.chunk([1,2,3,4], 2)");
    assert_eq!(
        r.json["result"]["json"],
        json!([[1, 2], [3, 4]]),
        "{}",
        r.body
    );
}
