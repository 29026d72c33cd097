//! Hostile scripts (issue 13): the JavaScript is the attacker, the host is trusted.
//!
//! Each attack runs in a child process — this test binary run again on that one test
//! with `VMS_HOSTILE_CHILD` set — under a timeout, so an attack that crashes the host
//! (SIGBUS, SIGSEGV) or hangs it fails its test instead of taking the suite down.

mod common;

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::Worktree;
use serde_json::{json, Value};
use vm_system::{Execution, ExecutionStatus, VmSystem};

/// Runs `attack` in a child process (or, in the child, runs it) and fails unless the
/// child finishes cleanly within `limit`.
fn isolated(test: &str, limit: Duration, attack: impl FnOnce()) {
    if std::env::var_os("VMS_HOSTILE_CHILD").is_some() {
        attack();
        return;
    }
    // One attack at a time: several of them time the host against the limits, and
    // attacks running side by side would only measure each other.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let out = tempfile::NamedTempFile::new().unwrap();
    // One descriptor for both streams, so they share an offset and interleave.
    let log = out.reopen().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env("VMS_HOSTILE_CHILD", "1")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut output = String::new();
    out.reopen().unwrap().read_to_string(&mut output).unwrap();
    match status {
        None => panic!("{test}: the host hung for more than {limit:?}\n{output}"),
        Some(s) if s.success() => {}
        Some(s) => panic!(
            "{test}: the host process {}\n{output}",
            match s.signal() {
                Some(sig) => format!("was killed by signal {sig}"),
                None => format!("failed ({s})"),
            }
        ),
    }
}

/// A system with one template enabling `modules` (settings patch applied) and a ready
/// session on a fresh worktree.
fn session(modules: &[&str], settings: Value) -> (VmSystem, String, Worktree) {
    let vm = VmSystem::open_in_memory().unwrap();
    let tree = Worktree::new(&[]);
    let sid = session_on(&vm, modules, settings, &tree);
    (vm, sid, tree)
}

fn session_on(vm: &VmSystem, modules: &[&str], settings: Value, tree: &Worktree) -> String {
    let t = vm.create_template("hostile", "quickjs").unwrap();
    vm.update_settings(&t.id, &settings).unwrap();
    for m in modules {
        vm.add_module(&t.id, m).unwrap();
    }
    vm.create_session(&t.id, "ws", "abc", tree.str())
        .unwrap()
        .id
}

/// Runs `code`; it must end `ok`. Returns its JSON value.
fn ok(vm: &VmSystem, sid: &str, code: &str) -> Value {
    let exec = vm.repl(sid, code).unwrap();
    assert_eq!(exec.status, ExecutionStatus::Ok, "{code}: {:?}", exec.error);
    exec.value().cloned().unwrap_or(Value::Null)
}

/// Runs `code` that catches an error and returns `{message, code}` (or `'no error'`).
fn caught(vm: &VmSystem, sid: &str, code: &str) -> Value {
    ok(
        vm,
        sid,
        &format!("(() => {{ try {{ {code}; return 'no error'; }} catch (e) {{ return {{ message: e.message, code: e.code }}; }} }})()"),
    )
}

fn timed(vm: &VmSystem, sid: &str, code: &str) -> (Execution, Duration) {
    let started = Instant::now();
    let exec = vm.repl(sid, code).unwrap();
    (exec, started.elapsed())
}

/// Peak resident memory of this process, in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<u64>()
        .unwrap()
        * 1024
}

// ---- 1. SIGBUS through SQLite's memory maps ----

#[test]
fn truncating_a_database_file_under_sqlite_does_not_crash_the_host() {
    isolated(
        "truncating_a_database_file_under_sqlite_does_not_crash_the_host",
        Duration::from_secs(60),
        || {
            let (vm, sid, _t) = session(&["database", "fs"], json!({}));
            ok(
                &vm,
                &sid,
                "var db = require('database'), fs = require('fs')",
            );
            // A memory-mapped database file, emptied under SQLite.
            let mmap = caught(
                &vm,
                &sid,
                "db.configure('sqlite3', 'a.db'); db.exec('PRAGMA mmap_size=1000000')",
            );
            assert!(
                mmap["message"]
                    .as_str()
                    .unwrap_or("")
                    .contains("not authorized"),
                "{mmap}"
            );
            ok(
                &vm,
                &sid,
                "db.exec('CREATE TABLE t(x)'); for (let i = 0; i < 200; i++) db.exec('INSERT INTO t VALUES (randomblob(1000))'); db.query('SELECT count(*) AS n FROM t')[0].n",
            );
            ok(&vm, &sid, "fs.writeFileSync('a.db', '')");
            caught(&vm, &sid, "db.query('SELECT sum(length(x)) AS s FROM t')");
            caught(&vm, &sid, "db.exec('INSERT INTO t VALUES (1)')");
            // A WAL database whose -shm is emptied.
            ok(
                &vm,
                &sid,
                "db.configure('sqlite3', 'w.db'); db.query('PRAGMA journal_mode=WAL'); db.exec('CREATE TABLE t(x)'); db.exec('INSERT INTO t VALUES (1)'); 1",
            );
            ok(
                &vm,
                &sid,
                "fs.writeFileSync('w.db-shm', ''); fs.writeFileSync('w.db-wal', ''); 1",
            );
            caught(&vm, &sid, "db.query('SELECT count(*) AS n FROM t')");
            caught(&vm, &sid, "db.exec('INSERT INTO t VALUES (2)')");
            assert_eq!(ok(&vm, &sid, "'alive'"), json!("alive"));
        },
    );
}

// ---- 2. Process-wide PRAGMAs ----

#[test]
fn a_scripts_pragmas_stay_inside_its_connection() {
    isolated(
        "a_scripts_pragmas_stay_inside_its_connection",
        Duration::from_secs(60),
        || {
            let (vm, sid, _t) = session(&["database"], json!({}));
            ok(
                &vm,
                &sid,
                "var db = require('database'); db.configure('sqlite3', 'p.db')",
            );
            let outside = tempfile::tempdir().unwrap();
            for pragma in [
                "PRAGMA hard_heap_limit=200000".to_string(),
                "PRAGMA soft_heap_limit=200000".to_string(),
                format!("PRAGMA temp_store_directory='{}'", outside.path().display()),
                "PRAGMA mmap_size=1000000".to_string(),
                "PRAGMA locking_mode=NORMAL".to_string(),
                "PRAGMA writable_schema=ON".to_string(),
                "PRAGMA busy_timeout=100000".to_string(),
                "PRAGMA cache_size=-1000000".to_string(),
                "PRAGMA threads=8".to_string(),
            ] {
                let e = caught(&vm, &sid, &format!("db.exec({pragma:?})"));
                assert!(
                    e["message"]
                        .as_str()
                        .unwrap_or("")
                        .contains("not authorized"),
                    "{pragma}: {e}"
                );
            }
            for f in ["load_extension('x')", "fts3_tokenizer('simple')"] {
                let e = caught(&vm, &sid, &format!("db.query(\"SELECT {f}\")"));
                assert!(
                    e["message"]
                        .as_str()
                        .unwrap_or("")
                        .contains("not authorized"),
                    "{f}: {e}"
                );
            }
            // What a script needs of its own database still works.
            assert_eq!(
                ok(
                    &vm,
                    &sid,
                    "db.exec('CREATE TABLE t(a INTEGER PRIMARY KEY, b TEXT)'); db.exec('PRAGMA user_version=7'); db.exec('PRAGMA foreign_keys=ON');\
                     [db.query('PRAGMA user_version')[0].user_version, db.query('PRAGMA table_info(t)').length, db.query('PRAGMA journal_mode=WAL')[0].journal_mode, db.query('PRAGMA integrity_check')[0].integrity_check]"
                ),
                json!([7, 2, "wal", "ok"])
            );
            // Every other system of the process still stores executions and opens.
            let other = VmSystem::open_in_memory().unwrap();
            let (osid, _tree) = {
                let tree = Worktree::new(&[]);
                (session_on(&other, &[], json!({}), &tree), tree)
            };
            assert_eq!(
                ok(&other, &osid, "'x'.repeat(100000).length"),
                json!(100000)
            );
            let dir = tempfile::tempdir().unwrap();
            let file = VmSystem::open(dir.path().join("vm.db")).unwrap();
            file.create_template("t", "quickjs").unwrap();
        },
    );
}

// ---- 3. Stack budget 0 ----

#[test]
fn deep_recursion_on_a_small_host_thread_is_an_error_not_a_crash() {
    isolated(
        "deep_recursion_on_a_small_host_thread_is_an_error_not_a_crash",
        Duration::from_secs(60),
        || {
            let (vm, sid, _t) = session(&[], json!({}));
            ok(&vm, &sid, "function deep(n) { return deep(n + 1) + 1 }");
            for stack in [64 << 10, 128 << 10, 256 << 10] {
                let (vm, sid) = (vm.clone(), sid.clone());
                let outcome = std::thread::Builder::new()
                    .stack_size(stack)
                    .spawn(move || match vm.repl(&sid, "deep(0)") {
                        Ok(exec) => format!(
                            "{}: {}",
                            exec.status.as_str(),
                            exec.error.unwrap_or_default()
                        ),
                        Err(e) => format!("{}: {e}", e.code()),
                    })
                    .unwrap()
                    .join()
                    .unwrap();
                assert!(
                    outcome.contains("stack"),
                    "{stack} bytes of stack: {outcome}"
                );
            }
        },
    );
}

// ---- 4. Built-ins over huge array-likes ----

#[test]
fn builtins_over_huge_array_likes_honour_the_limits() {
    isolated(
        "builtins_over_huge_array_likes_honour_the_limits",
        Duration::from_secs(120),
        || {
            let (vm, sid, _t) = session(&[], json!({"limits": {"wall_ms": 300, "cpu_ms": 10000}}));
            for attack in [
                "Array.prototype.reverse.call({length: 2**53-1})",
                "Array.prototype.join.call({length: 2**53-1}, '')",
                "Array.prototype.copyWithin.call({length: 2**53-1}, 0, 1)",
                "Array.prototype.lastIndexOf.call({length: 2**53-1}, 1)",
                "Array.prototype.splice.call({length: 2**53-1}, 0, 1)",
                "Array.prototype.unshift.call({length: 2**53-2}, 1)",
                "Array.prototype.shift.call({length: 2**53-1})",
                "Array.prototype.concat.call([], {length: 2**53-2, [Symbol.isConcatSpreadable]: true})",
                "Array.prototype.slice.call({length: 2**53-1}, 0, 2**32-2)",
                "Array.prototype.toLocaleString.call({length: 2**53-1})",
            ] {
                let (exec, took) = timed(&vm, &sid, attack);
                assert_eq!(exec.status, ExecutionStatus::Timeout, "{attack}: {:?}", exec.error);
                assert!(took < Duration::from_millis(2000), "{attack} took {took:?}");
            }
            // cpu_ms too.
            let (vm2, sid2, _t2) =
                session(&[], json!({"limits": {"wall_ms": 60000, "cpu_ms": 300}}));
            let (exec, took) = timed(
                &vm2,
                &sid2,
                "Array.prototype.reverse.call({length: 2**53-1})",
            );
            assert_eq!(exec.status, ExecutionStatus::Timeout, "{:?}", exec.error);
            // CPU time runs slower than the wall clock on a busy machine.
            assert!(took < Duration::from_secs(15), "cpu_ms: {took:?}");
            // Cancel and close from another thread.
            let (vm3, sid3, _t3) =
                session(&[], json!({"limits": {"wall_ms": 60000, "cpu_ms": 60000}}));
            for close in [false, true] {
                let (v, s) = (vm3.clone(), sid3.clone());
                let stopper = std::thread::spawn(move || {
                    let started = Instant::now();
                    loop {
                        if let Some(id) = v.running_execution(&s) {
                            std::thread::sleep(Duration::from_millis(100));
                            if close {
                                v.close_session(&s).unwrap();
                            } else {
                                v.cancel_execution(&id).unwrap();
                            }
                            return Instant::now();
                        }
                        assert!(started.elapsed() < Duration::from_secs(20));
                        std::thread::sleep(Duration::from_millis(5));
                    }
                });
                let result = vm3.repl(&sid3, "Array.prototype.join.call({length: 2**53-1}, '')");
                let ended = Instant::now();
                let stopped = stopper.join().unwrap();
                let exec = result.unwrap();
                assert_eq!(exec.status, ExecutionStatus::Cancelled, "close={close}");
                assert!(ended.duration_since(stopped) < Duration::from_millis(1000));
            }
        },
    );
}

// ---- 5. FIFOs ----

#[test]
fn fs_refuses_fifos_instead_of_blocking() {
    isolated(
        "fs_refuses_fifos_instead_of_blocking",
        Duration::from_secs(30),
        || {
            let (vm, sid, tree) = session(&["fs"], json!({"limits": {"wall_ms": 1000}}));
            let fifo = std::ffi::CString::new(tree.path.join("p").to_str().unwrap()).unwrap();
            // SAFETY: a valid path.
            assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
            ok(&vm, &sid, "var fs = require('fs')");
            for call in [
                "fs.readFileSync('p')",
                "fs.writeFileSync('p', 'x')",
                "fs.appendFileSync('p', 'x')",
            ] {
                let started = Instant::now();
                let e = caught(&vm, &sid, call);
                assert_eq!(e["code"], json!("EINVAL"), "{call}: {e}");
                assert!(
                    e["message"]
                        .as_str()
                        .unwrap()
                        .contains("not a regular file"),
                    "{e}"
                );
                assert!(started.elapsed() < Duration::from_millis(500));
            }
            assert_eq!(ok(&vm, &sid, "fs.statSync('p').isFile()"), json!(false));
        },
    );
}

// ---- 6. Check-then-open race ----

#[test]
fn fs_cannot_be_raced_out_of_the_worktree() {
    isolated(
        "fs_cannot_be_raced_out_of_the_worktree",
        Duration::from_secs(60),
        || {
            let outside = tempfile::tempdir().unwrap();
            let secret = outside.path().join("secret.txt");
            std::fs::write(&secret, "SECRET").unwrap();
            let (vm, sid, tree) = session(
                &["fs"],
                json!({"limits": {"wall_ms": 20000, "cpu_ms": 20000}}),
            );
            let dir = tree.path.clone();
            std::fs::write(dir.join("f.txt"), "inside").unwrap();
            let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            let swapping = stop.clone();
            let secret_path = secret.clone();
            let swapper = std::thread::spawn(move || {
                let mut swaps = 0u64;
                while !swapping.load(std::sync::atomic::Ordering::Relaxed) {
                    let _ = std::fs::remove_file(dir.join("l.tmp"));
                    std::os::unix::fs::symlink(&secret_path, dir.join("l.tmp")).unwrap();
                    std::fs::rename(dir.join("l.tmp"), dir.join("f.txt")).unwrap();
                    std::fs::write(dir.join("r.tmp"), "inside").unwrap();
                    std::fs::rename(dir.join("r.tmp"), dir.join("f.txt")).unwrap();
                    swaps += 1;
                }
                swaps
            });
            let leaks = ok(
                &vm,
                &sid,
                "const fs = require('fs'); let leaks = 0, reads = 0;\
                 for (let i = 0; i < 4000; i++) {\
                   try { reads++; if (fs.readFileSync('f.txt', 'utf8').includes('SECRET')) leaks++; } catch (e) {}\
                   try { fs.writeFileSync('f.txt', 'pwned'); } catch (e) {}\
                   try { fs.appendFileSync('f.txt', 'pwned'); } catch (e) {}\
                 }\
                 leaks",
            );
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            let swaps = swapper.join().unwrap();
            assert!(swaps > 100, "the race ran ({swaps} swaps)");
            assert_eq!(leaks, json!(0), "outside content read");
            assert_eq!(std::fs::read_to_string(&secret).unwrap(), "SECRET");
        },
    );
}

// ---- 7. The host's own store ----

#[test]
fn scripts_cannot_open_the_hosts_own_database() {
    isolated(
        "scripts_cannot_open_the_hosts_own_database",
        Duration::from_secs(60),
        || {
            let tree = Worktree::new(&[]);
            let vm = VmSystem::open(tree.path.join("vm.db")).unwrap();
            let sid = session_on(&vm, &["database", "fs"], json!({}), &tree);
            ok(
                &vm,
                &sid,
                "var db = require('database'), fs = require('fs')",
            );
            std::fs::hard_link(tree.path.join("vm.db"), tree.path.join("alias.db")).unwrap();
            assert!(tree.path.join("vm.db-wal").exists());
            for name in ["vm.db", "vm.db-wal", "alias.db", "./vm.db"] {
                let e = caught(&vm, &sid, &format!("db.configure('sqlite3', '{name}')"));
                assert_eq!(e["code"], json!("SQLITE_AUTH"), "{name}: {e}");
                let e = caught(&vm, &sid, &format!("fs.readFileSync('{name}', 'latin1')"));
                assert_eq!(e["code"], json!("EACCES"), "{name}: {e}");
                let e = caught(&vm, &sid, &format!("fs.writeFileSync('{name}', '')"));
                assert_eq!(e["code"], json!("EACCES"), "{name}: {e}");
                let e = caught(&vm, &sid, &format!("fs.appendFileSync('{name}', 'x')"));
                assert_eq!(e["code"], json!("EACCES"), "{name}: {e}");
            }
            for name in ["vm.db", "vm.db-wal", "vm.db-shm"] {
                let e = caught(&vm, &sid, &format!("fs.unlinkSync('{name}')"));
                assert_eq!(e["code"], json!("EACCES"), "{name}: {e}");
            }
            // The store is intact and still works.
            assert_eq!(ok(&vm, &sid, "1 + 1"), json!(2));
            assert!(std::fs::metadata(tree.path.join("vm.db")).unwrap().len() > 0);
            vm.close();
            let again = VmSystem::open(tree.path.join("vm.db")).unwrap();
            assert!(!again.list_templates().unwrap().is_empty());
        },
    );
}

// ---- 8. Memory outside mem_mb ----

#[test]
fn blobs_and_file_reads_count_in_mem_mb() {
    isolated(
        "blobs_and_file_reads_count_in_mem_mb",
        Duration::from_secs(120),
        || {
            let (vm, sid, tree) = session(&["database", "fs"], json!({"limits": {"mem_mb": 16}}));
            ok(&vm, &sid, "var db = require('database'), fs = require('fs'); db.configure('sqlite3', ':memory:')");
            let before = peak_rss();
            let exec = vm
                .repl(
                    &sid,
                    "(() => { const keep = []; for (let i = 0; i < 32; i++) keep.push(db.query('SELECT randomblob(4000000) AS b')[0].b); return keep.length })()",
                )
                .unwrap();
            assert_eq!(exec.status, ExecutionStatus::Error, "{:?}", exec.result);
            assert!(
                exec.error
                    .as_deref()
                    .unwrap_or("")
                    .contains("out of memory"),
                "{:?}",
                exec.error
            );
            let blob_growth = peak_rss().saturating_sub(before);
            assert!(
                blob_growth < 48 << 20,
                "BLOBs grew the host by {} MiB",
                blob_growth >> 20
            );

            let big = std::fs::File::create(tree.path.join("big")).unwrap();
            big.set_len(64 << 20).unwrap();
            let before = peak_rss();
            for encoding in ["hex", "utf8", "base64", "latin1"] {
                let e = caught(&vm, &sid, &format!("fs.readFileSync('big', '{encoding}')"));
                assert_eq!(e["code"], json!("ERR_FS_FILE_TOO_LARGE"), "{encoding}: {e}");
            }
            let read_growth = peak_rss().saturating_sub(before);
            assert!(
                read_growth < 16 << 20,
                "file reads grew the host by {} MiB",
                read_growth >> 20
            );
            // A file that fits is read.
            std::fs::write(tree.path.join("small"), "x".repeat(1 << 20)).unwrap();
            assert_eq!(
                ok(&vm, &sid, "fs.readFileSync('small').length"),
                json!(1 << 20)
            );
        },
    );
}

// ---- 9. Long SQL statements ----

#[test]
fn long_sql_statements_stop_within_the_limits() {
    isolated(
        "long_sql_statements_stop_within_the_limits",
        Duration::from_secs(60),
        || {
            let (vm, sid, _t) = session(
                &["database"],
                json!({"limits": {"wall_ms": 200, "cpu_ms": 10000}}),
            );
            ok(
                &vm,
                &sid,
                "var db = require('database'); db.configure('sqlite3', ':memory:')",
            );
            // Values beyond the connection's length limit are refused outright.
            let e = caught(&vm, &sid, "db.query('SELECT length(randomblob(5e7)) AS n')");
            assert_eq!(e["code"], json!("SQLITE_TOOBIG"), "{e}");
            // A statement without loops, of many of the largest values allowed (the issue's
            // attack, scaled up): stopped within 2 x wall_ms (siblings share the two cores),
            // not at its end (seconds).
            let columns: Vec<String> = (0..256)
                .map(|i| format!("length(randomblob(2000000)) AS c{i}"))
                .collect();
            let sql = format!("SELECT {}", columns.join(", "));
            let (exec, took) = timed(&vm, &sid, &format!("db.query({sql:?})"));
            assert_eq!(exec.status, ExecutionStatus::Timeout, "{:?}", exec.error);
            println!("256 x randomblob(2e6) with wall_ms 200 stopped after {took:?}");
            assert!(took < Duration::from_millis(400), "took {took:?}");
            let columns: Vec<String> = (0..2000)
                .map(|i| format!("length(zeroblob(4000000) || 'x') AS c{i}"))
                .collect();
            let sql = format!("SELECT {}", columns.join(", "));
            let (exec, took) = timed(&vm, &sid, &format!("db.query({sql:?})"));
            assert_eq!(exec.status, ExecutionStatus::Timeout, "{:?}", exec.error);
            println!("2000 concatenations of 4 MB with wall_ms 200 stopped after {took:?}");
            assert!(took < Duration::from_millis(400), "took {took:?}");
            // Values in a loop: stopped within 2 x wall_ms.
            let (exec, took) = timed(
                &vm,
                &sid,
                "db.query('WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT sum(length(randomblob(4000000))) AS n FROM c')",
            );
            assert_eq!(exec.status, ExecutionStatus::Timeout, "{:?}", exec.error);
            println!("a loop of randomblob(4e6) with wall_ms 200 stopped after {took:?}");
            assert!(took < Duration::from_millis(400), "took {took:?}");
        },
    );
}

// ---- 11. Promise floods ----

#[test]
fn nothing_of_a_stopped_run_runs_later() {
    isolated(
        "nothing_of_a_stopped_run_runs_later",
        Duration::from_secs(60),
        || {
            let (vm, sid, _t) = session(&[], json!({"limits": {"wall_ms": 300}}));
            let exec = vm
                .repl(
                    &sid,
                    "globalThis.n = 0; function f() { n++; Promise.resolve().then(f); Promise.resolve().then(f); } f(); for (;;) {}",
                )
                .unwrap();
            assert_eq!(exec.status, ExecutionStatus::Timeout);
            let after = vm.repl(&sid, "n").unwrap();
            assert_eq!(after.status, ExecutionStatus::Ok, "{:?}", after.error);
            let later = vm.repl(&sid, "n").unwrap();
            assert_eq!(
                later.value(),
                after.value(),
                "jobs of the stopped run ran later"
            );
        },
    );
}

// ---- 10. exec descendants ----

/// Starts a background job and a `setsid` descendant (each writing its pid to
/// `<name>.job` / `<name>.setsid`), then sleeps for `$2` seconds and prints `started`.
const SPAWN: &str = r#"setsid sh -c 'echo $$ > "$0.setsid"; exec sleep 300' "$1" &
sleep 300 &
echo $! > "$1.job"
while [ ! -s "$1.setsid" ]; do sleep 0.01; done
sleep "$2"
echo started
"#;

/// Whether process `pid` still runs (a zombie does not).
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
        Err(_) => false,
    }
}

fn pids(tree: &Worktree, name: &str) -> Vec<i32> {
    ["job", "setsid"]
        .iter()
        .map(|kind| {
            let path = tree.path.join(format!("{name}.{kind}"));
            std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
                .trim()
                .parse()
                .unwrap()
        })
        .collect()
}

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

#[test]
fn nothing_started_by_exec_outlives_it() {
    isolated(
        "nothing_started_by_exec_outlives_it",
        Duration::from_secs(90),
        || {
            let (vm, sid, tree) = session(&["exec"], json!({"limits": {"wall_ms": 1500}}));
            tree.write("spawn.sh", SPAWN);
            ok(&vm, &sid, "var exec = require('exec')");
            let before = threads();
            // The program returns while its background job and setsid'd child still run.
            for i in 0..5 {
                let started = Instant::now();
                let out = ok(
                    &vm,
                    &sid,
                    &format!("exec.run('sh', ['spawn.sh', 'r{i}', '0'])"),
                );
                assert_eq!(out, json!("started\n"));
                assert!(
                    started.elapsed() < Duration::from_millis(1000),
                    "{:?}",
                    started.elapsed()
                );
                for pid in pids(&tree, &format!("r{i}")) {
                    assert!(!alive(pid), "process {pid} outlived exec.run");
                }
            }
            // The program is stopped by wall_ms.
            let exec = vm
                .repl(&sid, "exec.run('sh', ['spawn.sh', 't', '300'])")
                .unwrap();
            assert_eq!(exec.status, ExecutionStatus::Timeout, "{:?}", exec.error);
            for pid in pids(&tree, "t") {
                assert!(!alive(pid), "process {pid} outlived the timeout");
            }
            assert_eq!(threads(), before, "threads left behind");

            // close_session, then VmSystem::close, while the program runs.
            for how in ["close_session", "close"] {
                let (vm, sid, tree) = session(&["exec"], json!({"limits": {"wall_ms": 60000}}));
                tree.write("spawn.sh", SPAWN);
                let (v, s) = (vm.clone(), sid.clone());
                let running = std::thread::spawn(move || {
                    v.repl(&s, "require('exec').run('sh', ['spawn.sh', 'c', '300'])")
                });
                let started = Instant::now();
                while !tree.path.join("c.setsid").exists() || !tree.path.join("c.job").exists() {
                    assert!(started.elapsed() < Duration::from_secs(20));
                    std::thread::sleep(Duration::from_millis(10));
                }
                std::thread::sleep(Duration::from_millis(100));
                if how == "close" {
                    vm.close();
                } else {
                    vm.close_session(&sid).unwrap();
                }
                let exec = running.join().unwrap().unwrap();
                assert_eq!(exec.status, ExecutionStatus::Cancelled, "{how}");
                for pid in pids(&tree, "c") {
                    assert!(!alive(pid), "process {pid} outlived {how}");
                }
            }
        },
    );
}

// ---- 10. exec under OS isolation (opt-in: bwrap) ----

/// A ready session whose template enables `exec` with `exec_config` as the config of its
/// `exec` module capability.
fn exec_session(vm: &VmSystem, exec_config: Value, tree: &Worktree) -> String {
    let t = vm.create_template("isolated", "quickjs").unwrap();
    vm.add_module(&t.id, "exec").unwrap();
    vm.add_capability(&t.id, "module", "exec", true, &exec_config)
        .unwrap();
    vm.create_session(&t.id, "ws", "abc", tree.str())
        .unwrap()
        .id
}

/// Whether bwrap can create its namespaces on this machine (it cannot in some
/// containers).
fn bwrap_works() -> bool {
    Command::new("bwrap")
        .args([
            "--unshare-all",
            "--unshare-user",
            "--ro-bind",
            "/",
            "/",
            "true",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

#[test]
fn exec_isolation_config_is_validated() {
    let vm = VmSystem::open_in_memory().unwrap();
    let t = vm.create_template("t", "quickjs").unwrap();
    for (config, says) in [
        (
            json!({"isolation": "bwarp"}),
            "must be \"none\" or \"bwrap\"",
        ),
        (json!({"isolation": true}), "must be \"none\" or \"bwrap\""),
        (json!({"isolaton": "bwrap"}), "unknown key \"isolaton\""),
    ] {
        let e = vm
            .add_capability(&t.id, "module", "exec", true, &config)
            .unwrap_err();
        assert_eq!(e.code(), vm_system::ErrorCode::Validation, "{config}");
        assert!(e.to_string().contains(says), "{config}: {e}");
    }
    for config in [
        json!({}),
        json!({"isolation": "none"}),
        json!({"isolation": "bwrap"}),
    ] {
        vm.add_capability(&t.id, "module", "exec", true, &config)
            .unwrap();
    }
    // Other capabilities keep their free-form config.
    vm.add_capability(&t.id, "module", "fs", true, &json!({"isolation": 1}))
        .unwrap();
}

#[test]
fn exec_under_bwrap_sees_only_the_worktree_and_no_network() {
    isolated(
        "exec_under_bwrap_sees_only_the_worktree_and_no_network",
        Duration::from_secs(90),
        || {
            assert!(
                std::env::split_paths(&std::env::var_os("PATH").unwrap())
                    .any(|d| d.join("bwrap").is_file()),
                "bubblewrap is not installed: apt-get install -y bubblewrap"
            );
            let vm = VmSystem::open_in_memory().unwrap();
            let outside = Worktree::new(&[("secret.txt", "the host's secret")]);
            let secret = outside.path.join("secret.txt");
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let port = listener.local_addr().unwrap().port();
            let read_secret = format!("exec.run('cat', [{:?}])", secret.to_str().unwrap());
            let connect =
                format!("exec.run('bash', ['-c', 'echo hi > /dev/tcp/127.0.0.1/{port}'])");

            // Without isolation the program reads outside the worktree and reaches the
            // host's loopback.
            let plain_tree = Worktree::new(&[]);
            let plain = exec_session(&vm, json!({}), &plain_tree);
            ok(&vm, &plain, "var exec = require('exec')");
            assert_eq!(ok(&vm, &plain, &read_secret), json!("the host's secret"));
            ok(&vm, &plain, &connect);
            listener.accept().unwrap();

            let tree = Worktree::new(&[("in.txt", "inside")]);
            let sid = exec_session(&vm, json!({"isolation": "bwrap"}), &tree);
            ok(&vm, &sid, "var exec = require('exec')");
            if !bwrap_works() {
                // No user namespaces here: the call fails clearly, never runs unisolated.
                let e = caught(&vm, &sid, &read_secret);
                assert_eq!(e["code"], "ERR_EXEC_ISOLATION", "{e}");
                eprintln!("bwrap cannot create namespaces on this machine: {e}");
                return;
            }
            // The worktree: readable and writable, the working directory.
            assert_eq!(
                ok(&vm, &sid, "exec.run('cat', ['in.txt'])"),
                json!("inside")
            );
            assert_eq!(
                ok(
                    &vm,
                    &sid,
                    "exec.run('sh', ['-c', 'echo made > made.txt; pwd'])"
                ),
                json!(format!("{}\n", tree.str()))
            );
            assert_eq!(
                std::fs::read_to_string(tree.path.join("made.txt")).unwrap(),
                "made\n"
            );
            // Outside the worktree: not there (the file and its directory).
            let e = caught(&vm, &sid, &format!("{read_secret}; e"));
            assert!(
                e["message"].as_str().unwrap().contains("No such file"),
                "{e}"
            );
            // The rest of the filesystem is read-only, /tmp is private and empty.
            let e = caught(&vm, &sid, "exec.run('touch', ['/usr/x'])");
            assert!(e["message"].as_str().unwrap().contains("Read-only"), "{e}");
            assert_eq!(
                ok(
                    &vm,
                    &sid,
                    "exec.run('sh', ['-c', 'ls -A /tmp | grep -v \"^$(basename $PWD)$\" | wc -l'])"
                ),
                json!("0\n")
            );
            // No network: the host's loopback cannot be reached.
            let e = caught(&vm, &sid, &connect);
            assert!(
                e["message"]
                    .as_str()
                    .unwrap()
                    .contains("Connection refused")
                    || e["message"]
                        .as_str()
                        .unwrap()
                        .contains("Network is unreachable"),
                "{e}"
            );
            // Its own process view: only the sandbox's processes.
            let seen = ok(
                &vm,
                &sid,
                "exec.run('sh', ['-c', 'ls /proc | grep -c \"^[0-9]\"'])",
            );
            let seen: u32 = seen.as_str().unwrap().trim().parse().unwrap();
            assert!(seen <= 4, "the sandbox sees {seen} processes");
            // No capabilities.
            let caps = ok(
                &vm,
                &sid,
                "exec.run('grep', ['CapEff', '/proc/self/status'])",
            );
            assert!(
                caps.as_str().unwrap().contains("0000000000000000"),
                "{caps}"
            );
            // Nothing started in the sandbox outlives the call.
            let started = Instant::now();
            assert_eq!(
                ok(
                    &vm,
                    &sid,
                    "exec.run('sh', ['-c', 'sleep 312.5 & setsid sleep 312.5 & echo started'])"
                ),
                json!("started\n")
            );
            assert!(
                started.elapsed() < Duration::from_secs(2),
                "{:?}",
                started.elapsed()
            );
            let left = std::fs::read_dir("/proc")
                .unwrap()
                .filter_map(|e| std::fs::read(e.unwrap().path().join("cmdline")).ok())
                .filter(|cmdline| cmdline.as_slice() == b"sleep\x00312.5\x00")
                .count();
            assert_eq!(
                left, 0,
                "processes started in the sandbox outlived exec.run"
            );
            // A program missing in the sandbox is ENOENT, as without isolation.
            let e = caught(&vm, &sid, "exec.run('no-such-program-here')");
            assert_eq!(e["code"], "ENOENT", "{e}");
            // Non-zero exits still carry exitCode and output.
            assert_eq!(
                ok(&vm, &sid, "(() => { try { exec.run('sh', ['-c', 'echo out; exit 3']) } catch (e) { return [e.exitCode, e.output] } })()"),
                json!([3, "out\n"])
            );
            // The limits still stop it.
            let (vm2, tree2) = (VmSystem::open_in_memory().unwrap(), Worktree::new(&[]));
            let t = vm2.create_template("slow", "quickjs").unwrap();
            vm2.update_settings(&t.id, &json!({"limits": {"wall_ms": 500}}))
                .unwrap();
            vm2.add_module(&t.id, "exec").unwrap();
            vm2.add_capability(
                &t.id,
                "module",
                "exec",
                true,
                &json!({"isolation": "bwrap"}),
            )
            .unwrap();
            let s2 = vm2
                .create_session(&t.id, "ws", "abc", tree2.str())
                .unwrap()
                .id;
            let (exec, took) = timed(&vm2, &s2, "require('exec').run('sleep', ['30'])");
            assert_eq!(exec.status, ExecutionStatus::Timeout, "{:?}", exec.error);
            assert!(took < Duration::from_millis(1500), "{took:?}");
        },
    );
}

#[test]
fn exec_isolation_never_runs_a_program_unisolated() {
    isolated(
        "exec_isolation_never_runs_a_program_unisolated",
        Duration::from_secs(60),
        || {
            let tree = Worktree::new(&[]);
            let fake = Worktree::new(&[(
                "bwrap",
                "#!/bin/sh\necho 'bwrap: No permissions to creating new namespace, likely because the kernel does not allow non-privileged user namespaces.' >&2\nexit 1\n",
            )]);
            let fake_bwrap = fake.path.join("bwrap");
            std::fs::set_permissions(
                &fake_bwrap,
                std::os::unix::fs::PermissionsExt::from_mode(0o755),
            )
            .unwrap();
            // Single-threaded here (the child process of this test), so PATH may change.
            std::env::set_var("PATH", "/nonexistent");
            let vm = VmSystem::open_in_memory().unwrap();
            let sid = exec_session(&vm, json!({"isolation": "bwrap"}), &tree);
            let run = "require('exec').run('touch', ['ran'])";
            // bwrap missing from the host's PATH.
            let e = caught(&vm, &sid, run);
            assert_eq!(e["code"], "ERR_EXEC_ISOLATION", "{e}");
            let message = e["message"].as_str().unwrap();
            assert!(message.contains("bwrap is not installed"), "{message}");
            assert!(message.contains("apt-get install bubblewrap"), "{message}");
            // bwrap present but unable to create its sandbox.
            std::env::set_var("PATH", fake.str());
            let e = caught(&vm, &sid, run);
            assert_eq!(e["code"], "ERR_EXEC_ISOLATION", "{e}");
            let message = e["message"].as_str().unwrap();
            assert!(message.contains("could not be set up"), "{message}");
            assert!(
                message.contains("non-privileged user namespaces"),
                "{message}"
            );
            assert!(
                !tree.path.join("ran").exists(),
                "the program ran unisolated"
            );
            // A disabled capability, or isolation "none", runs it as before.
            std::env::set_var("PATH", "/usr/bin:/bin");
            let t = vm.create_template("off", "quickjs").unwrap();
            vm.add_module(&t.id, "exec").unwrap();
            vm.add_capability(
                &t.id,
                "module",
                "exec",
                false,
                &json!({"isolation": "bwrap"}),
            )
            .unwrap();
            let off = vm
                .create_session(&t.id, "ws", "abc", tree.str())
                .unwrap()
                .id;
            ok(&vm, &off, run);
            assert!(tree.path.join("ran").exists());
        },
    );
}

// ---- 4. (continued) Long single built-in calls (issue 14, item 1) ----

/// One million numbers, in an order a sort has to work on.
const NUMBERS: &str = "var a = []; for (let i = 0; i < 1e6; i++) a.push((i * 7919) % 1000003);";

/// 2^24 doubles (128 MiB), sixteen copies of 2^20 values.
const DOUBLES: &str = "var t = new Float64Array(1 << 24); for (let i = 0; i < 1 << 20; i++) t[i] = (i * 7919) % 1000003; for (let n = 1 << 20; n < t.length; n *= 2) t.copyWithin(n, 0, n);";

/// Built-in calls that each run for seconds in native code, with their set-up.
fn long_native_calls() -> Vec<(&'static str, String)> {
    vec![
        ("Array.prototype.sort", format!("{NUMBERS} a.sort()")),
        ("TypedArray.prototype.sort", format!("{DOUBLES} t.sort()")),
        ("TypedArray.prototype.join", format!("{DOUBLES} t.join()")),
        (
            "String.prototype.repeat",
            "'ab'.repeat(2 ** 27).length".into(),
        ),
        (
            "String.prototype.padStart",
            "''.padStart(2 ** 28, 'ab').length".into(),
        ),
        (
            "String.prototype.padEnd",
            "''.padEnd(2 ** 28, 'ab').length".into(),
        ),
        (
            "JSON.stringify",
            "JSON.stringify(new Array(3e7)).length".into(),
        ),
        (
            "Array.from (iterable)",
            "Array.from(new Array(3e7).keys()).length".into(),
        ),
        (
            "Array.from (array-like)",
            "Array.from({length: 2 ** 32 - 1}).length".into(),
        ),
        (
            "TypedArray.from",
            "Uint8Array.from({length: 2e8}).length".into(),
        ),
        (
            "Array.prototype.fill",
            "Array.prototype.fill.call({length: 2 ** 53 - 1}, 0)".into(),
        ),
    ]
}

#[test]
fn long_native_calls_stop_within_the_limits() {
    isolated(
        "long_native_calls_stop_within_the_limits",
        Duration::from_secs(240),
        || {
            let wall_ms = 1000;
            let (vm, sid, _t) = session(
                &[],
                json!({"limits": {"wall_ms": wall_ms, "cpu_ms": 60000, "mem_mb": 1024}}),
            );
            // Half the limit again: this binary's other tests run beside it on two cores, and
            // one step of some calls (a large property table's rehash in `fill` over an
            // array-like) cannot be cut. Unstopped, each call runs 4.7 to 43 s.
            let bound = Duration::from_millis(wall_ms * 3 / 2 + 100);
            for (name, attack) in long_native_calls() {
                let (exec, took) = timed(&vm, &sid, &attack);
                eprintln!("{name}: {:?} after {took:?}", exec.status);
                assert_eq!(
                    exec.status,
                    ExecutionStatus::Timeout,
                    "{name}: {:?}",
                    exec.error
                );
                assert!(took < bound, "wall_ms: {name} took {took:?}");
            }
            // cpu_ms, cancel and close stop them too.
            let (vm, sid, _t) = session(
                &[],
                json!({"limits": {"wall_ms": 60000, "cpu_ms": 800, "mem_mb": 1024}}),
            );
            for (name, attack) in &long_native_calls()[..2] {
                let (exec, took) = timed(&vm, &sid, attack);
                assert_eq!(
                    exec.status,
                    ExecutionStatus::Timeout,
                    "{name}: {:?}",
                    exec.error
                );
                // CPU time runs slower than the wall clock on a busy machine.
                assert!(
                    took < Duration::from_secs(10),
                    "cpu_ms: {name} took {took:?}"
                );
            }
            let (vm, sid, _t) = session(
                &[],
                json!({"limits": {"wall_ms": 60000, "cpu_ms": 60000, "mem_mb": 1024}}),
            );
            for close in [false, true] {
                ok(&vm, &sid, &format!("{NUMBERS} {DOUBLES} 0"));
                for sort in ["a.sort()", "t.sort()"] {
                    if close && sort == "t.sort()" {
                        break;
                    }
                    let (v, s) = (vm.clone(), sid.clone());
                    let stopper = std::thread::spawn(move || {
                        let started = Instant::now();
                        while v.running_execution(&s).is_none() {
                            assert!(started.elapsed() < Duration::from_secs(20));
                            std::thread::sleep(Duration::from_millis(2));
                        }
                        // Well into the sort.
                        std::thread::sleep(Duration::from_millis(200));
                        let at = Instant::now();
                        if close {
                            v.close_session(&s).unwrap();
                        } else {
                            v.cancel_execution(&v.running_execution(&s).unwrap())
                                .unwrap();
                        }
                        (at, at.elapsed())
                    });
                    let exec = vm.repl(&sid, sort).unwrap();
                    let ended = Instant::now();
                    let (stopped, call) = stopper.join().unwrap();
                    assert_eq!(
                        exec.status,
                        ExecutionStatus::Cancelled,
                        "{sort} close={close}"
                    );
                    let after = ended.duration_since(stopped);
                    assert!(
                        after < Duration::from_millis(250),
                        "{sort}: ended {after:?} after the stop"
                    );
                    assert!(
                        call < Duration::from_millis(250),
                        "{sort}: the stop call took {call:?}"
                    );
                }
            }
        },
    );
}
