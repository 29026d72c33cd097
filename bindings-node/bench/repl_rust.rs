//! The Rust side of the Node benchmark: the same recorded `repl("1+1")` on an in-memory
//! database that `bench.mjs` times through `replSync`, so the binding's own cost is the
//! difference. `bench.mjs` runs it (`cargo run --release -p vm-system-node --example repl_rust`).

use std::time::Instant;

fn main() {
    let worktree = std::env::temp_dir().join(format!("vms-bench-rs-{}", std::process::id()));
    std::fs::create_dir_all(&worktree).expect("temporary worktree");
    let worktree = worktree.canonicalize().expect("canonical worktree");
    let vm = vm_system::VmSystem::open_in_memory().expect("in-memory database");
    let template = vm.create_template("bench", "quickjs").expect("template");
    let session = vm
        .create_session(&template.id, "bench", "HEAD", &worktree.to_string_lossy())
        .expect("session");
    for _ in 0..2000 {
        vm.repl(&session.id, "1+1").expect("warm-up run");
    }
    // The best of several rounds: the least disturbed by other work on the machine.
    let iterations = 5000;
    let best = (0..7)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..iterations {
                vm.repl(&session.id, "1+1").expect("run");
            }
            start.elapsed().as_secs_f64() * 1e6 / f64::from(iterations)
        })
        .fold(f64::INFINITY, f64::min);
    println!("{best:.2}");
    vm.close();
    let _ = std::fs::remove_dir_all(&worktree);
}
