"""Benchmark: vm-system (recorded) next to the `quickjs` and `mini-racer` PyPI packages.

Run with the vm-system wheel installed (``bash bindings-python/test.sh`` builds it):

    pip install quickjs mini-racer   # optional columns; skipped when missing
    python bindings-python/bench/bench.py [--quick]

Three workloads, the same JavaScript in each engine:
- ``repl("1+1")``: one small evaluation in a live context (vm-system also stores the
  execution and its two events in SQLite).
- session create: a fresh context (vm-system: a session row, a runtime, the console shim).
- 1,000 console lines: ``for (...) console.log('line', i)``; vm-system records each line as
  an event; `quickjs` calls a Python function per line; `mini-racer` has no synchronous
  host callbacks, so its lines are collected in JavaScript and returned as one string.
Neither package records anything.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from typing import Callable, Dict, List, Optional

import vm_system

CONSOLE_1000 = "for (let i = 0; i < 1000; i++) console.log('line', i)"


def measure(fn: Callable[[], object], repeat: int, warmup: int = 3) -> float:
    """Median seconds per call."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def bench_vm_system(n: int, worktree: str) -> Dict[str, float]:
    with vm_system.VmSystem() as vm:
        t = vm.create_template("bench")
        vm.update_settings(t.id, limits={"max_events": 5000})
        s = vm.create_session(t.id, "ws", "bench", worktree)
        repl = measure(lambda: vm.repl(s.id, "1+1"), n)

        def create() -> None:
            vm.close_session(vm.create_session(t.id, "ws", "bench", worktree).id)

        create_s = measure(create, max(n // 10, 20))
        console = measure(lambda: vm.repl(s.id, CONSOLE_1000), max(n // 50, 10))
        assert vm.repl(s.id, "1+1").value == 2
    return {"repl": repl, "create": create_s, "console": console}


def bench_quickjs(n: int) -> Optional[Dict[str, float]]:
    try:
        import quickjs
    except ImportError:
        return None
    ctx = quickjs.Context()
    repl = measure(lambda: ctx.eval("1+1"), n)
    create_s = measure(quickjs.Context, max(n // 10, 20))
    lines: List[str] = []
    ctx.add_callable("__log", lambda *args: lines.append(" ".join(str(a) for a in args)))
    ctx.eval("globalThis.console = { log: (...a) => __log(...a) }")
    console = measure(lambda: ctx.eval(CONSOLE_1000), max(n // 50, 10))
    assert lines[-1] == "line 999"
    return {"repl": repl, "create": create_s, "console": console}


def bench_mini_racer(n: int) -> Optional[Dict[str, float]]:
    try:
        from py_mini_racer import MiniRacer
    except ImportError:
        return None
    ctx = MiniRacer()
    repl = measure(lambda: ctx.eval("1+1"), n)
    create_s = measure(MiniRacer, max(n // 10, 20))
    code = "(() => { const out = []; for (let i = 0; i < 1000; i++) out.push('line ' + i); return out.join('\\n') })()"
    console = measure(lambda: ctx.eval(code), max(n // 50, 10))
    return {"repl": repl, "create": create_s, "console": console}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer iterations (smoke test)")
    opts = parser.parse_args()
    n = 100 if opts.quick else 2000
    with tempfile.TemporaryDirectory() as worktree:
        columns = {
            "vm-system (recorded)": bench_vm_system(n, worktree),
            "quickjs": bench_quickjs(n),
            "mini-racer": bench_mini_racer(n),
        }
    present = {k: v for k, v in columns.items() if v is not None}
    skipped = [k for k, v in columns.items() if v is None]
    rows = [
        ("repl('1+1') latency", "repl", 1e6, "µs"),
        ("session create", "create", 1e3, "ms"),
        ("1,000 console lines", "console", 1e3, "ms"),
    ]
    width = max(len(k) for k in present) + 2
    print(f"{'median':<24}" + "".join(f"{k:>{width}}" for k in present))
    for label, key, scale, unit in rows:
        cells = "".join(f"{present[k][key] * scale:>{width - 3}.1f} {unit}" for k in present)
        print(f"{label:<24}{cells}")
    if skipped:
        print("skipped (not installed):", ", ".join(skipped))


if __name__ == "__main__":
    main()
