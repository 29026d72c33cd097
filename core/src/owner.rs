//! Which process holds a session's runtime, and whether that process is still alive.

use parking_lot::Mutex;

use crate::store::Owner;

/// `VmSystem` instances alive in this process: a few at most, so a list. Its allocation is
/// freed when the last instance goes, so a program that has dropped every `VmSystem` holds
/// nothing of ours (valgrind reports no leak, not even a "possible" one).
static LIVE_INSTANCES: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// The identity of a new `VmSystem` instance of this process, registered as alive.
pub(crate) fn register_instance() -> Owner {
    let owner = Owner {
        pid: std::process::id(),
        started: process_start_ticks(std::process::id()).unwrap_or(0),
        instance: uuid::Uuid::new_v4().to_string(),
    };
    LIVE_INSTANCES.lock().push(owner.instance.clone());
    owner
}

/// Marks an instance of this process as gone.
pub(crate) fn unregister_instance(owner: &Owner) {
    let mut live = LIVE_INSTANCES.lock();
    live.retain(|id| *id != owner.instance);
    if live.is_empty() {
        *live = Vec::new();
    }
}

/// Whether the instance that owns a session row can still hold its runtime.
pub(crate) fn is_alive(owner: &Owner) -> bool {
    if owner.pid == std::process::id() {
        return LIVE_INSTANCES.lock().contains(&owner.instance);
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
