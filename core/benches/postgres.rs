//! The PostgreSQL store under this workload: recorded `repl("1+1")` (one flush, so one
//! commit, per execution), one session per writer thread, 1, 2 and 4 writers (each with its
//! own connection from the pool); and one thread's round trip on PostgreSQL against a
//! SQLite file.
//!
//! `cargo bench -p vm-system --bench postgres [-- SECONDS]`. The store is
//! `VM_SYSTEM_BENCH_PG` (a `postgres://` URL of an empty database) when set, else a private
//! cluster started for the run (PostgreSQL's server binaries must be installed), with
//! `fsync=off` as in the tests: the figures are then the engine's cost, not the disk's.

#[path = "../tests/common/postgres.rs"]
mod cluster;
mod common {
    pub mod throughput;
}

use std::time::Instant;

use common::throughput::throughput;
use vm_system::VmSystem;

/// Mean microseconds of one recorded `repl("1+1")` on one thread.
fn round_trip_us(vm: &VmSystem, worktree: &str, runs: u32) -> f64 {
    let t = vm.create_template("latency", "quickjs").unwrap();
    let s = vm.create_session(&t.id, "bench", "0", worktree).unwrap();
    for _ in 0..200 {
        vm.repl(&s.id, "1+1").unwrap();
    }
    let started = Instant::now();
    for _ in 0..runs {
        vm.repl(&s.id, "1+1").unwrap();
    }
    let us = started.elapsed().as_secs_f64() * 1e6 / f64::from(runs);
    vm.close_session(&s.id).unwrap();
    us
}

/// Commits per second with 1, 2 and 4 writers.
fn writers(pg: &VmSystem, worktree: &str, seconds: f64, label: &str) {
    println!(
        "PostgreSQL ({label}), recorded repl(\"1+1\"), one session (and connection) per writer:"
    );
    let mut base = 0.0;
    for threads in [1, 2, 4] {
        let rate = throughput(pg, worktree, threads, seconds, 100);
        if threads == 1 {
            base = rate;
        }
        println!(
            "  {threads} writer(s): {rate:>8.0} commits/s ({:.2}x one writer)",
            rate / base
        );
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let seconds: f64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(3.0);
    let mut private = None;
    let url = match std::env::var("VM_SYSTEM_BENCH_PG") {
        Ok(url) => url,
        Err(_) => {
            let Some(started) = cluster::PgCluster::start_or_skip() else {
                return;
            };
            private.insert(started).fresh_database()
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let worktree = dir.path().to_str().unwrap().to_string();
    let pg = VmSystem::open(&url).unwrap();
    writers(&pg, &worktree, seconds, "fsync off: the engine's cost");
    if let Some(cluster) = &private {
        // Durable commits too: what a primary on this disk gives.
        cluster.psql("postgres", "ALTER SYSTEM SET fsync = on");
        cluster.psql("postgres", "SELECT pg_reload_conf()");
        writers(
            &pg,
            &worktree,
            seconds,
            "fsync on: durable commits on this disk",
        );
        cluster.psql("postgres", "ALTER SYSTEM SET fsync = off");
        cluster.psql("postgres", "SELECT pg_reload_conf()");
    }
    let sqlite = VmSystem::open(dir.path().join("bench.db")).unwrap();
    let runs = (seconds * 1000.0) as u32;
    let on_pg = round_trip_us(&pg, &worktree, runs);
    let on_file = round_trip_us(&sqlite, &worktree, runs * 5);
    println!(
        "One thread, recorded repl(\"1+1\"): PostgreSQL {on_pg:.0} us, SQLite file {on_file:.0} us"
    );
}
