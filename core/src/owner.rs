//! Which process holds a session's runtime, and whether that process is still alive.

use std::collections::HashSet;
use std::sync::OnceLock;

use parking_lot::Mutex;

use crate::store::Owner;

/// `VmSystem` instances alive in this process.
fn live_instances() -> &'static Mutex<HashSet<String>> {
    static LIVE: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    LIVE.get_or_init(Mutex::default)
}

/// The identity of a new `VmSystem` instance of this process, registered as alive.
pub(crate) fn register_instance() -> Owner {
    let owner = Owner {
        pid: std::process::id(),
        started: process_start_ticks(std::process::id()).unwrap_or(0),
        instance: uuid::Uuid::new_v4().to_string(),
    };
    live_instances().lock().insert(owner.instance.clone());
    owner
}

/// Marks an instance of this process as gone.
pub(crate) fn unregister_instance(owner: &Owner) {
    live_instances().lock().remove(&owner.instance);
}

/// Whether the instance that owns a session row can still hold its runtime.
pub(crate) fn is_alive(owner: &Owner) -> bool {
    if owner.pid == std::process::id() {
        return live_instances().lock().contains(&owner.instance);
    }
    match process_start_ticks(owner.pid) {
        // A pid reused by a newer process has a different start time.
        Some(started) => owner.started == 0 || started == owner.started,
        None => false,
    }
}

/// Start time of a process in clock ticks since boot (field 22 of `/proc/<pid>/stat`).
fn process_start_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces; fields after it are plain.
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_dead_pid_is_not() {
        let me = register_instance();
        assert!(is_alive(&me));
        unregister_instance(&me);
        assert!(!is_alive(&me));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        let gone = Owner {
            pid,
            started: 1,
            instance: "x".into(),
        };
        assert!(!is_alive(&gone));
    }
}
