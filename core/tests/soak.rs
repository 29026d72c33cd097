//! The short soak (a few seconds): threads creating and closing sessions, running snippets
//! and files, cancelling and hitting limits on a file while another process reads events.
//! The long one is `cargo run --release -p vm-system --example soak -- 60`.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

#[path = "../examples/soak.rs"]
mod soak;

/// The reading process: this test binary again, with `VMS_SOAK_READER` set.
#[test]
fn reader_child() {
    if let Ok(db) = std::env::var("VMS_SOAK_READER") {
        soak::read_forever(Path::new(&db));
    }
}

#[test]
fn short_soak_finds_no_deadlock_and_leaves_nothing_running() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("soak.db");
    let report = soak::soak(Duration::from_secs(4), 4, &db, |db| {
        Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "reader_child", "--nocapture", "--test-threads=1"])
            .env("VMS_SOAK_READER", db)
            .stdout(Stdio::null())
            .spawn()
            .unwrap()
    });
    eprintln!(
        "short soak: {:.1} s, {} executions, {} sessions, {} cancels, {} limits hit, WAL max {} bytes, rss {:?}",
        report.seconds,
        report.executions,
        report.sessions,
        report.cancels,
        report.limits_hit,
        report.max_wal_bytes,
        report.rss_middle_and_end()
    );
    assert!(report.reader_alive, "the reading process died");
    assert!(report.executions >= 20, "{report:?}");
    assert!(report.sessions >= 4, "{report:?}");
    assert!(report.max_wal_bytes < 64 << 20, "{report:?}");
    // Loose in a short run (allocator warm-up): the long soak reports the real figures.
    let (middle, end) = report.rss_middle_and_end();
    assert!(end < middle + 64 * 1024, "{report:?}");
}
