//! JavaScript as the standard says: what the conformance suite showed our layer changed
//! (issue 17: top-level `await` by grammar, one instance per module, unhandled rejections,
//! NUL characters, thrown non-Errors, value description) and the runtime's own bookkeeping
//! against patched built-ins, work queued while a result is described, and lone surrogates.
//! Tests where a regression could hang the host run their body in a child process.

mod common;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{events, session, session_with};
use serde_json::{json, Value};
use vm_system::{ErrorCode, Event, EventType, Execution, ExecutionStatus, VmSystem};

const CHILD_ENV: &str = "VMS_STANDARD_CHILD";

/// In the parent: runs test `name` of this binary in a child process and fails unless it
/// passes within `secs` (returns true: the caller returns). In the child: returns false.
fn ran_in_child(name: &str, secs: u64) -> bool {
    if std::env::var_os(CHILD_ENV).is_some() {
        return false;
    }
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(secs) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{name} did not finish within {secs} s in its child process");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut out = String::new();
    let _ = child.stdout.take().unwrap().read_to_string(&mut out);
    let _ = child.stderr.take().unwrap().read_to_string(&mut out);
    assert!(
        status.success(),
        "{name} failed in its child process ({status}):\n{out}"
    );
    assert!(
        out.contains("1 passed"),
        "{name} did not run in its child:\n{out}"
    );
    true
}

fn ok(vm: &VmSystem, sid: &str, code: &str) -> Execution {
    let exec = vm.repl(sid, code).unwrap();
    assert_eq!(
        exec.status,
        ExecutionStatus::Ok,
        "{code}: {:?} {:?}",
        exec.error,
        exec.result
    );
    exec
}

fn value(vm: &VmSystem, sid: &str, code: &str) -> Value {
    ok(vm, sid, code).value().cloned().unwrap_or(Value::Null)
}

fn exception(vm: &VmSystem, exec: &Execution) -> Value {
    events(vm, exec)
        .into_iter()
        .find(|e| e.event_type == EventType::Exception)
        .map(|e| e.payload)
        .unwrap_or_else(|| panic!("no exception event: {:?}", exec.result))
}

fn console_texts(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e.event_type == EventType::Console)
        .map(|e| e.payload["text"].as_str().unwrap().to_string())
        .collect()
}

fn system_events(events: &[Event]) -> Vec<Value> {
    events
        .iter()
        .filter(|e| e.event_type == EventType::System)
        .map(|e| e.payload.clone())
        .collect()
}

// ---- 1. top-level await chosen by the grammar ----

#[test]
fn await_as_an_identifier_is_a_plain_script() {
    let (vm, sid, _t) = session();
    assert_eq!(value(&vm, &sid, "var await = 1; await"), json!(1));
    let (vm, sid, _t) = session();
    // An escaped `await` binding stays legal even when the word appears in a comment.
    assert_eq!(
        value(
            &vm,
            &sid,
            "class aw\\u0061it {} // await\ntypeof aw\\u0061it"
        ),
        json!("function")
    );
    assert_eq!(
        value(&vm, &sid, "'await' + ' in a string'"),
        json!("await in a string")
    );
    // A nested async function does not make the input async: its completion value stays.
    assert_eq!(
        value(&vm, &sid, "async function f() { return await 2; } 40 + 2"),
        json!(42)
    );
}

#[test]
fn top_level_await_runs_as_an_async_script() {
    let (vm, sid, _t) = session();
    assert_eq!(value(&vm, &sid, "await Promise.resolve(5)"), json!(5));
    assert_eq!(
        value(
            &vm,
            &sid,
            "const r = await new Promise(ok => setTimeout(() => ok(7), 5)); r * 2"
        ),
        json!(14)
    );
    let exec = vm
        .repl(&sid, "await Promise.reject(new TypeError('no'))")
        .unwrap();
    assert_eq!(exec.status, ExecutionStatus::Error);
    assert_eq!(exception(&vm, &exec)["name"], "TypeError");
}

#[test]
fn declarations_this_and_strictness_persist_alike_in_both_paths() {
    let (vm, sid, _t) = session();
    ok(
        &vm,
        &sid,
        "let a = 1; var v1 = 10; function f1() { return 100; } class C1 {}",
    );
    ok(
        &vm,
        &sid,
        "const b = await Promise.resolve(a + 1); var v2 = await 20; function f2() { return 200; } class C2 {}",
    );
    assert_eq!(
        value(
            &vm,
            &sid,
            "[a, b, v1, v2, f1(), f2(), typeof C1, typeof C2]"
        ),
        json!([1, 2, 10, 20, 100, 200, "function", "function"])
    );
    assert_eq!(
        value(&vm, &sid, "await 0; [a + b, f1() + f2(), v1 + v2]"),
        json!([3, 300, 30])
    );
    assert_eq!(value(&vm, &sid, "this === globalThis"), json!(true));
    assert_eq!(
        value(&vm, &sid, "await 0; this === globalThis"),
        json!(true)
    );
    // Redeclaring a `let` of the other path is the engine's usual error.
    let exec = vm.repl(&sid, "let b = 3").unwrap();
    assert_eq!(exec.status, ExecutionStatus::Error);

    let (vm, sid, _t) = session_with(json!({"runtime": {"strict": true}}), &[]);
    for code in ["undeclared1 = 1", "await 0; undeclared2 = 1"] {
        let exec = vm.repl(&sid, code).unwrap();
        assert_eq!(
            exec.status,
            ExecutionStatus::Error,
            "{code} must fail in strict mode"
        );
        assert_eq!(exception(&vm, &exec)["name"], "ReferenceError", "{code}");
    }
    assert_eq!(
        value(&vm, &sid, "(function () { return this; })() === undefined"),
        json!(true)
    );
    assert_eq!(
        value(
            &vm,
            &sid,
            "await 0; (function () { return this; })() === undefined"
        ),
        json!(true)
    );
}

#[test]
fn syntax_errors_are_reported_in_both_paths() {
    let (vm, sid, _t) = session();
    for code in ["let = ;", "await (;", "var await = 1; await x"] {
        let exec = vm.repl(&sid, code).unwrap();
        assert_eq!(exec.status, ExecutionStatus::Error, "{code}");
        assert_eq!(exception(&vm, &exec)["name"], "SyntaxError", "{code}");
    }
}

// ---- 2. one instance per module, the entry included ----

fn esm(files: &[(&str, &str)]) -> (VmSystem, String, common::Worktree) {
    session_with(json!({"runtime": {"esm": true}}), files)
}

#[test]
fn an_entry_that_imports_itself_runs_once() {
    let (vm, sid, _t) = esm(&[(
        "a.js",
        "import * as self from './a.js';\nglobalThis.runs = (globalThis.runs || 0) + 1;\nexport const name = 'a';\nexport default [runs, self.name];\n",
    )]);
    let exec = vm.run_file(&sid, "a.js", &json!({}), &json!({})).unwrap();
    assert_eq!(exec.status, ExecutionStatus::Ok, "{:?}", exec.error);
    assert_eq!(exec.value(), Some(&json!([1, "a"])));
    assert_eq!(value(&vm, &sid, "runs"), json!(1));
}

#[test]
fn a_cycle_back_to_the_entry_sees_its_bindings() {
    let (vm, sid, _t) = esm(&[
        (
            "lib/main.js",
            "import { readX } from './b.js';\nexport let x = 5;\nexport default readX();\n",
        ),
        (
            "lib/b.js",
            "import { x } from './main.js';\nexport function readX() { return x; }\n",
        ),
    ]);
    for path in ["lib/main.js", "./lib/main.js"] {
        let exec = vm.run_file(&sid, path, &json!({}), &json!({})).unwrap();
        assert_eq!(exec.status, ExecutionStatus::Ok, "{path}: {:?}", exec.error);
        assert_eq!(exec.value(), Some(&json!(5)), "{path}");
    }
}

#[test]
fn stacks_name_the_path_and_import_meta_url_is_the_file_url() {
    let (vm, sid, tree) = esm(&[
        (
            "m.js",
            "export default [new Error('e').stack, import.meta.url];\n",
        ),
        ("dir/n.js", "export default import.meta.url;\n"),
    ]);
    let exec = vm.run_file(&sid, "m.js", &json!({}), &json!({})).unwrap();
    let v = exec.value().unwrap();
    let stack = v[0].as_str().unwrap();
    assert!(stack.contains("m.js:1"), "{stack}");
    assert!(!stack.contains('#'), "{stack}");
    assert_eq!(v[1], json!(format!("file://{}/m.js", tree.str())));
    let exec = vm
        .run_file(&sid, "dir/n.js", &json!({}), &json!({}))
        .unwrap();
    assert_eq!(
        exec.value(),
        Some(&json!(format!("file://{}/dir/n.js", tree.str())))
    );
}

#[test]
fn a_second_run_file_of_the_same_path_reuses_the_evaluated_module() {
    let (vm, sid, tree) = esm(&[(
        "count.js",
        "globalThis.loads = (globalThis.loads || 0) + 1;\nconsole.log('evaluated');\nexport default loads;\n",
    )]);
    let first = vm
        .run_file(&sid, "count.js", &json!({}), &json!({}))
        .unwrap();
    assert_eq!(first.value(), Some(&json!(1)));
    assert_eq!(console_texts(&events(&vm, &first)), ["evaluated"]);
    // Edits are not picked up either: the session holds one instance per module.
    tree.write("count.js", "export default 'changed';\n");
    let second = vm
        .run_file(&sid, "count.js", &json!({}), &json!({}))
        .unwrap();
    assert_eq!(second.status, ExecutionStatus::Ok);
    assert_eq!(second.value(), Some(&json!(1)));
    assert!(console_texts(&events(&vm, &second)).is_empty());
    assert_eq!(value(&vm, &sid, "loads"), json!(1));
}

#[test]
fn a_module_that_failed_fails_the_same_way_when_run_again() {
    let (vm, sid, _t) = esm(&[("bad.js", "throw new RangeError('at load');\n")]);
    for _ in 0..2 {
        let exec = vm.run_file(&sid, "bad.js", &json!({}), &json!({})).unwrap();
        assert_eq!(exec.status, ExecutionStatus::Error);
        assert_eq!(exec.error.as_deref(), Some("RangeError: at load"));
    }
}

// ---- 3. unhandled rejections ----

#[test]
fn an_unhandled_rejection_ends_the_run_by_default() {
    let (vm, sid, _t) = session();
    let exec = vm
        .repl(&sid, "Promise.reject(new Error('lost')); 1")
        .unwrap();
    assert_eq!(exec.status, ExecutionStatus::Error);
    assert_eq!(exec.error.as_deref(), Some("Error: lost"));
}

#[test]
fn warn_records_the_rejection_and_the_run_goes_on() {
    let (vm, sid, _t) = session_with(json!({"runtime": {"unhandled_rejections": "warn"}}), &[]);
    let exec = ok(
        &vm,
        &sid,
        "Promise.reject(new Error('lost')); Promise.reject(42); console.log('after'); 1",
    );
    assert_eq!(exec.value(), Some(&json!(1)));
    let evs = events(&vm, &exec);
    assert_eq!(
        system_events(&evs),
        [
            json!({"level": "warn", "message": "Unhandled promise rejection: Error: lost"}),
            json!({"level": "warn", "message": "Unhandled promise rejection: 42"}),
        ]
    );
    assert_eq!(console_texts(&evs), ["after"]);
    // The run's own failure is still its exception.
    let exec = vm
        .repl(&sid, "await Promise.reject(new Error('own'))")
        .unwrap();
    assert_eq!(exec.status, ExecutionStatus::Error);
    assert!(system_events(&events(&vm, &exec)).is_empty());
}

#[test]
fn a_rejected_promise_as_the_last_value_is_reported_once() {
    for mode in ["error", "warn"] {
        let (vm, sid, _t) = session_with(json!({"runtime": {"unhandled_rejections": mode}}), &[]);
        for code in [
            "Promise.reject(new Error('last'))",
            "new Promise((_, reject) => setTimeout(() => reject(new Error('last')), 5))",
        ] {
            let exec = vm.repl(&sid, code).unwrap();
            assert_eq!(exec.status, ExecutionStatus::Error, "{mode} {code}");
            assert_eq!(exec.error.as_deref(), Some("Error: last"), "{mode} {code}");
            let evs = events(&vm, &exec);
            assert!(system_events(&evs).is_empty(), "{mode} {code}: {evs:?}");
            let exceptions = evs
                .iter()
                .filter(|e| e.event_type == EventType::Exception)
                .count();
            assert_eq!(exceptions, 1, "{mode} {code}: {evs:?}");
        }
        // Another rejection in the same input is still an unhandled one.
        let exec = vm
            .repl(
                &sid,
                "Promise.reject(new Error('other')); Promise.resolve(3)",
            )
            .unwrap();
        match mode {
            "error" => assert_eq!(exec.error.as_deref(), Some("Error: other")),
            _ => {
                assert_eq!(exec.value(), Some(&json!(3)));
                assert_eq!(system_events(&events(&vm, &exec)).len(), 1);
            }
        }
    }
}

#[test]
fn a_rejection_handled_before_the_queue_drains_is_never_reported() {
    for mode in ["error", "warn"] {
        let (vm, sid, _t) = session_with(json!({"runtime": {"unhandled_rejections": mode}}), &[]);
        let exec = ok(
            &vm,
            &sid,
            "const p = Promise.reject(new Error('late')); Promise.resolve().then(() => Promise.resolve()).then(() => p.catch(() => {})); 2",
        );
        assert!(system_events(&events(&vm, &exec)).is_empty(), "{mode}");
    }
}

#[test]
fn warnings_count_against_the_output_limits() {
    let (vm, sid, _t) = session_with(
        json!({"runtime": {"unhandled_rejections": "warn"}, "limits": {"max_events": 20}}),
        &[],
    );
    let err = vm
        .repl(&sid, "for (let i = 0; i < 1000; i++) Promise.reject(i); 1")
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::OutputLimitExceeded);
}

#[test]
fn unhandled_rejections_is_a_validated_setting() {
    let vm = common::open();
    let t = vm.create_template("t", "quickjs").unwrap();
    assert_eq!(
        vm.get_template(&t.id)
            .unwrap()
            .settings
            .runtime
            .unhandled_rejections,
        vm_system::UnhandledRejections::Error
    );
    for bad in [json!("ignore"), json!(1), json!(null)] {
        let err = vm
            .update_settings(&t.id, &json!({"runtime": {"unhandled_rejections": bad}}))
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::Validation);
        assert!(
            err.to_string().contains("runtime.unhandled_rejections"),
            "{err}"
        );
    }
    let s = vm
        .update_settings(&t.id, &json!({"runtime": {"unhandled_rejections": "warn"}}))
        .unwrap();
    assert_eq!(
        s.runtime.unhandled_rejections,
        vm_system::UnhandledRejections::Warn
    );
    assert_eq!(
        serde_json::to_value(s.runtime).unwrap()["unhandled_rejections"],
        "warn"
    );
}

// ---- 4. NUL characters ----

#[test]
fn nul_characters_are_javascript() {
    let (vm, sid, tree) = session();
    assert_eq!(value(&vm, &sid, "'a\u{0}b'.length"), json!(3));
    assert_eq!(value(&vm, &sid, "/a\u{0}b/.test('a\\u0000b')"), json!(true));
    assert_eq!(value(&vm, &sid, "`x\u{0}`.charCodeAt(1)"), json!(0));
    assert_eq!(value(&vm, &sid, "await 0; 'z\u{0}'.length"), json!(2));
    tree.write("nul.js", "'f\u{0}g'.length\n");
    let exec = vm.run_file(&sid, "nul.js", &json!({}), &json!({})).unwrap();
    assert_eq!(exec.value(), Some(&json!(3)));
    let (vm, sid, tree) = esm(&[]);
    tree.write("nul.mjs", "export default 'm\u{0}'.length;\n");
    let exec = vm
        .run_file(&sid, "nul.mjs", &json!({}), &json!({}))
        .unwrap();
    assert_eq!(exec.value(), Some(&json!(2)), "{:?}", exec.error);
}

// ---- 5. a thrown non-Error keeps its constructor's name ----

#[test]
fn a_thrown_non_error_is_named_by_its_constructor() {
    let (vm, sid, _t) = session();
    let exec = vm
        .repl(
            &sid,
            "function Test262Error(message) { this.message = message || ''; }\nthrow new Test262Error('x')",
        )
        .unwrap();
    let e = exception(&vm, &exec);
    assert_eq!(e["name"], "Test262Error");
    assert_eq!(e["message"], "Uncaught {\"message\":\"x\"}");
    for (code, name) in [
        ("throw 42", "Uncaught"),
        ("throw 'text'", "Uncaught"),
        ("throw null", "Uncaught"),
        ("throw Object.create(null)", "Uncaught"),
        ("class Custom {}; throw new Custom()", "Custom"),
        ("throw new RangeError('r')", "RangeError"),
    ] {
        let exec = vm.repl(&sid, code).unwrap();
        assert_eq!(exception(&vm, &exec)["name"], name, "{code}");
    }
}

// ---- 6. describing a value never changes how the run ended ----

#[test]
fn undescribable_values_keep_their_type_and_drop_json() {
    let (vm, sid, _t) = session();
    let exec = ok(
        &vm,
        &sid,
        "const r = Proxy.revocable({}, {}); r.revoke(); r.proxy",
    );
    let result = exec.result.clone().unwrap();
    assert_eq!(result["type"], "object");
    assert!(result.get("json").is_none(), "{result}");
    let exec = ok(&vm, &sid, "({ toJSON() { throw new Error('no') }, a: 1 })");
    let result = exec.result.clone().unwrap();
    assert_eq!(result["type"], "object");
    assert!(result.get("json").is_none(), "{result}");
    let exec = ok(
        &vm,
        &sid,
        "new Proxy({}, { ownKeys() { throw new Error('trap') } })",
    );
    assert_eq!(exec.result.clone().unwrap()["type"], "object");
    // A thrown revoked proxy is an exception, not an engine failure.
    let exec = vm
        .repl(
            &sid,
            "const r2 = Proxy.revocable({}, {}); r2.revoke(); throw r2.proxy",
        )
        .unwrap();
    assert_eq!(exec.status, ExecutionStatus::Error);
    assert_eq!(exception(&vm, &exec)["name"], "Uncaught");
}

#[test]
fn description_ignores_patched_built_ins() {
    let (vm, sid, _t) = session();
    ok(
        &vm,
        &sid,
        r#"
        Array.prototype.push = () => { throw new Error('push'); };
        Array.prototype.includes = () => { throw new Error('includes'); };
        Array.prototype.join = () => { throw new Error('join'); };
        Array.prototype[Symbol.iterator] = function* () { throw new Error('iterator'); };
        JSON.stringify = () => '"patched"';
        Object.keys = () => { throw new Error('keys'); };
        Object.defineProperty(Date, Symbol.hasInstance, { value: () => true });
        Map.prototype.forEach = () => { throw new Error('forEach'); };
        Date.prototype.toISOString = () => 'patched';
        String = () => 'patched';
        1"#,
    );
    let exec = ok(
        &vm,
        &sid,
        "({ a: [1, 2], m: new Map().set(1, 2), d: new Date(0) })",
    );
    let result = exec.result.clone().unwrap();
    assert_eq!(result["type"], "object");
    assert_eq!(
        result["preview"],
        r#"{"a":[1,2],"m":Map(1) {1 => 2},"d":1970-01-01T00:00:00.000Z}"#
    );
    // The JSON is what the standard's `JSON.stringify` gives: `Date.prototype.toJSON`
    // calls the (patched) `toISOString`, as it would in any engine.
    assert_eq!(
        result["json"],
        json!({"a": [1, 2], "m": {}, "d": "patched"})
    );
    let exec = ok(&vm, &sid, "console.log([1, 2], { b: 3 }, 4); [5]");
    assert_eq!(console_texts(&events(&vm, &exec)), ["[1,2] {\"b\":3} 4"]);
    assert_eq!(exec.value(), Some(&json!([5])));
    let exec = vm.repl(&sid, "throw new TypeError('still named')").unwrap();
    assert_eq!(exec.error.as_deref(), Some("TypeError: still named"));
}

#[test]
fn a_setter_on_array_indices_does_not_fail_a_finished_run() {
    let (vm, sid, _t) = session();
    let exec = ok(
        &vm,
        &sid,
        "Object.defineProperty(Array.prototype, 0, { set(v) { throw new Error('hijacked'); }, configurable: true }); ({ a: [1, 2] })",
    );
    let result = exec.result.clone().unwrap();
    assert_eq!(result["type"], "object");
    assert_eq!(result["preview"], r#"{"a":[1,2]}"#);
    let exec = ok(&vm, &sid, "console.log([3], 'x'); 1");
    assert_eq!(console_texts(&events(&vm, &exec)), ["[3] x"]);
}

#[test]
fn a_looping_trap_in_the_description_stays_under_the_limits() {
    if ran_in_child(
        "a_looping_trap_in_the_description_stays_under_the_limits",
        60,
    ) {
        return;
    }
    let (vm, sid, _t) = session_with(json!({"limits": {"cpu_ms": 300}}), &[]);
    for code in [
        "new Proxy({}, { ownKeys() { for (;;) {} } })",
        "({ toJSON() { for (;;) {} } })",
        "({ get a() { for (;;) {} } })",
    ] {
        let started = Instant::now();
        let exec = vm.repl(&sid, code).unwrap();
        assert_eq!(exec.status, ExecutionStatus::Timeout, "{code}");
        assert!(started.elapsed() < Duration::from_secs(5), "{code}");
    }
    assert_eq!(value(&vm, &sid, "1 + 1"), json!(2));
}

// ---- 13.12 the runtime's bookkeeping does not call patchable built-ins ----

#[test]
fn timers_of_a_stopped_run_never_fire_even_with_patched_built_ins() {
    if ran_in_child(
        "timers_of_a_stopped_run_never_fire_even_with_patched_built_ins",
        60,
    ) {
        return;
    }
    let (vm, sid, _t) = session_with(json!({"limits": {"cpu_ms": 200}}), &[]);
    ok(
        &vm,
        &sid,
        "Map.prototype.clear = () => {}; Map.prototype.delete = () => false; Map.prototype.set = function () { return this; }; Object.prototype.at = 0; 1",
    );
    let exec = vm
        .repl(
            &sid,
            "setTimeout(() => console.log('leaked timer'), 0); for (;;) {}",
        )
        .unwrap();
    assert_eq!(exec.status, ExecutionStatus::Timeout);
    let exec = ok(&vm, &sid, "await new Promise(r => setTimeout(r, 20)); 1");
    assert!(console_texts(&events(&vm, &exec)).is_empty());
    // Timers still work, arguments included, with iterators patched.
    let exec = ok(
        &vm,
        &sid,
        "Array.prototype[Symbol.iterator] = function* () {}; setTimeout((a, b) => console.log(a + b), 1, 1, 2); clearTimeout(setTimeout(() => console.log('cleared'), 1)); 0",
    );
    assert_eq!(console_texts(&events(&vm, &exec)), ["3"]);
}

#[test]
fn queue_microtask_runs_callbacks_in_order_and_reports_their_exceptions() {
    let (vm, sid, _t) = session();
    let exec = ok(
        &vm,
        &sid,
        "Promise.prototype.then = () => { throw new Error('patched then'); }; queueMicrotask(() => console.log('a')); queueMicrotask(() => console.log('b')); console.log('sync'); 1",
    );
    assert_eq!(console_texts(&events(&vm, &exec)), ["sync", "a", "b"]);
    let exec = vm
        .repl(
            &sid,
            "queueMicrotask(() => { throw new Error('in a microtask'); }); 1",
        )
        .unwrap();
    assert_eq!(exec.status, ExecutionStatus::Error);
    assert_eq!(exec.error.as_deref(), Some("Error: in a microtask"));
    let exec = vm.repl(&sid, "queueMicrotask(1)").unwrap();
    assert_eq!(exception(&vm, &exec)["name"], "TypeError");
}

// ---- 13.13 work queued while the result is described ----

#[test]
fn jobs_queued_while_the_result_is_described_never_run_later() {
    if ran_in_child(
        "jobs_queued_while_the_result_is_described_never_run_later",
        60,
    ) {
        return;
    }
    let (vm, sid, _t) = session();
    let exec = ok(
        &vm,
        &sid,
        "({ get x() { setTimeout(() => console.log('late timer'), 0); Promise.resolve().then(() => console.log('late job')); queueMicrotask(() => console.log('late microtask')); Promise.reject(new Error('late rejection')); return 1; } })",
    );
    assert_eq!(exec.value(), Some(&json!({"x": 1})));
    assert!(console_texts(&events(&vm, &exec)).is_empty());
    let exec = ok(&vm, &sid, "await new Promise(r => setTimeout(r, 20)); 2");
    assert_eq!(exec.value(), Some(&json!(2)));
    assert!(console_texts(&events(&vm, &exec)).is_empty());
    // A self-queueing job started by a getter is dropped too, and quickly.
    let started = Instant::now();
    ok(
        &vm,
        &sid,
        "({ get y() { const again = () => queueMicrotask(again); again(); return 3; } })",
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    let exec = ok(&vm, &sid, "4");
    assert!(console_texts(&events(&vm, &exec)).is_empty());
}

#[test]
fn nothing_of_a_stopped_run_runs_later() {
    if ran_in_child("nothing_of_a_stopped_run_runs_later", 60) {
        return;
    }
    let (vm, sid, _t) = session_with(json!({"limits": {"wall_ms": 300}}), &[]);
    for flood in [
        "globalThis.n = 0; function again() { n++; queueMicrotask(again); queueMicrotask(again); } again(); 1",
        "globalThis.n = 0; function chain() { n++; return Promise.resolve().then(chain); } chain(); 1",
    ] {
        let started = Instant::now();
        let exec = vm.repl(&sid, flood).unwrap();
        assert_eq!(exec.status, ExecutionStatus::Timeout, "{flood}");
        let count = value(&vm, &sid, "n");
        assert_eq!(value(&vm, &sid, "n"), count, "{flood}: jobs ran after the stop");
        assert!(started.elapsed() < Duration::from_secs(3), "{flood}: {:?}", started.elapsed());
    }
}

// ---- 13.14 lone surrogates ----

#[test]
fn lone_surrogates_are_stored_as_replacement_characters() {
    let (vm, sid, _t) = session();
    let exec = ok(&vm, &sid, "'a\\uD800b'");
    let result = exec.result.clone().unwrap();
    assert_eq!(result["preview"], "a\u{FFFD}b");
    assert_eq!(result["json"], "a\u{FFFD}b");
    let exec = ok(
        &vm,
        &sid,
        "console.log('c\\uD800d', ['\\uDC00']); ({ '\\uD800k': '\\uDFFF' })",
    );
    assert_eq!(
        console_texts(&events(&vm, &exec)),
        ["c\u{FFFD}d [\"\\udc00\"]"]
    );
    assert_eq!(exec.value(), Some(&json!({"\u{FFFD}k": "\u{FFFD}"})));
    // Paired surrogates are one character, as always.
    assert_eq!(value(&vm, &sid, "'\\uD83D\\uDE00'"), json!("😀"));
    let exec = ok(&vm, &sid, "Symbol('s\\uD800')");
    assert_eq!(exec.result.clone().unwrap()["preview"], "Symbol(s\u{FFFD})");
    let exec = vm.repl(&sid, "throw new Error('e\\uD800')").unwrap();
    assert_eq!(exec.error.as_deref(), Some("Error: e\u{FFFD}"));
    let exec = vm.repl(&sid, "throw 'str\\uDBFF'").unwrap();
    assert_eq!(exception(&vm, &exec)["message"], "Uncaught str\u{FFFD}");
}

// ---- value description of primitives ----

#[test]
fn primitive_results_are_described_as_string_and_json_stringify_give_them() {
    let (vm, sid, _t) = session();
    // Small integers take the host's shortcut; the others go through the engine: both
    // must read the same.
    let cases = [
        ("1+1", json!({"type": "number", "preview": "2", "json": 2})),
        ("-5", json!({"type": "number", "preview": "-5", "json": -5})),
        ("-0", json!({"type": "number", "preview": "0", "json": 0})),
        ("4/2", json!({"type": "number", "preview": "2", "json": 2})),
        (
            "2**31",
            json!({"type": "number", "preview": "2147483648", "json": 2147483648u64}),
        ),
        (
            "-(2**31)",
            json!({"type": "number", "preview": "-2147483648", "json": -2147483648i64}),
        ),
        (
            "0.1+0.2",
            json!({"type": "number", "preview": "0.30000000000000004", "json": 0.30000000000000004}),
        ),
        (
            "1e21",
            json!({"type": "number", "preview": "1e+21", "json": 1e21}),
        ),
        (
            "NaN",
            json!({"type": "number", "preview": "NaN", "json": null}),
        ),
        (
            "-Infinity",
            json!({"type": "number", "preview": "-Infinity", "json": null}),
        ),
        (
            "true",
            json!({"type": "boolean", "preview": "true", "json": true}),
        ),
        (
            "1 > 2",
            json!({"type": "boolean", "preview": "false", "json": false}),
        ),
        (
            "null",
            json!({"type": "null", "preview": "null", "json": null}),
        ),
        (
            "undefined",
            json!({"type": "undefined", "preview": "undefined"}),
        ),
        (
            "void 0",
            json!({"type": "undefined", "preview": "undefined"}),
        ),
        ("10n", json!({"type": "bigint", "preview": "10"})),
        (
            "'x'",
            json!({"type": "string", "preview": "x", "json": "x"}),
        ),
    ];
    for (code, expected) in cases {
        let exec = ok(&vm, &sid, code);
        assert_eq!(exec.result.clone().unwrap(), expected, "{code}");
        let value_events: Vec<Event> = events(&vm, &exec)
            .into_iter()
            .filter(|e| e.event_type == EventType::Value)
            .collect();
        assert_eq!(value_events.len(), 1, "{code}");
        assert_eq!(value_events[0].payload, expected, "{code}");
    }
}
