//! Executions started without waiting, followed live by many followers, cancelled, and
//! the shutdown of every live session: what the daemon builds on.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::json;
use vm_system::{
    ErrorCode, Execution, ExecutionStatus, FollowItem, FollowPoll, Follower, OpenOptions,
    SessionStatus, VmSystem,
};

/// Drains a follower: its events' seqs and types, and the end record.
fn drain(follower: Follower) -> (Vec<(u64, String)>, Execution) {
    let mut events = Vec::new();
    for item in follower {
        match item {
            FollowItem::Event(e) => events.push((e.seq, e.event_type.as_str().to_string())),
            FollowItem::End(exec) => return (events, *exec),
        }
    }
    panic!("the follower closed without an end");
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "timed out: {what}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

const SLOW_LINES: &str =
    "for (let i = 0; i < 5; i++) { console.log('line ' + i); const t = Date.now(); while (Date.now() - t < 40) {} } 7";

#[test]
fn start_repl_returns_the_running_record_and_the_run_goes_on() {
    let (vm, id, _t) = session();
    let exec = vm.start_repl(&id, SLOW_LINES).unwrap();
    assert_eq!(exec.status, ExecutionStatus::Running);
    assert_eq!(exec.input.as_deref(), Some(SLOW_LINES));
    assert!(exec.ended_at.is_none());
    // The record is stored at once: every reader sees it.
    assert_eq!(
        vm.get_execution(&exec.id).unwrap().status,
        ExecutionStatus::Running
    );
    assert_eq!(vm.list_executions(&id, 10).unwrap()[0].id, exec.id);

    let (events, end) = drain(vm.follow(&exec.id, 0).unwrap());
    assert_eq!(end.status, ExecutionStatus::Ok);
    assert_eq!(end.value(), Some(&json!(7)));
    let seqs: Vec<u64> = events.iter().map(|e| e.0).collect();
    assert_eq!(seqs, (1..=7).collect::<Vec<_>>());
    assert_eq!(events[0].1, "input_echo");
    assert_eq!(events[6].1, "value");
    assert_eq!(vm.get_execution(&exec.id).unwrap(), end);
}

#[test]
fn start_fails_like_a_waiting_call_and_records_nothing() {
    let (vm, id, tree) = session();
    tree.write("ok.js", "40 + 2");
    let running = vm.start_repl(&id, "while (true) {}").unwrap();
    assert_eq!(
        vm.start_repl(&id, "1").unwrap_err().code(),
        ErrorCode::SessionBusy
    );
    assert_eq!(
        vm.repl(&id, "1").unwrap_err().code(),
        ErrorCode::SessionBusy
    );
    vm.cancel_execution(&running.id).unwrap();
    let (_, end) = drain(vm.follow(&running.id, 0).unwrap());
    assert_eq!(end.status, ExecutionStatus::Cancelled);

    let err = vm
        .start_run_file(&id, "../outside.js", &json!({}), &json!({}))
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidPath);
    let err = vm
        .start_run_file(&id, "missing.js", &json!({}), &json!({}))
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::FileNotFound);
    assert_eq!(
        vm.start_repl("nope", "1").unwrap_err().code(),
        ErrorCode::SessionNotFound
    );
    assert_eq!(vm.list_executions(&id, 10).unwrap().len(), 1);

    let file = vm
        .start_run_file(&id, "ok.js", &json!({"a": 1}), &json!({}))
        .unwrap();
    assert_eq!(file.path.as_deref(), Some("ok.js"));
    let (_, end) = drain(vm.follow(&file.id, 0).unwrap());
    assert_eq!(end.value(), Some(&json!(42)));

    vm.close_session(&id).unwrap();
    assert_eq!(
        vm.start_repl(&id, "1").unwrap_err().code(),
        ErrorCode::SessionNotReady
    );
}

#[test]
fn followers_see_events_live_in_order_while_the_run_goes_on() {
    let (vm, id, _t) = session();
    let exec = vm.start_repl(&id, SLOW_LINES).unwrap();
    let mut follower = vm.follow(&exec.id, 0).unwrap();
    // The first console line arrives while the execution is still running.
    let mut seen = Vec::new();
    loop {
        match follower.next_item().unwrap() {
            FollowItem::Event(e) => {
                let console = e.event_type.as_str() == "console";
                seen.push(e.seq);
                if console {
                    assert_eq!(e.payload["text"], "line 0");
                    assert_eq!(
                        vm.get_execution(&exec.id).unwrap().status,
                        ExecutionStatus::Running,
                        "the event came only after the end"
                    );
                    break;
                }
            }
            FollowItem::End(_) => panic!("ended before any console line"),
        }
    }
    let (rest, end) = drain(follower);
    seen.extend(rest.iter().map(|e| e.0));
    assert_eq!(seen, (1..=7).collect::<Vec<_>>());
    let stored: Vec<u64> = vm
        .events(&exec.id, 0)
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(seen, stored);
    assert_eq!(end.status, ExecutionStatus::Ok);
}

#[test]
fn many_followers_resume_after_any_seq_and_a_dropped_one_hurts_nothing() {
    let (vm, id, _t) = session();
    let exec = vm.start_repl(&id, SLOW_LINES).unwrap();
    let dropped = vm.follow(&exec.id, 0).unwrap();
    drop(dropped);
    // A follower nobody reads from does not hold the run back.
    let idle = vm.follow(&exec.id, 0).unwrap();
    let handles: Vec<_> = [0u64, 2, 5]
        .into_iter()
        .map(|after| {
            let vm = vm.clone();
            let id = exec.id.clone();
            std::thread::spawn(move || {
                let follower = vm.follow(&id, after).unwrap();
                // Follower code may call the library while it follows.
                let mut out = Vec::new();
                for item in follower {
                    match item {
                        FollowItem::Event(e) => {
                            vm.get_execution(&id).unwrap();
                            out.push(e.seq);
                        }
                        FollowItem::End(end) => return (after, out, end.status),
                    }
                }
                panic!("no end");
            })
        })
        .collect();
    for h in handles {
        let (after, seqs, status) = h.join().unwrap();
        assert_eq!(seqs, ((after + 1)..=7).collect::<Vec<_>>(), "after {after}");
        assert_eq!(status, ExecutionStatus::Ok);
    }
    let (events, end) = drain(idle);
    assert_eq!(events.len(), 7);
    assert_eq!(end.status, ExecutionStatus::Ok);
    // An ended execution replays from any seq and ends at once.
    let (events, _) = drain(vm.follow(&exec.id, 6).unwrap());
    assert_eq!(events, vec![(7, "value".to_string())]);
    let (events, _) = drain(vm.follow(&exec.id, 99).unwrap());
    assert!(events.is_empty());
    assert_eq!(
        vm.follow("nope", 0).err().unwrap().code(),
        ErrorCode::ExecutionNotFound
    );
}

#[test]
fn a_follower_times_out_while_a_run_is_idle_and_then_gets_the_end() {
    let (vm, id, _t) = session();
    let exec = vm
        .start_repl(&id, "await new Promise(r => setTimeout(r, 200)); 'done'")
        .unwrap();
    let mut follower = vm.follow(&exec.id, 1).unwrap();
    assert_eq!(
        follower.next_timeout(Duration::from_millis(20)),
        FollowPoll::Pending
    );
    let mut end = None;
    while end.is_none() {
        match follower.next_timeout(Duration::from_secs(5)) {
            FollowPoll::Item(FollowItem::End(e)) => end = Some(*e),
            FollowPoll::Item(FollowItem::Event(_)) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(end.unwrap().value(), Some(&json!("done")));
    assert_eq!(follower.try_next(), FollowPoll::Closed);
}

#[test]
fn cancel_of_a_started_run_is_recorded() {
    let (vm, id, _t) = session();
    let exec = vm
        .start_repl(&id, "console.log('before'); while (true) {}")
        .unwrap();
    let follower = vm.follow(&exec.id, 0).unwrap();
    std::thread::sleep(Duration::from_millis(30));
    vm.cancel_execution(&exec.id).unwrap();
    let (events, end) = drain(follower);
    assert_eq!(end.status, ExecutionStatus::Cancelled);
    assert!(end.ended_at.is_some());
    assert_eq!(
        events.iter().map(|e| e.1.as_str()).collect::<Vec<_>>(),
        ["input_echo", "console", "system"]
    );
    let stored = vm.get_execution(&exec.id).unwrap();
    assert_eq!(stored.status, ExecutionStatus::Cancelled);
    assert_eq!(vm.repl(&id, "1 + 1").unwrap().value(), Some(&json!(2)));
}

#[test]
fn shutdown_cancels_runs_and_closes_sessions_with_the_reason() {
    let vm = common::open();
    let t = vm.create_template("t", "quickjs").unwrap();
    let tree = Worktree::new(&[]);
    let a = vm.create_session(&t.id, "ws", "abc", tree.str()).unwrap();
    let b = vm.create_session(&t.id, "ws", "abc", tree.str()).unwrap();
    let spinning = vm.start_repl(&a.id, "while (true) {}").unwrap();
    let sleeping = vm
        .start_repl(&b.id, "await new Promise(r => setTimeout(r, 60000))")
        .unwrap();
    let follower = vm.follow(&spinning.id, 0).unwrap();
    let began = Instant::now();
    vm.shutdown("the daemon shut down");
    assert!(
        began.elapsed() < Duration::from_secs(2),
        "{:?}",
        began.elapsed()
    );
    for id in [&spinning.id, &sleeping.id] {
        assert_eq!(
            vm.get_execution(id).unwrap().status,
            ExecutionStatus::Cancelled
        );
    }
    assert_eq!(drain(follower).1.status, ExecutionStatus::Cancelled);
    for s in [&a.id, &b.id] {
        let s = vm.get_session(s).unwrap();
        assert_eq!(s.status, SessionStatus::Closed);
        assert_eq!(s.last_error.as_deref(), Some("the daemon shut down"));
        assert!(s.closed_at.is_some());
    }
    assert_eq!(vm.runtime_summary().active_sessions, 0);
}

#[test]
fn a_run_of_another_instance_is_followed_through_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("vm.db");
    let owner = VmSystem::open_with(&db, OpenOptions::default()).unwrap();
    let reader = VmSystem::open(&db).unwrap();
    let t = owner.create_template("t", "quickjs").unwrap();
    let tree = Worktree::new(&[]);
    let s = owner
        .create_session(&t.id, "ws", "abc", tree.str())
        .unwrap();
    let exec = owner.start_repl(&s.id, SLOW_LINES).unwrap();
    let (events, end) = drain(reader.follow(&exec.id, 0).unwrap());
    assert_eq!(events.len(), 7);
    assert_eq!(end.status, ExecutionStatus::Ok);
    wait_until("owner sees the end", || {
        owner.get_execution(&exec.id).unwrap().status == ExecutionStatus::Ok
    });
}
