"""Runs every cross-language case of tests/conformance/ (format in its README)."""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Dict, List

import pytest
from conftest import REPO_DIR

import vm_system
from vm_system import VmSystem

CASES_DIR = Path(os.environ.get("VM_SYSTEM_CONFORMANCE_DIR", REPO_DIR / "tests" / "conformance"))
CASES = sorted(CASES_DIR.glob("*.json"))


def test_cases_exist() -> None:
    assert CASES, f"no conformance cases in {CASES_DIR}"


def write_files(root: Path, files: Dict[str, str]) -> None:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)


def check_events(what: str, actual: List[vm_system.Event], expected: List[Dict[str, Any]]) -> None:
    shown = [(e.type.value, e.payload) for e in actual]
    assert len(actual) == len(expected), f"{what}: events {shown}"
    for i, (event, want) in enumerate(zip(actual, expected), start=1):
        assert event.seq == i, f"{what}: seq"
        assert event.type.value == want["type"], f"{what}: event {i} type; {shown}"
        for key, value in want.get("payload", {}).items():
            if value == "<absent>":
                assert key not in event.payload, f"{what}: event {i} has {key}: {event.payload}"
            else:
                assert event.payload.get(key) == value, f"{what}: event {i} payload {key} in {event.payload}"


def check_execution(vm: VmSystem, what: str, exec_: vm_system.Execution, step: Dict[str, Any]) -> None:
    assert exec_.status.value == step["status"], f"{what}: status ({exec_.error})"
    if "value" in step:
        assert exec_.value == step["value"], f"{what}: value"
    if "result_type" in step:
        assert (exec_.result or {}).get("type") == step["result_type"], f"{what}: result type"
    if "error_message" in step:
        assert exec_.error == step["error_message"], f"{what}: error"
    if "events" in step:
        check_events(what, vm.events(exec_.id), step["events"])


def run_step(vm: VmSystem, session_id: str, step: Dict[str, Any]) -> vm_system.Execution:
    op = step["op"]
    if op == "repl":
        return vm.repl(session_id, step["input"])
    if op == "run_file":
        return vm.run_file(session_id, step["path"], args=step.get("args", {}), env=step.get("env", {}))
    if op == "busy":
        held: Dict[str, Any] = {}

        def hold() -> None:
            try:
                held["exec"] = vm.repl(session_id, step["hold"])
            except BaseException as e:  # noqa: BLE001 - reported below
                held["error"] = e

        thread = threading.Thread(target=hold)
        thread.start()
        deadline = time.monotonic() + 10
        while not any(e.status.value == "running" for e in vm.list_executions(session_id)):
            assert time.monotonic() < deadline and thread.is_alive(), f"hold never started: {held}"
            time.sleep(0.001)
        try:
            return vm.repl(session_id, step["input"])
        finally:
            thread.join()
            assert "error" not in held, held
    raise AssertionError(f"unknown op {op}")


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_case(path: Path) -> None:
    case = json.loads(path.read_text())
    with tempfile.TemporaryDirectory() as wt, tempfile.TemporaryDirectory() as out:
        worktree, outside = Path(wt).resolve(), Path(out).resolve()
        write_files(worktree, case.get("files", {}))
        write_files(outside, case.get("outside_files", {}))
        for link in case.get("symlinks", []):
            target = link["target"].replace("<outside>", str(outside), 1) if link["target"].startswith("<outside>") else link["target"]
            os.symlink(target, worktree / link["link"])

        with VmSystem() as vm:
            template = vm.create_template(path.stem, engine="quickjs")
            setup = case.get("template", {})
            if "settings" in setup:
                vm.update_settings(template.id, **setup["settings"])
            for f in setup.get("startup_files", []):
                vm.add_startup_file(template.id, f["path"], f.get("order_index", 0), f.get("mode", "eval"))
            for m in setup.get("modules", []):
                vm.add_module(template.id, m)

            expect = case.get("session", {"status": "ready"})
            if "error" in expect:
                with pytest.raises(vm_system.VmSystemError) as info:
                    vm.create_session(template.id, "ws-conformance", "0000000", worktree)
                assert info.value.code == expect["error"], str(info.value)
                assert info.value.session_id, f"{info.value!r} carries no session id"
                session_id = info.value.session_id
            else:
                session_id = vm.create_session(template.id, "ws-conformance", "0000000", worktree).id
            session = vm.get_session(session_id)
            assert session.status.value == expect.get("status", "ready"), session.last_error
            if "startup" in expect:
                execs = list(reversed(vm.list_executions(session_id, 50)))
                assert len(execs) == len(expect["startup"]), "startup executions"
                for exec_, want in zip(execs, expect["startup"]):
                    assert exec_.kind.value == "startup" and exec_.path == want["path"]
                    check_execution(vm, f"startup {want['path']}", exec_, want)

            for i, step in enumerate(case["steps"], start=1):
                what = f"{path.stem} step {i}"
                before = len(vm.list_executions(session_id, 10_000))
                if "error" in step:
                    with pytest.raises(vm_system.VmSystemError) as info:
                        run_step(vm, session_id, step)
                    assert info.value.code == step["error"], f"{what}: {info.value}"
                    after = len(vm.list_executions(session_id, 10_000))
                    assert after == before + (step["op"] == "busy"), f"{what}: a refused request created a record"
                else:
                    check_execution(vm, what, run_step(vm, session_id, step), step)
            if session.status.value == "ready":
                assert vm.close_session(session_id).status.value == "closed"
