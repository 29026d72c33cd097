//! The throughput loop the `threads` and `postgres` benchmarks share.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use vm_system::VmSystem;

/// Executions per second of recorded `repl("1+1")` with `threads` sessions, each on a
/// thread of its own, running back to back for `seconds` (after `warm_up` runs each).
pub fn throughput(
    vm: &VmSystem,
    worktree: &str,
    threads: usize,
    seconds: f64,
    warm_up: usize,
) -> f64 {
    let t = vm.create_template("throughput", "quickjs").unwrap();
    let sessions: Vec<String> = (0..threads)
        .map(|_| vm.create_session(&t.id, "bench", "0", worktree).unwrap().id)
        .collect();
    for s in &sessions {
        for _ in 0..warm_up {
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
