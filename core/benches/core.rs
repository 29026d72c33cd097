//! Speed targets of the core, each beside the raw rquickjs floor it is compared with.
//! Run with `cargo bench -p vm-system --bench core`.

use criterion::{criterion_group, criterion_main, Criterion};
use rquickjs::{Context, Runtime};
use vm_system::VmSystem;

const FIB: &str = "function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2) } fib(25)";
const LINES: &str = "for (let i = 0; i < 1000; i++) console.log('line', i)";

fn system() -> (VmSystem, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let vm = VmSystem::open(dir.path().join("bench.db")).unwrap();
    let t = vm.create_template("bench", "quickjs").unwrap();
    vm.update_settings(
        &t.id,
        &serde_json::json!({"limits": {"max_events": 100000, "max_output_kb": 1048576}}),
    )
    .unwrap();
    (vm, t.id, dir)
}

fn benches(c: &mut Criterion) {
    let (vm, template, dir) = system();
    let worktree = dir.path().to_str().unwrap().to_string();
    let session = vm
        .create_session(&template, "bench", "0", &worktree)
        .unwrap()
        .id;

    c.bench_function("recorded repl 1+1 (file db)", |b| {
        b.iter(|| vm.repl(&session, "1+1").unwrap())
    });
    let memory = VmSystem::open_in_memory().unwrap();
    let mt = memory.create_template("bench", "quickjs").unwrap();
    let ms = memory
        .create_session(&mt.id, "bench", "0", &worktree)
        .unwrap()
        .id;
    c.bench_function("recorded repl 1+1 (in-memory db)", |b| {
        b.iter(|| memory.repl(&ms, "1+1").unwrap())
    });
    c.bench_function("raw rquickjs eval 1+1", |b| {
        let rt = Runtime::new().unwrap();
        let ctx = Context::full(&rt).unwrap();
        b.iter(|| ctx.with(|ctx| ctx.eval::<i32, _>("1+1").unwrap()))
    });

    c.bench_function("session create + close", |b| {
        b.iter(|| {
            let s = vm
                .create_session(&template, "bench", "0", &worktree)
                .unwrap();
            vm.close_session(&s.id).unwrap();
        })
    });
    c.bench_function("raw runtime + context", |b| {
        b.iter(|| {
            let rt = Runtime::new().unwrap();
            let ctx = Context::full(&rt).unwrap();
            drop(ctx);
            drop(rt);
        })
    });

    let mut group = c.benchmark_group("slow");
    group.sample_size(20);
    group.bench_function("1000 console lines recorded", |b| {
        b.iter(|| vm.repl(&session, LINES).unwrap())
    });
    group.bench_function("fib(25) recorded", |b| {
        b.iter(|| vm.repl(&session, FIB).unwrap())
    });
    group.bench_function("fib(25) raw rquickjs", |b| {
        let rt = Runtime::new().unwrap();
        let ctx = Context::full(&rt).unwrap();
        b.iter(|| ctx.with(|ctx| ctx.eval::<i32, _>(FIB).unwrap()))
    });
    group.finish();
}

criterion_group!(core, benches);
criterion_main!(core);
