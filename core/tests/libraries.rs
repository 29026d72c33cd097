//! The library catalog, the local cache and loading libraries into sessions, through the
//! public API. The six catalog files are committed under `fixtures/libraries/` (byte-exact
//! npm files), so these tests need no network; one test uses the real `npm pack` and skips
//! when npm or its registry is unreachable.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::Worktree;
use serde_json::{json, Value};
use vm_system::{ErrorCode, ExecutionStatus, OpenOptions, SessionStatus, VmSystem};

const NAMES: [&str; 6] = [
    "lodash-4.17.21",
    "moment-2.29.4",
    "axios-1.6.0",
    "ramda-0.29.0",
    "dayjs-1.11.10",
    "zustand-4.4.7",
];

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/libraries/{name}.js"))
}

/// A system whose library cache is a fresh temporary folder.
fn system() -> (VmSystem, tempfile::TempDir) {
    let cache = tempfile::tempdir().unwrap();
    let vm = common::open_with(OpenOptions {
        library_cache: Some(cache.path().join("libraries")),
        ..OpenOptions::default()
    });
    (vm, cache)
}

fn install_all(vm: &VmSystem) {
    for name in NAMES {
        let installed = vm.install_library(name, Some(&fixture(name))).unwrap();
        assert_eq!(installed.name, name);
    }
}

/// The usage snippets verified for each library: `(name, snippet, expected JSON)`.
fn usage() -> Vec<(String, String, Value)> {
    let text = include_str!("fixtures/library_usage.json");
    let cases: Vec<Value> = serde_json::from_str(text).unwrap();
    cases
        .into_iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["snippet"].as_str().unwrap().to_string(),
                c["expected_json"].clone(),
            )
        })
        .collect()
}

fn template_with(vm: &VmSystem, libraries: &[&str], settings: Value) -> String {
    let t = vm.create_template("libs", "quickjs").unwrap();
    vm.update_settings(&t.id, &settings).unwrap();
    for name in libraries {
        vm.add_library(&t.id, name).unwrap();
    }
    t.id
}

fn run_snippets(vm: &VmSystem, session_id: &str, only: Option<&str>) -> usize {
    let mut ran = 0;
    for (name, snippet, expected) in usage() {
        if only.is_some_and(|o| o != name) {
            continue;
        }
        let exec = vm.repl(session_id, &snippet).unwrap();
        assert_eq!(
            exec.status,
            ExecutionStatus::Ok,
            "{name}: {snippet}: {:?}",
            exec.error
        );
        assert_eq!(exec.value(), Some(&expected), "{name}: {snippet}");
        ran += 1;
    }
    ran
}

#[test]
fn the_catalog_has_the_six_libraries() {
    let (vm, _cache) = system();
    let available = vm.available_libraries();
    let names: Vec<&str> = available.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, NAMES);
    for lib in &available {
        assert_eq!(lib.name, format!("{}-{}", lib.package, lib.version));
        assert_eq!(lib.sha256.len(), 64);
        assert!(!lib.global.is_empty() && !lib.file.is_empty() && !lib.description.is_empty());
    }
    let covered: std::collections::BTreeSet<String> =
        usage().into_iter().map(|(n, _, _)| n).collect();
    assert_eq!(covered.len(), 6, "every library has usage snippets");
}

#[test]
fn every_library_loads_and_works_alone_and_all_together() {
    let (vm, _cache) = system();
    install_all(&vm);
    let tree = Worktree::new(&[]);
    for name in NAMES {
        let t = template_with(&vm, &[name], json!({}));
        let s = vm.create_session(&t, "ws", "abc", tree.str()).unwrap();
        assert!(run_snippets(&vm, &s.id, Some(name)) >= 2, "{name}");
    }
    for strict in [false, true] {
        let t = template_with(&vm, &NAMES, json!({"runtime": {"strict": strict}}));
        let s = vm.create_session(&t, "ws", "abc", tree.str()).unwrap();
        assert_eq!(run_snippets(&vm, &s.id, None), usage().len());
        let globals = vm
            .repl(&s.id, "[typeof _, typeof moment, typeof axios, typeof R, typeof dayjs, typeof zustandVanilla]")
            .unwrap();
        assert_eq!(
            globals.value(),
            Some(&json!([
                "function", "function", "function", "object", "function", "object"
            ]))
        );
    }
}

#[test]
fn installed_libraries_lists_the_intact_files_of_the_cache() {
    let (vm, _cache) = system();
    assert!(vm.installed_libraries().unwrap().is_empty());
    let lodash = vm
        .install_library("lodash-4.17.21", Some(&fixture("lodash-4.17.21")))
        .unwrap();
    vm.install_library("dayjs-1.11.10", Some(&fixture("dayjs-1.11.10")))
        .unwrap();
    let installed = vm.installed_libraries().unwrap();
    let names: Vec<&str> = installed.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, vec!["lodash-4.17.21", "dayjs-1.11.10"]);
    let catalog = vm.available_libraries();
    assert_eq!(lodash.sha256, catalog[0].sha256);
    assert_eq!(
        lodash.size,
        std::fs::metadata(fixture("lodash-4.17.21")).unwrap().len()
    );
    assert!(Path::new(&lodash.path).starts_with(vm.library_cache()));
    // Installing again replaces the file with the same bytes.
    vm.install_library("lodash-4.17.21", Some(&fixture("lodash-4.17.21")))
        .unwrap();
    assert_eq!(vm.installed_libraries().unwrap().len(), 2);
    let leftovers: Vec<_> = std::fs::read_dir(vm.library_cache())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_tampered_copy_is_refused_at_install() {
    let (vm, _cache) = system();
    let dir = tempfile::tempdir().unwrap();
    let tampered = dir.path().join("lodash.min.js");
    let mut bytes = std::fs::read(fixture("lodash-4.17.21")).unwrap();
    bytes.extend_from_slice(b"\nglobalThis.pwned = true;\n");
    std::fs::write(&tampered, bytes).unwrap();
    let e = vm
        .install_library("lodash-4.17.21", Some(&tampered))
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::Validation);
    assert!(e.to_string().contains("checksum mismatch"), "{e}");
    assert!(vm.installed_libraries().unwrap().is_empty());
    // A real file of another library is a mismatch too.
    let e = vm
        .install_library("lodash-4.17.21", Some(&fixture("dayjs-1.11.10")))
        .unwrap_err();
    assert!(e.to_string().contains("checksum mismatch"), "{e}");
}

#[test]
fn a_tampered_cached_file_crashes_the_session_and_is_never_loaded() {
    let (vm, _cache) = system();
    let installed = vm
        .install_library("dayjs-1.11.10", Some(&fixture("dayjs-1.11.10")))
        .unwrap();
    let mut bytes = std::fs::read(&installed.path).unwrap();
    // Were it loaded, the tampered file would throw, and the error would say so.
    bytes.extend_from_slice(b"\nthrow new Error('tampered code ran');\n");
    std::fs::write(&installed.path, bytes).unwrap();
    assert!(vm.installed_libraries().unwrap().is_empty());
    let t = template_with(&vm, &["dayjs-1.11.10"], json!({}));
    let tree = Worktree::new(&[]);
    let e = vm.create_session(&t, "ws", "abc", tree.str()).unwrap_err();
    assert_eq!(e.code(), ErrorCode::StartupFailed);
    let session = vm.get_session(e.session_id().unwrap()).unwrap();
    assert_eq!(session.status, SessionStatus::Crashed);
    let last_error = session.last_error.unwrap();
    assert!(
        last_error.contains("does not match its sha256"),
        "{last_error}"
    );
    assert!(
        last_error.contains("install_library(\"dayjs-1.11.10\")"),
        "{last_error}"
    );
    assert!(!last_error.contains("tampered code ran"), "{last_error}");
}

#[test]
fn a_missing_library_crashes_the_session_saying_how_to_install_it() {
    let (vm, _cache) = system();
    let t = template_with(&vm, &["lodash-4.17.21"], json!({}));
    let tree = Worktree::new(&[]);
    let e = vm.create_session(&t, "ws", "abc", tree.str()).unwrap_err();
    assert_eq!(e.code(), ErrorCode::StartupFailed);
    let session = vm.get_session(e.session_id().unwrap()).unwrap();
    assert_eq!(session.status, SessionStatus::Crashed);
    let last_error = session.last_error.unwrap();
    assert!(
        last_error.contains("lodash-4.17.21 is not installed"),
        "{last_error}"
    );
    assert!(
        last_error.contains("install_library(\"lodash-4.17.21\")"),
        "{last_error}"
    );
    // Installing it fixes the next session.
    vm.install_library("lodash-4.17.21", Some(&fixture("lodash-4.17.21")))
        .unwrap();
    let s = vm.create_session(&t, "ws", "abc", tree.str()).unwrap();
    assert_eq!(
        vm.repl(&s.id, "_.sum([1, 2, 3])").unwrap().value(),
        Some(&json!(6))
    );
}

#[test]
fn add_list_remove_library() {
    let (vm, _cache) = system();
    let t = vm.create_template("t", "quickjs").unwrap();
    assert!(vm.list_libraries(&t.id).unwrap().is_empty());
    vm.add_library(&t.id, "ramda-0.29.0").unwrap();
    vm.add_library(&t.id, "dayjs-1.11.10").unwrap();
    vm.add_library(&t.id, "ramda-0.29.0").unwrap();
    assert_eq!(
        vm.list_libraries(&t.id).unwrap(),
        vec!["dayjs-1.11.10", "ramda-0.29.0"]
    );
    assert_eq!(
        vm.get_template(&t.id).unwrap().libraries,
        vec!["dayjs-1.11.10", "ramda-0.29.0"]
    );
    vm.remove_library(&t.id, "ramda-0.29.0").unwrap();
    assert_eq!(vm.list_libraries(&t.id).unwrap(), vec!["dayjs-1.11.10"]);
    for bad in ["lodash", "lodash-4.17.20", "left-pad-1.0.0", "", "JSON"] {
        let e = vm.add_library(&t.id, bad).unwrap_err();
        assert_eq!(e.code(), ErrorCode::Validation, "{bad}");
        assert!(
            e.to_string().contains("lodash-4.17.21"),
            "the message lists the catalog: {e}"
        );
    }
    assert_eq!(
        vm.add_library("no-such-template", "dayjs-1.11.10")
            .unwrap_err()
            .code(),
        ErrorCode::TemplateNotFound
    );
}

#[test]
fn install_refuses_unknown_names_and_unreadable_files() {
    let (vm, _cache) = system();
    let e = vm
        .install_library("left-pad-1.0.0", Some(&fixture("dayjs-1.11.10")))
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::Validation);
    let e = vm
        .install_library("dayjs-1.11.10", Some(Path::new("/no/such/file.js")))
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::Validation);
    assert!(e.to_string().contains("cannot read library file"), "{e}");
}

/// Whether npm can reach its registry within a few seconds.
fn npm_reachable() -> Result<(), String> {
    let child = std::process::Command::new("npm")
        .args([
            "view",
            "dayjs@1.11.10",
            "version",
            "--fetch-retries=0",
            "--fetch-timeout=15000",
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = child.map_err(|e| format!("npm cannot be run: {e}"))?;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        match child.try_wait().map_err(|e| e.to_string())? {
            Some(status) if status.success() => return Ok(()),
            Some(status) => {
                return Err(format!(
                    "npm view failed ({status}); the registry is unreachable"
                ))
            }
            None if std::time::Instant::now() > deadline => {
                let _ = child.kill();
                return Err("npm view did not answer within 30 s".into());
            }
            None => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

#[test]
fn install_with_npm_pack() {
    if let Err(why) = npm_reachable() {
        println!("SKIPPED install_with_npm_pack: {why}");
        eprintln!("SKIPPED install_with_npm_pack: {why}");
        return;
    }
    let (vm, _cache) = system();
    let installed = vm.install_library("dayjs-1.11.10", None).unwrap();
    assert_eq!(installed.sha256, vm.available_libraries()[4].sha256);
    assert_eq!(
        installed.size,
        std::fs::metadata(fixture("dayjs-1.11.10")).unwrap().len()
    );
    let t = template_with(&vm, &["dayjs-1.11.10"], json!({}));
    let tree = Worktree::new(&[]);
    let s = vm.create_session(&t, "ws", "abc", tree.str()).unwrap();
    assert!(run_snippets(&vm, &s.id, Some("dayjs-1.11.10")) >= 2);
}
