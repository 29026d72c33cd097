//! Shared set-up for the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use vm_system::{Event, Execution, VmSystem};

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

/// An in-memory system with one template (settings patch applied) and a ready session.
pub fn session_with(settings: Value, files: &[(&str, &str)]) -> (VmSystem, String, Worktree) {
    let vm = VmSystem::open_in_memory().unwrap();
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
