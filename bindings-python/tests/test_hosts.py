"""The library inside real hosts: calls from a watcher and from other threads while a
watcher runs, asyncio cancels, closing while a session starts, fork, clear argument errors.

Every scenario that could hang or crash the interpreter runs in a child process with a
timeout, so a regression fails its test instead of freezing the suite.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Dict

import pytest

import vm_system
from vm_system import ExecutionStatus, VmSystem

PRELUDE = """
import asyncio, gc, json, os, sys, tempfile, threading, time
import vm_system
from vm_system import AsyncVmSystem, VmSystem

LONG = {"wall_ms": 60000, "cpu_ms": 60000}
SPIN = "console.log('go'); while (true) {}"

def setup(path=None, startup=None):
    vm = VmSystem(path)
    t = vm.create_template("t")
    vm.update_settings(t.id, limits=LONG)
    tree = tempfile.mkdtemp()
    if startup is not None:
        with open(os.path.join(tree, "start.js"), "w") as f:
            f.write(startup)
        vm.add_startup_file(t.id, "start.js")
    return vm, t, tree

def report(**values):
    print(json.dumps(values))
"""


def run_child(body: str, timeout: float = 30) -> Dict[str, Any]:
    """Runs `body` (after PRELUDE) in a fresh interpreter; returns what it reported."""
    script = PRELUDE + textwrap.dedent(body)
    try:
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the child process hung (more than {timeout} s)")
    assert done.returncode == 0, f"child exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, f"child reported nothing:\n{done.stdout}\n{done.stderr}"
    return json.loads(lines[-1])


@pytest.mark.parametrize("where", ["main", "thread"])
def test_close_session_inside_on_event(where: str) -> None:
    out = run_child(
        f"""
        vm, t, tree = setup()
        s = vm.create_session(t.id, "ws", "c", tree)
        seen = {{}}
        def on_event(e):
            if e.type.value == "console" and "closed" not in seen:
                started = time.monotonic()
                seen["closed"] = vm.close_session(s.id).status.value
                seen["took"] = time.monotonic() - started
        def work():
            seen["status"] = vm.repl(s.id, SPIN, on_event=on_event).status.value
        if "{where}" == "main":
            work()
        else:
            th = threading.Thread(target=work); th.start(); th.join()
        report(**seen, session=vm.get_session(s.id).status.value, active=vm.runtime_summary().active_sessions)
        """
    )
    assert out["status"] == "cancelled" and out["closed"] == "closed"
    assert out["took"] < 1.0
    assert out["session"] == "closed" and out["active"] == 0


def test_close_inside_on_event() -> None:
    out = run_child(
        """
        vm, t, tree = setup()
        s = vm.create_session(t.id, "ws", "c", tree)
        def on_event(e):
            if e.type.value == "console":
                vm.close()
        e = vm.repl(s.id, SPIN, on_event=on_event)
        report(status=e.status.value, closed=vm.closed)
        """
    )
    assert out == {"status": "cancelled", "closed": True}


def test_every_call_inside_on_event_returns() -> None:
    out = run_child(
        """
        vm, t, tree = setup()
        s = vm.create_session(t.id, "ws", "c", tree)
        other = vm.create_session(t.id, "ws", "c", tree)
        seen = {}
        def on_event(e):
            if e.type.value != "console" or seen:
                return
            running = vm.running_execution(s.id)
            seen["running"] = running == e.execution_id
            seen["get"] = vm.get_execution(running).status.value
            seen["events"] = len(vm.events(running))
            seen["list"] = len(vm.list_executions(s.id))
            try:
                vm.repl(s.id, "1")
            except vm_system.SessionBusyError:
                seen["same"] = "busy"
            seen["other"] = vm.repl(other.id, "20 + 22").value
            seen["summary"] = vm.runtime_summary().active_sessions
            vm.cancel_execution(running)
        e = vm.repl(s.id, SPIN, on_event=on_event)
        report(status=e.status.value, **seen)
        """
    )
    assert out == {
        "status": "cancelled",
        "running": True,
        "get": "running",
        "events": 2,
        "list": 1,
        "same": "busy",
        "other": 42,
        "summary": 2,
    }


def test_calls_from_another_thread_while_on_event_runs() -> None:
    out = run_child(
        """
        vm, t, tree = setup()
        s = vm.create_session(t.id, "ws", "c", tree)
        inside, release = threading.Event(), threading.Event()
        def on_event(e):
            if e.type.value == "console":
                inside.set()
                release.wait(20)
        result = {}
        th = threading.Thread(target=lambda: result.update(e=vm.repl(s.id, "console.log(1); 7", on_event=on_event)))
        th.start()
        inside.wait(10)
        started = time.monotonic()
        running = vm.running_execution(s.id)
        vm.get_execution(running)
        summary = vm.runtime_summary().active_sessions
        took = time.monotonic() - started
        release.set()
        th.join()
        report(took=took, same=running == result["e"].id, value=result["e"].value, summary=summary)
        """
    )
    assert out["same"] and out["value"] == 7 and out["summary"] == 1
    assert out["took"] < 1.0


def test_asyncio_wait_for_with_a_queue_watcher_does_not_freeze() -> None:
    # The README's pattern: events reach the loop through call_soon_threadsafe.
    out = run_child(
        """
        vm, t, tree = setup()
        s = vm.create_session(t.id, "ws", "c", tree)
        LOOP = "for (;;) { console.log('tick'); const u = Date.now() + 2; while (Date.now() < u) {} }"
        async def main():
            avm = AsyncVmSystem.wrap(vm)
            loop = asyncio.get_running_loop()
            q = asyncio.Queue()
            timeouts = 0
            for _ in range(3):
                try:
                    await asyncio.wait_for(
                        avm.repl(s.id, LOOP, on_event=lambda e: loop.call_soon_threadsafe(q.put_nowait, e)), 0.2
                    )
                except asyncio.TimeoutError:
                    timeouts += 1
                while vm.running_execution(s.id) is not None:
                    await asyncio.sleep(0.01)
            last = (await avm.repl(s.id, "6 * 7")).value
            statuses = [e.status.value for e in vm.list_executions(s.id)]
            return timeouts, q.qsize() > 0, last, statuses
        timeouts, got_events, last, statuses = asyncio.run(main())
        report(timeouts=timeouts, events=got_events, last=last, statuses=statuses)
        """
    )
    assert out["timeouts"] == 3 and out["events"] and out["last"] == 42
    assert out["statuses"] == ["ok", "cancelled", "cancelled", "cancelled"]


def test_close_while_create_session_runs_startup_files() -> None:
    out = run_child(
        """
        vm, t, tree = setup(startup=SPIN)
        baseline = threading.active_count()
        failure = {}
        def create():
            try:
                vm.create_session(t.id, "ws", "c", tree)
            except vm_system.VmSystemError as e:
                failure["code"] = e.code
                failure["sid"] = e.session_id
        th = threading.Thread(target=create)
        th.start()
        while not vm.list_sessions("starting"):
            time.sleep(0.005)
        time.sleep(0.05)
        sid = vm.list_sessions("starting")[0].id
        started = time.monotonic()
        status = vm.close_session(sid).status.value
        th.join(10)
        took = time.monotonic() - started
        report(code=failure.get("code"), same=failure.get("sid") == sid, status=status,
               after=vm.get_session(sid).status.value, active=vm.runtime_summary().active_sessions,
               took=took, alive=th.is_alive())
        """
    )
    assert out["code"] == "SESSION_NOT_READY" and out["same"]
    assert out["status"] == "closed" and out["after"] == "closed"
    assert out["active"] == 0 and not out["alive"] and out["took"] < 2.0


def test_vm_close_while_create_session_runs_startup_files() -> None:
    out = run_child(
        """
        db = os.path.join(tempfile.mkdtemp(), "vm.db")
        vm, t, tree = setup(db, startup=SPIN)
        th = threading.Thread(target=lambda: vm.create_session(t.id, "ws", "c", tree))
        th.start()
        while not vm.list_sessions("starting"):
            time.sleep(0.005)
        time.sleep(0.05)
        started = time.monotonic()
        vm.close()
        th.join(10)
        took = time.monotonic() - started
        statuses = [s.status.value for s in VmSystem(db).list_sessions()]
        report(took=took, alive=th.is_alive(), statuses=statuses)
        """
    )
    assert not out["alive"] and out["took"] < 2.0
    assert out["statuses"] == ["closed"]


def test_cancelled_async_create_leaves_no_live_session() -> None:
    out = run_child(
        """
        vm, t, tree = setup(startup=SPIN)
        async def main():
            avm = AsyncVmSystem.wrap(vm)
            try:
                await asyncio.wait_for(avm.create_session(t.id, "ws", "c", tree), 0.3)
                return "created"
            except asyncio.TimeoutError:
                return "timeout"
        outcome = asyncio.run(main())
        deadline = time.monotonic() + 5
        while vm.list_sessions("starting") and time.monotonic() < deadline:
            time.sleep(0.01)
        statuses = [s.status.value for s in vm.list_sessions()]
        report(outcome=outcome, statuses=statuses, active=vm.runtime_summary().active_sessions,
               took=5 - (deadline - time.monotonic()))
        """
    )
    assert out["outcome"] == "timeout"
    assert out["statuses"] == ["closed"] and out["active"] == 0
    assert out["took"] < 2.0


def test_fork_child_refuses_the_inherited_handle() -> None:
    out = run_child(
        """
        db = os.path.join(tempfile.mkdtemp(), "vm.db")
        vm, t, tree = setup(db)
        s = vm.create_session(t.id, "ws", "c", tree)
        vm.repl(s.id, "var kept = 'parent'")
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            result = {}
            for name, call in [
                ("list_templates", lambda: vm.list_templates()),
                ("repl", lambda: vm.repl(s.id, "1")),
                ("running_execution", lambda: vm.running_execution(s.id)),
                ("runtime_summary", lambda: vm.runtime_summary()),
                ("close_session", lambda: vm.close_session(s.id)),
            ]:
                try:
                    call()
                    result[name] = "worked"
                except vm_system.ValidationError as e:
                    result[name] = "open a new VmSystem" in str(e)
            vm.close()
            del vm
            gc.collect()
            own = VmSystem(db)
            result["parent_session"] = own.get_session(s.id).status.value
            mine = own.create_session(t.id, "child", "c", tree)
            result["own"] = own.repl(mine.id, "6 * 7").value
            own.close()
            os.write(w, json.dumps(result).encode())
            os._exit(0)
        os.close(w)
        deadline = time.monotonic() + 20
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                os.kill(pid, 9)
                raise SystemExit("the fork child hung")
            time.sleep(0.01)
        child = json.loads(os.read(r, 65536).decode() or "{}")
        report(child=child, exit=status, parent=vm.get_session(s.id).status.value,
               kept=vm.repl(s.id, "kept").value, active=vm.runtime_summary().active_sessions)
        """
    )
    assert out["exit"] == 0
    assert out["child"] == {
        "list_templates": True,
        "repl": True,
        "running_execution": True,
        "runtime_summary": True,
        "close_session": True,
        "parent_session": "ready",
        "own": 42,
    }
    assert out["parent"] == "ready" and out["kept"] == "parent" and out["active"] == 1


def test_path_arguments_name_themselves(vm: VmSystem, template: vm_system.Template) -> None:
    cases = [
        (lambda: VmSystem(42), "path must be a path (str or os.PathLike) or None, got int"),  # type: ignore[arg-type]
        (lambda: VmSystem(library_cache=42), "library_cache must be a path"),  # type: ignore[arg-type]
        (
            lambda: vm.create_session(template.id, "ws", "c", worktree_path=None),  # type: ignore[arg-type]
            "worktree_path must be a path (str or os.PathLike), got NoneType",
        ),
        (lambda: vm.install_library("lodash", from_file=3.5), "from_file must be a path"),  # type: ignore[arg-type]
    ]
    for call, message in cases:
        with pytest.raises(vm_system.ValidationError) as info:
            call()
        assert info.value.code == "VALIDATION_ERROR"
        assert message in str(info.value)


def test_a_second_handle_is_not_another_process(tmp_path: Path, worktree: Path) -> None:
    with VmSystem(tmp_path / "vm.db") as first, VmSystem(tmp_path / "vm.db") as second:
        t = first.create_template("t")
        s = first.create_session(t.id, "ws", "c", worktree)
        with pytest.raises(vm_system.SessionNotReadyError) as info:
            second.repl(s.id, "1")
        assert "another process" not in str(info.value)
        assert "another VmSystem handle of this process" in str(info.value)


def test_a_raising_watcher_is_recorded_on_the_last_event(vm: VmSystem, session: vm_system.Session) -> None:
    def on_event(event: vm_system.Event) -> None:
        if event.type.value == "value":
            raise ValueError("refused the value")

    e = vm.repl(session.id, "1 + 1", on_event=on_event)
    assert e.status is ExecutionStatus.OK
    events = vm.events(e.id)
    assert events[-1].type.value == "system" and "refused the value" in events[-1].payload["message"]
    assert e.metrics.event_count == len(events)


def test_console_strings_are_kept_whole(vm: VmSystem, template: vm_system.Template, worktree: Path) -> None:
    vm.update_settings(template.id, limits={"max_output_kb": 8192})
    s = vm.create_session(template.id, "ws", "c", worktree)
    e = vm.repl(s.id, "console.log('x'.repeat(3 << 20)); 1")
    text = vm.events(e.id)[1].payload["text"]
    assert len(text) == 3 << 20 and text.endswith("x")
