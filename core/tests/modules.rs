//! Native modules (`require`, `database`, `fs`, `exec`) through the public API.

mod common;

use std::time::{Duration, Instant};

use common::Worktree;
use serde_json::{json, Value};
use vm_system::{ErrorCode, EventType, Execution, ExecutionStatus, VmSystem};

/// A system with one template enabling `modules` (settings patch applied) and a ready
/// session on a worktree holding `files`.
fn session(
    modules: &[&str],
    settings: Value,
    files: &[(&str, &str)],
) -> (VmSystem, String, Worktree) {
    let vm = common::open();
    let t = vm.create_template("modules", "quickjs").unwrap();
    vm.update_settings(&t.id, &settings).unwrap();
    for m in modules {
        vm.add_module(&t.id, m).unwrap();
    }
    let tree = Worktree::new(files);
    let s = vm.create_session(&t.id, "ws", "abc", tree.str()).unwrap();
    (vm, s.id, tree)
}

/// Runs `code`; it must end `ok`. Returns its JSON value (null when not representable).
fn ok(vm: &VmSystem, sid: &str, code: &str) -> Value {
    let exec = vm.repl(sid, code).unwrap();
    assert_eq!(exec.status, ExecutionStatus::Ok, "{code}: {:?}", exec.error);
    exec.value().cloned().unwrap_or(Value::Null)
}

/// Runs `code`; it must throw. Returns the exception message (`Name: message`).
fn throws(vm: &VmSystem, sid: &str, code: &str) -> String {
    let exec = vm.repl(sid, code).unwrap();
    assert_eq!(
        exec.status,
        ExecutionStatus::Error,
        "{code} should throw: {:?}",
        exec.result
    );
    exec.error.unwrap()
}

/// Runs `code` that catches an error and returns `{message, code, ...}`.
fn caught(vm: &VmSystem, sid: &str, code: &str, props: &str) -> Value {
    ok(
        vm,
        sid,
        &format!("(() => {{ try {{ {code}; return 'no error'; }} catch (e) {{ return {{ message: e.message, {props} }}; }} }})()"),
    )
}

fn system_messages(vm: &VmSystem, exec: &Execution) -> Vec<String> {
    vm.events(&exec.id, 0)
        .unwrap()
        .into_iter()
        .filter(|e| e.event_type == EventType::System)
        .map(|e| e.payload["message"].as_str().unwrap().to_string())
        .collect()
}

// ---- require ----

#[test]
fn no_require_without_modules() {
    let (vm, sid, _t) = session(&[], json!({}), &[]);
    assert_eq!(ok(&vm, &sid, "typeof require"), json!("undefined"));
}

#[test]
fn require_returns_one_object_per_session() {
    let (vm, sid, _t) = session(&["database", "fs", "exec"], json!({}), &[]);
    assert_eq!(ok(&vm, &sid, "typeof require"), json!("function"));
    assert_eq!(
        ok(&vm, &sid, "Object.keys(require('database')).sort()"),
        json!(["close", "configure", "exec", "query"])
    );
    ok(
        &vm,
        &sid,
        "var first = require('database'); first.marker = 1",
    );
    assert_eq!(
        ok(
            &vm,
            &sid,
            "require('database') === first && require('database').marker"
        ),
        json!(1)
    );
    assert_eq!(
        ok(&vm, &sid, "Object.keys(require('exec'))"),
        json!(["run"])
    );
    let fs_functions = vm
        .available_modules()
        .into_iter()
        .find(|m| m.name == "fs")
        .unwrap()
        .functions;
    let mut sorted = fs_functions.clone();
    sorted.sort();
    assert_eq!(
        ok(&vm, &sid, "Object.keys(require('fs')).sort()"),
        json!(sorted)
    );
    // Overwriting the global does not lose the modules for the next `require`.
    assert_eq!(
        ok(
            &vm,
            &sid,
            "const r = require; globalThis.fsCopy = r('fs'); r('fs') === fsCopy"
        ),
        json!(true)
    );
}

#[test]
fn require_of_a_module_the_template_does_not_enable_says_how() {
    let (vm, sid, _t) = session(&["fs"], json!({}), &[]);
    let message = throws(&vm, &sid, "require('database')");
    assert!(message.contains("not enabled"), "{message}");
    assert!(
        message.contains("add_module(template_id, \"database\")"),
        "{message}"
    );
    assert_eq!(
        caught(&vm, &sid, "require('exec')", "code: e.code")["code"],
        json!("ERR_MODULE_NOT_ENABLED")
    );
}

#[test]
fn require_of_anything_else_is_cannot_find_module() {
    let (vm, sid, _t) = session(&["fs"], json!({}), &[]);
    for name in ["left-pad", "json", "Math", "./fs"] {
        let e = caught(&vm, &sid, &format!("require({name:?})"), "code: e.code");
        assert_eq!(e["message"], json!(format!("Cannot find module '{name}'")));
        assert_eq!(e["code"], json!("MODULE_NOT_FOUND"));
    }
    assert!(throws(&vm, &sid, "require(42)").starts_with("TypeError"));
}

#[test]
fn built_ins_and_unknown_names_are_not_modules() {
    let vm = common::open();
    let t = vm.create_template("t", "quickjs").unwrap();
    for name in ["JSON", "Math", "console", "date", "PROMISE", "left-pad", ""] {
        let e = vm.add_module(&t.id, name).unwrap_err();
        assert_eq!(e.code(), ErrorCode::ModuleNotAllowed, "{name}");
    }
    assert!(vm
        .add_module(&t.id, "Math")
        .unwrap_err()
        .to_string()
        .contains("built-in"));
    assert!(vm
        .add_module(&t.id, "left-pad")
        .unwrap_err()
        .to_string()
        .contains("database, exec, fs"));
    vm.add_module(&t.id, "exec").unwrap();
    vm.add_module(&t.id, "database").unwrap();
    assert_eq!(vm.list_modules(&t.id).unwrap(), vec!["database", "exec"]);
    vm.remove_module(&t.id, "exec").unwrap();
    assert_eq!(vm.list_modules(&t.id).unwrap(), vec!["database"]);
    let names: Vec<String> = vm.available_modules().into_iter().map(|m| m.name).collect();
    assert_eq!(names, vec!["database", "exec", "fs"]);
}

// ---- database ----

#[test]
fn database_configure_exec_query_close() {
    let (vm, sid, _t) = session(&["database"], json!({}), &[]);
    ok(
        &vm,
        &sid,
        "var db = require('database'); db.configure('sqlite3', ':memory:')",
    );
    let created = ok(
        &vm,
        &sid,
        "db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, score REAL, ok INTEGER, note TEXT); CREATE TABLE u (x)')",
    );
    assert_eq!(
        created,
        json!({"success": true, "rowsAffected": 0, "lastInsertId": 0})
    );
    let inserted = ok(&vm, &sid, "db.exec('INSERT INTO t (name, score, ok, note) VALUES (?, ?, ?, ?)', 'ann', 1.5, true, null)");
    assert_eq!(
        inserted,
        json!({"success": true, "rowsAffected": 1, "lastInsertId": 1})
    );
    let inserted = ok(
        &vm,
        &sid,
        "db.exec('INSERT INTO t (name, score, ok) VALUES (?, ?, ?)', ['bob', 2, false])",
    );
    assert_eq!(inserted["lastInsertId"], json!(2));
    assert_eq!(
        ok(
            &vm,
            &sid,
            "db.query('SELECT id, name, score, ok, note FROM t ORDER BY id')"
        ),
        json!([
            {"id": 1, "name": "ann", "score": 1.5, "ok": 1, "note": null},
            {"id": 2, "name": "bob", "score": 2, "ok": 0, "note": null},
        ])
    );
    assert_eq!(
        ok(
            &vm,
            &sid,
            "db.query('SELECT name FROM t WHERE score > ?', 1.7)"
        ),
        json!([{"name": "bob"}])
    );
    assert_eq!(
        ok(
            &vm,
            &sid,
            "db.query('SELECT name FROM t WHERE id IN (?, ?)', [1, 2]).length"
        ),
        json!(2)
    );
    assert_eq!(
        ok(&vm, &sid, "db.exec('UPDATE t SET ok = 1').rowsAffected"),
        json!(2)
    );
    assert_eq!(
        ok(
            &vm,
            &sid,
            "db.query('SELECT typeof(?) AS a, typeof(?) AS b, ? AS c', 3, 3.25, 12n)"
        ),
        json!([{"a": "integer", "b": "real", "c": 12}])
    );
    assert_eq!(
        ok(&vm, &sid, "const r = db.query('SELECT ? AS b, 9007199254740993 AS big', new Uint8Array([1, 2]))[0]; [r.b instanceof Uint8Array, Array.from(r.b), typeof r.big]"),
        json!([true, [1, 2], "bigint"])
    );
    assert_eq!(ok(&vm, &sid, "db.close()"), Value::Null);
    let message = throws(&vm, &sid, "db.query('SELECT 1')");
    assert!(message.contains("no database is configured"), "{message}");
    assert!(throws(&vm, &sid, "db.query('SELECT ?', {a: 1})").starts_with("TypeError"));
}

#[test]
fn database_query_before_configure_throws_clearly() {
    let (vm, sid, _t) = session(&["database"], json!({}), &[]);
    let message = throws(&vm, &sid, "require('database').query('SELECT 1')");
    assert!(
        message.contains("no database is configured; call configure('sqlite3'"),
        "{message}"
    );
    assert!(throws(&vm, &sid, "require('database').exec('SELECT 1')").contains("configure"));
}

#[test]
fn database_parameters_are_bound_never_spliced() {
    let (vm, sid, _t) = session(&["database"], json!({}), &[]);
    ok(&vm, &sid, "var db = require('database'); db.configure('sqlite3', ':memory:'); db.exec('CREATE TABLE users (name TEXT)')");
    let evil = "x'); DROP TABLE users; --";
    ok(
        &vm,
        &sid,
        &format!("db.exec('INSERT INTO users (name) VALUES (?)', {evil:?})"),
    );
    assert_eq!(
        ok(&vm, &sid, "db.query('SELECT name FROM users')"),
        json!([{"name": evil}])
    );
    assert_eq!(
        ok(
            &vm,
            &sid,
            "db.query('SELECT count(*) AS n FROM users WHERE name = ?', \"' OR 1=1 --\")"
        ),
        json!([{"n": 0}])
    );
}

#[test]
fn database_sqlite_errors_become_exceptions_with_sqlites_message() {
    let (vm, sid, _t) = session(&["database"], json!({}), &[]);
    ok(&vm, &sid, "var db = require('database'); db.configure('sqlite3', ':memory:'); db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY)')");
    let e = caught(
        &vm,
        &sid,
        "db.query('SELECT * FROM missing')",
        "code: e.code",
    );
    assert_eq!(
        e,
        json!({"message": "no such table: missing", "code": "SQLITE_ERROR"})
    );
    ok(&vm, &sid, "db.exec('INSERT INTO t VALUES (1)')");
    let e = caught(
        &vm,
        &sid,
        "db.exec('INSERT INTO t VALUES (?)', 1)",
        "code: e.code",
    );
    assert_eq!(e["code"], json!("SQLITE_CONSTRAINT"));
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("UNIQUE constraint failed: t.id"),
        "{e}"
    );
    assert_eq!(
        throws(&vm, &sid, "db.exec('SELEC 1')"),
        "Error: near \"SELEC\": syntax error"
    );
    // The session stays usable.
    assert_eq!(
        ok(&vm, &sid, "db.query('SELECT count(*) AS n FROM t')[0].n"),
        json!(1)
    );
}

#[test]
fn database_files_live_in_the_worktree() {
    let (vm, sid, tree) = session(&["database"], json!({}), &[("data/.keep", "")]);
    ok(&vm, &sid, "var db = require('database'); db.configure('sqlite3', 'data/app.db'); db.exec('CREATE TABLE t (x)')");
    assert!(tree.path.join("data/app.db").is_file());
    let message = throws(&vm, &sid, "db.configure('sqlite3', 'nowhere/app.db')");
    assert!(
        message.contains("directory 'nowhere' does not exist"),
        "{message}"
    );
    // The failed configure left the previous database open.
    assert_eq!(
        ok(&vm, &sid, "db.query('SELECT count(*) AS n FROM t')"),
        json!([{"n": 0}])
    );
}

#[test]
fn database_refuses_paths_outside_the_worktree_and_other_drivers() {
    let outside = tempfile::tempdir().unwrap();
    let (vm, sid, tree) = session(&["database"], json!({}), &[]);
    std::os::unix::fs::symlink(outside.path(), tree.path.join("out")).unwrap();
    let escape = outside.path().join("x.db");
    ok(&vm, &sid, "var db = require('database')");
    for dsn in [
        escape.to_str().unwrap(),
        "../x.db",
        "a/../../x.db",
        "out/x.db",
    ] {
        let e = caught(
            &vm,
            &sid,
            &format!("db.configure('sqlite3', {dsn:?})"),
            "code: e.code",
        );
        assert_eq!(e["code"], json!("INVALID_PATH"), "{dsn}: {e}");
        assert!(e["message"].as_str().unwrap().contains("worktree"), "{e}");
    }
    assert!(
        std::fs::read_dir(outside.path()).unwrap().next().is_none(),
        "nothing created outside"
    );
    let message = throws(&vm, &sid, "db.configure('postgres', 'host=localhost')");
    assert!(
        message.contains("driver 'postgres' is not supported; use 'sqlite3'"),
        "{message}"
    );
    let message = throws(
        &vm,
        &sid,
        "db.configure('sqlite3', 'file:x.db?mode=memory')",
    );
    assert!(message.contains("is not supported"), "{message}");
    assert!(throws(&vm, &sid, "db.configure('sqlite3', '')").contains("empty"));
    assert!(throws(&vm, &sid, "db.configure('sqlite3')").starts_with("TypeError"));
    // SQL cannot reach other files either.
    ok(&vm, &sid, "db.configure('sqlite3', ':memory:')");
    let attach = format!(
        "db.exec(\"ATTACH DATABASE '{}' AS other\")",
        escape.display()
    );
    // Refused by the authorizer (and the attached-database limit of 0 behind it).
    assert!(throws(&vm, &sid, &attach).contains("not authorized"));
    let vacuum = format!("db.exec(\"VACUUM INTO '{}'\")", escape.display());
    throws(&vm, &sid, &vacuum);
    assert!(!escape.exists());
}

#[test]
fn database_statement_is_stopped_by_the_time_limit() {
    let (vm, sid, _t) = session(&["database"], json!({"limits": {"wall_ms": 300}}), &[]);
    let started = Instant::now();
    let exec = vm
        .repl(
            &sid,
            "var db = require('database'); db.configure('sqlite3', ':memory:');\
             db.query('WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c')",
        )
        .unwrap();
    assert_eq!(exec.status, ExecutionStatus::Timeout);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        ok(&vm, &sid, "db.query('SELECT 1 AS one')"),
        json!([{"one": 1}])
    );
}

// ---- fs ----

#[test]
fn fs_functions() {
    let (vm, sid, tree) = session(
        &["fs"],
        json!({}),
        &[("notes/b.txt", "bee"), ("notes/a.txt", "ay")],
    );
    ok(&vm, &sid, "var fs = require('fs')");
    assert_eq!(
        ok(&vm, &sid, "fs.readFileSync('notes/a.txt', 'utf8')"),
        json!("ay")
    );
    assert_eq!(ok(&vm, &sid, "fs.readFileSync('notes/a.txt')"), json!("ay"));
    assert_eq!(
        ok(
            &vm,
            &sid,
            "fs.readFileSync('./notes/a.txt', {encoding: 'hex'})"
        ),
        json!("6179")
    );
    assert_eq!(
        ok(&vm, &sid, "fs.readFileSync('notes/b.txt', 'base64')"),
        json!("YmVl")
    );
    assert_eq!(
        ok(&vm, &sid, "fs.writeFileSync('out.txt', 'héllo')"),
        Value::Null
    );
    assert_eq!(
        std::fs::read_to_string(tree.path.join("out.txt")).unwrap(),
        "héllo"
    );
    ok(
        &vm,
        &sid,
        "fs.appendFileSync('out.txt', '\\nworld'); fs.appendFileSync('new.txt', 'n')",
    );
    assert_eq!(
        ok(&vm, &sid, "fs.readFileSync('out.txt', 'utf-8')"),
        json!("héllo\nworld")
    );
    ok(
        &vm,
        &sid,
        "fs.writeFileSync('bytes.bin', new Uint8Array([0, 255]))",
    );
    assert_eq!(
        std::fs::read(tree.path.join("bytes.bin")).unwrap(),
        vec![0, 255]
    );
    assert_eq!(
        ok(
            &vm,
            &sid,
            "[fs.existsSync('out.txt'), fs.existsSync('nope'), fs.existsSync('.')]"
        ),
        json!([true, false, true])
    );
    assert_eq!(
        ok(&vm, &sid, "fs.readdirSync('notes')"),
        json!(["a.txt", "b.txt"])
    );
    assert_eq!(
        ok(&vm, &sid, "fs.readdirSync('.')"),
        json!(["bytes.bin", "new.txt", "notes", "out.txt"])
    );
    ok(&vm, &sid, "fs.mkdirSync('x/y/z', {recursive: true}); fs.mkdirSync('x/y/z', {recursive: true}); fs.mkdirSync('w')");
    assert!(tree.path.join("x/y/z").is_dir() && tree.path.join("w").is_dir());
    let stat = ok(&vm, &sid, "const s = fs.statSync('notes/b.txt'); [s.size, s.isFile(), s.isDirectory(), s.mtimeMs > 1.6e12]");
    assert_eq!(stat, json!([3, true, false, true]));
    assert_eq!(ok(&vm, &sid, "fs.statSync('x').isDirectory()"), json!(true));
    ok(&vm, &sid, "fs.unlinkSync('new.txt')");
    assert!(!tree.path.join("new.txt").exists());
}

#[test]
fn fs_errors_are_node_like() {
    let (vm, sid, _t) = session(&["fs"], json!({}), &[("f.txt", "x")]);
    ok(&vm, &sid, "var fs = require('fs')");
    let props = "code: e.code, syscall: e.syscall, path: e.path";
    assert_eq!(
        caught(&vm, &sid, "fs.readFileSync('missing.txt', 'utf8')", props),
        json!({"message": "ENOENT: no such file or directory, open 'missing.txt'", "code": "ENOENT", "syscall": "open", "path": "missing.txt"})
    );
    assert_eq!(
        caught(&vm, &sid, "fs.mkdirSync('f.txt')", props)["code"],
        json!("EEXIST")
    );
    assert_eq!(
        caught(&vm, &sid, "fs.readdirSync('f.txt')", props)["code"],
        json!("ENOTDIR")
    );
    assert_eq!(
        caught(&vm, &sid, "fs.unlinkSync('nope')", props)["message"],
        json!("ENOENT: no such file or directory, unlink 'nope'")
    );
    assert_eq!(
        caught(&vm, &sid, "fs.statSync('nope')", props)["code"],
        json!("ENOENT")
    );
    assert_eq!(
        caught(&vm, &sid, "fs.writeFileSync('no/dir.txt', 'x')", props)["code"],
        json!("ENOENT")
    );
    assert!(throws(&vm, &sid, "fs.writeFileSync('a.txt', 42)").starts_with("TypeError"));
    assert!(throws(&vm, &sid, "fs.readFileSync('f.txt', 'utf16le')").contains("unknown encoding"));
}

#[test]
fn fs_refuses_paths_outside_the_worktree() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), "secret").unwrap();
    let (vm, sid, tree) = session(&["fs"], json!({}), &[]);
    std::os::unix::fs::symlink(outside.path(), tree.path.join("link")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret.txt"), tree.path.join("s.txt")).unwrap();
    ok(&vm, &sid, "var fs = require('fs')");
    let absolute = outside.path().join("secret.txt");
    let attempts = [
        format!("fs.readFileSync({:?}, 'utf8')", absolute.to_str().unwrap()),
        "fs.readFileSync('../secret.txt', 'utf8')".to_string(),
        "fs.readFileSync('link/secret.txt', 'utf8')".to_string(),
        "fs.readFileSync('s.txt', 'utf8')".to_string(),
        "fs.writeFileSync('link/new.txt', 'x')".to_string(),
        "fs.writeFileSync('s.txt', 'overwritten')".to_string(),
        "fs.appendFileSync('link/secret.txt', 'x')".to_string(),
        "fs.readdirSync('link')".to_string(),
        "fs.readdirSync('..')".to_string(),
        "fs.mkdirSync('link/d', {recursive: true})".to_string(),
        "fs.unlinkSync('link/secret.txt')".to_string(),
        "fs.statSync('/etc/passwd')".to_string(),
        "fs.existsSync('/etc/passwd')".to_string(),
    ];
    for attempt in &attempts {
        let e = caught(&vm, &sid, attempt, "code: e.code");
        assert_eq!(e["code"], json!("INVALID_PATH"), "{attempt}: {e}");
        let message = e["message"].as_str().unwrap();
        assert!(
            message.contains("confined to the session's worktree"),
            "{message}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(outside.path().join("secret.txt")).unwrap(),
        "secret"
    );
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 1);
    // A link that stays inside is followed; unlinking it removes the link, not its target.
    std::fs::write(tree.path.join("real.txt"), "real").unwrap();
    std::os::unix::fs::symlink(tree.path.join("real.txt"), tree.path.join("alias.txt")).unwrap();
    assert_eq!(
        ok(&vm, &sid, "fs.readFileSync('alias.txt', 'utf8')"),
        json!("real")
    );
    ok(&vm, &sid, "fs.unlinkSync('alias.txt')");
    assert!(tree.path.join("real.txt").exists() && !tree.path.join("alias.txt").exists());
}

#[test]
fn host_calls_are_counted_in_metrics() {
    let (vm, sid, _t) = session(&["fs", "database"], json!({}), &[("a.txt", "a")]);
    let exec = vm
        .repl(&sid, "const fs = require('fs'); fs.existsSync('a.txt'); fs.readFileSync('a.txt'); require('database').configure('sqlite3', ':memory:'); 1")
        .unwrap();
    assert_eq!(exec.metrics.host_calls, 3);
    let stored = vm.get_execution(&exec.id).unwrap();
    assert_eq!(stored.metrics.host_calls, 3);
    assert_eq!(vm.repl(&sid, "1").unwrap().metrics.host_calls, 0);
}

// ---- exec ----

#[test]
fn exec_runs_programs_in_the_worktree() {
    let (vm, sid, tree) = session(&["exec"], json!({}), &[("hello.txt", "hi there\n")]);
    ok(&vm, &sid, "var exec = require('exec')");
    assert_eq!(
        ok(&vm, &sid, "exec.run('echo', ['hello', 'world'])"),
        json!("hello world\n")
    );
    assert_eq!(
        ok(&vm, &sid, "exec.run('cat', ['hello.txt'])"),
        json!("hi there\n")
    );
    assert_eq!(
        ok(&vm, &sid, "exec.run('pwd')"),
        json!(format!("{}\n", tree.str()))
    );
    assert_eq!(
        ok(
            &vm,
            &sid,
            "exec.run('sh', ['-c', 'echo out; echo err >&2; echo out2'])"
        ),
        json!("out\nerr\nout2\n")
    );
    // No shell: metacharacters are plain arguments.
    assert_eq!(
        ok(
            &vm,
            &sid,
            "exec.run('echo', ['$HOME', '; rm -rf /', '`id`'])"
        ),
        json!("$HOME ; rm -rf / `id`\n")
    );
}

#[test]
fn exec_environment_is_minimal_plus_the_runs_env() {
    let script = "require('exec').run('sh', ['-c', 'echo \"$PATH|$HOME|$LANG|$GREETING|$USER\"'])";
    let (vm, sid, tree) = session(&["exec"], json!({}), &[("env.js", script)]);
    let exec = vm
        .run_file(&sid, "env.js", &json!({}), &json!({"GREETING": "hi"}))
        .unwrap();
    assert_eq!(exec.status, ExecutionStatus::Ok, "{:?}", exec.error);
    assert_eq!(
        exec.value().unwrap(),
        &json!(format!(
            "/usr/local/bin:/usr/bin:/bin|{}|C.UTF-8|hi|\n",
            tree.str()
        ))
    );
}

#[test]
fn exec_failures_throw_with_exit_code_and_output() {
    let (vm, sid, _t) = session(&["exec"], json!({}), &[]);
    ok(&vm, &sid, "var exec = require('exec')");
    let e = caught(
        &vm,
        &sid,
        "exec.run('sh', ['-c', 'echo partial; echo broken >&2; exit 3'])",
        "exitCode: e.exitCode, output: e.output",
    );
    assert_eq!(e["exitCode"], json!(3));
    assert_eq!(e["output"], json!("partial\nbroken\n"));
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("exited with code 3"),
        "{e}"
    );
    let exec = vm.repl(&sid, "exec.run('false')").unwrap();
    assert_eq!(exec.status, ExecutionStatus::Error);
    assert!(exec
        .error
        .as_deref()
        .unwrap()
        .contains("exited with code 1"));
    let e = caught(&vm, &sid, "exec.run('no-such-program-xyz')", "code: e.code");
    assert_eq!(e["code"], json!("ENOENT"));
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("cannot run no-such-program-xyz"),
        "{e}"
    );
    assert!(throws(&vm, &sid, "exec.run('echo', 'not an array')").starts_with("TypeError"));
}

#[test]
fn exec_calls_are_recorded_as_system_events() {
    let (vm, sid, _t) = session(&["exec"], json!({}), &[]);
    let exec = vm
        .repl(&sid, "const x = require('exec'); x.run('true'); try { x.run('sh', ['-c', 'exit 4']) } catch (e) {} x.run('echo', ['a'])")
        .unwrap();
    assert_eq!(exec.status, ExecutionStatus::Ok);
    assert_eq!(
        system_messages(&vm, &exec),
        vec![
            "exec.run: true exited with code 0",
            "exec.run: sh [\"-c\",\"exit 4\"] exited with code 4",
            "exec.run: echo [\"a\"] exited with code 0",
        ]
    );
    assert_eq!(exec.metrics.host_calls, 3);
}

#[test]
fn exec_is_killed_when_the_execution_times_out() {
    let (vm, sid, _t) = session(&["exec"], json!({"limits": {"wall_ms": 300}}), &[]);
    let started = Instant::now();
    let exec = vm
        .repl(&sid, "require('exec').run('sleep', ['10'])")
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(exec.status, ExecutionStatus::Timeout);
    let messages = system_messages(&vm, &exec);
    assert!(
        messages
            .iter()
            .any(|m| m.contains("sleep [\"10\"] was killed")),
        "{messages:?}"
    );
    assert!(
        messages.iter().any(|m| m.contains("wall_ms")),
        "{messages:?}"
    );
    // A child that keeps the output open through a grandchild is killed too.
    let started = Instant::now();
    let exec = vm
        .repl(
            &sid,
            "require('exec').run('sh', ['-c', 'sleep 10 & sleep 10'])",
        )
        .unwrap();
    assert_eq!(exec.status, ExecutionStatus::Timeout);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        ok(&vm, &sid, "require('exec').run('echo', ['still usable'])"),
        json!("still usable\n")
    );
}

#[test]
fn exec_is_killed_when_the_execution_is_cancelled() {
    let (vm, sid, _t) = session(&["exec"], json!({}), &[]);
    let canceller = {
        let vm = vm.clone();
        let sid = sid.clone();
        std::thread::spawn(move || loop {
            if let Some(id) = vm.running_execution(&sid) {
                std::thread::sleep(Duration::from_millis(100));
                vm.cancel_execution(&id).unwrap();
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        })
    };
    let started = Instant::now();
    let exec = vm
        .repl(&sid, "require('exec').run('sleep', ['10'])")
        .unwrap();
    canceller.join().unwrap();
    assert_eq!(exec.status, ExecutionStatus::Cancelled);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

// ---- the ETL example of the reference documentation ----

const SETUP_DB: &str = include_str!("fixtures/etl/runtime/setup-db.js");
const NORMALIZE: &str = include_str!("fixtures/etl/transforms/normalize.js");
const EXPORT: &str = include_str!("fixtures/etl/transforms/export.js");

#[test]
fn etl_example_of_the_reference() {
    let vm = common::open();
    // 1. Define the runtime.
    let t = vm.create_template("etl-runner", "quickjs").unwrap();
    vm.add_module(&t.id, "database").unwrap();
    vm.add_startup_file(&t.id, "runtime/setup-db.js", 10, "eval")
        .unwrap();
    // 2. A session bound to the workspace.
    let tree = Worktree::new(&[
        ("runtime/setup-db.js", SETUP_DB),
        ("transforms/normalize.js", NORMALIZE),
        ("transforms/export.js", EXPORT),
    ]);
    let s = vm
        .create_session(&t.id, "etl-ws", "abc123", tree.str())
        .unwrap();
    assert_eq!(s.status.as_str(), "ready");
    // 3. Each execution builds on the state left by the previous one.
    assert_eq!(
        ok(&vm, &s.id, "db.query(\"SELECT count(*) FROM users\")"),
        json!([{"count(*)": 0}])
    );
    let normalize = vm
        .run_file(&s.id, "transforms/normalize.js", &json!({}), &json!({}))
        .unwrap();
    assert_eq!(
        normalize.status,
        ExecutionStatus::Ok,
        "{:?}",
        normalize.error
    );
    assert_eq!(
        normalize.value().unwrap(),
        &json!({"inserted": 3, "skipped": 2})
    );
    let export = vm
        .run_file(&s.id, "transforms/export.js", &json!({}), &json!({}))
        .unwrap();
    assert_eq!(export.status, ExecutionStatus::Ok, "{:?}", export.error);
    assert_eq!(
        export.value().unwrap(),
        &json!({"total": 3, "countries": [{"country": "GB", "users": 2}, {"country": "US", "users": 1}]})
    );
    assert_eq!(
        ok(&vm, &s.id, "db.query(\"SELECT count(*) AS n FROM users\")"),
        json!([{"n": 3}])
    );
    assert_eq!(
        ok(
            &vm,
            &s.id,
            "db.query('SELECT name, email FROM users ORDER BY id')[0]"
        ),
        json!({"name": "Ada Lovelace", "email": "ada@example.com"})
    );
    // 4. Look at what happened.
    let execs = vm.list_executions(&s.id, 50).unwrap();
    let kinds: Vec<&str> = execs.iter().rev().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        vec!["startup", "repl", "run_file", "run_file", "repl", "repl"]
    );
    let texts: Vec<String> = vm
        .events(&normalize.id, 0)
        .unwrap()
        .into_iter()
        .filter(|e| e.event_type == EventType::Console)
        .map(|e| e.payload["text"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        texts,
        vec![
            "skipping invalid e-mail: not-an-email",
            "normalized 5 raw rows: 3 inserted, 2 skipped",
        ]
    );
    assert!(normalize.metrics.host_calls >= 5);
    assert!(tree.path.join("etl.db").is_file());
    // 5. Done.
    assert_eq!(vm.close_session(&s.id).unwrap().status.as_str(), "closed");
}
