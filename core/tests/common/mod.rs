//! Shared set-up for the integration tests.
#![allow(dead_code)]

pub mod postgres;

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use vm_system::{Event, Execution, OpenOptions, VmSystem};

/// Opens a fresh store for a test: in memory by default; with `VM_SYSTEM_TEST_DB=postgres`
/// (`make test` runs the store-facing tests again so), a new database of this test
/// binary's private PostgreSQL cluster.
pub fn open() -> VmSystem {
    open_with(OpenOptions::default())
}

/// [`open`] with options.
pub fn open_with(options: OpenOptions) -> VmSystem {
    match std::env::var("VM_SYSTEM_TEST_DB").as_deref() {
        Ok("postgres") => {
            let cluster = postgres::PgCluster::shared()
                .expect("VM_SYSTEM_TEST_DB=postgres needs PostgreSQL installed");
            VmSystem::open_with(cluster.fresh_database(), options).unwrap()
        }
        Ok("") | Ok("memory") | Err(_) => VmSystem::open_in_memory_with(options).unwrap(),
        Ok(other) => panic!("VM_SYSTEM_TEST_DB={other:?}: expected postgres or memory"),
    }
}

/// Whether the tests run on PostgreSQL (`VM_SYSTEM_TEST_DB=postgres`).
pub fn on_postgres() -> bool {
    std::env::var("VM_SYSTEM_TEST_DB").as_deref() == Ok("postgres")
}

/// A temporary worktree with files in it.
pub struct Worktree {
    _dir: tempfile::TempDir,
    pub path: PathBuf,
}

impl Worktree {
    pub fn new(files: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().canonicalize().unwrap();
        let tree = Worktree { _dir: dir, path };
        for (rel, content) in files {
            tree.write(rel, content);
        }
        tree
    }

    pub fn write(&self, rel: &str, content: &str) {
        let p = self.path.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }

    pub fn str(&self) -> &str {
        self.path.to_str().unwrap()
    }
}

/// A fresh store (see [`open`]) with one template (settings patch applied) and a ready session.
pub fn session_with(settings: Value, files: &[(&str, &str)]) -> (VmSystem, String, Worktree) {
    let vm = open();
    let t = vm.create_template("test", "quickjs").unwrap();
    vm.update_settings(&t.id, &settings).unwrap();
    let tree = Worktree::new(files);
    let s = vm.create_session(&t.id, "ws", "abc", tree.str()).unwrap();
    (vm, s.id, tree)
}

pub fn session() -> (VmSystem, String, Worktree) {
    session_with(json!({}), &[])
}

pub fn events(vm: &VmSystem, exec: &Execution) -> Vec<Event> {
    vm.events(&exec.id, 0).unwrap()
}

pub fn types(events: &[Event]) -> Vec<&'static str> {
    events.iter().map(|e| e.event_type.as_str()).collect()
}

pub fn path_of(p: &Path) -> &str {
    p.to_str().unwrap()
}
