//! The PostgreSQL store on a real server (a private cluster per test binary, a fresh
//! database per test): records, schema, membership, reaping exactly once, a member killed
//! with SIGKILL, self-fencing, and the server going away and coming back.
//!
//! Skipped with a message where PostgreSQL is not installed, unless
//! `VM_SYSTEM_REQUIRE_POSTGRES=1` (set by `make test`).

mod common;

use std::collections::HashSet;
use std::process::{Command, Stdio};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use common::postgres::PgCluster;
use common::Worktree;
use vm_system::{
    ErrorCode, ExecutionStatus, Location, OpenOptions, Placement, SessionStatus, VmSystem,
};

fn cluster() -> Option<&'static PgCluster> {
    PgCluster::shared()
}

fn open(url: &str, options: OpenOptions) -> VmSystem {
    VmSystem::open_with(url, options).unwrap()
}

fn timeout(secs: u64) -> OpenOptions {
    OpenOptions {
        heartbeat_timeout: Some(Duration::from_secs(secs)),
        ..OpenOptions::default()
    }
}

fn wait_until(what: &str, limit: Duration, mut check: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
    start.elapsed()
}

#[test]
fn records_round_trip_and_are_shared_by_every_instance() {
    let Some(pg) = cluster() else { return };
    let url = pg.fresh_database();
    let tree = Worktree::new(&[("main.js", "console.log('hi', __ARGS__.n); __ARGS__.n * 2")]);
    let a = open(&url, OpenOptions::default());
    let b = open(
        &url.replace("postgres://", "postgresql://"),
        OpenOptions::default(),
    );
    let t = a.create_template("t", "quickjs").unwrap();
    a.update_settings(&t.id, &serde_json::json!({"limits": {"cpu_ms": 900}}))
        .unwrap();
    a.add_module(&t.id, "fs").unwrap();
    a.add_capability(&t.id, "env", "HOME", true, &serde_json::json!({}))
        .unwrap();
    let detail = b.get_template(&t.id).unwrap();
    assert_eq!(detail.settings.limits.cpu_ms, 900);
    assert_eq!(detail.modules, vec!["fs".to_string()]);
    assert_eq!(detail.capabilities.len(), 1);
    let s = a.create_session(&t.id, "ws", "c", tree.str()).unwrap();
    assert_eq!(s.daemon_id, a.daemon_id());
    let exec = a
        .run_file(
            &s.id,
            "main.js",
            &serde_json::json!({"n": 21}),
            &serde_json::json!({}),
        )
        .unwrap();
    assert_eq!(exec.value(), Some(&serde_json::json!(42)));
    // Another instance reads the same records, and says who runs the session.
    assert_eq!(b.get_execution(&exec.id).unwrap(), exec);
    let events = b.events(&exec.id, 0).unwrap();
    assert_eq!(
        events.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=events.len() as u64).collect::<Vec<_>>()
    );
    assert_eq!(events, a.events(&exec.id, 0).unwrap());
    assert_eq!(b.get_session(&s.id).unwrap().status, SessionStatus::Ready);
    let err = b.repl(&s.id, "1").unwrap_err();
    assert_eq!(err.code(), ErrorCode::SessionNotReady);
    assert!(err.to_string().contains(a.daemon_id()), "{err}");
    assert_eq!(b.list_executions(&s.id, 10).unwrap(), vec![exec.clone()]);
    assert_eq!(
        b.list_sessions(None).unwrap().len(),
        1,
        "one session, seen by both"
    );
    // A live session of another alive member cannot be closed here.
    assert_eq!(
        b.close_session(&s.id).unwrap_err().code(),
        ErrorCode::SessionNotReady
    );
    // Dropping its instance closes it (a clean leave).
    drop(a);
    assert_eq!(b.get_session(&s.id).unwrap().status, SessionStatus::Closed);
    assert_eq!(b.daemons().unwrap().len(), 1, "the closed instance left");
    b.delete_template(&t.id).unwrap();
    assert_eq!(
        b.get_template(&t.id).unwrap_err().code(),
        ErrorCode::TemplateNotFound
    );
}

#[test]
fn concurrent_first_opens_migrate_once_and_a_foreign_database_is_refused() {
    let Some(pg) = cluster() else { return };
    let url = pg.fresh_database();
    let barrier = Arc::new(Barrier::new(4));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let (url, barrier) = (url.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                VmSystem::open(&url).map(|vm| vm.daemon_id().to_string())
            })
        })
        .collect();
    let ids: HashSet<String> = handles
        .into_iter()
        .map(|h| h.join().unwrap().unwrap())
        .collect();
    assert_eq!(ids.len(), 4);
    let db = url.rsplit('/').next().unwrap();
    assert_eq!(pg.psql(db, "SELECT version FROM vm_system_schema"), "1");
    assert_eq!(pg.psql(db, "SELECT count(*) FROM vm_system_schema"), "1");

    let foreign = pg.fresh_database();
    let foreign_db = foreign.rsplit('/').next().unwrap();
    pg.psql(foreign_db, "CREATE TABLE sessions (x int)");
    let err = VmSystem::open(&foreign).err().unwrap();
    assert_eq!(err.code(), ErrorCode::Validation);
    assert!(
        err.to_string().contains("not a vm-system database"),
        "{err}"
    );
    assert_eq!(
        pg.psql(foreign_db, "SELECT to_regclass('vm_system_schema') IS NULL"),
        "t",
        "left unchanged"
    );

    let newer = pg.fresh_database();
    VmSystem::open(&newer).unwrap();
    let newer_db = newer.rsplit('/').next().unwrap();
    pg.psql(newer_db, "UPDATE vm_system_schema SET version = 99");
    let err = VmSystem::open(&newer).err().unwrap();
    assert!(err.to_string().contains("newer"), "{err}");

    let err = VmSystem::open("postgres://postgres@127.0.0.1:1/x")
        .err()
        .unwrap();
    assert_eq!(err.code(), ErrorCode::StoreUnavailable);
    let err = VmSystem::open("postgres://me:secret@host:notaport/x")
        .err()
        .unwrap();
    assert_eq!(err.code(), ErrorCode::Validation);
    assert!(!err.to_string().contains("secret"), "{err}");
}

#[test]
fn members_placement_and_location() {
    let Some(pg) = cluster() else { return };
    let url = pg.fresh_database();
    let tree = Worktree::new(&[]);
    let a = open(
        &url,
        OpenOptions {
            advertise_url: Some("http://a.example:1".into()),
            capacity: Some(2),
            ..OpenOptions::default()
        },
    );
    let b = open(
        &url,
        OpenOptions {
            advertise_url: Some("http://b.example:2".into()),
            capacity: Some(3),
            ..OpenOptions::default()
        },
    );
    let hidden = open(&url, OpenOptions::default());
    let members = a.daemons().unwrap();
    assert_eq!(
        members.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
        vec![a.daemon_id(), b.daemon_id(), hidden.daemon_id()],
        "oldest first"
    );
    assert!(members.iter().all(|m| m.alive && m.live_sessions == 0));
    assert_eq!(members[0].capacity, Some(2));
    assert_eq!(members[2].capacity, None);
    assert!(members[0].started_at <= members[1].started_at);

    // b has the most room: a places there; b places here; the unlimited one (not
    // reachable by others) places on itself.
    match a.place_session().unwrap() {
        Placement::Remote(m) => assert_eq!(m.id, b.daemon_id()),
        other => panic!("{other:?}"),
    }
    assert_eq!(b.place_session().unwrap(), Placement::Here);
    assert_eq!(hidden.place_session().unwrap(), Placement::Here);

    let t = a.create_template("t", "quickjs").unwrap();
    let on_b = b.create_session(&t.id, "ws", "c", tree.str()).unwrap();
    let exec = b.repl(&on_b.id, "1").unwrap();
    let on_hidden = hidden.create_session(&t.id, "ws", "c", tree.str()).unwrap();
    match a.locate_session(&on_b.id).unwrap() {
        Location::Remote(m) => {
            assert_eq!(m.id, b.daemon_id());
            assert_eq!(m.advertise_url.as_deref(), Some("http://b.example:2"));
            assert_eq!(m.live_sessions, 1);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        a.locate_execution(&exec.id).unwrap(),
        Location::Remote(_)
    ));
    assert_eq!(b.locate_session(&on_b.id).unwrap(), Location::Local);
    // Not reachable from elsewhere: local (the core answers SESSION_NOT_READY).
    assert_eq!(a.locate_session(&on_hidden.id).unwrap(), Location::Local);
    // Ties: b has 2 free now, a has 2: a keeps it.
    assert_eq!(a.place_session().unwrap(), Placement::Here);

    // Full everywhere reachable: NO_CAPACITY.
    a.create_session(&t.id, "ws", "c", tree.str()).unwrap();
    a.create_session(&t.id, "ws", "c", tree.str()).unwrap();
    b.create_session(&t.id, "ws", "c", tree.str()).unwrap();
    b.create_session(&t.id, "ws", "c", tree.str()).unwrap();
    assert_eq!(
        a.create_session(&t.id, "ws", "c", tree.str())
            .unwrap_err()
            .code(),
        ErrorCode::NoCapacity
    );
    assert_eq!(a.place_session().unwrap_err().code(), ErrorCode::NoCapacity);
    // A closed session on b makes room there.
    b.close_session(&on_b.id).unwrap();
    assert!(matches!(a.place_session().unwrap(), Placement::Remote(_)));
    // a knows b built it and b is alive: b answers for it (SESSION_NOT_READY) without a
    // store round trip. An instance that never looked it up finds it closed: local.
    assert!(
        matches!(a.locate_session(&on_b.id).unwrap(), Location::Remote(d) if d.id == b.daemon_id())
    );
    let c = open(&url, OpenOptions::default());
    assert_eq!(c.locate_session(&on_b.id).unwrap(), Location::Local);
}

/// Inserts a member that stopped a minute ago, with `sessions` live sessions each running
/// one execution.
fn plant_dead_member(pg: &PgCluster, db: &str, id: &str, sessions: usize) {
    pg.psql(
        db,
        &format!(
            "INSERT INTO daemons (id, advertise_url, started_at, last_heartbeat) VALUES \
             ('{id}', 'http://{id}:1', now() - interval '2 min', now() - interval '1 min');
             INSERT INTO sessions (id, template_id, workspace_id, base_commit_oid, worktree_path, status,
                 created_at, owner_pid, owner_started, owner_instance)
             SELECT '{id}-s' || i, 't', 'ws', 'c', '/', 'ready', '2026-01-01T00:00:00.000Z', 1, 1, '{id}'
             FROM generate_series(1, {sessions}) i;
             INSERT INTO executions (id, session_id, kind, input, args, env, status, started_at, metrics)
             SELECT '{id}-e' || i, '{id}-s' || i, 'repl', 'x', '{{}}', '{{}}', 'running',
                 '2026-01-01T00:00:00.000Z',
                 '{{\"duration_ms\":0,\"cpu_ms\":0,\"event_count\":0,\"output_bytes\":0,\"host_calls\":0}}'
             FROM generate_series(1, {sessions}) i;"
        ),
    );
}

#[test]
fn two_instances_reaping_at_once_end_each_dead_member_exactly_once() {
    let Some(pg) = cluster() else { return };
    let url = pg.fresh_database();
    let db = url.rsplit('/').next().unwrap().to_string();
    // A long timeout: their heartbeats do not reap on their own during the test (a
    // member reaps only after a full timeout of its own heartbeats); the planted members
    // stopped a minute ago.
    let a = open(&url, timeout(30));
    let b = open(&url, timeout(30));
    // Every change of a session to closed and of an execution out of running is counted.
    pg.psql(
        &db,
        "CREATE TABLE audit (what text, id text);
         CREATE FUNCTION audit_session() RETURNS trigger AS $$ BEGIN
             IF OLD.status <> NEW.status THEN INSERT INTO audit VALUES ('session', NEW.id); END IF;
             RETURN NEW; END $$ LANGUAGE plpgsql;
         CREATE FUNCTION audit_execution() RETURNS trigger AS $$ BEGIN
             IF OLD.status <> NEW.status THEN INSERT INTO audit VALUES ('execution', NEW.id); END IF;
             RETURN NEW; END $$ LANGUAGE plpgsql;
         CREATE TRIGGER s AFTER UPDATE ON sessions FOR EACH ROW EXECUTE FUNCTION audit_session();
         CREATE TRIGGER e AFTER UPDATE ON executions FOR EACH ROW EXECUTE FUNCTION audit_execution();",
    );
    let mut dead = HashSet::new();
    for round in 0..10 {
        for k in 0..3 {
            let id = format!("dead{round}x{k}");
            plant_dead_member(pg, &db, &id, 3);
            dead.insert(id);
        }
        let barrier = Arc::new(Barrier::new(2));
        let (ra, rb) = std::thread::scope(|scope| {
            let ha = scope.spawn(|| {
                barrier.wait();
                a.reap_dead_daemons().unwrap()
            });
            let hb = scope.spawn(|| {
                barrier.wait();
                b.reap_dead_daemons().unwrap()
            });
            (ha.join().unwrap(), hb.join().unwrap())
        });
        let (sa, sb): (HashSet<_>, HashSet<_>) =
            (ra.into_iter().collect(), rb.into_iter().collect());
        assert!(
            sa.is_disjoint(&sb),
            "round {round}: both reaped {:?}",
            sa.intersection(&sb)
        );
        let all: HashSet<_> = sa.union(&sb).cloned().collect();
        let expected: HashSet<_> = (0..3).map(|k| format!("dead{round}x{k}")).collect();
        assert_eq!(all, expected, "round {round}");
    }
    assert_eq!(
        pg.psql(&db, "SELECT count(*) FROM audit WHERE what = 'session'"),
        "90"
    );
    assert_eq!(
        pg.psql(
            &db,
            "SELECT count(DISTINCT id) FROM audit WHERE what = 'session'"
        ),
        "90"
    );
    assert_eq!(
        pg.psql(&db, "SELECT count(*) FROM audit WHERE what = 'execution'"),
        "90"
    );
    assert_eq!(
        pg.psql(
            &db,
            "SELECT count(DISTINCT id) FROM audit WHERE what = 'execution'"
        ),
        "90"
    );
    // What the records say.
    let s = a.get_session("dead3x1-s2").unwrap();
    assert_eq!(s.status, SessionStatus::Closed);
    let why = s.last_error.unwrap();
    assert!(
        why.starts_with("daemon dead3x1 (http://dead3x1:1) stopped: no heartbeat for "),
        "{why}"
    );
    assert!(s.closed_at.is_some());
    let e = b.get_execution("dead3x1-e2").unwrap();
    assert_eq!(e.status, ExecutionStatus::Error);
    assert_eq!(
        e.error.as_deref(),
        Some("runtime lost: daemon dead3x1 stopped")
    );
    assert!(e.ended_at.is_some());
    // Reaped members are no longer listed; the live ones are.
    let ids: Vec<String> = a.daemons().unwrap().into_iter().map(|m| m.id).collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.iter().all(|id| !dead.contains(id)));
    assert!(a.reap_dead_daemons().unwrap().is_empty());
}

/// The child of `a_member_killed_with_sigkill_is_seen_dead_within_the_timeout`: opens the
/// store, starts a session running an endless loop, prints the ids, and waits to be killed.
#[test]
#[ignore = "run as a child process by another test"]
fn child_member() {
    let url = std::env::var("VM_SYSTEM_CHILD_URL").unwrap();
    let vm = open(
        &url,
        OpenOptions {
            advertise_url: Some("http://child:9".into()),
            ..timeout(2)
        },
    );
    let tree = Worktree::new(&[]);
    let t = vm.create_template("t", "quickjs").unwrap();
    vm.update_settings(
        &t.id,
        &serde_json::json!({"limits": {"cpu_ms": 60000, "wall_ms": 60000}}),
    )
    .unwrap();
    let s = vm.create_session(&t.id, "ws", "c", tree.str()).unwrap();
    let exec = vm.start_repl(&s.id, "for (;;) {}").unwrap();
    println!("IDS {} {} {}", vm.daemon_id(), s.id, exec.id);
    std::thread::sleep(Duration::from_secs(60));
}

#[test]
fn a_member_killed_with_sigkill_is_seen_dead_within_the_timeout() {
    let Some(pg) = cluster() else { return };
    let url = pg.fresh_database();
    let observer = open(&url, timeout(2));
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "child_member", "--nocapture"])
        .env("VM_SYSTEM_CHILD_URL", &url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let line = std::io::BufRead::lines(std::io::BufReader::new(stdout))
        .map(Result::unwrap)
        .find(|l| l.starts_with("IDS "))
        .expect("the child printed its ids");
    let ids: Vec<&str> = line.split_whitespace().skip(1).collect();
    let (member, session, exec) = (ids[0], ids[1], ids[2]);
    assert!(observer
        .daemons()
        .unwrap()
        .iter()
        .any(|m| m.id == member && m.alive));
    assert!(matches!(
        observer.locate_session(session).unwrap(),
        Location::Remote(_)
    ));
    // The observer reaps only after a full timeout of its own heartbeats.
    std::thread::sleep(Duration::from_millis(2100));
    child.kill().unwrap();
    let killed = Instant::now();
    child.wait().unwrap();
    let took = wait_until(
        "the dead member's session closed",
        Duration::from_secs(10),
        || observer.get_session(session).unwrap().status == SessionStatus::Closed,
    );
    let seen = killed.elapsed();
    assert!(
        seen <= Duration::from_millis(3250),
        "seen dead after {seen:?} (timeout 2 s + 1 s)"
    );
    let _ = took;
    let e = observer.get_execution(exec).unwrap();
    assert_eq!(e.status, ExecutionStatus::Error);
    assert_eq!(
        e.error.unwrap(),
        format!("runtime lost: daemon {member} stopped")
    );
    let s = observer.get_session(session).unwrap();
    assert!(s
        .last_error
        .unwrap()
        .starts_with(&format!("daemon {member} (http://child:9) stopped")),);
    // Requests for it are answered at once.
    assert_eq!(
        observer.repl(session, "1").unwrap_err().code(),
        ErrorCode::SessionNotReady
    );
    assert_eq!(observer.locate_session(session).unwrap(), Location::Local);
    assert!(observer.daemons().unwrap().iter().all(|m| m.id != member));
}

#[test]
fn a_member_that_finds_itself_reaped_stops_its_sessions_and_registers_again() {
    let Some(pg) = cluster() else { return };
    let url = pg.fresh_database();
    let db = url.rsplit('/').next().unwrap().to_string();
    let tree = Worktree::new(&[]);
    let a = open(&url, timeout(2));
    let b = open(&url, timeout(30));
    let t = a.create_template("t", "quickjs").unwrap();
    let s = a.create_session(&t.id, "ws", "c", tree.str()).unwrap();
    let old = a.daemon_id().to_string();
    // As if `a` had been paused past the timeout: its heartbeat is old (and its renewals do
    // not land, as a paused process's would not), and b reaps it.
    pg.psql(
        &db,
        &format!(
            "CREATE FUNCTION paused() RETURNS trigger AS $$ BEGIN
                 IF NEW.reaped_at IS NULL AND NEW.last_heartbeat > OLD.last_heartbeat THEN
                     NEW.last_heartbeat = OLD.last_heartbeat;
                 END IF;
                 RETURN NEW; END $$ LANGUAGE plpgsql;
             CREATE TRIGGER paused BEFORE UPDATE ON daemons FOR EACH ROW WHEN (OLD.id = '{old}')
                 EXECUTE FUNCTION paused();
             UPDATE daemons SET last_heartbeat = now() - interval '1 min' WHERE id = '{old}';"
        ),
    );
    assert_eq!(b.reap_dead_daemons().unwrap(), vec![old.clone()]);
    pg.psql(&db, "DROP TRIGGER paused ON daemons");
    let reaped = b.get_session(&s.id).unwrap();
    assert_eq!(reaped.status, SessionStatus::Closed);
    let why = reaped.last_error.clone().unwrap();
    // Within a heartbeat, `a` notices: a new id, its runtime gone, the record untouched.
    wait_until("a re-registers", Duration::from_secs(3), || {
        a.daemon_id() != old
    });
    assert_eq!(a.runtime_summary().active_sessions, 0);
    assert_eq!(
        a.repl(&s.id, "1").unwrap_err().code(),
        ErrorCode::SessionNotReady
    );
    let after = a.get_session(&s.id).unwrap();
    assert_eq!(after.last_error.as_deref(), Some(why.as_str()));
    assert_eq!(after.daemon_id, old, "a session never changes owner");
    let members: Vec<String> = b.daemons().unwrap().into_iter().map(|m| m.id).collect();
    assert!(members.contains(&a.daemon_id().to_string()) && !members.contains(&old));
    let fresh = a.create_session(&t.id, "ws", "c", tree.str()).unwrap();
    assert_eq!(fresh.daemon_id, a.daemon_id());
    assert_eq!(a.repl(&fresh.id, "2").unwrap().status, ExecutionStatus::Ok);
}

#[test]
fn the_store_going_away_gives_store_unavailable_and_the_end_of_a_run_is_written_once_back() {
    // A cluster of its own: this test stops it.
    let Some(pg) = PgCluster::start_or_skip() else {
        return;
    };
    let url = pg.fresh_database();
    let tree = Worktree::new(&[]);
    let vm = open(&url, timeout(2));
    let t = vm.create_template("t", "quickjs").unwrap();
    let s = vm.create_session(&t.id, "ws", "c", tree.str()).unwrap();
    // A run that outlives the server: its end cannot be written, and its caller is told.
    let err = std::thread::scope(|scope| {
        let run = scope.spawn(|| {
            vm.repl(
                &s.id,
                "const end = Date.now() + 800; while (Date.now() < end) {} 7",
            )
        });
        std::thread::sleep(Duration::from_millis(200));
        pg.stop();
        run.join().unwrap().unwrap_err()
    });
    assert_eq!(err.code(), ErrorCode::StoreUnavailable, "{err}");
    assert!(err.to_string().contains("when PostgreSQL is back"), "{err}");
    // Other calls fail the same way while it is away (after a bounded retry).
    let asked = Instant::now();
    assert_eq!(
        vm.get_template(&t.id).unwrap_err().code(),
        ErrorCode::StoreUnavailable
    );
    assert!(asked.elapsed() < Duration::from_secs(6));
    pg.start();
    // Back: the run's end is written by the heartbeat; new calls succeed.
    wait_until("the run's end is written", Duration::from_secs(10), || {
        vm.list_executions(&s.id, 10)
            .is_ok_and(|all| all.len() == 1 && all[0].status != ExecutionStatus::Running)
    });
    let ended = vm.list_executions(&s.id, 10).unwrap().remove(0);
    assert!(err.to_string().contains(&ended.id), "{err}");
    assert_eq!(ended.status, ExecutionStatus::Ok);
    assert_eq!(ended.value(), Some(&serde_json::json!(7)));
    let seqs: Vec<u64> = vm
        .events(&ended.id, 0)
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(seqs, vec![1, 2], "echo and value, once each");
    assert_eq!(vm.repl(&s.id, "1 + 1").unwrap().status, ExecutionStatus::Ok);
}

#[test]
fn a_restart_under_load_loses_nothing_and_writes_nothing_twice() {
    let Some(pg) = PgCluster::start_or_skip() else {
        return;
    };
    let url = pg.fresh_database();
    let tree = Worktree::new(&[]);
    let vm = open(&url, timeout(5));
    let t = vm.create_template("t", "quickjs").unwrap();
    let sessions: Vec<String> = (0..2)
        .map(|_| vm.create_session(&t.id, "ws", "c", tree.str()).unwrap().id)
        .collect();
    let stop = std::sync::atomic::AtomicBool::new(false);
    let (ok, failed) = std::thread::scope(|scope| {
        let workers: Vec<_> = sessions
            .iter()
            .map(|sid| {
                let (vm, stop) = (&vm, &stop);
                scope.spawn(move || {
                    let (mut ok, mut failed) = (0u32, 0u32);
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        match vm.repl(sid, "console.log('a'); console.log('b'); 1 + 1") {
                            Ok(e) => {
                                assert_eq!(e.status, ExecutionStatus::Ok);
                                ok += 1;
                            }
                            Err(e) => {
                                assert_eq!(e.code(), ErrorCode::StoreUnavailable, "{e}");
                                failed += 1;
                            }
                        }
                    }
                    (ok, failed)
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(500));
        pg.restart();
        std::thread::sleep(Duration::from_millis(1500));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        workers
            .into_iter()
            .map(|w| w.join().unwrap())
            .fold((0, 0), |(a, b), (c, d)| (a + c, b + d))
    });
    assert!(ok > 20, "{ok} runs succeeded");
    // Every run ends, with gapless events and none twice.
    wait_until("every run ended", Duration::from_secs(10), || {
        sessions.iter().all(|sid| {
            vm.list_executions(sid, 10_000)
                .unwrap()
                .iter()
                .all(|e| e.status != ExecutionStatus::Running)
        })
    });
    let mut total = 0;
    for sid in &sessions {
        for e in vm.list_executions(sid, 10_000).unwrap() {
            total += 1;
            let seqs: Vec<u64> = vm.events(&e.id, 0).unwrap().iter().map(|e| e.seq).collect();
            assert_eq!(
                seqs,
                (1..=seqs.len() as u64).collect::<Vec<_>>(),
                "{}",
                e.id
            );
            if e.status == ExecutionStatus::Ok {
                assert_eq!(seqs.len(), 4, "echo, two lines, value: {}", e.id);
            }
        }
    }
    assert!(
        total >= ok,
        "{total} records for {ok} successful runs ({failed} failed)"
    );
    eprintln!("restart under load: {ok} runs ok, {failed} STORE_UNAVAILABLE, {total} records");
}
