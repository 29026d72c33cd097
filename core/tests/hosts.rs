//! The library inside real hosts: calls made from a watcher and from other threads while a
//! watcher runs, closing while a session starts, a watcher failing on the last event.
//!
//! Each scenario that used to hang runs on its own thread under a deadline, so a regression
//! fails the test instead of freezing the suite.

mod common;

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{session_with, Worktree};
use serde_json::json;
use vm_system::{ErrorCode, Event, EventWatcher, ExecutionStatus, SessionStatus, VmSystem};

/// Runs `f` on a thread and fails the test if it has not finished within `limit`.
fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(v) => v,
        Err(_) => panic!("did not finish within {limit:?}: deadlock"),
    }
}

/// A watcher that calls `f` once, on the first console event.
fn on_first_console(f: impl FnOnce() + Send + 'static) -> Option<EventWatcher> {
    let mut f = Some(f);
    Some(Box::new(move |e: &Event| {
        if e.event_type.as_str() == "console" {
            if let Some(f) = f.take() {
                f();
            }
        }
        Ok(())
    }))
}

const SPIN_LOGGING: &str = "console.log('go'); while (true) {}";

fn long_limits() -> serde_json::Value {
    json!({"limits": {"wall_ms": 60000, "cpu_ms": 60000}})
}

#[test]
fn close_session_from_a_watcher_cancels_the_run_and_closes_after_it() {
    let (vm, id, _t) = session_with(long_limits(), &[]);
    let (vm2, sid) = (vm.clone(), id.clone());
    let closed = Arc::new(Mutex::new(None));
    let seen = closed.clone();
    let exec = within(Duration::from_secs(10), move || {
        let (vm3, sid3) = (vm2.clone(), sid.clone());
        let watcher = on_first_console(move || {
            let started = Instant::now();
            let s = vm3.close_session(&sid3);
            *seen.lock().unwrap() = Some((s.map(|s| s.status), started.elapsed()));
        });
        vm2.repl_watched(&sid, SPIN_LOGGING, watcher).unwrap()
    });
    assert_eq!(exec.status, ExecutionStatus::Cancelled);
    let (status, took) = closed.lock().unwrap().take().expect("the watcher ran");
    assert_eq!(status.unwrap(), SessionStatus::Closed);
    assert!(took < Duration::from_secs(1), "close took {took:?}");
    assert_eq!(vm.get_session(&id).unwrap().status, SessionStatus::Closed);
    assert_eq!(vm.runtime_summary().active_sessions, 0);
    let again = vm.repl(&id, "1").unwrap_err();
    assert_eq!(again.code(), ErrorCode::SessionNotReady);
}

#[test]
fn close_from_a_watcher_cancels_the_run() {
    let (vm, id, _t) = session_with(long_limits(), &[]);
    let (vm2, sid) = (vm.clone(), id.clone());
    let exec = within(Duration::from_secs(10), move || {
        let vm3 = vm2.clone();
        let watcher = on_first_console(move || vm3.close());
        vm2.repl_watched(&sid, SPIN_LOGGING, watcher).unwrap()
    });
    assert_eq!(exec.status, ExecutionStatus::Cancelled);
    assert_eq!(vm.get_session(&id).unwrap().status, SessionStatus::Closed);
    assert_eq!(vm.runtime_summary().active_sessions, 0);
}

#[test]
fn every_call_from_a_watcher_returns() {
    let (vm, id, tree) = session_with(long_limits(), &[]);
    let t = vm.list_templates().unwrap().remove(0);
    let other = vm.create_session(&t.id, "ws", "c", tree.str()).unwrap();
    let (vm2, sid) = (vm.clone(), id.clone());
    let report = Arc::new(Mutex::new(Vec::<String>::new()));
    let out = report.clone();
    let exec = within(Duration::from_secs(10), move || {
        let (vm3, sid3) = (vm2.clone(), sid.clone());
        let watcher = on_first_console(move || {
            let mut out = out.lock().unwrap();
            let running = vm3.running_execution(&sid3).expect("a run is going on");
            out.push(format!(
                "get_execution {:?}",
                vm3.get_execution(&running).unwrap().status
            ));
            out.push(format!("events {}", vm3.events(&running, 0).unwrap().len()));
            out.push(format!(
                "list_executions {}",
                vm3.list_executions(&sid3, 10).unwrap().len()
            ));
            out.push(format!(
                "same session {:?}",
                vm3.repl(&sid3, "1").unwrap_err().code()
            ));
            out.push(format!(
                "other session {}",
                vm3.repl(&other.id, "20 + 22").unwrap().value().unwrap()
            ));
            out.push(format!("summary {}", vm3.runtime_summary().active_sessions));
            vm3.cancel_execution(&running).unwrap();
        });
        vm2.repl_watched(&sid, SPIN_LOGGING, watcher).unwrap()
    });
    assert_eq!(exec.status, ExecutionStatus::Cancelled);
    assert_eq!(
        *report.lock().unwrap(),
        vec![
            "get_execution Running",
            "events 2",
            "list_executions 1",
            "same session SessionBusy",
            "other session 42",
            "summary 2",
        ]
    );
}

#[test]
fn calls_from_another_thread_while_a_watcher_runs_return() {
    let (vm, id, _t) = session_with(long_limits(), &[]);
    let (in_watcher_tx, in_watcher_rx) = mpsc::channel::<()>();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let (vm2, sid) = (vm.clone(), id.clone());
    let runner = std::thread::spawn(move || {
        let watcher = on_first_console(move || {
            in_watcher_tx.send(()).unwrap();
            // Blocks until the other thread's calls have returned.
            let _ = release_rx.recv_timeout(Duration::from_secs(20));
        });
        vm2.repl_watched(&sid, "console.log('go'); 7", watcher)
            .unwrap()
    });
    in_watcher_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    let (vm3, sid3) = (vm.clone(), id.clone());
    let running = within(Duration::from_secs(5), move || {
        let running = vm3.running_execution(&sid3).unwrap();
        vm3.get_execution(&running).unwrap();
        vm3.events(&running, 0).unwrap();
        assert_eq!(
            vm3.repl(&sid3, "1").unwrap_err().code(),
            ErrorCode::SessionBusy
        );
        vm3.runtime_summary();
        running
    });
    release_tx.send(()).unwrap();
    let exec = runner.join().unwrap();
    assert_eq!(exec.id, running);
    assert_eq!(exec.status, ExecutionStatus::Ok);
}

#[test]
fn close_session_from_another_thread_while_a_watcher_blocks_returns() {
    let (vm, id, _t) = session_with(long_limits(), &[]);
    let (in_watcher_tx, in_watcher_rx) = mpsc::channel::<()>();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let (vm2, sid) = (vm.clone(), id.clone());
    let runner = std::thread::spawn(move || {
        let watcher = on_first_console(move || {
            in_watcher_tx.send(()).unwrap();
            let _ = release_rx.recv_timeout(Duration::from_secs(20));
        });
        vm2.repl_watched(&sid, SPIN_LOGGING, watcher).unwrap()
    });
    in_watcher_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    let (vm3, sid3) = (vm.clone(), id.clone());
    let closed = within(Duration::from_secs(5), move || {
        vm3.close_session(&sid3).unwrap()
    });
    assert_eq!(closed.status, SessionStatus::Closed);
    release_tx.send(()).unwrap();
    assert_eq!(runner.join().unwrap().status, ExecutionStatus::Cancelled);
}

/// A template whose one startup file spins under long limits, and a worktree holding it.
fn slow_start(vm: &VmSystem) -> (String, Worktree) {
    let t = vm.create_template("slow", "quickjs").unwrap();
    vm.update_settings(&t.id, &long_limits()).unwrap();
    vm.add_startup_file(&t.id, "spin.js", 0, "eval").unwrap();
    let tree = Worktree::new(&[("spin.js", SPIN_LOGGING)]);
    (t.id, tree)
}

fn wait_for_starting(vm: &VmSystem) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let starting = vm.list_sessions(Some(SessionStatus::Starting)).unwrap();
        if let Some(s) = starting.first() {
            // Its startup file is running once an execution is recorded.
            if vm.running_execution(&s.id).is_some() {
                return s.id.clone();
            }
        }
        assert!(Instant::now() < deadline, "the session never started");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn close_while_a_session_starts_stops_its_startup_files() {
    let vm = common::open();
    let (template, tree) = slow_start(&vm);
    let (vm2, path) = (vm.clone(), tree.str().to_string());
    let creating = std::thread::spawn(move || vm2.create_session(&template, "ws", "c", &path));
    let id = wait_for_starting(&vm);
    assert_eq!(vm.runtime_summary().active_sessions, 0, "not ready yet");
    let started = Instant::now();
    vm.close();
    let err = within(Duration::from_secs(5), move || creating.join().unwrap()).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(err.code(), ErrorCode::SessionNotReady, "{err}");
    assert!(err
        .to_string()
        .contains("closed while its startup files ran"));
    assert_eq!(vm.get_session(&id).unwrap().status, SessionStatus::Closed);
    assert_eq!(vm.runtime_summary().active_sessions, 0);
    let startup = vm.list_executions(&id, 10).unwrap();
    assert_eq!(startup[0].status, ExecutionStatus::Cancelled);
}

#[test]
fn close_session_while_it_starts_stops_its_startup_files() {
    let vm = common::open();
    let (template, tree) = slow_start(&vm);
    let (vm2, path) = (vm.clone(), tree.str().to_string());
    let creating = std::thread::spawn(move || vm2.create_session(&template, "ws", "c", &path));
    let id = wait_for_starting(&vm);
    assert_eq!(
        vm.repl(&id, "1").unwrap_err().code(),
        ErrorCode::SessionNotReady
    );
    let closed = vm.close_session(&id).unwrap();
    assert_eq!(closed.status, SessionStatus::Closed);
    let err = within(Duration::from_secs(5), move || creating.join().unwrap()).unwrap_err();
    assert_eq!(err.session_id(), Some(id.as_str()));
    assert_eq!(vm.get_session(&id).unwrap().status, SessionStatus::Closed);
    assert!(vm.runtime_summary().active_sessions == 0);
}

#[test]
fn a_watcher_failure_on_the_last_event_is_recorded() {
    let (vm, id, _t) = session_with(json!({"limits": {"wall_ms": 200}}), &[]);
    // The last event of each: a value, an exception, the system note of a stopped run.
    for (code, last) in [
        ("1 + 1", "value"),
        ("throw new Error('boom')", "exception"),
        ("while (true) {}", "system"),
    ] {
        let watcher: EventWatcher = Box::new(move |e: &Event| {
            if e.event_type.as_str() == last {
                Err(format!("refused the {last}"))
            } else {
                Ok(())
            }
        });
        let exec = vm.repl_watched(&id, code, Some(watcher)).unwrap();
        let events = vm.events(&exec.id, 0).unwrap();
        let failures: Vec<_> = events
            .iter()
            .filter(|e| {
                e.payload["message"]
                    .as_str()
                    .is_some_and(|m| m.contains(&format!("refused the {last}")))
            })
            .collect();
        assert_eq!(failures.len(), 1, "{code}: {events:?}");
        assert_eq!(
            failures[0].seq,
            events.len() as u64,
            "{code}: recorded last"
        );
        assert_eq!(exec.metrics.event_count, events.len() as u64, "{code}");
    }
}

#[test]
fn a_second_handle_of_this_process_is_not_called_another_process() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("vm.db");
    let first = VmSystem::open(&db).unwrap();
    let second = VmSystem::open(&db).unwrap();
    let t = first.create_template("t", "quickjs").unwrap();
    let tree = Worktree::new(&[]);
    let s = first.create_session(&t.id, "ws", "c", tree.str()).unwrap();
    for err in [
        second.repl(&s.id, "1").unwrap_err(),
        second.close_session(&s.id).unwrap_err(),
    ] {
        assert_eq!(err.code(), ErrorCode::SessionNotReady);
        let text = err.to_string();
        assert!(!text.contains("another process"), "{text}");
        assert!(
            text.contains("another VmSystem handle of this process"),
            "{text}"
        );
    }
}

#[test]
fn console_text_is_kept_whole_up_to_the_output_limit() {
    let (vm, id, _t) = session_with(json!({"limits": {"max_output_kb": 8192}}), &[]);
    let exec = vm
        .repl(
            &id,
            "const big = 'x'.repeat(3 << 20); console.log(big, 'end'); 1",
        )
        .unwrap();
    assert_eq!(exec.status, ExecutionStatus::Ok);
    let events = vm.events(&exec.id, 0).unwrap();
    let text = events[1].payload["text"].as_str().unwrap();
    assert_eq!(text.len(), (3 << 20) + 4);
    assert!(text.ends_with("x end"));
    // Past the output limit the event is refused and the run stopped, never cut.
    let (vm, id, _t) = session_with(json!({"limits": {"max_output_kb": 1024}}), &[]);
    let err = vm
        .repl(&id, "console.log('y'.repeat(2 << 20)); 1")
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::OutputLimitExceeded);
}

#[test]
fn an_interrupt_check_cancels_a_long_run_and_is_never_asked_by_a_short_one() {
    use std::sync::atomic::{AtomicU32, Ordering};
    let (vm, id, _t) = session_with(long_limits(), &[]);
    let asked = Arc::new(AtomicU32::new(0));
    let counter = asked.clone();
    let started = Instant::now();
    let exec = vm_system::with_interrupt_check(
        move || {
            counter.fetch_add(1, Ordering::SeqCst);
            started.elapsed() > Duration::from_millis(100)
        },
        || vm.repl(&id, "while (true) {}").unwrap(),
    );
    assert_eq!(exec.status, ExecutionStatus::Cancelled);
    assert!(started.elapsed() < Duration::from_secs(2));
    let long_run = asked.load(Ordering::SeqCst);
    assert!(long_run >= 2, "asked {long_run} times");
    // A short run ends before the first poll; runs on other threads never ask.
    let counter = asked.clone();
    vm_system::with_interrupt_check(
        move || {
            counter.fetch_add(1, Ordering::SeqCst);
            true
        },
        || {
            assert_eq!(vm.repl(&id, "1 + 1").unwrap().status, ExecutionStatus::Ok);
            let (vm2, id2) = (vm.clone(), id.clone());
            let other = std::thread::spawn(move || {
                vm2.repl(
                    &id2,
                    "const u = Date.now() + 100; while (Date.now() < u) {} 7",
                )
                .unwrap()
            });
            assert_eq!(other.join().unwrap().status, ExecutionStatus::Ok);
        },
    );
    assert_eq!(asked.load(Ordering::SeqCst), long_run);
}
