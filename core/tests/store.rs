//! The database file: what `VmSystem::open` accepts and refuses, migrating older files
//! forward, and reads while another connection commits.

use std::path::Path;

use vm_system::{ErrorCode, ExecutionStatus, SessionStatus, VmSystem};

mod common;

use common::Worktree;

fn bytes(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

fn wal_of(path: &Path) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push("-wal");
    name.into()
}

/// Opening `path` fails with VALIDATION_ERROR; returns the message.
fn refused(path: &Path) -> String {
    let err = VmSystem::open(path)
        .err()
        .expect("the file must be refused");
    assert_eq!(err.code(), ErrorCode::Validation, "{err}");
    err.to_string()
}

#[test]
fn random_bytes_are_refused_and_left_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("photo.db");
    let content: Vec<u8> = (0..5000u32).map(|i| (i * 7919 % 251) as u8).collect();
    std::fs::write(&path, &content).unwrap();
    let message = refused(&path);
    assert!(message.contains("not an SQLite database"), "{message}");
    assert!(message.contains("photo.db"), "{message}");
    assert_eq!(bytes(&path), content);
    assert!(!wal_of(&path).exists());

    // A short file that is not a database either.
    std::fs::write(&path, b"hello").unwrap();
    assert!(refused(&path).contains("not an SQLite database"));
    assert_eq!(bytes(&path), b"hello");
}

/// An application's own database, in the default (rollback journal) mode.
fn app_database(path: &Path, tables: &str, user_version: i64) -> Vec<u8> {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(tables).unwrap();
    conn.pragma_update(None, "user_version", user_version)
        .unwrap();
    drop(conn);
    bytes(path)
}

#[test]
fn another_applications_database_is_refused_and_left_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.db");
    let before = app_database(
        &path,
        "CREATE TABLE sessions (token TEXT PRIMARY KEY, user TEXT); INSERT INTO sessions VALUES ('a', 'b');",
        0,
    );
    let message = refused(&path);
    assert!(message.contains("another application"), "{message}");
    assert!(message.contains("sessions"), "{message}");
    assert!(message.contains("left unchanged"), "{message}");
    assert_eq!(bytes(&path), before, "the file must not be modified");
    assert!(
        !wal_of(&path).exists(),
        "the file must not be switched to WAL"
    );

    // With a `templates` table and a user_version of its own: still not ours, and no advice
    // to upgrade vm-system.
    let other = dir.path().join("cms.db");
    let before = app_database(
        &other,
        "CREATE TABLE templates (id INTEGER PRIMARY KEY, body TEXT);",
        7,
    );
    let message = refused(&other);
    assert!(message.contains("another application"), "{message}");
    assert!(!message.contains("newer"), "{message}");
    assert_eq!(bytes(&other), before);
    assert!(!wal_of(&other).exists());
}

#[test]
fn a_newer_schema_is_refused_and_left_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vm.db");
    drop(VmSystem::open(&path).unwrap());
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .unwrap();
    }
    let before = bytes(&path);
    let message = refused(&path);
    assert!(message.contains("schema version 99"), "{message}");
    assert!(message.contains("newer vm-system"), "{message}");
    assert_eq!(bytes(&path), before);
}

#[test]
fn paths_that_are_not_files_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no/such/dir/vm.db");
    let message = refused(&missing);
    assert!(message.contains("does not exist"), "{message}");
    assert!(!dir.path().join("no").exists());

    let message = refused(dir.path());
    assert!(message.contains("directory"), "{message}");

    // An empty file is a new database.
    let empty = dir.path().join("empty.db");
    std::fs::write(&empty, b"").unwrap();
    let vm = VmSystem::open(&empty).unwrap();
    vm.create_template("t", "quickjs").unwrap();
}

#[test]
fn memory_path_opens_a_private_in_memory_database() {
    let vm = VmSystem::open(":memory:").unwrap();
    let t = vm.create_template("t", "quickjs").unwrap();
    let tree = Worktree::new(&[]);
    let s = vm.create_session(&t.id, "ws", "0", tree.str()).unwrap();
    assert_eq!(vm.repl(&s.id, "6 * 7").unwrap().status, ExecutionStatus::Ok);
    // Private: a second one sees nothing of the first, and no file is made.
    let other = VmSystem::open(":memory:").unwrap();
    assert!(other.list_templates().unwrap().is_empty());
    assert!(!Path::new(":memory:").exists());
}

/// The first migration's SQL, exactly as released (the first raw string of schema.rs).
fn version_1_schema() -> &'static str {
    let source = include_str!("../src/store/sqlite/schema.rs");
    let start = source.find("r#\"").unwrap() + 3;
    let end = start + source[start..].find("\"#").unwrap();
    &source[start..end]
}

#[test]
fn a_version_1_file_migrates_forward_with_its_history() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.db");
    let tree = Worktree::new(&[]);
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(version_1_schema()).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute_batch(&format!(
            "INSERT INTO templates VALUES ('t1', 'old', 'quickjs', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z');
             INSERT INTO template_settings VALUES ('t1', '{{}}', '{{}}', '{{}}');
             INSERT INTO sessions VALUES ('s1', 't1', 'ws', 'c', '{tree}', 'closed',
                 '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:01.000Z', NULL, 1, 1, 'gone');
             INSERT INTO sessions VALUES ('s2', 't1', 'ws', 'c', '{tree}', 'ready',
                 '2026-01-01T00:00:00.000Z', NULL, NULL, {pid}, 0, 'gone');
             INSERT INTO executions VALUES ('e1', 's1', 'repl', '1+1', NULL, '{{}}', '{{}}', 'ok',
                 '2026-01-01T00:00:00.100Z', '2026-01-01T00:00:00.200Z', '2', NULL,
                 '{{\"duration_ms\":1.0,\"cpu_ms\":0.5,\"event_count\":3,\"output_bytes\":50,\"host_calls\":0,\"limit\":null}}');
             INSERT INTO events VALUES ('e1', 1, '2026-01-01T00:00:00.123Z', 'input_echo', '{{\"text\":\"1+1\"}}');
             INSERT INTO events VALUES ('e1', 2, '2026-01-01T00:00:00.150Z', 'console', '{{\"level\":\"log\",\"text\":\"hi\"}}');
             INSERT INTO events VALUES ('e1', 3, '2026-01-01T00:00:00.199Z', 'value', '{{\"type\":\"number\",\"preview\":\"2\",\"json\":2}}');
             INSERT INTO executions VALUES ('e2', 's2', 'repl', 'while(1){{}}', NULL, '{{}}', '{{}}', 'running',
                 '2026-01-01T00:00:02.000Z', NULL, NULL, NULL,
                 '{{\"duration_ms\":0.0,\"cpu_ms\":0.0,\"event_count\":1,\"output_bytes\":10,\"host_calls\":0,\"limit\":null}}');
             INSERT INTO events VALUES ('e2', 1, '2026-01-01T00:00:02.000Z', 'input_echo', '{{\"text\":\"while(1){{}}\"}}');",
            tree = tree.str(),
            pid = std::process::id(),
        ))
        .unwrap();
    }
    let vm = VmSystem::open(&path).unwrap();
    let e1 = vm.get_execution("e1").unwrap();
    assert_eq!(e1.status, ExecutionStatus::Ok);
    assert_eq!(e1.result, Some(serde_json::json!(2)));
    assert_eq!(e1.metrics.event_count, 3);
    let events = vm.events("e1", 0).unwrap();
    let seen: Vec<(u64, &str, &str)> = events
        .iter()
        .map(|e| (e.seq, e.ts.as_str(), e.event_type.as_str()))
        .collect();
    assert_eq!(
        seen,
        vec![
            (1, "2026-01-01T00:00:00.123Z", "input_echo"),
            (2, "2026-01-01T00:00:00.150Z", "console"),
            (3, "2026-01-01T00:00:00.199Z", "value"),
        ]
    );
    assert_eq!(events[1].payload["text"], "hi");
    assert_eq!(events[0].execution_id, "e1");
    assert_eq!(vm.events("e1", 2).unwrap().len(), 1);

    // The running execution of a vanished instance reads as ended, its event kept.
    let e2 = vm.get_execution("e2").unwrap();
    assert_eq!(e2.status, ExecutionStatus::Error);
    assert!(e2.error.unwrap().contains("runtime lost"));
    assert_eq!(vm.events("e2", 0).unwrap().len(), 1);
    assert_eq!(vm.get_session("s2").unwrap().status, SessionStatus::Closed);

    // New work lands beside the old.
    assert_eq!(vm.list_templates().unwrap()[0].name, "old");
    let t = vm.create_template("new", "quickjs").unwrap();
    let s = vm.create_session(&t.id, "ws", "c", tree.str()).unwrap();
    let e3 = vm.repl(&s.id, "console.log('new'); 3").unwrap();
    assert_eq!(vm.events(&e3.id, 0).unwrap().len(), 3);
    assert_eq!(vm.list_executions("s1", 10).unwrap().len(), 1);
    drop(vm);
    // And the file is now marked as ours: it opens again.
    let vm = VmSystem::open(&path).unwrap();
    assert_eq!(vm.list_executions(&s.id, 10).unwrap()[0].id, e3.id);
}

#[test]
fn reads_do_not_wait_for_the_writer() {
    // A reader on another handle of the same file is served while a long transaction of a
    // third connection holds the write lock.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vm.db");
    let vm = VmSystem::open(&path).unwrap();
    let t = vm.create_template("t", "quickjs").unwrap();
    let blocker = rusqlite::Connection::open(&path).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let started = std::time::Instant::now();
    assert_eq!(vm.list_templates().unwrap().len(), 1);
    assert_eq!(vm.get_template(&t.id).unwrap().template.name, "t");
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    blocker.execute_batch("ROLLBACK").unwrap();
}
