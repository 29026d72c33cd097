//! Crash safety: a child process is killed with SIGKILL at varied points of its work, and
//! after each kill the database must open, pass `PRAGMA integrity_check`, show every
//! execution ended (those the child left running read `error`, runtime lost) and hold
//! events without gaps.
//!
//! The child is this test binary run again with `VMS_CRASH_CHILD` set: `child_main` then
//! does the work of one scenario until it is killed.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use vm_system::{ExecutionStatus, SessionStatus, VmSystem};

mod common;

/// What a child prints once it has set up (libtest may print on the same line before it).
const READY: &str = "vms-crash-child-ready";

/// The work a child does, over and over, until it is killed.
#[derive(Debug, Clone, Copy)]
enum Scenario {
    /// Sessions whose startup file prints many lines.
    Startup,
    /// One long `console.log` flood.
    Flood,
    /// Writes through the `database` module.
    Database,
    /// Sessions created, used once and closed.
    Close,
    /// Back-to-back short executions (a commit each).
    Commit,
}

const SCENARIOS: [Scenario; 5] = [
    Scenario::Startup,
    Scenario::Flood,
    Scenario::Database,
    Scenario::Close,
    Scenario::Commit,
];

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Scenario::Startup => "startup",
            Scenario::Flood => "flood",
            Scenario::Database => "database",
            Scenario::Close => "close",
            Scenario::Commit => "commit",
        }
    }

    fn parse(name: &str) -> Self {
        *SCENARIOS.iter().find(|s| s.name() == name).unwrap()
    }
}

/// The child's side: set up a template for the scenario, say "ready", then work.
#[test]
fn child_main() {
    let Ok(name) = std::env::var("VMS_CRASH_CHILD") else {
        return;
    };
    let db = std::env::var("VMS_CRASH_DB").unwrap();
    let worktree = std::env::var("VMS_CRASH_WORKTREE").unwrap();
    let vm = VmSystem::open(&db).unwrap();
    let t = vm.create_template(&name, "quickjs").unwrap();
    vm.update_settings(
        &t.id,
        &json!({"limits": {"max_events": 1_000_000, "max_output_kb": 1_048_576}}),
    )
    .unwrap();
    let scenario = Scenario::parse(&name);
    if let Scenario::Startup = scenario {
        vm.add_startup_file(&t.id, "boot.js", 0, "eval").unwrap();
    }
    if let Scenario::Database = scenario {
        vm.add_module(&t.id, "database").unwrap();
    }
    let session = vm.create_session(&t.id, "ws", "0", &worktree).unwrap().id;
    if let Scenario::Database = scenario {
        vm.repl(
            &session,
            "var db = require('database'); db.configure('sqlite3', 'app.db'); \
             db.exec('CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT)')",
        )
        .unwrap();
    }
    println!("{READY}");
    let mut i = 0u64;
    loop {
        i += 1;
        match scenario {
            Scenario::Startup => {
                let s = vm.create_session(&t.id, "ws", "0", &worktree).unwrap();
                vm.close_session(&s.id).unwrap();
            }
            Scenario::Flood => {
                vm.repl(
                    &session,
                    "for (let i = 0; i < 200000; i++) console.log('line', i, 'x'.repeat(40))",
                )
                .unwrap();
            }
            Scenario::Database => {
                vm.repl(
                    &session,
                    &format!(
                        "for (let k = 0; k < 50; k++) db.exec('INSERT INTO t (v) VALUES (?)', 'row {i} ' + k); \
                         console.log(db.query('SELECT count(*) AS n FROM t')[0].n)"
                    ),
                )
                .unwrap();
            }
            Scenario::Close => {
                let s = vm.create_session(&t.id, "ws", "0", &worktree).unwrap();
                vm.repl(&s.id, "console.log('hello'); 40 + 2").unwrap();
                vm.close_session(&s.id).unwrap();
            }
            Scenario::Commit => {
                vm.repl(&session, &format!("console.log({i}); {i} * 2"))
                    .unwrap();
            }
        }
    }
}

/// Starts a child on `db` and waits until it has set up and started working.
fn spawn_child(scenario: Scenario, db: &Path, worktree: &str) -> Child {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_main", "--nocapture", "--test-threads=1"])
        .env("VMS_CRASH_CHILD", scenario.name())
        .env("VMS_CRASH_DB", db)
        .env("VMS_CRASH_WORKTREE", worktree)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (ready, is_ready) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if line.is_ok_and(|l| l.contains(READY)) {
                let _ = ready.send(());
            }
        }
    });
    if is_ready.recv_timeout(Duration::from_secs(120)).is_err() {
        let _ = child.kill();
        panic!("the {} child never became ready", scenario.name());
    }
    child
}

fn kill(mut child: Child) {
    // SAFETY: sending a signal to a pid we spawned and have not yet waited for.
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGKILL) };
    assert_eq!(rc, 0);
    let status = child.wait().unwrap();
    assert!(!status.success());
}

/// Everything the database must show after a kill. Returns how many executions it holds.
fn check_after_crash(db: &Path) -> usize {
    let conn = rusqlite::Connection::open(db).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    drop(conn);
    let vm = VmSystem::open(db).unwrap();
    let mut count = 0;
    for session in vm.list_sessions(None).unwrap() {
        assert!(
            !session.status.is_live(),
            "session {} still {:?} after its process died",
            session.id,
            session.status
        );
        for exec in vm.list_executions(&session.id, 10_000).unwrap() {
            count += 1;
            assert_ne!(exec.status, ExecutionStatus::Running, "{exec:?}");
            assert!(exec.ended_at.is_some(), "{exec:?}");
            let events = vm.events(&exec.id, 0).unwrap();
            for (i, event) in events.iter().enumerate() {
                assert_eq!(event.seq, i as u64 + 1, "gap in {}", exec.id);
            }
            if exec
                .error
                .as_deref()
                .is_some_and(|e| e.starts_with("runtime lost"))
            {
                assert_eq!(exec.status, ExecutionStatus::Error);
            } else {
                // Ended by its own process: every event it counted was stored.
                assert_eq!(events.len() as u64, exec.metrics.event_count, "{exec:?}");
            }
        }
    }
    count
}

#[test]
fn sigkill_at_varied_points_leaves_a_sound_database() {
    const KILLS_PER_SCENARIO: u64 = 11;
    let started = Instant::now();
    let mut kills = 0;
    for scenario in SCENARIOS {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("crash.db");
        let tree = common::Worktree::new(&[(
            "boot.js",
            "for (let i = 0; i < 3000; i++) console.log('boot', i); globalThis.booted = true",
        )]);
        let mut executions = 0;
        for round in 0..KILLS_PER_SCENARIO {
            let child = spawn_child(scenario, &db, tree.str());
            // Spread the kills over the work: 0 to ~100 ms after the child is ready.
            std::thread::sleep(Duration::from_micros((round * 9_173) % 100_000));
            kill(child);
            kills += 1;
            executions = check_after_crash(&db);
        }
        assert!(
            executions > 0,
            "{}: no execution was ever stored",
            scenario.name()
        );
    }
    assert!(kills >= 50);
    eprintln!("{kills} kills checked in {:?}", started.elapsed());
}

#[test]
fn an_execution_of_a_killed_process_reads_as_ended() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("lost.db");
    let tree = common::Worktree::new(&[]);
    let child = spawn_child(Scenario::Flood, &db, tree.str());
    let vm = VmSystem::open(&db).unwrap();
    // Wait until the flood's execution is stored as running (its first periodic commit).
    let deadline = Instant::now() + Duration::from_secs(30);
    let (session, running) = loop {
        assert!(Instant::now() < deadline, "no running execution appeared");
        let found = vm.list_sessions(None).unwrap().into_iter().find_map(|s| {
            let execs = vm.list_executions(&s.id, 10).ok()?;
            let exec = execs
                .into_iter()
                .find(|e| e.status == ExecutionStatus::Running)?;
            Some((s.id, exec.id))
        });
        if let Some(found) = found {
            break found;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let before = vm.events(&running, 0).unwrap().len();
    assert!(before > 0);
    kill(child);

    let exec = vm.get_execution(&running).unwrap();
    assert_eq!(exec.status, ExecutionStatus::Error);
    let error = exec.error.clone().unwrap();
    assert!(error.contains("runtime lost"), "{error}");
    assert!(exec.ended_at.is_some());
    let listed = vm.list_executions(&session, 10).unwrap();
    assert!(listed.iter().all(|e| e.status != ExecutionStatus::Running));
    assert_eq!(
        listed.iter().find(|e| e.id == running).unwrap().status,
        ExecutionStatus::Error
    );
    let events = vm.events(&running, 0).unwrap();
    assert!(events.len() >= before);
    assert_eq!(events[0].event_type.as_str(), "input_echo");
    assert_eq!(
        vm.get_session(&session).unwrap().status,
        SessionStatus::Closed
    );
    // A second handle (a fresh process would be the same) reads the same, from the rows.
    drop(vm);
    let again = VmSystem::open(&db).unwrap();
    assert_eq!(
        again.get_execution(&running).unwrap().status,
        ExecutionStatus::Error
    );
}
