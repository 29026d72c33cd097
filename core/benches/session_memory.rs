//! Memory held by an idle session: resident set growth over many sessions, and where it
//! goes (the QuickJS runtime and context as rquickjs builds them, the heap the Rust side
//! keeps, the rest).
//! Run with `cargo bench -p vm-system --bench session_memory`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicI64, Ordering};

/// Counts the bytes the Rust side holds (C allocations, QuickJS's and SQLite's, are not
/// seen here).
struct Counting;

static RUST_HEAP: AtomicI64 = AtomicI64::new(0);

// SAFETY: forwards to the system allocator and only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        RUST_HEAP.fetch_add(layout.size() as i64, Ordering::Relaxed);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        RUST_HEAP.fetch_sub(layout.size() as i64, Ordering::Relaxed);
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        RUST_HEAP.fetch_add(new_size as i64 - layout.size() as i64, Ordering::Relaxed);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn resident_kb() -> i64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: i64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4
}

/// Resident and Rust-heap growth per item, in KB, over `n` items made by `make`.
fn per_item<T>(n: i64, mut make: impl FnMut() -> T) -> (Vec<T>, i64, i64) {
    let (rss, heap) = (resident_kb(), RUST_HEAP.load(Ordering::Relaxed));
    let items: Vec<T> = (0..n).map(|_| make()).collect();
    let rss = (resident_kb() - rss) / n;
    let heap = (RUST_HEAP.load(Ordering::Relaxed) - heap) / n / 1024;
    (items, rss, heap)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let n = 200;
    let dir = tempfile::tempdir().unwrap();
    let worktree = dir.path().to_str().unwrap();

    let vm = vm_system::VmSystem::open(dir.path().join("m.db")).unwrap();
    let t = vm.create_template("m", "quickjs").unwrap();
    // Warm up allocator and statement caches.
    for _ in 0..10 {
        vm.create_session(&t.id, "w", "0", worktree).unwrap();
    }
    let before = resident_kb();
    let (_, rss, heap) = per_item(n, || vm.create_session(&t.id, "w", "0", worktree).unwrap());
    let after = resident_kb();
    // The floor: a bare rquickjs runtime + full context, and what QuickJS says it holds.
    // Measured after the sessions, which stay alive: memory freed by a part measured first
    // would be reused by the next and hide its growth.
    let (raw, raw_rss, _) = per_item(n, || {
        let rt = rquickjs::Runtime::new().unwrap();
        let ctx = rquickjs::Context::full(&rt).unwrap();
        (rt, ctx)
    });
    let raw_js = raw[0].0.memory_usage();

    println!(
        "idle session memory: {rss} KB per session ({n} sessions, RSS {before} KB -> {after} KB)"
    );
    println!(
        "  of which: a bare rquickjs runtime + full context {raw_rss} KB resident (QuickJS \
         counts {} KB malloc'd, {} KB in use: {} objects, {} atoms, {} functions); the Rust \
         heap {heap} KB; the rest (prelude, console, timers, native modules, the session's \
         own objects) {} KB",
        raw_js.malloc_size / 1024,
        raw_js.memory_used_size / 1024,
        raw_js.obj_count,
        raw_js.atom_count,
        raw_js.js_func_count,
        rss - raw_rss - heap
    );
}
