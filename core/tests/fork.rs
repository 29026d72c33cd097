//! A `VmSystem` inherited through `fork()`: the child's copy refuses every call, dropping it
//! touches nothing of the parent's, and a handle the child opens itself works.
//! (Alone in its test binary: the child must not inherit locks held by other tests' threads.)

use std::time::{Duration, Instant};

use vm_system::{ErrorCode, SessionStatus, VmSystem};

/// What the child checks; returns the exit code (0 = all held, else the failed check).
fn child(vm: VmSystem, db: &std::path::Path, worktree: &str, session_id: &str) -> i32 {
    let err = match vm.list_templates() {
        Ok(_) => return 10,
        Err(e) => e,
    };
    if err.code() != ErrorCode::Validation || !err.to_string().contains("open a new VmSystem") {
        return 11;
    }
    if vm.repl(session_id, "1").map(|_| ()).unwrap_err().code() != ErrorCode::Validation {
        return 12;
    }
    if vm.close_session(session_id).is_ok() || vm.check_process().is_ok() {
        return 13;
    }
    if vm.runtime_summary().active_sessions != 0 || vm.running_execution(session_id).is_some() {
        return 14;
    }
    vm.close();
    drop(vm);
    // A handle of its own works, and sees the parent's session still ready.
    let own = match VmSystem::open(db) {
        Ok(v) => v,
        Err(_) => return 15,
    };
    match own.get_session(session_id) {
        Ok(s) if s.status == SessionStatus::Ready => {}
        _ => return 16,
    }
    let t = own.list_templates().unwrap().remove(0);
    let mine = own.create_session(&t.id, "child", "c", worktree).unwrap();
    if own.repl(&mine.id, "6 * 7").unwrap().value() != Some(&serde_json::json!(42)) {
        return 17;
    }
    0
}

#[test]
fn an_inherited_handle_refuses_every_call_and_its_drop_touches_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("vm.db");
    let worktree = dir.path().canonicalize().unwrap();
    let worktree = worktree.to_str().unwrap().to_string();
    let vm = VmSystem::open(&db).unwrap();
    let t = vm.create_template("t", "quickjs").unwrap();
    let s = vm.create_session(&t.id, "ws", "c", &worktree).unwrap();
    vm.repl(&s.id, "var kept = 'parent'").unwrap();

    // SAFETY: the child only runs Rust code of this test and leaves with `_exit`.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            child(vm.clone(), &db, &worktree, &s.id)
        }))
        .unwrap_or(99);
        drop(vm);
        // SAFETY: ends the child without running the parent's atexit handlers.
        unsafe { libc::_exit(code) };
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut status = 0;
    loop {
        // SAFETY: waiting for our own child.
        let done = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if done == pid {
            break;
        }
        if Instant::now() > deadline {
            // SAFETY: killing our own child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("the child hung");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        libc::WIFEXITED(status),
        "the child crashed: status {status}"
    );
    assert_eq!(libc::WEXITSTATUS(status), 0, "a check failed in the child");

    // Nothing of the parent's was touched.
    assert_eq!(vm.get_session(&s.id).unwrap().status, SessionStatus::Ready);
    assert_eq!(
        vm.repl(&s.id, "kept").unwrap().value(),
        Some(&serde_json::json!("parent"))
    );
    assert_eq!(vm.runtime_summary().active_sessions, 1);
    let sessions = vm.list_sessions(None).unwrap();
    assert_eq!(sessions.len(), 2, "the child's own session is recorded");
    let integrity: Vec<_> = sessions
        .iter()
        .filter(|x| x.workspace_id == "child")
        .collect();
    assert_eq!(integrity.len(), 1);
}
