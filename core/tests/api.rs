//! Templates, sessions, executions, events and errors through the public API.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use serde_json::json;
use vm_system::{ErrorCode, EventType, ExecutionStatus, SessionStatus, VmSystem};

#[test]
fn template_crud_and_defaults() {
    let vm = common::open();
    let t = vm.create_template("runner", "quickjs").unwrap();
    assert_eq!(t.engine, "quickjs");
    let detail = vm.get_template(&t.id).unwrap();
    assert_eq!(detail.settings, vm_system::Settings::default());
    assert_eq!(detail.settings.limits.cpu_ms, 5000);
    assert_eq!(detail.settings.resolver.extensions, vec![".js", ".mjs"]);
    assert!(detail.settings.runtime.console);
    assert_eq!(vm.list_templates().unwrap().len(), 1);

    let err = vm.create_template("x", "goja").unwrap_err();
    assert_eq!(err.code(), ErrorCode::Validation);
    assert!(err.to_string().contains("quickjs"), "{err}");
    assert_eq!(
        vm.create_template(" ", "quickjs").unwrap_err().code(),
        ErrorCode::Validation
    );

    let s = vm
        .update_settings(&t.id, &json!({"limits": {"cpu_ms": 250}}))
        .unwrap();
    assert_eq!(s.limits.cpu_ms, 250);
    assert_eq!(s.limits.wall_ms, 30000);
    let err = vm
        .update_settings(&t.id, &json!({"limits": {"wall_ms": 0}}))
        .unwrap_err();
    assert!(err.to_string().contains("limits.wall_ms"));
    assert_eq!(
        vm.update_settings("nope", &json!({})).unwrap_err().code(),
        ErrorCode::TemplateNotFound
    );

    vm.add_startup_file(&t.id, "runtime/b.js", 20, "eval")
        .unwrap();
    vm.add_startup_file(&t.id, "runtime/a.js", 10, "module")
        .unwrap();
    vm.add_startup_file(&t.id, "runtime/c.js", 10, "eval")
        .unwrap();
    let order: Vec<_> = vm
        .list_startup_files(&t.id)
        .unwrap()
        .into_iter()
        .map(|f| f.path)
        .collect();
    assert_eq!(order, ["runtime/a.js", "runtime/c.js", "runtime/b.js"]);
    assert_eq!(
        vm.add_startup_file(&t.id, "/etc/x.js", 0, "eval")
            .unwrap_err()
            .code(),
        ErrorCode::InvalidPath
    );
    assert_eq!(
        vm.add_startup_file(&t.id, "../x.js", 0, "eval")
            .unwrap_err()
            .code(),
        ErrorCode::InvalidPath
    );
    assert_eq!(
        vm.add_startup_file(&t.id, "x.js", 0, "jit")
            .unwrap_err()
            .code(),
        ErrorCode::StartupModeUnsupported
    );
    assert_eq!(
        vm.add_startup_file(&t.id, "runtime/a.js", 0, "eval")
            .unwrap_err()
            .code(),
        ErrorCode::Validation
    );
    vm.remove_startup_file(&t.id, "runtime/c.js").unwrap();
    assert_eq!(vm.list_startup_files(&t.id).unwrap().len(), 2);
    assert_eq!(
        vm.remove_startup_file(&t.id, "runtime/c.js")
            .unwrap_err()
            .code(),
        ErrorCode::Validation
    );

    let cap = vm
        .add_capability(&t.id, "fs", "data/", true, &json!({"write": false}))
        .unwrap();
    assert_eq!(cap.kind, "fs");
    assert_eq!(vm.list_capabilities(&t.id).unwrap(), vec![cap]);
    assert_eq!(
        vm.add_capability(&t.id, "disk", "x", true, &json!({}))
            .unwrap_err()
            .code(),
        ErrorCode::Validation
    );
    assert_eq!(
        vm.add_capability(&t.id, "env", "x", true, &json!([]))
            .unwrap_err()
            .code(),
        ErrorCode::Validation
    );

    for builtin in [
        "console", "JSON", "Math", "date", "Array", "string", "object", "Promise",
    ] {
        let err = vm.add_module(&t.id, builtin).unwrap_err();
        assert_eq!(err.code(), ErrorCode::ModuleNotAllowed, "{builtin}");
        assert!(err.to_string().contains("built-in"), "{err}");
    }
    assert_eq!(
        vm.add_module(&t.id, "network").unwrap_err().code(),
        ErrorCode::ModuleNotAllowed
    );
    vm.add_module(&t.id, "fs").unwrap();
    assert_eq!(vm.list_modules(&t.id).unwrap(), ["fs"]);
    assert_eq!(
        vm.add_library(&t.id, "leftpad-1.0").unwrap_err().code(),
        ErrorCode::Validation
    );

    let updated = vm.get_template(&t.id).unwrap();
    assert!(updated.template.updated_at >= t.updated_at);
    vm.delete_template(&t.id).unwrap();
    assert_eq!(
        vm.get_template(&t.id).unwrap_err().code(),
        ErrorCode::TemplateNotFound
    );
    assert_eq!(
        vm.list_startup_files(&t.id).unwrap_err().code(),
        ErrorCode::TemplateNotFound
    );
    assert_eq!(
        vm.delete_template(&t.id).unwrap_err().code(),
        ErrorCode::TemplateNotFound
    );
}

#[test]
fn session_creation_checks_every_argument() {
    let vm = common::open();
    let t = vm.create_template("t", "quickjs").unwrap();
    let tree = Worktree::new(&[("a.txt", "x")]);
    for (args, code) in [
        (["", "ws", "c", tree.str()], ErrorCode::Validation),
        ([t.id.as_str(), "", "c", tree.str()], ErrorCode::Validation),
        ([t.id.as_str(), "ws", "", tree.str()], ErrorCode::Validation),
        ([t.id.as_str(), "ws", "c", ""], ErrorCode::Validation),
        (
            [t.id.as_str(), "ws", "c", "relative/dir"],
            ErrorCode::Validation,
        ),
        (
            [t.id.as_str(), "ws", "c", "/no/such/dir"],
            ErrorCode::Validation,
        ),
        (
            [t.id.as_str(), "ws", "c", &format!("{}/a.txt", tree.str())],
            ErrorCode::Validation,
        ),
        (
            ["missing", "ws", "c", tree.str()],
            ErrorCode::TemplateNotFound,
        ),
    ] {
        let err = vm
            .create_session(args[0], args[1], args[2], args[3])
            .unwrap_err();
        assert_eq!(err.code(), code, "{args:?}: {err}");
    }
    assert!(vm.list_sessions(None).unwrap().is_empty());
}

#[test]
fn session_lifecycle_get_list_close_summary() {
    let (vm, id, _tree) = session();
    let s = vm.get_session(&id).unwrap();
    assert_eq!(s.status, SessionStatus::Ready);
    assert_eq!(vm.runtime_summary().active_session_ids, vec![id.clone()]);
    assert_eq!(
        vm.list_sessions(Some(SessionStatus::Ready)).unwrap().len(),
        1
    );
    assert!(vm
        .list_sessions(Some(SessionStatus::Closed))
        .unwrap()
        .is_empty());
    assert_eq!(
        SessionStatus::parse("zombie").unwrap_err().code(),
        ErrorCode::Validation
    );

    let closed = vm.close_session(&id).unwrap();
    assert_eq!(closed.status, SessionStatus::Closed);
    assert!(closed.closed_at.is_some());
    assert_eq!(vm.runtime_summary().active_sessions, 0);
    assert_eq!(
        vm.close_session(&id).unwrap(),
        closed,
        "closing twice returns it as is"
    );
    let err = vm.repl(&id, "1").unwrap_err();
    assert_eq!(err.code(), ErrorCode::SessionNotReady);
    assert_eq!(err.session_id(), Some(id.as_str()));
    assert_eq!(
        vm.repl("nope", "1").unwrap_err().code(),
        ErrorCode::SessionNotFound
    );
    assert_eq!(
        vm.get_session("nope").unwrap_err().code(),
        ErrorCode::SessionNotFound
    );
    assert_eq!(
        vm.close_session("nope").unwrap_err().code(),
        ErrorCode::SessionNotFound
    );
}

#[test]
fn deleting_a_template_keeps_running_sessions() {
    let vm = common::open();
    let t = vm.create_template("t", "quickjs").unwrap();
    let tree = Worktree::new(&[]);
    let s = vm.create_session(&t.id, "ws", "c", tree.str()).unwrap();
    vm.repl(&s.id, "var kept = 5").unwrap();
    vm.delete_template(&t.id).unwrap();
    assert_eq!(vm.repl(&s.id, "kept").unwrap().value(), Some(&json!(5)));
    assert_eq!(vm.list_executions(&s.id, 50).unwrap().len(), 2);
}

#[test]
fn startup_crash_records_what_and_where() {
    let vm = common::open();
    let t = vm.create_template("t", "quickjs").unwrap();
    vm.add_startup_file(&t.id, "ok.js", 1, "eval").unwrap();
    vm.add_startup_file(&t.id, "bad.js", 2, "eval").unwrap();
    let tree = Worktree::new(&[
        ("ok.js", "globalThis.ready = 1"),
        ("bad.js", "undefinedThing()"),
    ]);
    let err = vm.create_session(&t.id, "ws", "c", tree.str()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::StartupFailed);
    let id = err.session_id().unwrap().to_string();
    let s = vm.get_session(&id).unwrap();
    assert_eq!(s.status, SessionStatus::Crashed);
    let last = s.last_error.unwrap();
    assert!(
        last.contains("bad.js") && last.contains("undefinedThing"),
        "{last}"
    );
    assert_eq!(
        vm.repl(&id, "1").unwrap_err().code(),
        ErrorCode::SessionNotReady
    );
    assert_eq!(
        vm.close_session(&id).unwrap().status,
        SessionStatus::Crashed
    );

    let t2 = vm.create_template("t2", "quickjs").unwrap();
    vm.add_startup_file(&t2.id, "link.js", 0, "eval").unwrap();
    let outside = Worktree::new(&[("x.js", "1")]);
    std::os::unix::fs::symlink(outside.path.join("x.js"), tree.path.join("link.js")).unwrap();
    let err = vm
        .create_session(&t2.id, "ws", "c", tree.str())
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidPath);
    assert_eq!(
        vm.get_session(err.session_id().unwrap()).unwrap().status,
        SessionStatus::Crashed
    );
}

#[test]
fn repl_records_events_and_metrics() {
    let (vm, id, _t) = session();
    let exec = vm
        .repl(&id, "console.log('a'); console.info('b'); 6 * 7")
        .unwrap();
    assert_eq!(exec.status, ExecutionStatus::Ok);
    assert_eq!(exec.value(), Some(&json!(42)));
    let evs = events(&vm, &exec);
    assert_eq!(types(&evs), ["input_echo", "console", "console", "value"]);
    assert_eq!(exec.metrics.event_count, 4);
    assert!(exec.metrics.output_bytes > 0);
    assert!(exec.metrics.duration_ms >= 0.0);
    assert_eq!(vm.events(&exec.id, 2).unwrap().len(), 2);
    assert_eq!(vm.events(&exec.id, 4).unwrap().len(), 0);
    assert_eq!(vm.get_execution(&exec.id).unwrap(), exec);
    assert_eq!(
        vm.get_execution("x").unwrap_err().code(),
        ErrorCode::ExecutionNotFound
    );
    assert_eq!(
        vm.events("x", 0).unwrap_err().code(),
        ErrorCode::ExecutionNotFound
    );
    let e2 = vm.repl(&id, "2").unwrap();
    let listed = vm.list_executions(&id, 50).unwrap();
    assert_eq!(listed[0].id, e2.id, "newest first");
    assert_eq!(vm.list_executions(&id, 1).unwrap().len(), 1);
    assert_eq!(
        vm.list_executions(&id, 0).unwrap_err().code(),
        ErrorCode::Validation
    );
    assert_eq!(
        vm.list_executions("nope", 5).unwrap_err().code(),
        ErrorCode::SessionNotFound
    );
}

#[test]
fn run_file_validates_args_and_env() {
    let (vm, id, _t) = session_with(json!({}), &[("f.js", "__ENV__.A + __ARGS__.n")]);
    let ok = vm
        .run_file(&id, "f.js", &json!({"n": 1}), &json!({"A": "x"}))
        .unwrap();
    assert_eq!(ok.value(), Some(&json!("x1")));
    assert_eq!(ok.path.as_deref(), Some("f.js"));
    assert_eq!(ok.env, json!({"A": "x"}));
    assert_eq!(
        vm.run_file(&id, "f.js", &json!([1]), &json!({}))
            .unwrap_err()
            .code(),
        ErrorCode::Validation
    );
    assert_eq!(
        vm.run_file(&id, "f.js", &json!({}), &json!({"A": 1}))
            .unwrap_err()
            .code(),
        ErrorCode::Validation
    );
}

#[test]
fn watcher_sees_the_stored_events_in_order_and_survives_failures() {
    let (vm, id, _t) = session();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let exec = vm
        .repl_watched(
            &id,
            "for (let i = 0; i < 5; i++) console.log(i); 'end'",
            Some(Box::new(move |e| {
                sink.lock().unwrap().push(e.clone());
                Ok(())
            })),
        )
        .unwrap();
    assert_eq!(*seen.lock().unwrap(), vm.events(&exec.id, 0).unwrap());

    let exec = vm
        .repl_watched(
            &id,
            "console.log(1); 2",
            Some(Box::new(|e| {
                if e.event_type == EventType::Console {
                    Err("watcher broke".into())
                } else {
                    Ok(())
                }
            })),
        )
        .unwrap();
    assert_eq!(exec.status, ExecutionStatus::Ok);
    let evs = events(&vm, &exec);
    assert_eq!(types(&evs), ["input_echo", "console", "system", "value"]);
    assert!(evs[2].payload["message"]
        .as_str()
        .unwrap()
        .contains("watcher broke"));

    let exec = vm
        .repl_watched(&id, "3", Some(Box::new(|_| panic!("boom"))))
        .unwrap();
    assert_eq!(exec.value(), Some(&json!(3)));
}

#[test]
fn busy_sessions_fail_fast_and_sessions_run_in_parallel() {
    let vm = common::open();
    let t = vm.create_template("t", "quickjs").unwrap();
    let tree = Worktree::new(&[]);
    let a = vm.create_session(&t.id, "ws", "c", tree.str()).unwrap().id;
    let b = vm.create_session(&t.id, "ws", "c", tree.str()).unwrap().id;
    let spin = "{ const start = Date.now(); const end = start + 300; while (Date.now() < end) {} [start, Date.now()] }";
    let handles: Vec<_> = [a.clone(), b.clone()]
        .into_iter()
        .map(|id| {
            let vm = vm.clone();
            std::thread::spawn(move || vm.repl(&id, spin).unwrap())
        })
        .collect();
    while vm.running_execution(&a).is_none() {
        std::thread::sleep(Duration::from_millis(1));
    }
    let busy = vm.repl(&a, "1").unwrap_err();
    assert_eq!(busy.code(), ErrorCode::SessionBusy);
    assert_eq!(busy.session_id(), Some(a.as_str()));
    // Other calls answer while the session is busy.
    let quick = Instant::now();
    vm.get_session(&a).unwrap();
    vm.list_sessions(None).unwrap();
    vm.runtime_summary();
    assert!(quick.elapsed() < Duration::from_millis(150));
    let spans: Vec<(i64, i64)> = handles
        .into_iter()
        .map(|h| {
            let exec = h.join().unwrap();
            assert_eq!(exec.status, ExecutionStatus::Ok);
            let v = exec.value().unwrap();
            (v[0].as_i64().unwrap(), v[1].as_i64().unwrap())
        })
        .collect();
    // The scripts ran at the same time: each started before the other ended.
    assert!(
        spans[0].0 < spans[1].1 && spans[1].0 < spans[0].1,
        "{spans:?}"
    );
}

#[test]
fn events_are_readable_while_running() {
    let (vm, id, _t) = session();
    let vm2 = vm.clone();
    let sid = id.clone();
    let h = std::thread::spawn(move || {
        vm2.repl(&sid, "console.log('early'); const stop = Date.now() + 400; while (Date.now() < stop) {} 'late'")
            .unwrap()
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    let exec_id = loop {
        if let Some(e) = vm.running_execution(&id) {
            break e;
        }
        assert!(Instant::now() < deadline);
    };
    let seen = loop {
        if let Ok(evs) = vm.events(&exec_id, 0) {
            if evs.len() >= 2 {
                break evs;
            }
        }
        assert!(
            Instant::now() < deadline,
            "events not visible while running"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    assert_eq!(seen[1].payload["text"], "early");
    assert_eq!(
        vm.get_execution(&exec_id).unwrap().status,
        ExecutionStatus::Running
    );
    assert_eq!(h.join().unwrap().status, ExecutionStatus::Ok);
}

#[test]
fn file_database_is_shared_and_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("vm.db");
    let tree = Worktree::new(&[]);
    let (tid, sid) = {
        let vm = VmSystem::open(&db).unwrap();
        let t = vm.create_template("t", "quickjs").unwrap();
        let s = vm.create_session(&t.id, "ws", "c", tree.str()).unwrap();
        vm.repl(&s.id, "1").unwrap();
        let other = VmSystem::open(&db).unwrap();
        // Another instance sees the live session as ready and cannot close it.
        assert_eq!(
            other.get_session(&s.id).unwrap().status,
            SessionStatus::Ready
        );
        assert_eq!(
            other.repl(&s.id, "1").unwrap_err().code(),
            ErrorCode::SessionNotReady
        );
        (t.id, s.id)
    };
    let vm = VmSystem::open(&db).unwrap();
    assert_eq!(vm.get_template(&tid).unwrap().template.id, tid);
    let s = vm.get_session(&sid).unwrap();
    assert_eq!(
        s.status,
        SessionStatus::Closed,
        "dropping a VmSystem closes its sessions"
    );
    assert_eq!(vm.list_executions(&sid, 5).unwrap().len(), 1);
    assert_eq!(
        VmSystem::open("").err().unwrap().code(),
        ErrorCode::Validation
    );
}

#[test]
fn a_session_left_by_an_exited_process_reads_as_lost() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("vm.db");
    let tree = Worktree::new(&[]);
    // Simulate a process that died without closing: forget the instance.
    let vm = VmSystem::open(&db).unwrap();
    let t = vm.create_template("t", "quickjs").unwrap();
    let s = vm.create_session(&t.id, "ws", "c", tree.str()).unwrap();
    let conn = rusqlite_free_update(&db, &s.id);
    assert!(conn);
    let other = VmSystem::open(&db).unwrap();
    let lost = other.get_session(&s.id).unwrap();
    assert_eq!(lost.status, SessionStatus::Closed);
    assert!(lost.last_error.unwrap().contains("runtime lost"));
    drop(vm);
}

/// Rewrites the owner of a session to a pid that no longer exists.
fn rusqlite_free_update(db: &std::path::Path, session_id: &str) -> bool {
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    let sql = format!(
        "UPDATE sessions SET owner_pid = {pid}, owner_instance = 'gone' WHERE id = '{session_id}';"
    );
    std::process::Command::new("python3")
        .args([
            "-c",
            &format!(
                "import sqlite3; c = sqlite3.connect({:?}); c.execute({sql:?}); c.commit()",
                db.to_str().unwrap()
            ),
        ])
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

#[test]
fn bad_input_is_a_validation_error_not_a_crash() {
    let (vm, id, tree) = session();
    // A NUL is source text, never the end of it: outside a literal it is the engine's
    // SyntaxError, not a silently shortened program.
    let exec = vm.repl(&id, "1\0 + 2").unwrap();
    assert_eq!(exec.status, ExecutionStatus::Error);
    assert!(exec.error.unwrap().starts_with("SyntaxError"));
    // A NUL inside a string survives the record, in the input and in the error.
    let exec = vm.repl(&id, "throw new Error('a\0b')").unwrap();
    let stored = vm.get_execution(&exec.id).unwrap();
    assert_eq!(stored.input.as_deref(), Some("throw new Error('a\0b')"));
    assert_eq!(stored.error.as_deref(), Some("Error: a\0b"));
    let err = vm.create_template("bad\0name", "quickjs").unwrap_err();
    assert_eq!(err.code(), ErrorCode::Validation);
    assert!(err.to_string().contains("NUL"), "{err}");
    std::fs::write(tree.path.join("latin1.js"), [0x27, 0xe9, 0x27]).unwrap();
    let err = vm
        .run_file(&id, "latin1.js", &json!({}), &json!({}))
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Validation);
    assert_eq!(
        vm.list_executions(&id, 50).unwrap().len(),
        2,
        "refused requests leave no record"
    );
    assert_eq!(
        vm.repl(&id, "'still fine'").unwrap().value(),
        Some(&json!("still fine"))
    );
}
