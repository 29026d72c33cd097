//! Throughput over threads: one session per thread running `repl("1+1")` back to back, on
//! a SQLite file and in memory, with the largest `-wal` size seen on the file.
//! Run with `cargo bench -p vm-system --bench threads` (optionally `-- SECONDS`).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use vm_system::VmSystem;

fn wal_bytes(db: &Path) -> u64 {
    let mut name = db.as_os_str().to_owned();
    name.push("-wal");
    std::fs::metadata(PathBuf::from(name)).map_or(0, |m| m.len())
}

/// Executions per second with `threads` sessions running at once for `seconds`.
fn throughput(vm: &VmSystem, worktree: &str, threads: usize, seconds: f64) -> f64 {
    let t = vm.create_template("threads", "quickjs").unwrap();
    let sessions: Vec<String> = (0..threads)
        .map(|_| vm.create_session(&t.id, "bench", "0", worktree).unwrap().id)
        .collect();
    for s in &sessions {
        for _ in 0..200 {
            vm.repl(s, "1+1").unwrap();
        }
    }
    let stop = AtomicBool::new(false);
    let done = AtomicU64::new(0);
    let started = Instant::now();
    std::thread::scope(|scope| {
        for s in &sessions {
            let (stop, done) = (&stop, &done);
            scope.spawn(move || {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    vm.repl(s, "1+1").unwrap();
                    n += 1;
                }
                done.fetch_add(n, Ordering::Relaxed);
            });
        }
        std::thread::sleep(Duration::from_secs_f64(seconds));
        stop.store(true, Ordering::Relaxed);
    });
    let rate = done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    for s in &sessions {
        vm.close_session(s).unwrap();
    }
    rate
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
            let rate = throughput(vm, &worktree, threads, seconds);
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
