"""Executions: repl, run_file, records, events, limits, live events, cancellation."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from conftest import spin

import vm_system
from vm_system import EventType, ExecutionKind, ExecutionStatus, VmSystem


def test_repl_value_and_state(vm: VmSystem, session: vm_system.Session) -> None:
    first = vm.repl(session.id, "var count = 1; let name = 'vm'; function inc() { return ++count }")
    assert first.status is ExecutionStatus.OK and first.kind is ExecutionKind.REPL
    second = vm.repl(session.id, "inc(); ({count, name, list: [1, 2.5, null], ok: true})")
    assert second.value == {"count": 2, "name": "vm", "list": [1, 2.5, None], "ok": True}
    assert second.result is not None and second.result["type"] == "object"
    assert second.input.startswith("inc()")
    assert vm.repl(session.id, "undefined").value is None
    assert vm.repl(session.id, "undefined").result == {"type": "undefined", "preview": "undefined"}


def test_nul_characters_are_javascript(vm: VmSystem, session: vm_system.Session) -> None:
    e = vm.repl(session.id, "'a\x00b'.length + /x\x00/.source.length")
    assert e.status is ExecutionStatus.OK and e.value == 5
    assert e.input == "'a\x00b'.length + /x\x00/.source.length"


def test_exception_is_not_an_api_error(vm: VmSystem, session: vm_system.Session) -> None:
    e = vm.repl(session.id, "missingVariable + 1")
    assert e.status is ExecutionStatus.ERROR
    assert e.error == "ReferenceError: missingVariable is not defined"
    events = vm.events(e.id)
    assert events[-1].type is EventType.EXCEPTION and events[-1].payload["name"] == "ReferenceError"


def test_run_file_args_env(vm: VmSystem, session: vm_system.Session, worktree: Path) -> None:
    (worktree / "src").mkdir()
    (worktree / "src" / "main.js").write_text(
        "console.log('hello', __ARGS__.who); ({args: __ARGS__, mode: __ENV__.MODE})"
    )
    e = vm.run_file(session.id, "src/main.js", args={"who": "py", "n": [1, 2]}, env={"MODE": "test"})
    assert e.kind is ExecutionKind.RUN_FILE and e.path == "src/main.js"
    assert e.value == {"args": {"who": "py", "n": [1, 2]}, "mode": "test"}
    assert e.args == {"who": "py", "n": [1, 2]} and e.env == {"MODE": "test"}
    plain = vm.run_file(session.id, "src/main.js")
    assert plain.args == {} and plain.env == {}
    with pytest.raises(vm_system.ValidationError):
        vm.run_file(session.id, "src/main.js", env={"N": 1})
    with pytest.raises(vm_system.InvalidPathError):
        vm.run_file(session.id, "../outside.js")
    with pytest.raises(vm_system.VmFileNotFoundError):
        vm.run_file(session.id, "missing.js")


def test_events_get_and_list(vm: VmSystem, session: vm_system.Session) -> None:
    e = vm.repl(session.id, "console.log('a', 1, {b: [2]}); console.warn('w'); 7")
    events = vm.events(e.id)
    assert [ev.seq for ev in events] == [1, 2, 3, 4]
    assert [ev.type.value for ev in events] == ["input_echo", "console", "console", "value"]
    assert events[1].payload == {"level": "log", "text": 'a 1 {"b":[2]}'}
    assert events[2].payload["level"] == "warn"
    assert [ev.seq for ev in vm.events(e.id, after_seq=2)] == [3, 4]
    assert events[0].to_dict()["type"] == "input_echo"
    got = vm.get_execution(e.id)
    assert got == e
    assert got.metrics.event_count == 4 and got.metrics.output_bytes > 0 and got.metrics.duration_ms >= 0
    assert got.ended_at is not None and got.ended_at >= got.started_at
    for _ in range(3):
        vm.repl(session.id, "1")
    listed = vm.list_executions(session.id)
    assert [x.id for x in listed][-1] == e.id and len(listed) == 4
    assert len(vm.list_executions(session.id, limit=2)) == 2
    with pytest.raises(vm_system.ValidationError):
        vm.list_executions(session.id, limit=0)
    with pytest.raises(vm_system.ExecutionNotFoundError):
        vm.get_execution("nope")


def test_cpu_limit_times_out(vm: VmSystem, template: vm_system.Template, worktree: Path) -> None:
    vm.update_settings(template.id, limits={"cpu_ms": 100})
    s = vm.create_session(template.id, "ws", "abc", worktree)
    e = vm.repl(s.id, "while (true) {}")
    assert e.status is ExecutionStatus.TIMEOUT and e.metrics.limit == "cpu_ms"
    assert vm.events(e.id)[-1].type is EventType.SYSTEM
    assert vm.repl(s.id, "2 + 2").value == 4


def test_output_limit(vm: VmSystem, template: vm_system.Template, worktree: Path) -> None:
    vm.update_settings(template.id, limits={"max_events": 5})
    s = vm.create_session(template.id, "ws", "abc", worktree)
    with pytest.raises(vm_system.OutputLimitExceededError) as info:
        vm.repl(s.id, "for (let i = 0; i < 100; i++) console.log(i)")
    assert info.value.execution_id
    stopped = vm.get_execution(info.value.execution_id)
    assert stopped.status is ExecutionStatus.ERROR and stopped.metrics.limit == "max_events"
    assert vm.events(stopped.id)[-1].type is EventType.SYSTEM


def test_live_events_in_order(vm: VmSystem, session: vm_system.Session) -> None:
    seen = []
    timings = []
    start = time.monotonic()

    def on_event(event: vm_system.Event) -> None:
        seen.append(event)
        timings.append(time.monotonic() - start)

    e = vm.repl(
        session.id,
        "console.log('early'); { const t = Date.now() + 200; while (Date.now() < t) {} } console.log('late'); 1",
        on_event=on_event,
    )
    assert [ev.seq for ev in seen] == [1, 2, 3, 4]
    assert seen == vm.events(e.id)
    # 'early' was delivered while the script still ran, not at its end.
    assert timings[-1] - timings[1] >= 0.15


def test_raising_callback_does_not_break_the_execution(vm: VmSystem, session: vm_system.Session) -> None:
    def on_event(event: vm_system.Event) -> None:
        raise ValueError("callback broke")

    e = vm.repl(session.id, "console.log('x'); 5", on_event=on_event)
    assert e.status is ExecutionStatus.OK and e.value == 5
    system = [ev for ev in vm.events(e.id) if ev.type is EventType.SYSTEM]
    assert system and "callback broke" in system[0].payload["message"]
    with pytest.raises(TypeError):
        vm.repl(session.id, "1", on_event=42)  # type: ignore[arg-type]


def test_cancel_from_another_thread(vm: VmSystem, session: vm_system.Session) -> None:
    def cancel_soon() -> None:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            running = vm.running_execution(session.id)
            if running:
                vm.cancel_execution(running)
                return
            time.sleep(0.005)

    canceller = threading.Thread(target=cancel_soon)
    canceller.start()
    e = vm.repl(session.id, "while (true) {}")
    canceller.join()
    assert e.status is ExecutionStatus.CANCELLED
    assert vm.running_execution(session.id) is None
    vm.cancel_execution(e.id)  # ended: left as it is
    with pytest.raises(vm_system.ExecutionNotFoundError):
        vm.cancel_execution("nope")


def test_close_session_interrupts_running(vm: VmSystem, session: vm_system.Session) -> None:
    result = {}

    def run() -> None:
        result["exec"] = vm.repl(session.id, spin(10_000))

    worker = threading.Thread(target=run)
    worker.start()
    while vm.running_execution(session.id) is None:
        time.sleep(0.005)
    vm.close_session(session.id)
    worker.join(5)
    assert result["exec"].status is ExecutionStatus.CANCELLED


def test_native_records_have_the_spec_keys(vm: VmSystem, session: vm_system.Session) -> None:
    # The native layer builds execution and event dicts field by field: every SPEC key is
    # there with a JSON type, `limit` only when a limit ended the run.
    native = vm._native
    keys = {"id", "session_id", "kind", "input", "path", "args", "env", "status",
            "started_at", "ended_at", "result", "error", "metrics"}
    metric_keys = {"duration_ms", "cpu_ms", "event_count", "output_bytes", "host_calls"}
    ok = native.repl(session.id, "console.log('é', 1); ({x: [1, 'y'], n: null})", None)
    assert set(ok) == keys and set(ok["metrics"]) == metric_keys
    assert ok["kind"] == "repl" and ok["status"] == "ok" and ok["path"] is None
    assert ok["args"] == {} and ok["env"] == {} and ok["error"] is None
    assert ok["result"]["json"] == {"x": [1, "y"], "n": None}
    assert isinstance(ok["metrics"]["cpu_ms"], float) and ok["metrics"]["event_count"] == 3
    assert json.loads(json.dumps(ok)) == ok
    assert native.get_execution(ok["id"]) == ok
    assert native.list_executions(session.id, 1) == [ok]
    events = native.events(ok["id"], 0)
    assert [set(e) for e in events] == [{"execution_id", "seq", "ts", "type", "payload"}] * 3
    assert events[1]["payload"] == {"level": "log", "text": "é 1"}
    assert [e["seq"] for e in events] == [1, 2, 3] and events[0]["type"] == "input_echo"
    seen: list = []
    native.repl(session.id, "console.warn('w')", seen.append)
    assert [e["type"] for e in seen] == ["input_echo", "console", "value"]
    assert seen[1]["payload"] == {"level": "warn", "text": "w"} and seen[1]["seq"] == 2
    vm.update_settings(session.template_id, limits={"max_events": 2})
    limited_session = vm.create_session(session.template_id, "ws", "c", session.worktree_path)
    with pytest.raises(vm_system.VmSystemError):
        vm.repl(limited_session.id, "for (let i = 0; i < 5; i++) console.log(i)")
    stopped = native.list_executions(limited_session.id, 1)[0]
    assert stopped["metrics"]["limit"] == "max_events" and set(stopped["metrics"]) == metric_keys | {"limit"}
