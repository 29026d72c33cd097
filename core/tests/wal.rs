//! A bounded WAL: 100,000 back-to-back executions on a file keep the `-wal` file under
//! 64 MiB and resident memory flat. Heavy in a debug build: `make test` runs it in release
//! (`cargo test --release -p vm-system --test wal -- --include-ignored`): measured at 48 s
//! on the 2-core machine while other builds loaded it (load average 11).

use std::path::{Path, PathBuf};
use std::time::Instant;

use vm_system::{ExecutionStatus, VmSystem};

mod common;

fn wal_bytes(db: &Path) -> u64 {
    let mut name = db.as_os_str().to_owned();
    name.push("-wal");
    std::fs::metadata(PathBuf::from(name)).map_or(0, |m| m.len())
}

fn rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
#[ignore = "100k executions: run in release by `make test`"]
fn wal_stays_bounded_over_100k_executions() {
    const EXECUTIONS: usize = 100_000;
    const THREADS: usize = 2;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("wal.db");
    let tree = common::Worktree::new(&[]);
    let vm = VmSystem::open(&db).unwrap();
    let t = vm.create_template("wal", "quickjs").unwrap();
    let started = Instant::now();
    let samples = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..THREADS {
            scope.spawn(|| {
                let s = vm.create_session(&t.id, "ws", "0", tree.str()).unwrap().id;
                for i in 0..EXECUTIONS / THREADS {
                    let exec = vm.repl(&s, "1+1").unwrap();
                    assert_eq!(exec.status, ExecutionStatus::Ok);
                    if i % 1000 == 0 {
                        samples.lock().unwrap().push((wal_bytes(&db), rss_kb()));
                    }
                }
            });
        }
    });
    let elapsed = started.elapsed();
    let samples = samples.into_inner().unwrap();
    let max_wal = samples.iter().map(|s| s.0).max().unwrap();
    // Memory after warm-up (the first tenth) against the end.
    let warm = samples[samples.len() / 10].1;
    let end = samples.iter().rev().take(10).map(|s| s.1).max().unwrap();
    eprintln!(
        "{EXECUTIONS} executions in {elapsed:?} ({:.0}/s): largest WAL {:.1} MiB, rss {warm} KiB after warm-up, {end} KiB at the end",
        EXECUTIONS as f64 / elapsed.as_secs_f64(),
        max_wal as f64 / (1 << 20) as f64
    );
    assert!(max_wal < 64 << 20, "WAL reached {max_wal} bytes");
    assert!(
        end < warm + 16 * 1024,
        "rss grew from {warm} KiB to {end} KiB"
    );
    let listed = vm
        .list_executions(&vm.list_sessions(None).unwrap()[0].id, 10)
        .unwrap();
    assert_eq!(listed.len(), 10);
}
