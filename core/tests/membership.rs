//! Membership, placement and location on a store with one member (SQLite): this instance's
//! id on every session, `daemons()`, `place_session`, `locate_*`, capacity.

mod common;

use std::time::Duration;

use common::Worktree;
use vm_system::{ErrorCode, Location, OpenOptions, Placement, VmSystem};

fn open(options: OpenOptions) -> VmSystem {
    VmSystem::open_in_memory_with(options).unwrap()
}

#[test]
fn every_session_carries_the_id_of_the_instance_that_built_it() {
    let tree = Worktree::new(&[]);
    let a = open(OpenOptions::default());
    let t = a.create_template("t", "quickjs").unwrap();
    let s = a.create_session(&t.id, "ws", "c", tree.str()).unwrap();
    assert_eq!(s.daemon_id, a.daemon_id());
    assert_eq!(a.get_session(&s.id).unwrap().daemon_id, a.daemon_id());
    assert_eq!(a.list_sessions(None).unwrap()[0].daemon_id, a.daemon_id());
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["daemon_id"], a.daemon_id());
    // Closed, it keeps its owner as history.
    assert_eq!(a.close_session(&s.id).unwrap().daemon_id, a.daemon_id());
    // Two instances have two ids, even on one file.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("vm.db");
    let x = VmSystem::open(&db).unwrap();
    let y = VmSystem::open(&db).unwrap();
    assert_ne!(x.daemon_id(), y.daemon_id());
    assert_eq!(x.daemon_id().len(), 36);
}

#[test]
fn on_sqlite_the_only_member_is_this_instance() {
    let tree = Worktree::new(&[]);
    let vm = open(OpenOptions {
        advertise_url: Some("http://127.0.0.1:9000".into()),
        capacity: Some(5),
        ..OpenOptions::default()
    });
    let t = vm.create_template("t", "quickjs").unwrap();
    vm.create_session(&t.id, "ws", "c", tree.str()).unwrap();
    let closed = vm.create_session(&t.id, "ws", "c", tree.str()).unwrap();
    vm.close_session(&closed.id).unwrap();
    let members = vm.daemons().unwrap();
    assert_eq!(members.len(), 1);
    let me = &members[0];
    assert_eq!(me.id, vm.daemon_id());
    assert_eq!(me.advertise_url.as_deref(), Some("http://127.0.0.1:9000"));
    assert_eq!(me.capacity, Some(5));
    assert_eq!(me.live_sessions, 1);
    assert!(me.alive);
    assert!(me.started_at.ends_with('Z') && me.last_heartbeat.ends_with('Z'));
    assert!(me.started_at <= me.last_heartbeat);
    assert_eq!(vm.reap_dead_daemons().unwrap(), Vec::<String>::new());
    assert_eq!(vm.place_session().unwrap(), Placement::Here);
    let json = serde_json::to_value(me).unwrap();
    for key in [
        "id",
        "advertise_url",
        "started_at",
        "last_heartbeat",
        "capacity",
        "live_sessions",
        "alive",
    ] {
        assert!(json.get(key).is_some(), "{key} in {json}");
    }
}

#[test]
fn capacity_bounds_the_live_sessions_of_an_instance() {
    let tree = Worktree::new(&[]);
    let vm = open(OpenOptions {
        capacity: Some(2),
        ..OpenOptions::default()
    });
    let t = vm.create_template("t", "quickjs").unwrap();
    let first = vm.create_session(&t.id, "ws", "c", tree.str()).unwrap();
    vm.create_session(&t.id, "ws", "c", tree.str()).unwrap();
    let err = vm.create_session(&t.id, "ws", "c", tree.str()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::NoCapacity);
    assert_eq!(err.code().as_str(), "NO_CAPACITY");
    assert_eq!(err.code() as u32, 14);
    assert!(err.to_string().contains("capacity"), "{err}");
    // Nothing was recorded for the refused session.
    assert_eq!(vm.list_sessions(None).unwrap().len(), 2);
    let err = vm.place_session().unwrap_err();
    assert_eq!(err.code(), ErrorCode::NoCapacity);
    // A closed session frees its place.
    vm.close_session(&first.id).unwrap();
    assert_eq!(vm.place_session().unwrap(), Placement::Here);
    vm.create_session(&t.id, "ws", "c", tree.str()).unwrap();
    // A session whose startup failed holds no place either.
    vm.close_session(&vm.list_sessions(None).unwrap()[1].id)
        .unwrap();
    let crashing = vm.create_template("crash", "quickjs").unwrap();
    tree.write("boom.js", "throw new Error('no')");
    vm.add_startup_file(&crashing.id, "boom.js", 0, "eval")
        .unwrap();
    let err = vm
        .create_session(&crashing.id, "ws", "c", tree.str())
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::StartupFailed);
    assert_eq!(vm.daemons().unwrap()[0].live_sessions, 1);
    vm.create_session(&t.id, "ws", "c", tree.str()).unwrap();
}

#[test]
fn concurrent_creates_never_pass_the_capacity_together() {
    let tree = Worktree::new(&[]);
    let vm = open(OpenOptions {
        capacity: Some(3),
        ..OpenOptions::default()
    });
    let t = vm.create_template("t", "quickjs").unwrap();
    let results: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| scope.spawn(|| vm.create_session(&t.id, "ws", "c", tree.str())))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let ok = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(ok, 3);
    for r in results.iter().filter_map(|r| r.as_ref().err()) {
        assert_eq!(r.code(), ErrorCode::NoCapacity);
    }
    assert_eq!(vm.runtime_summary().active_sessions, 3);
}

#[test]
fn sessions_and_executions_are_located_here_or_not_found() {
    let tree = Worktree::new(&[]);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("vm.db");
    let vm = VmSystem::open(&db).unwrap();
    let t = vm.create_template("t", "quickjs").unwrap();
    let s = vm.create_session(&t.id, "ws", "c", tree.str()).unwrap();
    let exec = vm.repl(&s.id, "1").unwrap();
    assert_eq!(vm.locate_session(&s.id).unwrap(), Location::Local);
    assert_eq!(vm.locate_execution(&exec.id).unwrap(), Location::Local);
    // Another instance on the same file: still local (a SQLite store has no remote
    // members); the core there answers SESSION_NOT_READY.
    let other = VmSystem::open(&db).unwrap();
    assert_eq!(other.locate_session(&s.id).unwrap(), Location::Local);
    assert_eq!(
        other.repl(&s.id, "1").unwrap_err().code(),
        ErrorCode::SessionNotReady
    );
    vm.close_session(&s.id).unwrap();
    assert_eq!(vm.locate_session(&s.id).unwrap(), Location::Local);
    assert_eq!(
        vm.locate_session("nope").unwrap_err().code(),
        ErrorCode::SessionNotFound
    );
    assert_eq!(
        vm.locate_execution("nope").unwrap_err().code(),
        ErrorCode::ExecutionNotFound
    );
}

#[test]
fn bad_member_options_are_refused() {
    let refuse = |options: OpenOptions, what: &str| {
        let err = VmSystem::open_in_memory_with(options).err().unwrap();
        assert_eq!(err.code(), ErrorCode::Validation);
        assert!(err.to_string().contains(what), "{err}");
    };
    refuse(
        OpenOptions {
            capacity: Some(0),
            ..OpenOptions::default()
        },
        "capacity",
    );
    refuse(
        OpenOptions {
            heartbeat_timeout: Some(Duration::from_millis(500)),
            ..OpenOptions::default()
        },
        "heartbeat_timeout",
    );
    refuse(
        OpenOptions {
            advertise_url: Some(" ".into()),
            ..OpenOptions::default()
        },
        "advertise_url",
    );
}

#[test]
fn the_new_codes_keep_their_numbers() {
    assert_eq!(ErrorCode::NoCapacity as u32, 14);
    assert_eq!(ErrorCode::StoreUnavailable as u32, 15);
    assert_eq!(ErrorCode::StoreUnavailable.as_str(), "STORE_UNAVAILABLE");
    assert_eq!(ErrorCode::ALL.len(), 15);
}

#[test]
fn a_postgres_url_nobody_answers_is_store_unavailable_and_creates_nothing() {
    let cwd = std::env::current_dir().unwrap();
    for url in ["postgres://u@127.0.0.1:1/vm", "postgresql://127.0.0.1:1/vm"] {
        let err = VmSystem::open(url).err().expect("nobody listens on port 1");
        assert_eq!(err.code(), ErrorCode::StoreUnavailable, "{err}");
    }
    // A URL is never taken for a file name.
    assert!(!cwd.join("postgres:").exists() && !cwd.join("postgresql:").exists());
}
