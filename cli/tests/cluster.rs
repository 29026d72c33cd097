//! Several daemons on one PostgreSQL store (a private cluster per test, three real daemons
//! on loopback ports): membership (`GET /daemons`, `vm-system ops daemons`), placement,
//! runtime requests relayed to the session's owner from any daemon (the event stream and
//! its resume included), a killed owner (its sessions closed, requests 409 at once), an
//! owner that stops answering (502, no hang) and PostgreSQL restarted under load.
//!
//! Without PostgreSQL installed these tests skip with a message saying how to install it;
//! `make test` sets `VM_SYSTEM_REQUIRE_POSTGRES=1` so CI never skips them.

mod common;
// The core's harness, formatted with the core.
#[rustfmt::skip]
#[path = "../../core/tests/common/postgres.rs"]
mod postgres;

use std::collections::HashSet;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use postgres::PgCluster;
use serde_json::{json, Value};

/// The tests' heartbeat timeout: short, so a dead daemon is noticed quickly.
const TIMEOUT_S: u64 = 2;

/// A run that lasts about five seconds and logs a line every 100 ms.
const SLOW: &str = "for (let i = 0; i < 50; i++) { console.log('tick ' + i); const t = Date.now(); while (Date.now() - t < 100) {} } 'done'";

/// `n` daemons on the store `db`, each with `args` after the common flags.
fn daemons(db: &str, n: usize, args: &[&str]) -> Vec<Daemon> {
    (0..n)
        .map(|_| {
            let mut all = vec!["--heartbeat-timeout".to_string(), format!("{TIMEOUT_S}s")];
            all.extend(args.iter().map(|s| s.to_string()));
            Daemon::start_with(Options {
                db: Some(db.to_string()),
                args: all,
                ..Options::default()
            })
        })
        .collect()
}

/// A daemon's member id (what its `GET /daemons` calls `self`).
fn id_of(d: &Daemon) -> String {
    let r = d.http.get("/daemons");
    assert_eq!(r.status, 200, "{}", r.body);
    r.json["self"].as_str().unwrap().to_string()
}

fn start_run(d: &Daemon, session: &str, input: &str) -> String {
    let r = d.http.post(
        "/executions/repl",
        &json!({"session_id": session, "input": input, "wait": false}).to_string(),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    r.json["id"].as_str().unwrap().to_string()
}

/// How many of `d`'s request log lines name `path_part`.
fn logged(d: &Daemon, path_part: &str) -> usize {
    d.logs()
        .iter()
        .filter(|l| l.contains("request") && l.contains(path_part))
        .count()
}

/// Polls `f` every 50 ms until it returns `Some`, for at most `limit`.
fn until<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let started = Instant::now();
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if started.elapsed() > limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn every_daemon_lists_the_members_and_answers_for_every_session() {
    let Some(pg) = PgCluster::start_or_skip() else {
        return;
    };
    let db = pg.fresh_database();
    let ds = daemons(&db, 3, &[]);
    let (a, b, c) = (&ds[0], &ds[1], &ds[2]);
    let ids: Vec<String> = ds.iter().map(id_of).collect();
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 3, "{ids:?}");

    // Every daemon lists the same three members, oldest first, alive, at their URLs.
    for (d, me) in ds.iter().zip(&ids) {
        let r = d.http.get("/daemons");
        assert_eq!(r.json["self"], me.as_str());
        let members = r.json["daemons"].as_array().unwrap();
        let listed: Vec<&str> = members.iter().map(|m| m["id"].as_str().unwrap()).collect();
        assert_eq!(listed, ids.iter().map(String::as_str).collect::<Vec<_>>());
        for (m, owner) in members.iter().zip(&ds) {
            assert_eq!(m["advertise_url"], owner.url().as_str());
            assert_eq!(m["alive"], true, "{m}");
            assert_eq!(m["capacity"], 1000);
            assert_eq!(m["live_sessions"], 0);
            assert!(m["started_at"].as_str().unwrap().ends_with('Z'), "{m}");
            assert!(m["last_heartbeat"].is_string());
        }
    }

    // A template made through A; a session created through A lands on A (ties stay here).
    let t = a.template("shared");
    let wt = a.worktree("wt", &[]);
    let s = a.session(&t, &wt);
    // Reads come from the store, through any daemon.
    for d in [b, c] {
        let r = d.http.get(&format!("/sessions/{s}"));
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.json["status"], "ready");
        assert_eq!(r.json["daemon_id"], ids[0].as_str());
        assert_eq!(d.http.get(&format!("/templates/{t}")).status, 200);
    }
    let r = c.http.get("/daemons");
    assert_eq!(r.json["daemons"][0]["live_sessions"], 1);

    // Runs through B and C reach A's runtime: state set through one is seen through the other.
    let r = b.http.request(
        "POST",
        "/executions/repl",
        Some(&json!({"session_id": s, "input": "globalThis.answer = 41; 'set'"}).to_string()),
        &[("X-Request-Id", "relay-check-1")],
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.header("x-request-id"), Some("relay-check-1"));
    // B's own id for a request it relays is the one the owner logs.
    let r = b.http.repl(&s, "'again'");
    let rid = r.header("x-request-id").unwrap().to_string();
    let in_logs = || a.logs().iter().any(|l| l.contains(&rid)).then_some(());
    assert!(
        until(Duration::from_secs(2), in_logs).is_some(),
        "{rid} not in A's logs"
    );
    assert_eq!(r.header("content-type"), Some("application/json"));
    let r = c.http.repl(&s, "answer + 1");
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json["result"]["json"], 42);
    // A ran all three: its log has them; B's has the two it relayed.
    let counts = || (logged(a, "/executions/repl"), logged(b, "/executions/repl"));
    until(Duration::from_secs(2), || {
        (counts() == (3, 2)).then_some(())
    });
    assert_eq!(counts(), (3, 2));
    // The owner's errors come back as they are.
    let r = b.http.post(
        "/executions/run-file",
        &json!({"session_id": s, "path": "missing.js"}).to_string(),
    );
    r.assert_error(404, "FILE_NOT_FOUND");
    // A request for an unknown session is answered by the daemon asked.
    let unknown = "01a23363-f0cc-750d-ab7b-9d817aed1cae";
    b.http
        .repl(unknown, "1")
        .assert_error(404, "SESSION_NOT_FOUND");

    // A slow run started through B; its events streamed through C while it runs.
    let e = start_run(b, &s, SLOW);
    let mut stream = SseReader::open(&c.addr, &format!("/executions/{e}/events/stream"), &[]);
    assert_eq!(stream.status(), 200);
    let first = loop {
        let ev = stream.next_event().expect("the stream ended early");
        if ev.event == "console" {
            break ev;
        }
    };
    assert_eq!(first.json()["payload"]["text"], "tick 0");
    let second = stream.next_event().expect("a second event");
    assert_eq!(second.event, "console");
    assert_eq!(
        c.http.get(&format!("/executions/{e}")).json["status"],
        "running"
    );
    // Resumed through B with Last-Event-ID while it runs: it starts right after.
    let mut resumed = SseReader::open(
        &b.addr,
        &format!("/executions/{e}/events/stream"),
        &[&format!("Last-Event-ID: {}", first.id.as_deref().unwrap())],
    );
    assert_eq!(resumed.status(), 200);
    let next = resumed.next_event().unwrap();
    assert_eq!(next.id, second.id);
    assert_eq!(next.data, second.data);

    // Cancelled through C: the run ends cancelled, and both streams end with that record.
    let r = c.http.post(&format!("/executions/{e}/cancel"), "{}");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json["status"], "cancelled");
    for st in [&mut stream, &mut resumed] {
        let rest = st.all();
        let end = rest.last().expect("an end event");
        assert_eq!(end.event, "end");
        assert_eq!(end.json()["status"], "cancelled");
        assert!(
            rest.len() < 49,
            "the run was not cut short: {} events",
            rest.len()
        );
    }
    // The ended run's events replay from the store through any daemon, resumable too.
    let mut replay = SseReader::open(
        &b.addr,
        &format!("/executions/{e}/events/stream"),
        &["Last-Event-ID: 1"],
    );
    let events = replay.all();
    assert_eq!(events[0].id.as_deref(), Some("2"));
    assert_eq!(events.last().unwrap().event, "end");
    for d in [a, b, c] {
        let r = d.http.get(&format!("/executions/{e}/events"));
        assert_eq!(r.status, 200);
        assert!(r.json.as_array().unwrap().len() >= 2);
    }

    // Closed through C; after that a run through B is 409 from every daemon.
    let r = c.http.post(&format!("/sessions/{s}/close"), "{}");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json["status"], "closed");
    for d in [a, b, c] {
        d.http.repl(&s, "1").assert_error(409, "SESSION_NOT_READY");
    }
    // DELETE through a non-owner closes too.
    let s2 = a.session(&t, &wt);
    let r = b.http.delete(&format!("/sessions/{s2}"));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        a.http.get(&format!("/sessions/{s2}")).json["status"],
        "closed"
    );
    assert_eq!(a.http.get("/runtime/summary").json["active_sessions"], 0);
}

#[test]
fn ops_daemons_prints_the_members() {
    let Some(pg) = PgCluster::start_or_skip() else {
        return;
    };
    let db = pg.fresh_database();
    let ds = daemons(&db, 2, &["--capacity", "7"]);
    let ids: Vec<String> = ds.iter().map(id_of).collect();
    let run = |extra: &[&str]| {
        let out = Command::new(BIN)
            .args(["--server-url", &ds[1].url(), "ops", "daemons"])
            .args(extra)
            .env_remove("VM_SYSTEM_TOKEN")
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let text = run(&[]);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "{text}");
    assert!(lines[0].contains("Daemon ID") && lines[0].contains("Last Heartbeat"));
    for (line, (id, d)) in lines[2..4].iter().zip(ids.iter().zip(&ds)) {
        assert!(
            line.contains(id.as_str()) && line.contains(&d.url()),
            "{line}"
        );
        assert!(line.trim_end().ends_with("7     0 yes"), "{line:?}");
    }
    // The daemon asked is marked.
    assert!(
        lines[3].starts_with("* ") && lines[2].starts_with("  "),
        "{text}"
    );
    let v: Value = serde_json::from_str(&run(&["--output", "json"])).unwrap();
    assert_eq!(v["self"], ids[1].as_str());
    assert_eq!(v["daemons"].as_array().unwrap().len(), 2);
}

#[test]
fn placement_spreads_sessions_and_full_everywhere_is_503() {
    let Some(pg) = PgCluster::start_or_skip() else {
        return;
    };
    let db = pg.fresh_database();
    // With a token: relayed requests carry it to the owner, which requires it too.
    let mut ds = daemons(&db, 3, &["--capacity", "1", "--token", "s3cret"]);
    for d in &mut ds {
        d.http.token = Some("s3cret".into());
    }
    let ids: Vec<String> = ds.iter().map(id_of).collect();
    let a = &ds[0];
    let t = a.template("spread");
    let wt = a.worktree("wt", &[]);
    // All created through A: one on each daemon.
    let sessions: Vec<String> = (0..3).map(|_| a.session(&t, &wt)).collect();
    let owners: Vec<String> = sessions
        .iter()
        .map(|s| {
            a.http.get(&format!("/sessions/{s}")).json["daemon_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(owners.iter().collect::<HashSet<_>>().len(), 3, "{owners:?}");
    assert_eq!(owners[0], ids[0], "the first goes where it was asked");
    // Each runs, whoever is asked.
    for (s, d) in sessions.iter().zip(ds.iter().rev()) {
        let r = d.http.repl(s, "6 * 7");
        assert_eq!(r.status, 201, "{}", r.body);
    }
    // Full everywhere: 503 NO_CAPACITY through any daemon.
    let body =
        json!({"template_id": t, "workspace_id": "w", "base_commit_oid": "c", "worktree_path": wt})
            .to_string();
    for d in &ds {
        d.http
            .post("/sessions", &body)
            .assert_error(503, "NO_CAPACITY");
    }
    // Without the token nothing is relayed.
    let mut anonymous = Http::new(&ds[2].addr);
    anonymous.token = None;
    anonymous
        .repl(&sessions[0], "1")
        .assert_error(401, "UNAUTHORIZED");
    // A closed one frees its daemon's room: the next session goes there.
    let r = ds[2]
        .http
        .post(&format!("/sessions/{}/close", sessions[1]), "{}");
    assert_eq!(r.status, 200, "{}", r.body);
    let r = ds[2].http.post("/sessions", &body);
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json["daemon_id"], owners[1].as_str());
}

#[test]
fn a_killed_daemon_s_sessions_close_within_the_timeout() {
    let Some(pg) = PgCluster::start_or_skip() else {
        return;
    };
    let db = pg.fresh_database();
    let mut ds = daemons(&db, 3, &[]);
    let a_id = id_of(&ds[0]);
    let t = ds[0].template("doomed");
    let wt = ds[0].worktree("wt", &[]);
    let s = ds[0].session(&t, &wt);
    let running = start_run(&ds[0], &s, SLOW);
    assert_eq!(
        ds[1].http.get(&format!("/sessions/{s}")).json["status"],
        "ready"
    );

    ds[0].kill();
    let killed = Instant::now();
    let (b, c) = (&ds[1], &ds[2]);
    let closed = until(Duration::from_secs(TIMEOUT_S + 3), || {
        let r = b.http.get(&format!("/sessions/{s}"));
        (r.json["status"] == "closed").then_some(r.json)
    })
    .expect("the killed daemon's session never read closed");
    let noticed = killed.elapsed();
    assert!(
        noticed <= Duration::from_millis(TIMEOUT_S * 1000 + 1000 + 300),
        "noticed after {noticed:?}"
    );
    let why = closed["last_error"].as_str().unwrap();
    assert!(why.contains(&a_id), "{why}");
    // Its running execution ended, seen from any daemon.
    let e = until(Duration::from_secs(2), || {
        let r = c.http.get(&format!("/executions/{running}"));
        (r.json["status"] != "running").then_some(r.json)
    })
    .expect("the execution stayed running");
    assert_eq!(e["status"], "error", "{e}");
    assert!(
        e["error"]["message"].as_str().unwrap().contains(&a_id),
        "{e}"
    );
    // Requests for the session are 409 at once, never relayed to the dead daemon.
    for d in [b, c] {
        let asked = Instant::now();
        d.http.repl(&s, "1").assert_error(409, "SESSION_NOT_READY");
        let r = d.http.post(&format!("/executions/{running}/cancel"), "{}");
        assert_eq!(
            (r.status, r.json["status"].as_str()),
            (200, Some("error")),
            "{}",
            r.body
        );
        assert!(
            asked.elapsed() < Duration::from_millis(500),
            "{:?}",
            asked.elapsed()
        );
    }
    // The dead member leaves the list; new sessions go to the living.
    let r = b.http.get("/daemons");
    let listed: Vec<&str> = r.json["daemons"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["alive"] == true)
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert!(!listed.contains(&a_id.as_str()), "{}", r.body);
    let s2 = c.session(&t, &wt);
    assert_eq!(c.http.repl(&s2, "1 + 1").json["result"]["json"], 2);
}

#[test]
fn an_owner_that_stops_answering_is_502_without_a_hang() {
    let Some(pg) = PgCluster::start_or_skip() else {
        return;
    };
    let db = pg.fresh_database();
    let ds = daemons(&db, 2, &[]);
    let (a, b) = (&ds[0], &ds[1]);
    let t = a.template("frozen");
    let wt = a.worktree("wt", &[]);
    let s = a.session(&t, &wt);
    let running = start_run(a, &s, SLOW);
    // A stream through B, then A freezes (SIGSTOP): the stream is cut, the runs answer 502.
    let mut stream = SseReader::open(
        &b.addr,
        &format!("/executions/{running}/events/stream"),
        &[],
    );
    assert_eq!(stream.status(), 200);
    assert!(stream.next_event().is_some());
    a.signal("STOP");
    let stopped = Instant::now();
    let asked = Instant::now();
    let r = b.http.repl(&s, "1");
    let waited = asked.elapsed();
    // Whatever the reason (502 while A's heartbeat was fresh, 409 once it was reaped),
    // never a hang.
    assert!(waited < Duration::from_secs(TIMEOUT_S + 3), "{waited:?}");
    r.assert_error(502, "OWNER_UNREACHABLE");
    assert!(
        r.json["error"]["details"]["daemon_id"].is_string(),
        "{}",
        r.body
    );
    let rest = stream.all();
    assert!(
        rest.iter().all(|e| e.event != "end"),
        "the stream of a frozen owner ended normally"
    );
    assert!(stopped.elapsed() < Duration::from_secs(TIMEOUT_S + 4));
    // Once reaped, its session is closed and requests for it are 409 at once.
    until(Duration::from_secs(3), || {
        (b.http.get(&format!("/sessions/{s}")).json["status"] == "closed").then_some(())
    })
    .expect("the frozen daemon's session never read closed");
    b.http.repl(&s, "1").assert_error(409, "SESSION_NOT_READY");
    a.signal("CONT");
}

#[test]
fn daemons_ride_out_a_postgresql_restart() {
    let Some(pg) = PgCluster::start_or_skip() else {
        return;
    };
    let db = pg.fresh_database();
    // A longer timeout: a restart must not make the daemons take each other for dead.
    let ds: Vec<Daemon> = (0..2)
        .map(|_| {
            Daemon::start_with(Options {
                db: Some(db.clone()),
                args: vec!["--heartbeat-timeout".into(), "10s".into()],
                ..Options::default()
            })
        })
        .collect();
    let (a, b) = (&ds[0], &ds[1]);
    let t = a.template("restart");
    let wt = a.worktree("wt", &[]);
    let s = a.session(&t, &wt);
    let in_flight = start_run(b, &s, SLOW);
    // Load through both daemons while PostgreSQL restarts.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let loaders: Vec<_> = [a.addr.clone(), b.addr.clone()]
        .into_iter()
        .map(|addr| {
            let stop = stop.clone();
            let http = Http::new(&addr);
            let s2 = s.clone();
            let t2 = t.clone();
            std::thread::spawn(move || {
                let mut statuses = Vec::new();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let r = http.get(&format!("/templates/{t2}"));
                    statuses.push((
                        r.status,
                        r.json["error"]["code"].as_str().unwrap_or("").to_string(),
                    ));
                    let r = http.get(&format!("/sessions/{s2}"));
                    statuses.push((
                        r.status,
                        r.json["error"]["code"].as_str().unwrap_or("").to_string(),
                    ));
                    std::thread::sleep(Duration::from_millis(20));
                }
                statuses
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    pg.restart();
    // New requests succeed once it is back: the daemons reconnect by themselves.
    let back = Instant::now();
    let s2 = until(Duration::from_secs(10), || {
        let r = b.http.post(
            "/sessions",
            &json!({"template_id": t, "workspace_id": "w", "base_commit_oid": "c", "worktree_path": wt}).to_string(),
        );
        (r.status == 201).then(|| r.json["id"].as_str().unwrap().to_string())
    })
    .expect("no session could be created after the restart");
    eprintln!("first session after the restart: {:?}", back.elapsed());
    let r = a.http.repl(&s2, "40 + 2");
    assert_eq!(r.status, 201, "{}", r.body);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut seen = Vec::new();
    for l in loaders {
        seen.extend(l.join().unwrap());
    }
    // During the outage: answers or 503 STORE_UNAVAILABLE, nothing else.
    for (status, code) in &seen {
        assert!(
            *status == 200 || (*status == 503 && code == "STORE_UNAVAILABLE"),
            "{status} {code}"
        );
    }
    let refused = seen.iter().filter(|(s, _)| *s == 503).count();
    eprintln!(
        "{} reads during the restart, {refused} answered 503",
        seen.len()
    );
    // The run in flight ended, with a clear error or its result, and none is left running.
    let e = until(Duration::from_secs(10), || {
        let r = a.http.get(&format!("/executions/{in_flight}"));
        (r.status == 200 && r.json["status"] != "running").then_some(r.json)
    })
    .expect("the run in flight stayed running");
    eprintln!("the run in flight: {e}");
    if e["status"] == "error" {
        assert!(
            e["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{e}"
        );
    }
    let running = pg.psql(
        db.rsplit('/').next().unwrap(),
        "SELECT count(*) FROM executions WHERE status = 'running'",
    );
    assert_eq!(running, "0");
}
