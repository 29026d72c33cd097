//! Throughput over threads: one session per thread running `repl("1+1")` back to back, on
//! a SQLite file and in memory, with the largest `-wal` size seen on the file.
//! Run with `cargo bench -p vm-system --bench threads` (optionally `-- SECONDS`).

mod common {
    pub mod throughput;
}

use std::path::{Path, PathBuf};

use common::throughput::throughput;
use vm_system::VmSystem;

fn wal_bytes(db: &Path) -> u64 {
    let mut name = db.as_os_str().to_owned();
    name.push("-wal");
    std::fs::metadata(PathBuf::from(name)).map_or(0, |m| m.len())
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let seconds: f64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(3.0);
    let dir = tempfile::tempdir().unwrap();
    let worktree = dir.path().to_str().unwrap().to_string();
    let db = dir.path().join("threads.db");
    let file = VmSystem::open(&db).unwrap();
    let memory = VmSystem::open_in_memory().unwrap();
    for (name, vm) in [("file", &file), ("memory", &memory)] {
        let mut base = 0.0;
        for threads in [1, 2, 4] {
            let rate = throughput(vm, &worktree, threads, seconds, 200);
            if threads == 1 {
                base = rate;
            }
            let wal = if name == "file" {
                format!(
                    ", WAL now {:.1} MiB",
                    wal_bytes(&db) as f64 / (1 << 20) as f64
                )
            } else {
                String::new()
            };
            println!(
                "{name:6} {threads} thread(s): {rate:>8.0} executions/s ({:.2}x one thread){wal}",
                rate / base
            );
        }
    }
}
