//! Benchmark of the daemon on its two stores and of a relayed request (not a timed test):
//!
//! ```text
//! cargo bench -p vm-system-cli --bench cluster
//! ```
//!
//! Starts a private PostgreSQL cluster (the tests' harness: `initdb` into a temporary
//! folder, loopback port, `fsync=off`) and release `vm-system serve` daemons, then prints
//! one Markdown table: the REPL `1+1` round trip and recorded executions per second (1, 2,
//! 4 and 8 clients, each on its own session and keep-alive connection) with one daemon on
//! a SQLite file and on PostgreSQL; then, with two daemons on PostgreSQL, the round trip
//! to the session's owner (direct) and through the other daemon (relayed), measured
//! alternately so both see the same machine. Each row notes the one-minute load average.
//! `BENCH_SCALE=0.2` shortens every loop.

mod common;
// The core's harness, formatted with the core.
#[rustfmt::skip]
#[path = "../../core/tests/common/postgres.rs"]
mod postgres;

use std::time::Instant;

use common::{fmt, load, scale, session, stats, template, throughput, time, Conn, Daemon};
use serde_json::json;

fn row(name: &str, store: &str, (median, p90, min): (f64, f64, f64)) {
    println!(
        "| {name} | {store} | {} | {} | {} | {} |",
        fmt(median),
        fmt(p90),
        fmt(min),
        load()
    );
}

/// Round trip and throughput of one daemon on `db` (`None`: SQLite).
fn one_daemon(db: Option<&str>, store: &str, wt: &std::path::Path) {
    let d = Daemon::start(db, &[]);
    let mut c = Conn::open(&d.addr);
    let t = template(&mut c, "bench", json!({"max_events": 100000}));
    let s = session(&mut c, &t, wt);
    let repl = json!({"session_id": s, "input": "1+1"}).to_string();
    row(
        "REPL `1+1` round trip, one daemon",
        store,
        time(scale(2000), || {
            let (status, _) = c.call("POST", "/executions/repl", Some(&repl));
            assert_eq!(status, 201);
        }),
    );
    let seconds = 2.0 * scale(100) as f64 / 100.0;
    for clients in [1, 2, 4, 8] {
        let sessions = (0..clients).map(|_| session(&mut c, &t, wt)).collect();
        let rate = throughput(&d.addr, sessions, seconds);
        println!(
            "| recorded executions/s, {clients} client(s) on their own sessions | {store} | {rate:.0}/s | | | {} |",
            load()
        );
    }
}

fn main() {
    let Some(pg) = postgres::PgCluster::start_or_skip() else {
        return;
    };
    let worktree = tempfile::tempdir().unwrap();
    let wt = worktree.path().canonicalize().unwrap();
    println!("| measurement | store | median | p90 | min | load (1 min) |");
    println!("|---|---|---|---|---|---|");
    one_daemon(None, "SQLite", &wt);
    let db = pg.fresh_database();
    one_daemon(Some(&db), "PostgreSQL", &wt);

    // Two daemons on one store; the session lives in A.
    let db = pg.fresh_database();
    let a = Daemon::start(Some(&db), &[]);
    let b = Daemon::start(Some(&db), &[]);
    let mut to_a = Conn::open(&a.addr);
    let mut to_b = Conn::open(&b.addr);
    let t = template(&mut to_a, "bench", json!({"max_events": 100000}));
    let s = session(&mut to_a, &t, &wt);
    let repl = json!({"session_id": s, "input": "1+1"}).to_string();
    let n = scale(3000);
    let (mut direct, mut relayed) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for i in 0..n + n / 10 {
        for (conn, samples) in [(&mut to_a, &mut direct), (&mut to_b, &mut relayed)] {
            let started = Instant::now();
            let (status, body) = conn.call("POST", "/executions/repl", Some(&repl));
            let us = started.elapsed().as_secs_f64() * 1e6;
            assert_eq!(status, 201, "{body}");
            // The first tenth warms up.
            if i >= n / 10 {
                samples.push(us);
            }
        }
    }
    let (direct, relayed) = (stats(direct), stats(relayed));
    row("REPL `1+1` round trip, to the owner", "PostgreSQL", direct);
    row(
        "REPL `1+1` round trip, relayed by another daemon",
        "PostgreSQL",
        relayed,
    );
    println!(
        "| a relay's cost (relayed − direct, medians; target ≤ 150 µs) | PostgreSQL | {} | | | {} |",
        fmt(relayed.0 - direct.0),
        load()
    );
}
