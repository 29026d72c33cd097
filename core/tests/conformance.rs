//! Runs every case of `tests/conformance/` (the format is in its README) against the Rust API
//! (on PostgreSQL too, with `VM_SYSTEM_TEST_DB=postgres`).

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use vm_system::{Event, Execution, SessionStatus, VmSystem};

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/conformance")
}

fn write_files(root: &Path, files: Option<&Value>) {
    for (rel, content) in files.and_then(Value::as_object).into_iter().flatten() {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content.as_str().unwrap()).unwrap();
    }
}

fn check_events(case: &str, what: &str, actual: &[Event], expected: &Value) {
    let expected = expected
        .as_array()
        .unwrap_or_else(|| panic!("{case}: {what}: events must be a list"));
    let kinds: Vec<_> = actual
        .iter()
        .map(|e| (e.event_type.as_str(), e.payload.clone()))
        .collect();
    assert_eq!(
        actual.len(),
        expected.len(),
        "{case}: {what}: events {kinds:#?}"
    );
    for (i, (event, want)) in actual.iter().zip(expected).enumerate() {
        assert_eq!(event.seq, i as u64 + 1, "{case}: {what}: seq");
        assert_eq!(
            event.event_type.as_str(),
            want["type"].as_str().unwrap(),
            "{case}: {what}: event {} type; {kinds:#?}",
            i + 1
        );
        for (key, value) in want
            .get("payload")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            if value == "<absent>" {
                assert!(
                    event.payload.get(key).is_none(),
                    "{case}: {what}: event {} has {key}: {}",
                    i + 1,
                    event.payload
                );
            } else {
                assert_eq!(
                    event.payload.get(key),
                    Some(value),
                    "{case}: {what}: event {} payload {key} in {}",
                    i + 1,
                    event.payload
                );
            }
        }
    }
}

fn check_execution(vm: &VmSystem, case: &str, what: &str, exec: &Execution, step: &Value) {
    assert_eq!(
        exec.status.as_str(),
        step["status"].as_str().unwrap(),
        "{case}: {what}: status ({:?})",
        exec.error
    );
    if let Some(value) = step.get("value") {
        assert_eq!(exec.value(), Some(value), "{case}: {what}: value");
    }
    if let Some(kind) = step.get("result_type") {
        assert_eq!(
            exec.result.as_ref().map(|r| &r["type"]),
            Some(kind),
            "{case}: {what}: result type"
        );
    }
    if let Some(message) = step.get("error_message") {
        assert_eq!(
            exec.error.as_deref(),
            message.as_str(),
            "{case}: {what}: error"
        );
    }
    if let Some(events) = step.get("events") {
        check_events(case, what, &vm.events(&exec.id, 0).unwrap(), events);
    }
}

fn run_case(file: &Path) {
    let case = file.file_stem().unwrap().to_string_lossy().into_owned();
    let spec: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    let worktree_dir = tempfile::tempdir().unwrap();
    let outside_dir = tempfile::tempdir().unwrap();
    let worktree = worktree_dir.path().canonicalize().unwrap();
    let outside = outside_dir.path().canonicalize().unwrap();
    write_files(&worktree, spec.get("files"));
    write_files(&outside, spec.get("outside_files"));
    for link in spec
        .get("symlinks")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let target = link["target"]
            .as_str()
            .unwrap()
            .replace("<outside>", outside.to_str().unwrap());
        std::os::unix::fs::symlink(target, worktree.join(link["link"].as_str().unwrap())).unwrap();
    }

    let vm = common::open();
    let template = vm.create_template(&case, "quickjs").unwrap();
    let setup = spec.get("template").cloned().unwrap_or(json!({}));
    if let Some(settings) = setup.get("settings") {
        vm.update_settings(&template.id, settings).unwrap();
    }
    for f in setup
        .get("startup_files")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        vm.add_startup_file(
            &template.id,
            f["path"].as_str().unwrap(),
            f["order_index"].as_i64().unwrap_or(0),
            f["mode"].as_str().unwrap_or("eval"),
        )
        .unwrap();
    }
    for m in setup
        .get("modules")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        vm.add_module(&template.id, m.as_str().unwrap()).unwrap();
    }

    let expect = spec
        .get("session")
        .cloned()
        .unwrap_or(json!({"status": "ready"}));
    let created = vm.create_session(
        &template.id,
        "ws-conformance",
        "0000000",
        worktree.to_str().unwrap(),
    );
    let session_id = match (&created, expect.get("error")) {
        (Ok(s), None) => s.id.clone(),
        (Err(e), Some(code)) => {
            assert_eq!(
                e.code().as_str(),
                code.as_str().unwrap(),
                "{case}: session error {e}"
            );
            e.session_id()
                .unwrap_or_else(|| panic!("{case}: {e} carries no session id"))
                .to_string()
        }
        (Ok(_), Some(code)) => panic!("{case}: session created, expected {code}"),
        (Err(e), None) => panic!("{case}: session failed: {e}"),
    };
    let session = vm.get_session(&session_id).unwrap();
    assert_eq!(
        session.status.as_str(),
        expect["status"].as_str().unwrap_or("ready"),
        "{case}: {:?}",
        session.last_error
    );
    if let Some(startup) = expect.get("startup").and_then(Value::as_array) {
        let mut execs = vm.list_executions(&session_id, 50).unwrap();
        execs.reverse();
        assert_eq!(execs.len(), startup.len(), "{case}: startup executions");
        for (exec, want) in execs.iter().zip(startup) {
            assert_eq!(exec.kind.as_str(), "startup");
            assert_eq!(
                exec.path.as_deref(),
                want["path"].as_str(),
                "{case}: startup path"
            );
            check_execution(&vm, &case, &format!("startup {}", want["path"]), exec, want);
        }
    }

    for (i, step) in spec["steps"].as_array().unwrap().iter().enumerate() {
        let what = format!("step {}", i + 1);
        let before = vm.list_executions(&session_id, 10_000).unwrap().len();
        let result = match step["op"].as_str().unwrap() {
            "repl" => vm.repl(&session_id, step["input"].as_str().unwrap()),
            "run_file" => vm.run_file(
                &session_id,
                step["path"].as_str().unwrap(),
                step.get("args").unwrap_or(&json!({})),
                step.get("env").unwrap_or(&json!({})),
            ),
            "busy" => {
                let holder = vm.clone();
                let id = session_id.clone();
                let hold = step["hold"].as_str().unwrap().to_string();
                let handle = std::thread::spawn(move || holder.repl(&id, &hold));
                let deadline = Instant::now() + Duration::from_secs(10);
                while vm.running_execution(&session_id).is_none() {
                    assert!(Instant::now() < deadline, "{case}: hold never started");
                    std::thread::sleep(Duration::from_millis(1));
                }
                let second = vm.repl(&session_id, step["input"].as_str().unwrap());
                handle.join().unwrap().unwrap();
                second
            }
            other => panic!("{case}: unknown op {other}"),
        };
        match (result, step.get("error")) {
            (Err(e), Some(code)) => {
                assert_eq!(
                    e.code().as_str(),
                    code.as_str().unwrap(),
                    "{case}: {what}: {e}"
                );
                let after = vm.list_executions(&session_id, 10_000).unwrap().len();
                let held = usize::from(step["op"] == "busy");
                assert_eq!(
                    after,
                    before + held,
                    "{case}: {what}: a refused request created a record"
                );
            }
            (Ok(exec), None) => check_execution(&vm, &case, &what, &exec, step),
            (Ok(exec), Some(code)) => {
                panic!("{case}: {what}: expected {code}, got {:?}", exec.status)
            }
            (Err(e), None) => panic!("{case}: {what}: {e}"),
        }
    }
    if session.status == SessionStatus::Ready {
        assert_eq!(
            vm.close_session(&session_id).unwrap().status,
            SessionStatus::Closed
        );
    }
}

#[test]
fn every_conformance_case_passes() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(cases_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 8, "conformance cases missing");
    for file in files {
        run_case(&file);
    }
}
