//! test262 through vm-system, against the engine's own `run-test262` as the baseline.
//!
//! A developer tool, not part of CI (the suite is not vendored): see tests/test262/README.md.
//!
//! ```text
//! cargo run --release -p vm-system --example test262 -- \
//!     --test262 /path/to/test262 --baseline /path/to/run-test262 --conf /path/to/test262.conf \
//!     built-ins/Promise language/module-code
//! ```
//!
//! Every test file under the given directories (relative to `test/`) runs as run-test262
//! would run it (`-a`: non-strict and strict, or once as a module; the same features and
//! exclusions from `test262.conf`), once by `run-test262 -f` and once in a fresh
//! vm-system session: the harness files through `repl`, the test through `repl` (scripts;
//! `"use strict";` prepended for the strict run) or `run_file` with `runtime.esm` (modules),
//! with `runtime.unhandled_rejections = "warn"`. It prints per-directory pass counts, every
//! run that passes raw but fails through vm-system (and the reverse), and the time per run.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::json;
use vm_system::{EventType, ExecutionStatus, VmSystem};

/// What `$262` and `print` are in a session: what a session can offer from JavaScript.
/// `createRealm`, `evalScript` and `agent` need host hooks a session does not have.
const HOST: &str = r#"
globalThis.print = function print(...args) { console.log(args.join(' ')); };
globalThis.$262 = {
  global: globalThis,
  detachArrayBuffer(buffer) { buffer.transfer(); return null; },
};
"#;

/// Host hooks a session is not meant to offer; a test that uses one is expected to differ.
const HOST_HOOKS: [&str; 3] = ["$262.createRealm", "$262.evalScript", "$262.agent"];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    NonStrict,
    Strict,
    Module,
}

impl Mode {
    fn label(self) -> &'static str {
        match self {
            Mode::NonStrict => "non-strict",
            Mode::Strict => "strict",
            Mode::Module => "module",
        }
    }
}

#[derive(Default)]
struct Meta {
    includes: Vec<String>,
    flags: Vec<String>,
    features: Vec<String>,
    negative_type: Option<String>,
}

/// The YAML front matter of a test (`/*--- … ---*/`), the keys run-test262 reads.
fn parse_meta(source: &str) -> Meta {
    let mut meta = Meta::default();
    let Some(start) = source.find("/*---") else {
        return meta;
    };
    let Some(len) = source[start..].find("---*/") else {
        return meta;
    };
    let yaml = &source[start + 5..start + len];
    let mut key = String::new();
    let mut in_negative = false;
    for line in yaml.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            continue;
        }
        let indented = line.starts_with(' ') || line.starts_with('\t');
        if !indented {
            in_negative = false;
            if let Some((k, rest)) = trimmed.split_once(':') {
                key = k.trim().to_string();
                in_negative = key == "negative";
                let rest = rest.trim();
                if let Some(list) = rest.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
                    for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                        push(&mut meta, &key, item);
                    }
                }
            }
            continue;
        }
        if in_negative {
            if let Some(t) = trimmed.strip_prefix("type:") {
                meta.negative_type = Some(t.trim().to_string());
            }
        } else if let Some(item) = trimmed.strip_prefix("- ") {
            push(&mut meta, &key, item.trim());
        }
    }
    meta
}

fn push(meta: &mut Meta, key: &str, item: &str) {
    let item = item.trim_matches(|c| c == '"' || c == '\'').to_string();
    match key {
        "includes" => meta.includes.push(item),
        "flags" => meta.flags.push(item),
        "features" => meta.features.push(item),
        _ => {}
    }
}

/// The parts of run-test262's configuration that select tests.
struct Conf {
    text: String,
    enabled: HashSet<String>,
    exclude: Vec<String>,
}

fn read_conf(path: &Path) -> Conf {
    let text = std::fs::read_to_string(path).expect("cannot read test262.conf");
    let mut section = String::new();
    let mut enabled = HashSet::new();
    let mut exclude = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        if line.starts_with('[') {
            section = line.to_string();
            continue;
        }
        match section.as_str() {
            // `X`, `X=yes` and (run-test262 is built with gcc here) `X=!tcc` enable a
            // feature; anything else (`X=skip`) disables it, as run-test262 reads them.
            "[features]" => {
                let (name, value) = line.split_once('=').unwrap_or((line, "yes"));
                if matches!(value.trim(), "yes" | "!tcc") {
                    enabled.insert(name.trim().to_string());
                }
            }
            "[exclude]" if !line.starts_with('!') => {
                exclude.push(line.trim_start_matches("test262/test/").to_string())
            }
            _ => {}
        }
    }
    Conf {
        text,
        enabled,
        exclude,
    }
}

/// A copy of the configuration for single runs of one mode, with absolute directories.
fn mode_conf(conf: &Conf, test262: &Path, mode: &str, out: &Path) -> PathBuf {
    let mut text = String::new();
    for line in conf.text.lines() {
        let key = line.split('=').next().unwrap_or("").trim();
        match key {
            "mode" => text.push_str(&format!("mode={mode}\n")),
            "harnessdir" => text.push_str(&format!(
                "harnessdir={}\n",
                test262.join("harness").display()
            )),
            "testdir" => text.push_str(&format!("testdir={}\n", test262.join("test").display())),
            "errorfile" | "verbose" => {}
            _ => {
                text.push_str(line);
                text.push('\n');
            }
        }
        if line.trim() == "[config]" {
            text.push_str("verbose=yes\n");
        }
    }
    let path = out.join(format!("test262-{mode}.conf"));
    std::fs::write(&path, text).expect("cannot write a configuration");
    path
}

struct Test {
    rel: String,
    source: String,
    meta: Meta,
    modes: Vec<Mode>,
}

fn plan(conf: &Conf, rel: String, source: String) -> Option<Test> {
    if conf.exclude.iter().any(|e| rel.starts_with(e.as_str())) {
        return None;
    }
    let meta = parse_meta(&source);
    if meta.features.iter().any(|f| !conf.enabled.contains(f)) {
        return None;
    }
    let has = |f: &str| meta.flags.iter().any(|x| x == f);
    let modes = if has("module") {
        vec![Mode::Module]
    } else {
        let mut m = Vec::new();
        if !has("onlyStrict") {
            m.push(Mode::NonStrict);
        }
        if !has("noStrict") && !has("raw") {
            m.push(Mode::Strict);
        }
        m
    };
    Some(Test {
        rel,
        source,
        meta,
        modes,
    })
}

/// One run by the engine's own runner: passes when it reports nothing for the file.
fn run_raw(baseline: &Path, conf: &Path, file: &Path) -> (bool, String) {
    let out = Command::new(baseline)
        .args(["-c", &conf.to_string_lossy(), "-f", &file.to_string_lossy()])
        .output()
        .expect("cannot run run-test262");
    let name = file.to_string_lossy();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let failure = text
        .lines()
        .find(|l| l.starts_with(name.as_ref()) && !l.contains("unknown feature"))
        .map(str::to_string);
    (
        out.status.success() && failure.is_none(),
        failure.unwrap_or_default(),
    )
}

struct Sessions {
    vm: VmSystem,
    script: String,
    module: String,
    used: usize,
}

fn sessions() -> Sessions {
    let vm = VmSystem::open_in_memory().expect("in-memory system");
    let mut ids = Vec::new();
    for esm in [false, true] {
        let t = vm.create_template("test262", "quickjs").unwrap();
        vm.update_settings(
            &t.id,
            &json!({
                "limits": {"cpu_ms": 20000, "wall_ms": 30000, "max_events": 100000, "max_output_kb": 65536},
                "runtime": {"esm": esm, "unhandled_rejections": "warn"}
            }),
        )
        .unwrap();
        ids.push(t.id);
    }
    Sessions {
        vm,
        module: ids.pop().unwrap(),
        script: ids.pop().unwrap(),
        used: 0,
    }
}

/// One run through vm-system in a fresh session; `Err` says why it failed.
fn run_ours(s: &mut Sessions, test262: &Path, test: &Test, mode: Mode) -> Result<(), String> {
    s.used += 1;
    if s.used > 300 {
        *s = sessions();
    }
    let template = if mode == Mode::Module {
        &s.module
    } else {
        &s.script
    };
    // A REPL input imports from the worktree's root, run-test262 from the test file's
    // directory: a script's session is rooted there, so `import("./x_FIXTURE.js")` finds
    // the same file. A module runs as `test/<path>` and imports from its own directory.
    let testdir = test262.join("test");
    let worktree = match mode {
        Mode::Module => testdir.clone(),
        _ => testdir
            .join(&test.rel)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or(testdir),
    };
    let session =
        s.vm.create_session(template, "test262", "0", &worktree.to_string_lossy())
            .map_err(|e| format!("session: {e}"))?;
    let result = run_in(&s.vm, &session.id, test262, test, mode);
    let _ = s.vm.close_session(&session.id);
    result
}

fn run_in(vm: &VmSystem, sid: &str, test262: &Path, test: &Test, mode: Mode) -> Result<(), String> {
    let is_async = test.meta.flags.iter().any(|f| f == "async");
    // run-test262 includes `sta.js` and `assert.js` for every test, `raw` ones too (they
    // are separate scripts, so they cannot change how the test itself is read).
    let mut includes = vec!["sta.js".to_string(), "assert.js".to_string()];
    includes.extend(test.meta.includes.iter().cloned());
    if is_async {
        includes.push("doneprintHandle.js".into());
    }
    let host = vm.repl(sid, HOST).map_err(|e| format!("host: {e}"))?;
    if host.status != ExecutionStatus::Ok {
        return Err(format!("host: {:?}", host.error));
    }
    for include in &includes {
        let text = std::fs::read_to_string(test262.join("harness").join(include))
            .map_err(|e| format!("{include}: {e}"))?;
        let e = vm.repl(sid, &text).map_err(|e| format!("{include}: {e}"))?;
        if e.status != ExecutionStatus::Ok {
            return Err(format!("{include}: {:?}", e.error));
        }
    }
    let exec = match mode {
        Mode::Module => vm.run_file(sid, &test.rel, &json!({}), &json!({})),
        Mode::Strict => vm.repl(sid, &format!("\"use strict\";\n{}", test.source)),
        Mode::NonStrict => vm.repl(sid, &test.source),
    }
    .map_err(|e| format!("{}: {e}", e.code().as_str()))?;
    let events = vm.events(&exec.id, 0).map_err(|e| e.to_string())?;
    let exception = events
        .iter()
        .find(|e| e.event_type == EventType::Exception)
        .map(|e| e.payload.clone());
    if let Some(expected) = &test.meta.negative_type {
        return match (&exec.status, exception) {
            (ExecutionStatus::Error, Some(e)) if e["name"] == expected.as_str() => Ok(()),
            (status, e) => Err(format!("expected {expected}, got {status:?} {e:?}")),
        };
    }
    if exec.status != ExecutionStatus::Ok {
        return Err(format!(
            "{:?}: {}",
            exec.status,
            exec.error.unwrap_or_default()
        ));
    }
    if is_async {
        let texts: Vec<&str> = events
            .iter()
            .filter(|e| e.event_type == EventType::Console)
            .filter_map(|e| e.payload["text"].as_str())
            .collect();
        // Exactly once, as run-test262 checks.
        let done = texts
            .iter()
            .filter(|t| **t == "Test262:AsyncTestComplete")
            .count();
        if done != 1 {
            return Err(format!("async test did not complete: {texts:?}"));
        }
    }
    Ok(())
}

#[derive(Default, Clone)]
struct Tally {
    runs: usize,
    raw: usize,
    ours: usize,
    raw_ms: f64,
    ours_ms: f64,
}

struct Difference {
    rel: String,
    mode: Mode,
    why: String,
    hook: Option<&'static str>,
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut test262 = None;
    let mut baseline = None;
    let mut conf = None;
    let mut jobs = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let mut dirs = Vec::new();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--test262" => test262 = args.next().map(PathBuf::from),
            "--baseline" => baseline = args.next().map(PathBuf::from),
            "--conf" => conf = args.next().map(PathBuf::from),
            "--jobs" => jobs = args.next().and_then(|j| j.parse().ok()).unwrap_or(jobs),
            other => dirs.push(other.trim_end_matches('/').to_string()),
        }
    }
    let (Some(test262), Some(baseline), Some(conf_path)) = (test262, baseline, conf) else {
        eprintln!("usage: test262 --test262 DIR --baseline run-test262 --conf test262.conf [--jobs N] DIR...");
        std::process::exit(2);
    };
    let test262 = test262.canonicalize().expect("test262 checkout");
    let conf = read_conf(&conf_path);
    let work = std::env::temp_dir().join(format!("vms-test262-{}", std::process::id()));
    std::fs::create_dir_all(&work).unwrap();
    let strict_conf = mode_conf(&conf, &test262, "strict", &work);
    let nostrict_conf = mode_conf(&conf, &test262, "nostrict", &work);

    let mut files = Vec::new();
    for dir in &dirs {
        collect(&test262.join("test").join(dir), &mut files);
    }
    files.sort();
    let mut tests = Vec::new();
    for file in files {
        let rel = file
            .strip_prefix(test262.join("test"))
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if rel.contains("_FIXTURE") {
            continue;
        }
        let Ok(source) = std::fs::read_to_string(&file) else {
            continue;
        };
        if let Some(t) = plan(&conf, rel, source) {
            tests.push(t);
        }
    }
    let total_runs: usize = tests.iter().map(|t| t.modes.len()).sum();
    eprintln!(
        "{} files, {} runs, {} threads",
        tests.len(),
        total_runs,
        jobs
    );

    let next = AtomicUsize::new(0);
    let tallies: Mutex<BTreeMap<String, Tally>> = Mutex::default();
    let differences: Mutex<Vec<Difference>> = Mutex::default();
    let reverse: Mutex<Vec<Difference>> = Mutex::default();
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                let mut s = sessions();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(test) = tests.get(i) else { break };
                    if i % 500 == 0 {
                        eprintln!("{i}/{} files, {:?}", tests.len(), started.elapsed());
                    }
                    let file = test262.join("test").join(&test.rel);
                    let group = dirs
                        .iter()
                        .find(|d| test.rel.starts_with(d.as_str()))
                        .cloned()
                        .unwrap_or_default();
                    for &mode in &test.modes {
                        let conf = if mode == Mode::Strict {
                            &strict_conf
                        } else {
                            &nostrict_conf
                        };
                        let t0 = Instant::now();
                        let (raw_ok, raw_why) = run_raw(&baseline, conf, &file);
                        let raw_ms = t0.elapsed().as_secs_f64() * 1000.0;
                        let t1 = Instant::now();
                        let ours = run_ours(&mut s, &test262, test, mode);
                        let ours_ms = t1.elapsed().as_secs_f64() * 1000.0;
                        {
                            let mut tallies = tallies.lock().unwrap();
                            let t = tallies.entry(group.clone()).or_default();
                            t.runs += 1;
                            t.raw += raw_ok as usize;
                            t.ours += ours.is_ok() as usize;
                            t.raw_ms += raw_ms;
                            t.ours_ms += ours_ms;
                        }
                        let hook = HOST_HOOKS.iter().copied().find(|h| test.source.contains(h));
                        if raw_ok != ours.is_ok() {
                            // As they come: a long run shows its differences early.
                            eprintln!(
                                "{} {} ({}): {}",
                                if raw_ok { "ours fails" } else { "raw fails" },
                                test.rel,
                                mode.label(),
                                match &ours {
                                    Err(why) => why.chars().take(200).collect::<String>(),
                                    Ok(()) => raw_why.clone(),
                                }
                            );
                        }
                        match (raw_ok, ours) {
                            (true, Err(why)) => differences.lock().unwrap().push(Difference {
                                rel: test.rel.clone(),
                                mode,
                                why,
                                hook,
                            }),
                            (false, Ok(())) => reverse.lock().unwrap().push(Difference {
                                rel: test.rel.clone(),
                                mode,
                                why: raw_why,
                                hook,
                            }),
                            _ => {}
                        }
                    }
                }
            });
        }
    });
    let _ = std::fs::remove_dir_all(&work);

    let tallies = tallies.into_inner().unwrap();
    let mut all = Tally::default();
    println!(
        "{:<40} {:>7} {:>7} {:>7} {:>9} {:>9}",
        "directory", "runs", "raw", "ours", "raw ms", "ours ms"
    );
    for (dir, t) in &tallies {
        println!(
            "{:<40} {:>7} {:>7} {:>7} {:>9.2} {:>9.2}",
            dir,
            t.runs,
            t.raw,
            t.ours,
            t.raw_ms / t.runs.max(1) as f64,
            t.ours_ms / t.runs.max(1) as f64
        );
        all.runs += t.runs;
        all.raw += t.raw;
        all.ours += t.ours;
        all.raw_ms += t.raw_ms;
        all.ours_ms += t.ours_ms;
    }
    println!(
        "{:<40} {:>7} {:>7} {:>7} {:>9.2} {:>9.2}",
        "total",
        all.runs,
        all.raw,
        all.ours,
        all.raw_ms / all.runs.max(1) as f64,
        all.ours_ms / all.runs.max(1) as f64
    );
    let mut differences = differences.into_inner().unwrap();
    differences.sort_by(|a, b| (&a.rel, a.mode.label()).cmp(&(&b.rel, b.mode.label())));
    let hooked = differences.iter().filter(|d| d.hook.is_some()).count();
    println!(
        "\npass raw, fail through vm-system: {} ({} need a $262 host hook a session does not offer)",
        differences.len(),
        hooked
    );
    for d in &differences {
        let why: String = d.why.chars().take(200).collect();
        match d.hook {
            Some(h) => println!("  [{h}] {} ({}): {why}", d.rel, d.mode.label()),
            None => println!("  {} ({}): {why}", d.rel, d.mode.label()),
        }
    }
    let reverse = reverse.into_inner().unwrap();
    println!("\nfail raw, pass through vm-system: {}", reverse.len());
    for d in &reverse {
        println!("  {} ({}): {}", d.rel, d.mode.label(), d.why);
    }
    println!(
        "\nwall time {:?}",
        Duration::from_secs(started.elapsed().as_secs())
    );
}

fn collect(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_file() {
        if path.extension().is_some_and(|e| e == "js") {
            out.push(path.to_path_buf());
        }
        return;
    }
    let Ok(entries) = std::fs::read_dir(path) else {
        return;
    };
    for entry in entries.flatten() {
        collect(&entry.path(), out);
    }
}
