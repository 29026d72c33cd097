//! Record ids and the process id, made without a system call on the hot path.
//!
//! Every execution gets a new id, and `uuid::Uuid::now_v7` asks the kernel for random bytes
//! (`getrandom`) for each one, behind a process-wide mutex; `std::process::id()` is a
//! `getpid` system call each time. Both ran on every recorded run.

use std::cell::Cell;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Once;

/// The last time stamp handed out, as `milliseconds << 12 | counter`: ids of one process
/// are made in increasing order even within a millisecond.
static LAST_STAMP: AtomicU64 = AtomicU64::new(0);

/// The calling process's id, or 0 until it is read (and again in a `fork()` child).
static PID: AtomicU32 = AtomicU32::new(0);
static FORK_HANDLER: Once = Once::new();

extern "C" fn forget_pid() {
    // Runs in the child of a fork: an atomic store is async-signal-safe.
    PID.store(0, Ordering::Relaxed);
}

/// The id of the calling process, read once (and again after a `fork()`, whose child
/// handler forgets it).
pub(crate) fn process_id() -> u32 {
    let pid = PID.load(Ordering::Relaxed);
    if pid != 0 {
        return pid;
    }
    FORK_HANDLER.call_once(|| {
        // SAFETY: registers a handler that only stores to an atomic.
        unsafe {
            libc::pthread_atfork(None, None, Some(forget_pid));
        }
    });
    let pid = std::process::id();
    PID.store(pid, Ordering::Relaxed);
    pid
}

thread_local! {
    /// A per-thread generator: (state, process it was seeded in).
    static RNG: Cell<(u64, u32)> = const { Cell::new((0, 0)) };
}

/// 64 random bits: wyrand, seeded from the kernel once per thread and again in a forked
/// child (which would otherwise repeat its parent's ids).
fn random_u64() -> u64 {
    RNG.with(|cell| {
        let (mut state, seeded_in) = cell.get();
        let pid = process_id();
        if seeded_in != pid {
            state = kernel_random() ^ u64::from(pid);
        }
        state = state.wrapping_add(0xa076_1d64_78bd_642f);
        cell.set((state, pid));
        let t = u128::from(state) * u128::from(state ^ 0xe703_7ed1_a0b4_28db);
        (t >> 64) as u64 ^ t as u64
    })
}

fn kernel_random() -> u64 {
    let mut bytes = [0u8; 8];
    // SAFETY: getrandom writes at most `len` bytes into a buffer of that size.
    let n = unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), 0) };
    if n != bytes.len() as isize {
        // No entropy source (an old kernel): the clock and the thread's address still
        // differ between threads and processes.
        let local = 0u8;
        let mix = crate::timestamp::now_ms() as u64 ^ ((&local as *const u8 as u64) << 16);
        bytes = mix.to_le_bytes();
    }
    u64::from_le_bytes(bytes)
}

/// A new record id: a UUID of version 7 (RFC 9562): 48 bits of Unix milliseconds, a 12-bit
/// counter that keeps one process's ids in order, 62 random bits. Rows of one table are
/// inserted in order and each commit touches the same few index pages.
pub(crate) fn new_id() -> String {
    let ms = (crate::timestamp::now_ms().max(0) as u64) & ((1 << 48) - 1);
    let floor = ms << 12;
    let stamp = match LAST_STAMP.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |last| {
        Some(floor.max(last + 1))
    }) {
        Ok(last) | Err(last) => floor.max(last + 1),
    };
    let random = random_u64();
    let high = (stamp >> 12) << 16 | 0x7000 | (stamp & 0xfff);
    let low = (0b10 << 62) | (random >> 2);
    uuid::Uuid::from_u64_pair(high, low).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_version_7_unique_and_ordered() {
        let ids: Vec<String> = (0..10_000).map(|_| new_id()).collect();
        for pair in ids.windows(2) {
            assert!(pair[0] < pair[1], "{} then {}", pair[0], pair[1]);
        }
        let parsed = uuid::Uuid::parse_str(&ids[0]).unwrap();
        assert_eq!(parsed.get_version_num(), 7);
        assert_eq!(parsed.get_variant(), uuid::Variant::RFC4122);
        let (secs, _) = parsed.get_timestamp().unwrap().to_unix();
        let now = crate::timestamp::now_ms() as u64 / 1000;
        assert!(secs + 5 >= now && secs <= now, "{secs} vs {now}");
    }

    #[test]
    fn ids_of_many_threads_are_distinct() {
        let all: Vec<String> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|_| s.spawn(|| (0..5000).map(|_| new_id()).collect::<Vec<_>>()))
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap())
                .collect()
        });
        let unique: std::collections::HashSet<&String> = all.iter().collect();
        assert_eq!(unique.len(), all.len());
    }

    #[test]
    fn the_process_id_is_this_process() {
        assert_eq!(process_id(), std::process::id());
        assert_eq!(process_id(), std::process::id());
    }
}
