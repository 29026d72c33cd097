//! The CLI as a user runs it: the real daemon on an ephemeral loopback port, and
//! `vm-system …` processes walking `templates-and-sessions.md` (getting started, ordered
//! startup files, the ETL flow with the `database` module, `exec list`, `exec events
//! --after-seq`, close), checking the lines they print and their exit statuses.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use common::BIN;

/// One finished CLI process.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }

    /// The value after `prefix` on the first line that starts with it.
    fn field(&self, prefix: &str) -> String {
        self.stdout
            .lines()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no line {prefix:?} in:\n{}", self.stdout))
            .to_string()
    }

    fn ok(self) -> Self {
        assert_eq!(
            self.code, 0,
            "exit {}\nstdout:\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }

    fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("not one JSON document ({e}):\n{}", self.stdout))
    }
}

/// A CLI bound to one daemon.
struct Cli {
    url: String,
    token: Option<String>,
    cwd: PathBuf,
}

impl Cli {
    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.args(args)
            .current_dir(&self.cwd)
            .env("VM_SYSTEM_SERVER_URL", &self.url)
            .env_remove("VM_SYSTEM_TOKEN")
            .env_remove("VM_SYSTEM_DB");
        if let Some(t) = &self.token {
            c.env("VM_SYSTEM_TOKEN", t);
        }
        c
    }

    fn run(&self, args: &[&str]) -> Run {
        let out = self.command(args).output().expect("run vm-system");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/tests/fixtures")
}

fn uuid_like(s: &str) -> bool {
    s.len() == 36 && s.chars().filter(|&c| c == '-').count() == 4
}

/// `Created template: <name> (ID: <id>)` → id.
fn template_id(run: &Run, name: &str) -> String {
    let line = run.lines()[0];
    let prefix = format!("Created template: {name} (ID: ");
    let id = line
        .strip_prefix(&prefix)
        .and_then(|r| r.strip_suffix(')'))
        .unwrap_or_else(|| panic!("unexpected line {line:?}"));
    assert!(uuid_like(id), "{id}");
    id.to_string()
}

/// A daemon, a CLI for it, and a worktree with `files`.
struct Setup {
    _daemon: common::Daemon,
    cli: Cli,
    worktree: tempfile::TempDir,
}

fn setup(files: &[(&str, &str)]) -> Setup {
    let daemon = common::Daemon::start();
    let worktree = tempfile::tempdir().unwrap();
    for (rel, text) in files {
        let p = worktree.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    let cli = Cli {
        url: daemon.url(),
        token: None,
        cwd: daemon.dir.clone(),
    };
    Setup {
        _daemon: daemon,
        cli,
        worktree,
    }
}

impl Setup {
    fn wt(&self) -> &str {
        self.worktree.path().to_str().unwrap()
    }

    /// A template (created through the CLI) and a ready session on the worktree.
    fn session(&self, name: &str, settings: &[&str]) -> (String, String) {
        let t = template_id(
            &self.cli.run(&["template", "create", "--name", name]).ok(),
            name,
        );
        if !settings.is_empty() {
            let mut args = vec!["template", "settings", &t];
            args.extend_from_slice(settings);
            self.cli.run(&args).ok();
        }
        let s = self
            .cli
            .run(&[
                "session",
                "create",
                "--template-id",
                &t,
                "--workspace-id",
                "ws",
                "--base-commit",
                "abc123",
                "--worktree-path",
                self.wt(),
            ])
            .ok();
        (t, s.field("Created session: "))
    }
}

#[test]
fn getting_started_with_ordered_startup_files_and_a_library() {
    let s = setup(&[
        (
            "runtime/init.js",
            "var greeting = 'hello'; console.log('init ran');",
        ),
        (
            "runtime/globals.js",
            "var shout = greeting.toUpperCase() + '!';",
        ),
    ]);
    let cli = &s.cli;

    // Create with the original's engine name: accepted as an alias of quickjs.
    let run = cli
        .run(&[
            "template",
            "create",
            "--name",
            "my-runtime",
            "--engine",
            "goja",
        ])
        .ok();
    let t = template_id(&run, "my-runtime");

    // Startup files, added out of order: they run in order_index order.
    let run = cli
        .run(&[
            "template",
            "add-startup",
            &t,
            "--path",
            "runtime/globals.js",
            "--order",
            "20",
            "--mode",
            "eval",
        ])
        .ok();
    assert_eq!(
        run.lines(),
        [format!(
            "Added startup file: runtime/globals.js (order: 20) to template {t}"
        )]
    );
    let run = cli
        .run(&[
            "template",
            "add-startup",
            &t,
            "--path",
            "runtime/init.js",
            "--order",
            "10",
            "--mode",
            "eval",
        ])
        .ok();
    assert_eq!(
        run.lines(),
        [format!(
            "Added startup file: runtime/init.js (order: 10) to template {t}"
        )]
    );
    let run = cli.run(&["template", "list-startup", &t]).ok();
    let lines = run.lines();
    assert_eq!(lines[0].trim_end(), "Order Mode       Path");
    assert_eq!(lines[1], "-".repeat(70));
    assert!(
        lines[2].starts_with("10    eval       runtime/init.js"),
        "{lines:?}"
    );
    assert!(
        lines[3].starts_with("20    eval       runtime/globals.js"),
        "{lines:?}"
    );

    let run = cli
        .run(&["template", "add-module", &t, "--name", "database"])
        .ok();
    assert_eq!(
        run.lines(),
        [format!("Added module: database to template {t}")]
    );
    assert_eq!(
        cli.run(&["template", "list-modules", &t]).ok().lines(),
        ["database"]
    );

    // Libraries: installed into the cache the daemon reads, then enabled.
    let cache = s
        ._daemon
        .dir
        .join("libraries")
        .to_str()
        .unwrap()
        .to_string();
    let from = fixtures().join("libraries");
    let run = cli
        .run(&[
            "libs",
            "download",
            "--library-cache",
            &cache,
            "--from",
            from.to_str().unwrap(),
        ])
        .ok();
    let lines = run.lines();
    assert_eq!(lines[0], format!("Downloading libraries to: {cache}"));
    assert!(lines.contains(&"Cache info:"), "{lines:?}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("  lodash-4.17.21: 73015 bytes (")),
        "{lines:?}"
    );
    assert_eq!(lines.iter().filter(|l| l.contains(" bytes (")).count(), 6);
    let run = cli
        .run(&["template", "add-library", &t, "--name", "lodash-4.17.21"])
        .ok();
    assert_eq!(
        run.lines(),
        [format!("Added library: lodash-4.17.21 to template {t}")]
    );

    // The whole template.
    let run = cli.run(&["template", "get", &t]).ok();
    let out = &run.stdout;
    assert!(out.starts_with(&format!(
        "Template: my-runtime\nID: {t}\nEngine: quickjs\nActive: true\nCreated: "
    )));
    assert!(out.contains("\nSettings:\n  Limits: {"), "{out}");
    assert!(
        out.contains(
            "\nStartup Files:\n  [10] runtime/init.js (mode: eval)\n  [20] runtime/globals.js (mode: eval)\n"
        ),
        "{out}"
    );
    assert!(out.contains("\nExposed Modules:\n  - database\n"), "{out}");
    assert!(
        out.contains("\nLoaded Libraries:\n  - lodash-4.17.21\n"),
        "{out}"
    );

    // A session: startup files ran in order, the library is loaded.
    let run = cli
        .run(&[
            "session",
            "create",
            "--template-id",
            &t,
            "--workspace-id",
            "ws-prod",
            "--base-commit",
            "abc123",
            "--worktree-path",
            s.wt(),
        ])
        .ok();
    let lines = run.lines();
    assert_eq!(lines.len(), 6, "{lines:?}");
    let session = lines[0].strip_prefix("Created session: ").unwrap();
    assert!(uuid_like(session));
    assert_eq!(lines[1], "Status: ready");
    assert_eq!(lines[2], format!("Template ID: {t}"));
    assert_eq!(lines[3], "Workspace ID: ws-prod");
    assert_eq!(lines[4], "Base Commit: abc123");
    assert!(lines[5].starts_with("Worktree Path: "));

    let run = cli
        .run(&["exec", "repl", session, "shout + ' ' + _.VERSION"])
        .ok();
    assert!(
        run.stdout.contains("\nResult: {\"type\":\"string\",\"preview\":\"HELLO! 4.17.21\",\"json\":\"HELLO! 4.17.21\"}")
            || run.stdout.contains("\"json\":\"HELLO! 4.17.21\""),
        "{}",
        run.stdout
    );

    // The reference page's typical REPL execution: input_echo, console, value.
    let run = cli
        .run(&["exec", "repl", session, "console.log('hi'); 42"])
        .ok();
    let lines = run.lines();
    let exec = lines[0].strip_prefix("Execution ID: ").unwrap().to_string();
    assert!(uuid_like(&exec));
    assert_eq!(lines[1], "");
    assert_eq!(lines[2], "Events:");
    assert_eq!(
        lines[3],
        r#"[1] input_echo: {"text":"console.log('hi'); 42"}"#
    );
    assert!(
        lines[4].starts_with(r#"[2] console: {"level":"log","text":"hi""#),
        "{lines:?}"
    );
    assert!(lines[5].starts_with("[3] value: {"), "{lines:?}");
    assert!(lines[5].contains(r#""json":42"#), "{lines:?}");
    assert_eq!(lines[6], "");
    assert_eq!(lines[7], "Status: ok");
    assert!(lines[8].starts_with("Result: {") && lines[8].contains(r#""json":42"#));
    assert_eq!(lines.len(), 9, "{lines:?}");

    // State carries across executions.
    cli.run(&["exec", "repl", session, "var x = 41"]).ok();
    let run = cli.run(&["exec", "repl", session, "x + 1"]).ok();
    assert!(run.field("Result: ").contains(r#""json":42"#));

    // Events with a cursor.
    let run = cli.run(&["exec", "events", &exec, "--after-seq", "0"]).ok();
    let lines = run.lines();
    assert_eq!(
        lines[0],
        "Seq   Timestamp            Type            Payload"
    );
    assert_eq!(lines[1], "-".repeat(80));
    assert_eq!(lines.len(), 5, "{lines:?}");
    assert!(lines[2].starts_with("1     "), "{lines:?}");
    assert!(lines[2].contains(" input_echo      {\"text\":\"console.log('hi'); 42\"}"));
    let run = cli.run(&["exec", "events", &exec, "--after-seq", "2"]).ok();
    let lines = run.lines();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines[2].starts_with("3     ") && lines[2].contains(" value "));
    let run = cli.run(&["exec", "events", &exec, "--after-seq", "3"]).ok();
    assert_eq!(run.lines(), ["No events found"]);

    let run = cli.run(&["exec", "get", &exec]).ok();
    let lines = run.lines();
    assert_eq!(lines[0], format!("Execution ID: {exec}"));
    assert_eq!(lines[1], format!("Session ID: {session}"));
    assert_eq!(lines[2], "Kind: repl");
    assert_eq!(lines[3], "Status: ok");
    assert!(run.stdout.contains("\nInput: console.log('hi'); 42\n"));

    // Close.
    let run = cli.run(&["session", "close", session]).ok();
    assert_eq!(run.lines(), [format!("Closed session: {session}")]);
    let run = cli.run(&["session", "get", session]).ok();
    assert!(run.stdout.contains("\nStatus: closed\n"), "{}", run.stdout);
    assert!(run.stdout.contains("\nClosed: "), "{}", run.stdout);
}

#[test]
fn etl_flow_with_the_database_module() {
    let read = |p: &str| std::fs::read_to_string(fixtures().join("etl").join(p)).unwrap();
    let (a, b, c) = (
        read("runtime/setup-db.js"),
        read("transforms/normalize.js"),
        read("transforms/export.js"),
    );
    let s = setup(&[
        ("runtime/setup-db.js", &a),
        ("transforms/normalize.js", &b),
        ("transforms/export.js", &c),
    ]);
    let cli = &s.cli;

    // 1. Define the runtime.
    let t = template_id(
        &cli.run(&[
            "template",
            "create",
            "--name",
            "etl-runner",
            "--engine",
            "goja",
        ])
        .ok(),
        "etl-runner",
    );
    cli.run(&["template", "add-module", &t, "--name", "database"])
        .ok();
    cli.run(&[
        "template",
        "add-startup",
        &t,
        "--path",
        "runtime/setup-db.js",
        "--order",
        "10",
        "--mode",
        "eval",
    ])
    .ok();

    // 2. A session bound to the workspace.
    let run = cli
        .run(&[
            "session",
            "create",
            "--template-id",
            &t,
            "--workspace-id",
            "etl-ws",
            "--base-commit",
            "abc123",
            "--worktree-path",
            s.wt(),
        ])
        .ok();
    let session = run.field("Created session: ");
    assert_eq!(run.field("Status: "), "ready");

    // 3. Each execution builds on the state left by the previous one.
    let run = cli
        .run(&[
            "exec",
            "repl",
            &session,
            r#"db.query("SELECT count(*) AS n FROM users")"#,
        ])
        .ok();
    assert!(
        run.field("Result: ").contains(r#""json":[{"n":0}]"#),
        "{}",
        run.stdout
    );
    let run = cli
        .run(&["exec", "run-file", &session, "transforms/normalize.js"])
        .ok();
    assert!(
        run.stdout
            .contains("normalized 5 raw rows: 3 inserted, 2 skipped"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("skipping invalid e-mail:"),
        "{}",
        run.stdout
    );
    assert_eq!(run.field("Status: "), "ok");
    assert!(
        !run.stdout.contains("\nResult: "),
        "run-file prints no Result line"
    );
    let run = cli
        .run(&["exec", "run-file", &session, "transforms/export.js"])
        .ok();
    let last = run.field("Execution ID: ");
    assert!(
        run.stdout
            .contains(r#"] console: {"level":"log","text":"GB: 2"#),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains(r#"] console: {"level":"log","text":"US: 1"#),
        "{}",
        run.stdout
    );

    // 4. Look at what happened.
    let run = cli.run(&["exec", "list", &session]).ok();
    let lines = run.lines();
    assert_eq!(
        lines[0].trim_end(),
        "Execution ID                         Kind       Status     Started"
    );
    // Newest first: the two files, the REPL query, the startup file (recorded too).
    assert_eq!(lines.len(), 2 + 4, "{lines:?}");
    assert!(
        lines[2].starts_with(&format!("{last} run_file   ok         ")),
        "{lines:?}"
    );
    assert!(lines[3].contains(" run_file   ok "), "{lines:?}");
    assert!(lines[4].contains(" repl       ok "), "{lines:?}");
    assert!(lines[5].contains(" startup    ok "), "{lines:?}");
    let run = cli.run(&["exec", "list", &session, "--limit", "1"]).ok();
    assert_eq!(run.lines().len(), 3);

    let run = cli.run(&["exec", "events", &last, "--after-seq", "0"]).ok();
    assert!(
        run.stdout
            .contains(r#" console         {"level":"log","text":"GB: 2"#),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains(" value "), "{}", run.stdout);

    // 5. Done.
    assert_eq!(
        cli.run(&["session", "close", &session]).ok().lines(),
        [format!("Closed session: {session}")]
    );
    let run = cli.run(&["session", "list", "--status", "closed"]).ok();
    assert!(run.stdout.contains(&session), "{}", run.stdout);
    let run = cli.run(&["session", "list", "--status", "ready"]).ok();
    assert_eq!(run.lines(), ["No sessions found"]);
}

#[test]
fn exit_statuses() {
    let s = setup(&[]);
    let cli = &s.cli;
    let (t, session) = s.session("codes", &["--wall-ms", "300", "--cpu-ms", "300"]);

    // 0
    assert_eq!(
        cli.run(&["ops", "health"]).ok().stdout,
        "{\n  \"status\": \"ok\"\n}\n"
    );

    // 1: an API error, as the original prints it.
    let run = cli.run(&["template", "get", "00000000-0000-4000-8000-000000000000"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .starts_with("Error: api error (status=404, code=TEMPLATE_NOT_FOUND): "),
        "{}",
        run.stderr
    );
    assert_eq!(run.stdout, "");
    let run = cli.run(&["template", "add-module", &t, "--name", "json"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("(status=422, code=MODULE_NOT_ALLOWED)"),
        "{}",
        run.stderr
    );
    let run = cli.run(&["exec", "run-file", &session, "../escape.js"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("(status=422, code=INVALID_PATH)"),
        "{}",
        run.stderr
    );
    let run = cli.run(&["exec", "run-file", &session, "missing.js"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("(status=404, code=FILE_NOT_FOUND)"),
        "{}",
        run.stderr
    );
    let run = cli.run(&["template", "get", "not-a-uuid"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("(status=400, code=VALIDATION_ERROR)"),
        "{}",
        run.stderr
    );

    // 2: usage.
    for args in [
        &["exec", "repl"][..],
        &["template", "create"],
        &["template", "bogus"],
        &["exec", "list", &session, "--limit", "many"],
        &[
            "template",
            "add-capability",
            &t,
            "--name",
            "c",
            "--config",
            "{",
        ],
        &["--output", "yaml", "ops", "health"],
    ] {
        let run = cli.run(args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(!run.stderr.is_empty());
    }

    // 3: the execution ended error, timeout or cancelled; its events are still printed.
    let run = cli.run(&["exec", "repl", &session, "throw new Error('boom')"]);
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("] exception: {"), "{}", run.stdout);
    assert!(run.stdout.contains("boom"));
    assert_eq!(run.field("Status: "), "error");
    assert!(run.stdout.contains("\nError: "), "{}", run.stdout);
    assert_eq!(run.stderr, "");
    let run = cli.run(&["exec", "repl", &session, "console.log('before'); for(;;){}"]);
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    assert_eq!(run.field("Status: "), "timeout");
    assert!(
        run.stdout
            .contains(r#"] console: {"level":"log","text":"before""#),
        "{}",
        run.stdout
    );

    // Global flags go before or after the subcommand; --db is accepted and ignored.
    cli.run(&[
        "--db",
        "ignored.db",
        "--server-url",
        &cli.url,
        "template",
        "list",
    ])
    .ok();
    cli.run(&[
        "template",
        "list",
        "--db",
        "ignored.db",
        "--server-url",
        &cli.url,
    ])
    .ok();
}

#[test]
fn unreachable_daemon_says_how_to_start_it() {
    let cli = Cli {
        url: "http://127.0.0.1:1".into(),
        token: None,
        cwd: std::env::temp_dir(),
    };
    for args in [
        &["template", "list"][..],
        &["exec", "repl", "x", "1"],
        &["ops", "health"],
    ] {
        let run = cli.run(args);
        assert_eq!(run.code, 1, "{args:?}");
        assert!(
            run.stderr
                .contains("cannot reach the vm-system daemon at http://127.0.0.1:1"),
            "{}",
            run.stderr
        );
        assert!(run.stderr.contains("vm-system serve"), "{}", run.stderr);
        assert_eq!(run.stdout, "");
    }
}

#[test]
fn output_json_prints_the_api_records() {
    let s = setup(&[("f.js", "console.log('from file'); 7")]);
    let cli = &s.cli;
    let run = cli
        .run(&["--output", "json", "template", "create", "--name", "j"])
        .ok();
    let t = run.json();
    let id = t["id"].as_str().unwrap().to_string();
    assert_eq!(t["name"], "j");
    let detail = cli
        .run(&["template", "get", &id, "--output", "json"])
        .ok()
        .json();
    assert_eq!(detail["template"]["id"], id.as_str());
    assert!(detail["settings"]["limits"]["cpu_ms"].is_u64());
    let list = cli
        .run(&["template", "list", "--output", "json"])
        .ok()
        .json();
    assert_eq!(list.as_array().unwrap().len(), 1);

    let session = cli
        .run(&[
            "--output",
            "json",
            "session",
            "create",
            "--template-id",
            &id,
            "--workspace-id",
            "w",
            "--base-commit",
            "c",
            "--worktree-path",
            s.wt(),
        ])
        .ok()
        .json();
    let sid = session["id"].as_str().unwrap().to_string();
    assert_eq!(session["status"], "ready");

    let exec = cli
        .run(&[
            "--output",
            "json",
            "exec",
            "repl",
            &sid,
            "console.log('x'); 6*7",
        ])
        .ok()
        .json();
    assert_eq!(exec["status"], "ok");
    assert_eq!(exec["result"]["json"], 42);
    let eid = exec["id"].as_str().unwrap().to_string();
    let events = cli
        .run(&["--output", "json", "exec", "events", &eid])
        .ok()
        .json();
    let types: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["input_echo", "console", "value"]);
    let file = cli
        .run(&["--output", "json", "exec", "run-file", &sid, "f.js"])
        .ok()
        .json();
    assert_eq!(file["kind"], "run_file");
    assert_eq!(file["status"], "ok");
    let failed = cli.run(&["--output", "json", "exec", "repl", &sid, "null.x"]);
    assert_eq!(failed.code, 3);
    assert_eq!(failed.json()["status"], "error");

    let summary = cli
        .run(&["--output", "json", "ops", "runtime-summary"])
        .ok()
        .json();
    assert_eq!(summary["active_sessions"], 1);
    let closed = cli
        .run(&["--output", "json", "session", "close", &sid])
        .ok()
        .json();
    assert_eq!(closed["status"], "closed");
    let libs = cli.run(&["--output", "json", "libs", "list"]).ok().json();
    assert_eq!(libs.as_array().unwrap().len(), 6);
    let modules = cli
        .run(&["--output", "json", "template", "list-available-modules"])
        .ok()
        .json();
    let names: Vec<&str> = modules
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"database"), "{modules}");
}

#[test]
fn settings_and_startup_files_change() {
    let s = setup(&[]);
    let cli = &s.cli;
    let t = template_id(&cli.run(&["template", "create", "--name", "st"]).ok(), "st");
    let run = cli
        .run(&[
            "template",
            "settings",
            &t,
            "--cpu-ms",
            "250",
            "--max-events",
            "77",
            "--esm",
            "--strict=false",
        ])
        .ok();
    let lines = run.lines();
    assert_eq!(lines[0], format!("Updated settings of template {t}"));
    assert!(lines[1].starts_with("  Limits: {") && lines[1].contains(r#""cpu_ms":250"#));
    assert!(lines[1].contains(r#""max_events":77"#), "{lines:?}");
    assert!(lines[3].contains(r#""esm":true"#) && lines[3].contains(r#""strict":false"#));
    let run = cli.run(&["template", "settings", &t]).ok();
    assert_eq!(run.lines()[0], format!("Settings of template {t}"));
    assert!(run.stdout.contains(r#""cpu_ms":250"#));
    let run = cli.run(&["template", "settings", &t, "--mem-mb", "0"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("code=VALIDATION_ERROR"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("mem_mb"), "{}", run.stderr);

    cli.run(&["template", "add-startup", &t, "--path", "a/b.js"])
        .ok();
    let run = cli
        .run(&["template", "remove-startup", &t, "--path", "a/b.js"])
        .ok();
    assert_eq!(
        run.lines(),
        [format!("Removed startup file: a/b.js from template {t}")]
    );
    assert_eq!(
        cli.run(&["template", "list-startup", &t]).ok().lines(),
        ["No startup files found"]
    );

    let run = cli
        .run(&[
            "template",
            "add-capability",
            &t,
            "--name",
            "console",
            "--config",
            r#"{"a":1}"#,
        ])
        .ok();
    assert_eq!(
        run.lines(),
        [format!("Added capability: module:console to template {t}")]
    );
    let run = cli.run(&["template", "list-capabilities", &t]).ok();
    assert!(run.lines()[2].starts_with("module     console              yes        {\"a\":1}"));

    assert_eq!(
        cli.run(&["template", "list-libraries", &t]).ok().lines(),
        ["No libraries configured"]
    );
    let run = cli.run(&["template", "delete", &t]).ok();
    assert_eq!(run.lines(), [format!("Deleted template: {t}")]);
    assert_eq!(
        cli.run(&["template", "list"]).ok().lines(),
        ["No templates found"]
    );
}

/// Starts `exec repl` in the background and returns it with its execution id (its first
/// line).
fn spawn_repl(
    cli: &Cli,
    session: &str,
    code: &str,
) -> (
    std::process::Child,
    BufReader<std::process::ChildStdout>,
    String,
) {
    let mut child = cli
        .command(&["exec", "repl", session, code])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    let id = first
        .trim_end()
        .strip_prefix("Execution ID: ")
        .unwrap_or_else(|| panic!("first line {first:?}"))
        .to_string();
    (child, out, id)
}

#[test]
fn events_print_live_and_follow_waits_for_the_end() {
    let s = setup(&[]);
    let cli = &s.cli;
    let (_, session) = s.session("live", &["--wall-ms", "20000", "--cpu-ms", "20000"]);
    let code = "for (let i = 0; i < 4; i++) { const t = Date.now(); while (Date.now() - t < 300) {} console.log('tick ' + i) } 'done'";
    let (mut child, mut out, id) = spawn_repl(cli, &session, code);

    // The first console line arrives while the execution still runs.
    let started = Instant::now();
    let mut line = String::new();
    loop {
        line.clear();
        assert!(out.read_line(&mut line).unwrap() > 0, "stream ended early");
        if line.contains("tick 0") {
            break;
        }
    }
    assert!(line.starts_with("[2] console: "), "{line}");
    assert!(
        child.try_wait().unwrap().is_none(),
        "the line came only at the end"
    );
    assert!(started.elapsed() < Duration::from_millis(1100));

    // Meanwhile, another process follows the same execution to its end.
    let follow = cli.run(&["exec", "events", &id, "--follow"]).ok();
    let lines = follow.lines();
    assert_eq!(
        lines[0],
        "Seq   Timestamp            Type            Payload"
    );
    for i in 0..4 {
        assert!(
            follow.stdout.contains(&format!("\"text\":\"tick {i}\"")),
            "{}",
            follow.stdout
        );
    }
    assert!(follow.stdout.contains(" value "), "{}", follow.stdout);
    assert_eq!(*lines.last().unwrap(), format!("Execution {id} ended: ok"));

    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    assert!(child.wait().unwrap().success());
    assert!(rest.contains("tick 3"), "{rest}");
    assert!(rest.contains("\nStatus: ok\nResult: {"), "{rest}");

    // Following an ended execution replays it and ends at once, from a cursor.
    let run = cli
        .run(&["exec", "events", &id, "--follow", "--after-seq", "4"])
        .ok();
    let lines = run.lines();
    assert_eq!(lines.len(), 2 + 2 + 1, "{lines:?}");
    assert!(lines[2].starts_with("5     "), "{lines:?}");
    let run = cli
        .run(&["--output", "json", "exec", "events", &id, "--follow"])
        .ok();
    let seqs: Vec<u64> = run
        .stdout
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["seq"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5, 6]);
}

#[test]
fn cancel_ends_a_running_execution() {
    let s = setup(&[]);
    let cli = &s.cli;
    let (_, session) = s.session("cancel", &["--wall-ms", "60000", "--cpu-ms", "60000"]);
    let (mut child, mut out, id) = spawn_repl(cli, &session, "console.log('spinning'); for(;;){}");
    let mut line = String::new();
    while !line.contains("spinning") {
        line.clear();
        assert!(out.read_line(&mut line).unwrap() > 0);
    }
    let run = cli.run(&["exec", "cancel", &id]).ok();
    assert_eq!(run.lines()[0], format!("Cancelled execution: {id}"));
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(3));
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    assert!(rest.contains("\nStatus: cancelled\n"), "{rest}");
    let run = cli.run(&["exec", "get", &id]).ok();
    assert_eq!(run.field("Status: "), "cancelled");
    // The follow of a cancelled execution exits 3 too.
    let run = cli.run(&["exec", "events", &id, "--follow"]);
    assert_eq!(run.code, 3);
    // An unknown execution.
    let run = cli.run(&["exec", "cancel", "00000000-0000-4000-8000-000000000000"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("code=EXECUTION_NOT_FOUND"),
        "{}",
        run.stderr
    );
}

#[test]
fn library_cache_commands() {
    let dir = tempfile::tempdir().unwrap();
    let cli = Cli {
        url: "http://127.0.0.1:1".into(),
        token: None,
        cwd: dir.path().to_path_buf(),
    };
    // Local: no daemon needed, the default cache is in the working directory.
    assert_eq!(
        cli.run(&["libs", "cache-info"]).ok().lines(),
        ["No libraries cached. Run 'vm-system libs download' first."]
    );
    let run = cli.run(&["libs", "list"]).ok();
    assert_eq!(run.lines()[0], "Available libraries (6):");
    assert!(run
        .stdout
        .contains("\n  lodash-4.17.21 - lodash v4.17.21\n"));
    assert!(run.stdout.contains("\n    Global: _\n"));

    // Some files missing from --from: the others install, the exit status says it failed.
    let partial = tempfile::tempdir().unwrap();
    let libs = fixtures().join("libraries");
    std::fs::copy(
        libs.join("lodash-4.17.21.js"),
        partial.path().join("lodash.min.js"),
    )
    .unwrap();
    std::fs::write(partial.path().join("dayjs-1.11.10.js"), "tampered").unwrap();
    let run = cli.run(&[
        "libs",
        "download",
        "--from",
        partial.path().to_str().unwrap(),
    ]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .starts_with("Error: failed to install 5 of 6 libraries: "),
        "{}",
        run.stderr
    );
    assert!(
        run.stdout
            .contains("  lodash-4.17.21: 73015 bytes (.vm-cache/libraries/lodash-4.17.21.js)"),
        "{}",
        run.stdout
    );
    let run = cli.run(&[
        "libs",
        "download",
        "dayjs-1.11.10",
        "--from",
        partial.path().to_str().unwrap(),
    ]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("checksum mismatch"), "{}", run.stderr);

    let run = cli
        .run(&["libs", "download", "--from", libs.to_str().unwrap()])
        .ok();
    assert_eq!(
        run.lines()[0],
        "Downloading libraries to: .vm-cache/libraries"
    );
    let run = cli.run(&["libs", "cache-info"]).ok();
    let lines = run.lines();
    assert_eq!(lines[0], "Cached libraries (6):");
    assert!(run.stdout.contains("\n  lodash-4.17.21\n    Path: .vm-cache/libraries/lodash-4.17.21.js\n    Size: 73015 bytes\n    Modified: "));
    assert!(lines.last().unwrap().starts_with("Total cache size: "));
    // Already installed: nothing to do, still success.
    cli.run(&["libs", "download"]).ok();
    let run = cli.run(&["libs", "download", "nope-1.0"]);
    assert_eq!(run.code, 2);
}

#[test]
fn token_is_sent_from_the_environment_or_the_flag() {
    let daemon = common::Daemon::with_args(&["--token", "s3cret"]);
    let mut cli = Cli {
        url: daemon.url(),
        token: None,
        cwd: daemon.dir.clone(),
    };
    let run = cli.run(&["template", "list"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .starts_with("Error: api error (status=401, code=UNAUTHORIZED): "),
        "{}",
        run.stderr
    );
    cli.run(&["template", "list", "--token", "s3cret"]).ok();
    cli.token = Some("s3cret".into());
    assert_eq!(
        cli.run(&["template", "list"]).ok().lines(),
        ["No templates found"]
    );
    let run = cli.run(&["template", "list", "--token", "wrong"]);
    assert_eq!(run.code, 1, "the flag wins over the environment");
}

/// The README's quick start, run as written (second terminal) against a real daemon.
#[test]
fn readme_quick_start_runs_as_written() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let section = &readme[readme
        .find("## The vm-system program")
        .expect("README section")..];
    let blocks: Vec<&str> = section
        .split("```sh\n")
        .skip(1)
        .map(|b| &b[..b.find("```").unwrap()])
        .collect();
    assert!(blocks[0].contains("vm-system serve"), "{}", blocks[0]);
    let daemon = common::Daemon::start();
    let dir = daemon.dir.clone();
    // The README runs `serve` and `libs download` in one folder, sharing
    // .vm-cache/libraries; this daemon's cache is dir/libraries. Fill both from the
    // committed copies so `libs download` has nothing left to fetch.
    let cli = Cli {
        url: daemon.url(),
        token: None,
        cwd: dir.clone(),
    };
    let from = fixtures().join("libraries");
    for cache in ["libraries", ".vm-cache/libraries"] {
        cli.run(&[
            "libs",
            "download",
            "--library-cache",
            cache,
            "--from",
            from.to_str().unwrap(),
        ])
        .ok();
    }
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(BIN, bin.join("vm-system")).unwrap();
    let script = blocks[1]
        .replace("/tmp/etl", dir.join("etl").to_str().unwrap())
        .replace(
            "core/tests/fixtures",
            fixtures().canonicalize().unwrap().to_str().unwrap(),
        );
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(&dir)
        .env("PATH", path)
        .env("VM_SYSTEM_SERVER_URL", daemon.url())
        .env_remove("VM_SYSTEM_TOKEN")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{script}\n{stdout}\n{stderr}");
    // The template and session ids went into variables; every later line shows.
    assert!(
        stdout.starts_with("Added module: database to template "),
        "{stdout}"
    );
    assert!(stdout.contains(r#""json":[{"n":0}]"#), "{stdout}");
    assert!(
        stdout.contains(r#"{"level":"log","text":"GB: 2"}"#),
        "{stdout}"
    );
    assert!(
        stdout.contains("\nLoaded Libraries:\n  - lodash-4.17.21\n"),
        "{stdout}"
    );
    assert!(stdout.contains("\nClosed session: "), "{stdout}");
    assert_eq!(stdout.matches("Status: ok").count(), 3, "{stdout}");
    assert!(
        stdout.contains(" console         {\"level\":\"log\",\"text\":\"GB: 2\"}"),
        "{stdout}"
    );
}
