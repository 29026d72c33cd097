"""Sessions: lifecycle, startup files, listing, persistence."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import vm_system
from vm_system import SessionStatus, VmSystem


def test_create_get_close(vm: VmSystem, template: vm_system.Template, worktree: Path) -> None:
    s = vm.create_session(template.id, "ws-1", "deadbeef", str(worktree))
    assert isinstance(s, vm_system.Session)
    assert s.status is SessionStatus.READY and s.status == "ready"
    assert s.worktree_path == str(worktree) and s.workspace_id == "ws-1" and s.base_commit_oid == "deadbeef"
    # The owner instance: a UUID, the same for every session of this VmSystem.
    assert len(s.daemon_id) == 36 and s.to_dict()["daemon_id"] == s.daemon_id
    assert s.closed_at is None and s.created_at.tzinfo is not None
    assert vm.get_session(s.id) == s
    summary = vm.runtime_summary()
    assert isinstance(summary, vm_system.RuntimeSummary)
    assert summary.active_sessions == 1 and summary.active_session_ids == (s.id,)
    closed = vm.close_session(s.id)
    assert closed.status is SessionStatus.CLOSED and closed.closed_at is not None
    assert vm.close_session(s.id) == closed
    assert vm.runtime_summary().active_sessions == 0


def test_create_session_validates(vm: VmSystem, template: vm_system.Template, worktree: Path) -> None:
    with pytest.raises(vm_system.ValidationError):
        vm.create_session(template.id, "", "abc", worktree)
    with pytest.raises(vm_system.ValidationError):
        vm.create_session(template.id, "ws", "abc", "relative/dir")
    with pytest.raises(vm_system.ValidationError):
        vm.create_session(template.id, "ws", "abc", worktree / "missing")
    with pytest.raises(vm_system.TemplateNotFoundError):
        vm.create_session("no-such-template", "ws", "abc", worktree)


def test_list_sessions_by_status(vm: VmSystem, template: vm_system.Template, worktree: Path) -> None:
    a = vm.create_session(template.id, "ws", "abc", worktree)
    b = vm.create_session(template.id, "ws", "abc", worktree)
    vm.close_session(a.id)
    assert [s.id for s in vm.list_sessions()] == [a.id, b.id]
    assert [s.id for s in vm.list_sessions(status="ready")] == [b.id]
    assert [s.id for s in vm.list_sessions(SessionStatus.CLOSED)] == [a.id]
    with pytest.raises(vm_system.ValidationError):
        vm.list_sessions(status="sleeping")
    with pytest.raises(vm_system.SessionNotFoundError):
        vm.get_session("nope")


def test_startup_files_run_in_order_with_live_events(
    vm: VmSystem, template: vm_system.Template, worktree: Path
) -> None:
    (worktree / "boot").mkdir()
    (worktree / "boot" / "one.js").write_text("var order = ['one']; console.log('one')")
    (worktree / "boot" / "two.js").write_text("order.push('two'); console.info('two')")
    vm.add_startup_file(template.id, "boot/two.js", order_index=2)
    vm.add_startup_file(template.id, "boot/one.js", order_index=1)
    seen: list = []
    s = vm.create_session(template.id, "ws", "abc", worktree, on_event=seen.append)
    assert [(e.type.value, e.payload.get("text")) for e in seen if e.type == "console"] == [
        ("console", "one"),
        ("console", "two"),
    ]
    assert all(isinstance(e, vm_system.Event) for e in seen)
    startups = list(reversed(vm.list_executions(s.id)))
    assert [(e.kind.value, e.path, e.status.value) for e in startups] == [
        ("startup", "boot/one.js", "ok"),
        ("startup", "boot/two.js", "ok"),
    ]
    assert vm.repl(s.id, "order").value == ["one", "two"]


def test_startup_failure_crashes_the_session(vm: VmSystem, template: vm_system.Template, worktree: Path) -> None:
    (worktree / "boom.js").write_text("throw new Error('setup exploded')")
    vm.add_startup_file(template.id, "boom.js")
    with pytest.raises(vm_system.StartupFailedError) as info:
        vm.create_session(template.id, "ws", "abc", worktree)
    assert info.value.code == "STARTUP_FAILED" and info.value.session_id
    crashed = vm.get_session(info.value.session_id)
    assert crashed.status is SessionStatus.CRASHED and "setup exploded" in (crashed.last_error or "")
    with pytest.raises(vm_system.SessionNotReadyError) as not_ready:
        vm.repl(crashed.id, "1")
    assert not_ready.value.session_id == crashed.id


def test_missing_library_crashes_with_advice(vm: VmSystem, template: vm_system.Template, worktree: Path) -> None:
    vm.add_library(template.id, "ramda-0.29.0")
    with pytest.raises(vm_system.StartupFailedError) as info:
        vm.create_session(template.id, "ws", "abc", worktree)
    assert "install" in str(info.value)


def test_context_manager_closes_sessions(tmp_path: Path, worktree: Path) -> None:
    db = tmp_path / "state.db"
    with VmSystem(db) as vm:
        t = vm.create_template("persisted")
        s = vm.create_session(t.id, "ws", "abc", worktree)
        vm.repl(s.id, "1 + 1")
    assert vm.closed
    with pytest.raises(vm_system.ValidationError, match="closed"):
        vm.list_templates()
    vm.close()
    with VmSystem(path=str(db)) as again:
        assert [x.name for x in again.list_templates()] == ["persisted"]
        assert again.get_session(s.id).status is SessionStatus.CLOSED
        assert len(again.list_executions(s.id)) == 1


def test_session_of_exited_process_reads_closed(tmp_path: Path, worktree: Path) -> None:
    db = tmp_path / "shared.db"
    code = (
        "import os, sys, vm_system\n"
        f"vm = vm_system.VmSystem({str(db)!r})\n"
        "t = vm.create_template('other')\n"
        f"s = vm.create_session(t.id, 'ws', 'abc', {str(worktree)!r})\n"
        "print(s.id, flush=True)\n"
        "os._exit(0)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    session_id = out.stdout.strip()
    with VmSystem(db) as vm:
        lost = vm.get_session(session_id)
        assert lost.status is SessionStatus.CLOSED and "runtime lost" in (lost.last_error or "")
