//! Memory held by an idle session: resident set growth over many sessions.
//! Run with `cargo bench -p vm-system --bench session_memory`.

fn resident_kb() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let vm = vm_system::VmSystem::open(dir.path().join("m.db")).unwrap();
    let t = vm.create_template("m", "quickjs").unwrap();
    let worktree = dir.path().to_str().unwrap();
    // Warm up allocator and statement caches.
    for _ in 0..10 {
        vm.create_session(&t.id, "w", "0", worktree).unwrap();
    }
    let before = resident_kb();
    let n = 200;
    for _ in 0..n {
        vm.create_session(&t.id, "w", "0", worktree).unwrap();
    }
    let after = resident_kb();
    println!(
        "idle session memory: {} KB per session ({} sessions, RSS {} KB -> {} KB)",
        (after - before) / n,
        n,
        before,
        after
    );
}
