//! Grouped commits: many threads flushing at once each get their own records and their own
//! errors.

use std::sync::Barrier;
use std::time::{Duration, Instant};

use serde_json::json;

use super::*;
use crate::event::EventType;

fn execution(id: &str, session: &str) -> Execution {
    Execution {
        id: id.to_string(),
        session_id: session.to_string(),
        kind: ExecutionKind::Repl,
        input: Some(format!("/* {id} */ 1+1")),
        path: None,
        args: json!([]),
        env: json!({}),
        status: ExecutionStatus::Running,
        started_at: timestamp::now(),
        ended_at: None,
        result: None,
        error: None,
        metrics: Metrics::default(),
    }
}

fn event(seq: u64, text: &str) -> PendingEvent {
    PendingEvent {
        seq,
        ts_ms: timestamp::now_ms(),
        event_type: EventType::Console,
        payload: json!({ "level": "log", "text": text }).to_string(),
    }
}

/// A session row for the executions to belong to (reads join it for the owner).
fn session(store: &SqliteStore, id: &str) {
    let session = Session {
        id: id.to_string(),
        template_id: "t".to_string(),
        workspace_id: "w".to_string(),
        base_commit_oid: "0".to_string(),
        worktree_path: "/".to_string(),
        status: SessionStatus::Ready,
        created_at: timestamp::now(),
        closed_at: None,
        last_error: None,
        daemon_id: "d".to_string(),
    };
    let owner = Owner {
        pid: std::process::id(),
        started: 0,
        instance: "d".to_string(),
    };
    store.insert_session(&session, &owner).unwrap();
}

/// Polls `ready` for up to 10 s.
fn wait_until(what: &str, ready: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn many_threads_flushing_at_once_all_get_their_records() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("group.db")).unwrap();
    const THREADS: usize = 8;
    const RUNS: usize = 40;
    for t in 0..THREADS {
        session(&store, &format!("s{t}"));
    }
    let start = Barrier::new(THREADS);
    std::thread::scope(|scope| {
        for t in 0..THREADS {
            let (store, start) = (&store, &start);
            scope.spawn(move || {
                start.wait();
                for r in 0..RUNS {
                    // Two flushes per run, as a long run makes: the insert with its first
                    // events, then the final record with the rest.
                    let mut exec = execution(&format!("t{t}-r{r}"), &format!("s{t}"));
                    let mut key = None;
                    store
                        .flush_execution(&exec, &mut key, &[event(1, &format!("{t}/{r}/1"))])
                        .unwrap();
                    exec.status = ExecutionStatus::Ok;
                    exec.ended_at = Some(timestamp::now());
                    exec.result = Some(json!({ "type": "number", "preview": format!("{r}") }));
                    store
                        .flush_execution(&exec, &mut key, &[event(2, &format!("{t}/{r}/2"))])
                        .unwrap();
                }
            });
        }
    });
    for t in 0..THREADS {
        let (runs, _) = store.executions(&format!("s{t}"), 1000).unwrap();
        assert_eq!(runs.len(), RUNS, "thread {t}");
        for r in 0..RUNS {
            let id = format!("t{t}-r{r}");
            let (exec, _) = store.execution(&id).unwrap();
            assert_eq!(exec.status, ExecutionStatus::Ok, "{id}");
            assert_eq!(exec.result.unwrap()["preview"], format!("{r}"));
            let texts: Vec<String> = store
                .events(&id, 0)
                .unwrap()
                .into_iter()
                .map(|e| e.payload["text"].as_str().unwrap().to_string())
                .collect();
            assert_eq!(texts, [format!("{t}/{r}/1"), format!("{t}/{r}/2")], "{id}");
        }
    }
}

#[test]
fn a_failing_flush_in_a_batch_reports_to_its_own_caller_only() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("group.db")).unwrap();
    session(&store, "s");
    // A record whose id a later insert repeats: that insert breaks the UNIQUE id.
    store
        .flush_execution(&execution("taken", "s"), &mut None, &[])
        .unwrap();
    const GOOD: usize = 6;
    let writer = store.writer.lock();
    let outcomes = std::thread::scope(|scope| {
        let store = &store;
        let flush = move |id: String| {
            scope.spawn(move || {
                let exec = execution(&id, "s");
                let mut key = None;
                let out = store.flush_execution(&exec, &mut key, &[event(1, &id)]);
                (id, out.map(|()| key))
            })
        };
        // While the test holds the writer, one caller leads (and waits for it); every other
        // queues, so the next batch holds them all, the failing one last.
        let mut threads: Vec<_> = (0..GOOD).map(|i| flush(format!("good-{i}"))).collect();
        wait_until("the good flushes to queue", || {
            store.group.queued() == GOOD - 1
        });
        threads.push(flush("taken".to_string()));
        wait_until("the failing flush to queue", || {
            store.group.queued() == GOOD
        });
        drop(writer);
        threads
            .into_iter()
            .map(|t| t.join().unwrap())
            .collect::<Vec<_>>()
    });
    assert_eq!(
        store.group.largest_batch(),
        GOOD,
        "five good flushes and the failing one shared a batch"
    );
    for (id, out) in outcomes {
        if id == "taken" {
            let err = out.expect_err("the repeated id fails");
            assert!(err.to_string().contains("UNIQUE"), "{err}");
        } else {
            let key = out.unwrap_or_else(|e| panic!("{id} failed: {e}"));
            assert!(key.is_some());
            let (exec, _) = store.execution(&id).unwrap();
            assert_eq!(exec.id, id);
            let events = store.events(&id, 0).unwrap();
            assert_eq!(events.len(), 1, "{id}");
            assert_eq!(events[0].payload["text"], id);
        }
    }
    // The failed insert left nothing behind: "taken" is still the first record alone.
    assert_eq!(store.executions("s", 100).unwrap().0.len(), GOOD + 1);
}
