"""AsyncVmSystem: the same API as coroutines, never blocking the event loop."""

from __future__ import annotations

import asyncio
import inspect
import time
from pathlib import Path

import pytest
from conftest import spin

import vm_system
from vm_system import AsyncVmSystem, ExecutionStatus


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_mirrors_the_sync_api() -> None:
    sync = {n for n, _ in inspect.getmembers(vm_system.VmSystem, inspect.isfunction) if not n.startswith("_")}
    asyn = {n for n, f in inspect.getmembers(AsyncVmSystem, inspect.iscoroutinefunction) if not n.startswith("_")}
    assert sync - {"close"} <= asyn
    for name in sync - {"close"}:
        s = inspect.signature(getattr(vm_system.VmSystem, name))
        a = inspect.signature(getattr(AsyncVmSystem, name))
        assert list(s.parameters) == list(a.parameters), name
        assert [p.default for p in s.parameters.values()] == [p.default for p in a.parameters.values()], name


def test_event_loop_keeps_ticking(worktree: Path) -> None:
    async def main() -> int:
        async with AsyncVmSystem() as vm:
            t = await vm.create_template("async")
            s = await vm.create_session(t.id, "ws", "abc", worktree)
            ticks = 0
            done = False

            async def ticker() -> None:
                nonlocal ticks
                while not done:
                    ticks += 1
                    await asyncio.sleep(0.01)

            task = asyncio.create_task(ticker())
            e = await vm.repl(s.id, spin(300))
            done = True
            await task
            assert e.value == "done"
            return ticks

    assert run(main()) >= 15


def test_every_operation(worktree: Path, tmp_path: Path) -> None:
    (worktree / "main.js").write_text("console.log('file'); __ARGS__.n + 1")

    async def main() -> None:
        async with AsyncVmSystem(library_cache=tmp_path / "cache") as vm:
            assert isinstance(vm.sync, vm_system.VmSystem)
            t = await vm.create_template("a", engine="quickjs")
            assert (await vm.get_template(t.id)).name == "a"
            assert [x.id for x in await vm.list_templates()] == [t.id]
            settings = await vm.update_settings(t.id, limits={"cpu_ms": 1000})
            assert settings.limits.cpu_ms == 1000
            await vm.add_startup_file(t.id, "main.js", order_index=5)
            assert len(await vm.list_startup_files(t.id)) == 1
            await vm.remove_startup_file(t.id, "main.js")
            await vm.add_capability(t.id, "env", "HOME", enabled=False)
            assert len(await vm.list_capabilities(t.id)) == 1
            await vm.add_module(t.id, "fs")
            assert await vm.list_modules(t.id) == ["fs"]
            await vm.remove_module(t.id, "fs")
            assert len(await vm.available_modules()) >= 3
            await vm.add_library(t.id, "lodash-4.17.21")
            assert await vm.list_libraries(t.id) == ["lodash-4.17.21"]
            await vm.remove_library(t.id, "lodash-4.17.21")
            assert len(await vm.available_libraries()) == 6
            assert await vm.installed_libraries() == []
            with pytest.raises(vm_system.ValidationError):
                await vm.install_library("nope")
            seen: list = []
            s = await vm.create_session(t.id, "ws", "abc", worktree, on_event=seen.append)
            assert (await vm.get_session(s.id)).status == "ready"
            assert len(await vm.list_sessions(status="ready")) == 1
            assert (await vm.runtime_summary()).active_sessions == 1
            e = await vm.run_file(s.id, "main.js", args={"n": 41}, on_event=seen.append)
            assert e.value == 42 and [ev.type.value for ev in seen] == ["input_echo", "console", "value"]
            r = await vm.repl(s.id, "1 + 1")
            assert (await vm.get_execution(r.id)).value == 2
            assert len(await vm.list_executions(s.id, limit=1)) == 1
            assert len(await vm.events(r.id, after_seq=1)) == 1
            assert await vm.running_execution(s.id) is None
            await vm.cancel_execution(r.id)
            with pytest.raises(vm_system.SessionNotFoundError):
                await vm.repl("nope", "1")
            assert (await vm.close_session(s.id)).status == "closed"
            await vm.delete_template(t.id)

    run(main())


def test_task_cancellation_cancels_the_execution(worktree: Path) -> None:
    async def main() -> None:
        async with AsyncVmSystem() as vm:
            t = await vm.create_template("cancel")
            s = await vm.create_session(t.id, "ws", "abc", worktree)
            start = time.monotonic()
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(vm.repl(s.id, "while (true) {}"), timeout=0.2)
            for _ in range(200):
                if (await vm.list_executions(s.id, limit=1))[0].status != "running":
                    break
                await asyncio.sleep(0.01)
            assert (await vm.list_executions(s.id, limit=1))[0].status is ExecutionStatus.CANCELLED
            assert time.monotonic() - start < 3
            assert (await vm.repl(s.id, "3")).value == 3

    run(main())


def test_sessions_run_concurrently(worktree: Path) -> None:
    async def main() -> float:
        async with AsyncVmSystem() as vm:
            t = await vm.create_template("parallel")
            a, b = [await vm.create_session(t.id, "ws", "abc", worktree) for _ in range(2)]
            start = time.monotonic()
            results = await asyncio.gather(vm.repl(a.id, spin(300)), vm.repl(b.id, spin(300)))
            assert [r.value for r in results] == ["done", "done"]
            return time.monotonic() - start

    assert run(main()) < 0.55


def test_wrap_shares_the_instance(vm: vm_system.VmSystem) -> None:
    t = vm.create_template("shared")

    async def main() -> None:
        wrapped = AsyncVmSystem.wrap(vm)
        assert [x.id for x in await wrapped.list_templates()] == [t.id]

    run(main())
