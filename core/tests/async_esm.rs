//! Promises, timers, top-level await, ES modules with the resolver settings, strict mode.

mod common;

use common::*;
use serde_json::json;
use vm_system::{ExecutionStatus, VmSystem};

#[test]
fn promises_and_async_functions_settle_inside_the_execution() {
    let (vm, id, _t) = session();
    let e = vm
        .repl(&id, "async function twice(x) { return 2 * x } twice(21)")
        .unwrap();
    assert_eq!(e.value(), Some(&json!(42)));
    assert_eq!(
        e.result.as_ref().unwrap()["type"],
        "number",
        "a promise result reports its settled value"
    );
    let e = vm
        .repl(&id, "Promise.reject(new TypeError('nope'))")
        .unwrap();
    assert_eq!(e.status, ExecutionStatus::Error);
    assert_eq!(e.error.as_deref(), Some("TypeError: nope"));
}

#[test]
fn top_level_await_keeps_declarations() {
    let (vm, id, _t) = session();
    let e = vm.repl(&id, "const fetched = await new Promise(r => setTimeout(() => r(7), 20)); let doubled = fetched * 2; class K {}; doubled").unwrap();
    assert_eq!(e.value(), Some(&json!(14)), "{:?}", e.error);
    let e = vm.repl(&id, "[fetched, doubled, typeof K]").unwrap();
    assert_eq!(e.value(), Some(&json!([7, 14, "function"])));
    let e = vm
        .repl(&id, "await Promise.reject(new Error('late'))")
        .unwrap();
    assert_eq!(e.status, ExecutionStatus::Error);
    assert_eq!(e.error.as_deref(), Some("Error: late"));
}

#[test]
fn timers_fire_in_order_within_the_execution() {
    let (vm, id, _t) = session();
    // The log is printed once every timer has fired, so a slow machine changes when, not
    // what: only orders that hold whatever the delays are asserted.
    let e = vm
        .repl(
            &id,
            "
            const log = [];
            let pending = 3;
            const done = () => { if (--pending === 0) console.log(log.join(',')) };
            setTimeout(() => { log.push('t30'); done() }, 30);
            setTimeout(() => { log.push('t10'); done() }, 10);
            const cancelled = setTimeout(() => log.push('never'), 5);
            clearTimeout(cancelled);
            let n = 0;
            const iv = setInterval(() => {
                log.push('i' + (++n));
                if (n === 3) { clearInterval(iv); done() }
            }, 5);
            queueMicrotask(() => log.push('micro'));
            Promise.resolve().then(() => log.push('then'));
            'scheduled'",
        )
        .unwrap();
    assert_eq!(e.value(), Some(&json!("scheduled")));
    let evs = events(&vm, &e);
    let line = evs
        .iter()
        .find(|ev| ev.event_type.as_str() == "console")
        .unwrap();
    let text = line.payload["text"].as_str().unwrap();
    let log: Vec<&str> = text.split(',').collect();
    let at = |name: &str| log.iter().position(|x| *x == name).unwrap_or(usize::MAX);
    // Jobs before any timer; timers in the order of their deadlines (i1 at 5 ms, t10, t30);
    // the interval's ticks in order; a cleared timer never.
    assert_eq!(&log[..3], ["micro", "then", "i1"], "{text}");
    assert_eq!(log.len(), 7, "{text}");
    assert!(at("i1") < at("t10") && at("t10") < at("t30"), "{text}");
    assert!(at("i1") < at("i2") && at("i2") < at("i3"), "{text}");
    assert!(!text.contains("never"), "{text}");
}

#[test]
fn unhandled_rejections_and_timer_exceptions_end_the_execution() {
    let (vm, id, _t) = session();
    let e = vm
        .repl(&id, "Promise.reject(new RangeError('lost')); 'returned'")
        .unwrap();
    assert_eq!(e.status, ExecutionStatus::Error);
    assert_eq!(e.error.as_deref(), Some("RangeError: lost"));
    let evs = events(&vm, &e);
    assert_eq!(types(&evs), ["input_echo", "exception"]);
    let e = vm
        .repl(
            &id,
            "const p = Promise.reject(new Error('handled later')); p.catch(() => {}); 'fine'",
        )
        .unwrap();
    assert_eq!(e.status, ExecutionStatus::Ok, "{:?}", e.error);
    let e = vm
        .repl(
            &id,
            "setTimeout(() => { throw new Error('in timer') }, 1); 1",
        )
        .unwrap();
    assert_eq!(e.status, ExecutionStatus::Error);
    assert_eq!(e.error.as_deref(), Some("Error: in timer"));
    assert_eq!(vm.repl(&id, "2").unwrap().value(), Some(&json!(2)));
}

fn esm_session(
    resolver: serde_json::Value,
    files: &[(&str, &str)],
) -> (VmSystem, String, Worktree) {
    session_with(
        json!({"runtime": {"esm": true}, "resolver": resolver}),
        files,
    )
}

#[test]
fn run_file_in_esm_mode_returns_the_default_export() {
    let (vm, id, _t) = esm_session(
        json!({"roots": ["lib"]}),
        &[
            ("main.js", "import { add } from './util/math.js';\nimport shout from 'strings';\nimport cfg from './cfg';\nconsole.log(shout('hi'));\nexport default add(cfg.base, __ARGS__.n);\n"),
            ("util/math.js", "export const add = (a, b) => a + b;"),
            ("lib/strings.mjs", "export default (s) => s.toUpperCase() + '!';"),
            ("cfg.js", "export default { base: 40 };"),
        ],
    );
    let e = vm
        .run_file(&id, "main.js", &json!({"n": 2}), &json!({}))
        .unwrap();
    assert_eq!(e.value(), Some(&json!(42)), "{:?}", e.error);
    assert_eq!(events(&vm, &e)[1].payload["text"], "HI!");
    // A module is evaluated once per session, the entry included: running the same file
    // again gives the same instance's default export and runs nothing.
    let again = vm
        .run_file(&id, "main.js", &json!({"n": 3}), &json!({}))
        .unwrap();
    assert_eq!(again.value(), Some(&json!(42)));
    assert_eq!(events(&vm, &again).len(), 2, "input echo and value only");
    let tla = vm.run_file(&id, "cfg.js", &json!({}), &json!({})).unwrap();
    assert_eq!(tla.value(), Some(&json!({"base": 40})));
}

#[test]
fn imports_cannot_leave_the_worktree() {
    let outside = Worktree::new(&[("evil.js", "export default 'escaped'")]);
    let (vm, id, tree) = esm_session(
        json!({}),
        &[
            ("up.js", "import x from '../evil.js'; export default x;"),
            (
                "abs.js",
                &format!(
                    "import x from '{}/evil.js'; export default x;",
                    outside.str()
                ),
            ),
            ("bare.js", "import x from 'evil'; export default x;"),
        ],
    );
    std::os::unix::fs::symlink(outside.path.join("evil.js"), tree.path.join("linked.js")).unwrap();
    tree.write(
        "via-link.js",
        "import x from './linked.js'; export default x;",
    );
    for file in ["up.js", "abs.js", "bare.js", "via-link.js"] {
        let e = vm.run_file(&id, file, &json!({}), &json!({})).unwrap();
        assert_eq!(e.status, ExecutionStatus::Error, "{file}");
        let evs = events(&vm, &e);
        let exc = &evs.last().unwrap().payload;
        assert!(
            !exc["message"].as_str().unwrap().is_empty(),
            "{file}: {exc}"
        );
    }
}

#[test]
fn absolute_imports_only_inside_the_worktree_when_allowed() {
    let (vm, id, tree) = esm_session(
        json!({"allow_absolute_repo_imports": true}),
        &[("dep.js", "export default 5;")],
    );
    tree.write(
        "abs.js",
        &format!(
            "import d from '{}/dep.js'; export default d * 2;",
            tree.str()
        ),
    );
    let e = vm.run_file(&id, "abs.js", &json!({}), &json!({})).unwrap();
    assert_eq!(e.value(), Some(&json!(10)), "{:?}", e.error);
}

#[test]
fn dynamic_import_from_the_repl_resolves_from_the_worktree_root() {
    let (vm, id, _t) = esm_session(
        json!({}),
        &[(
            "tools/sum.js",
            "export const sum = (...xs) => xs.reduce((a, b) => a + b, 0);",
        )],
    );
    let e = vm
        .repl(
            &id,
            "const { sum } = await import('./tools/sum.js'); sum(1, 2, 3)",
        )
        .unwrap();
    assert_eq!(e.value(), Some(&json!(6)), "{:?}", e.error);
    let e = vm.repl(&id, "import('../x.js')").unwrap();
    assert_eq!(e.status, ExecutionStatus::Error);
}

#[test]
fn module_startup_files() {
    let vm = common::open();
    let t = vm.create_template("t", "quickjs").unwrap();
    vm.update_settings(&t.id, &json!({"runtime": {"esm": true}}))
        .unwrap();
    vm.add_startup_file(&t.id, "boot.mjs", 0, "module").unwrap();
    let tree = Worktree::new(&[
        (
            "boot.mjs",
            "import { v } from './v.js'; globalThis.booted = v;",
        ),
        ("v.js", "export const v = 'yes';"),
    ]);
    let s = vm.create_session(&t.id, "ws", "c", tree.str()).unwrap();
    assert_eq!(
        vm.repl(&s.id, "booted").unwrap().value(),
        Some(&json!("yes"))
    );
}

#[test]
fn strict_mode_applies_to_scripts() {
    let (vm, id, _t) = session_with(json!({"runtime": {"strict": true}}), &[]);
    let e = vm.repl(&id, "undeclared = 1").unwrap();
    assert_eq!(e.status, ExecutionStatus::Error);
    assert!(e.error.unwrap().contains("ReferenceError"));
    let (vm, id, _t) = session();
    assert_eq!(
        vm.repl(&id, "undeclared = 1").unwrap().status,
        ExecutionStatus::Ok
    );
}

#[test]
fn console_can_be_switched_off() {
    let (vm, id, _t) = session_with(json!({"runtime": {"console": false}}), &[]);
    let e = vm.repl(&id, "console.log('silent'); 1").unwrap();
    assert_eq!(types(&events(&vm, &e)), ["input_echo", "value"]);
}

#[test]
fn native_modules_import_in_esm_mode() {
    let vm = common::open();
    let t = vm.create_template("t", "quickjs").unwrap();
    vm.update_settings(&t.id, &json!({"runtime": {"esm": true}}))
        .unwrap();
    vm.add_module(&t.id, "database").unwrap();
    let tree = Worktree::new(&[
        ("main.js", "import db, { query } from 'database';\ndb.configure('sqlite3', ':memory:');\nexport default query('SELECT 1 + 1 AS two')[0].two;\n"),
        ("fs.js", "import fs from 'fs'; export default 1;"),
    ]);
    let s = vm.create_session(&t.id, "ws", "c", tree.str()).unwrap();
    let e = vm
        .run_file(&s.id, "main.js", &json!({}), &json!({}))
        .unwrap();
    assert_eq!(e.value(), Some(&json!(2)), "{:?}", e.error);
    let e = vm.run_file(&s.id, "fs.js", &json!({}), &json!({})).unwrap();
    assert_eq!(e.status, ExecutionStatus::Error);
    assert!(e.error.unwrap().contains("add_module"));
}
