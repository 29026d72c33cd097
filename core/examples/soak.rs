//! Soak: many threads create and close sessions, run REPL snippets and files, cancel runs
//! and hit limits on one database file while another process reads its events. Reports
//! throughput, resident memory over time, the largest WAL seen, and fails on a deadlock
//! (no progress for 30 s), an execution left `running` or a reader that died.
//!
//! `cargo run --release -p vm-system --example soak -- [seconds=60] [threads=4] [db]`
//! (the short version runs in the tests: `core/tests/soak.rs`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use vm_system::{ExecutionStatus, VmSystem};

/// What a soak run measured.
#[derive(Debug)]
pub struct Report {
    pub seconds: f64,
    pub executions: u64,
    pub sessions: u64,
    pub cancels: u64,
    pub limits_hit: u64,
    pub rss_kb: Vec<u64>,
    pub max_wal_bytes: u64,
    pub reader_alive: bool,
}

impl Report {
    /// Mean resident memory of the second third of the run and of the last third, in KiB:
    /// the first third is warm-up (caches, pools, the allocator's arenas).
    pub fn rss_middle_and_end(&self) -> (u64, u64) {
        let n = self.rss_kb.len().max(3);
        let third = n / 3;
        let mean = |s: &[u64]| s.iter().sum::<u64>() / s.len().max(1) as u64;
        let middle = &self.rss_kb[third.min(self.rss_kb.len())..(2 * third).min(self.rss_kb.len())];
        let end = &self.rss_kb[(2 * third).min(self.rss_kb.len())..];
        (mean(middle), mean(end))
    }
}

/// The reader process's loop: reads sessions, executions and events of `db` until killed.
pub fn read_forever(db: &Path) -> ! {
    let vm = VmSystem::open(db).expect("the reader opens the database");
    loop {
        let sessions = vm.list_sessions(None).unwrap();
        for session in sessions.iter().rev().take(8) {
            for exec in vm.list_executions(&session.id, 20).unwrap() {
                let events = vm.events(&exec.id, 0).unwrap();
                for (i, e) in events.iter().enumerate() {
                    assert_eq!(e.seq, i as u64 + 1);
                }
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn wal_bytes(db: &Path) -> u64 {
    let mut name = db.as_os_str().to_owned();
    name.push("-wal");
    std::fs::metadata(PathBuf::from(name)).map_or(0, |m| m.len())
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Runs the soak for `duration` with `threads` workers on `db`; `spawn_reader` starts the
/// reading process on `db`.
pub fn soak(
    duration: Duration,
    threads: usize,
    db: &Path,
    spawn_reader: impl Fn(&Path) -> Child,
) -> Report {
    let worktree = tempfile::tempdir().unwrap();
    let tree = worktree.path().canonicalize().unwrap();
    std::fs::write(
        tree.join("job.js"),
        "let s = 0; for (let i = 0; i < 2000; i++) s += i; console.log('job', __ARGS__.n, s); s",
    )
    .unwrap();
    let tree = tree.to_str().unwrap().to_string();
    let vm = VmSystem::open(db).unwrap();
    let plain = vm.create_template("soak", "quickjs").unwrap().id;
    vm.update_settings(&plain, &json!({"limits": {"wall_ms": 2000}}))
        .unwrap();
    let tight = vm.create_template("soak-tight", "quickjs").unwrap().id;
    vm.update_settings(
        &tight,
        &json!({"limits": {"cpu_ms": 30, "wall_ms": 200, "max_events": 40, "max_output_kb": 4}}),
    )
    .unwrap();
    let mut reader = spawn_reader(db);

    let start = Instant::now();
    let deadline = start + duration;
    let stop = Arc::new(AtomicBool::new(false));
    let executions = Arc::new(AtomicU64::new(0));
    let sessions = Arc::new(AtomicU64::new(0));
    let cancels = Arc::new(AtomicU64::new(0));
    let limits_hit = Arc::new(AtomicU64::new(0));

    // Cancels whatever runs in a random live session, now and then.
    let canceller = {
        let (vm, stop, cancels) = (vm.clone(), stop.clone(), cancels.clone());
        std::thread::spawn(move || {
            let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
            while !stop.load(Ordering::Relaxed) {
                let ids = vm.runtime_summary().active_session_ids;
                if !ids.is_empty() {
                    let sid = &ids[rng.next() as usize % ids.len()];
                    if let Some(exec) = vm.running_execution(sid) {
                        if vm.cancel_execution(&exec).is_ok() {
                            cancels.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                std::thread::sleep(Duration::from_millis(3));
            }
        })
    };

    let workers: Vec<_> = (0..threads)
        .map(|w| {
            let (vm, plain, tight, tree) = (vm.clone(), plain.clone(), tight.clone(), tree.clone());
            let (stop, executions, sessions, limits_hit) = (
                stop.clone(),
                executions.clone(),
                sessions.clone(),
                limits_hit.clone(),
            );
            std::thread::spawn(move || {
                let mut rng = Rng(0x2545_f491_4f6c_dd1d ^ (w as u64 + 1));
                while !stop.load(Ordering::Relaxed) {
                    let template = if rng.next() % 4 == 0 { &tight } else { &plain };
                    let s = vm.create_session(template, "soak", "0", &tree).unwrap().id;
                    sessions.fetch_add(1, Ordering::Relaxed);
                    for k in 0..(rng.next() % 12 + 1) {
                        let exec = match rng.next() % 8 {
                            0 => vm.run_file(&s, "job.js", &json!({"n": k}), &json!({})),
                            1 => {
                                vm.repl(&s, "for (let i = 0; i < 100; i++) console.log('x', i); 1")
                            }
                            2 => vm.repl(&s, "while (true) {}"),
                            3 => vm.repl(&s, "throw new Error('soak')"),
                            4 => vm.repl(&s, "new Promise(r => setTimeout(() => r(7), 5))"),
                            _ => vm.repl(&s, "var acc = (globalThis.acc || 0) + 1; acc"),
                        };
                        executions.fetch_add(1, Ordering::Relaxed);
                        match exec {
                            Ok(e) => {
                                assert_ne!(e.status, ExecutionStatus::Running);
                                if e.metrics.limit.is_some() {
                                    limits_hit.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                            Err(e) if e.code() == vm_system::ErrorCode::OutputLimitExceeded => {
                                limits_hit.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(e) => panic!("worker {w}: {e}"),
                        }
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                    }
                    vm.close_session(&s).unwrap();
                }
            })
        })
        .collect();

    // Watch: memory, WAL size, progress (a stall of 30 s is a deadlock: abort loudly).
    let mut rss = Vec::new();
    let mut max_wal = 0;
    let mut last = (0, Instant::now());
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(250));
        rss.push(rss_kb());
        max_wal = max_wal.max(wal_bytes(db));
        let done = executions.load(Ordering::Relaxed);
        if done != last.0 {
            last = (done, Instant::now());
        } else if last.1.elapsed() > Duration::from_secs(30) {
            eprintln!("soak: no execution finished for 30 s: deadlock");
            std::process::abort();
        }
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    canceller.join().unwrap();
    let reader_alive = reader.try_wait().unwrap().is_none();
    let _ = reader.kill();
    let _ = reader.wait();
    let seconds = start.elapsed().as_secs_f64();
    drop(vm);

    // Afterwards nothing may be left running, from any process's point of view.
    let vm = VmSystem::open(db).unwrap();
    for session in vm.list_sessions(None).unwrap() {
        assert!(!session.status.is_live(), "{session:?}");
        for exec in vm.list_executions(&session.id, 10_000).unwrap() {
            assert_ne!(exec.status, ExecutionStatus::Running, "{exec:?}");
        }
    }
    Report {
        seconds,
        executions: executions.load(Ordering::Relaxed),
        sessions: sessions.load(Ordering::Relaxed),
        cancels: cancels.load(Ordering::Relaxed),
        limits_hit: limits_hit.load(Ordering::Relaxed),
        rss_kb: rss,
        max_wal_bytes: max_wal,
        reader_alive,
    }
}

#[allow(dead_code)]
fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--reader") {
        read_forever(Path::new(&args[2]));
    }
    let seconds: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(60);
    let threads: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(4);
    let dir = tempfile::tempdir().unwrap();
    let db = args
        .get(3)
        .map(PathBuf::from)
        .unwrap_or_else(|| dir.path().join("soak.db"));
    let report = soak(Duration::from_secs(seconds), threads, &db, |db| {
        Command::new(std::env::current_exe().unwrap())
            .arg("--reader")
            .arg(db)
            .spawn()
            .unwrap()
    });
    let (middle, end) = report.rss_middle_and_end();
    println!(
        "soak: {:.0} s, {threads} threads: {} executions ({:.0}/s), {} sessions, {} cancels, {} limits hit",
        report.seconds,
        report.executions,
        report.executions as f64 / report.seconds,
        report.sessions,
        report.cancels,
        report.limits_hit
    );
    println!(
        "rss: first {} KiB, middle third {middle} KiB, last third {end} KiB, max {} KiB; largest WAL {:.1} MiB; reader alive: {}",
        report.rss_kb.first().copied().unwrap_or(0),
        report.rss_kb.iter().max().copied().unwrap_or(0),
        report.max_wal_bytes as f64 / (1 << 20) as f64,
        report.reader_alive
    );
    assert!(report.reader_alive, "the reader process died");
    println!("nothing left running; no deadlock");
}
