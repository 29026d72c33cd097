"""The GIL is released while the core works; one VmSystem serves many threads; Ctrl-C
cancels the running execution."""

from __future__ import annotations

import _thread
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import spin

import vm_system
from vm_system import ExecutionStatus, VmSystem


def test_other_threads_run_during_a_script(vm: VmSystem, session: vm_system.Session) -> None:
    ticks = []
    stop = threading.Event()

    def ticker() -> None:
        while not stop.is_set():
            ticks.append(time.monotonic())
            time.sleep(0.01)

    thread = threading.Thread(target=ticker)
    thread.start()
    time.sleep(0.02)
    before = len(ticks)
    e = vm.repl(session.id, spin(300))
    during = len(ticks) - before
    stop.set()
    thread.join()
    assert e.value == "done"
    assert during >= 15, f"only {during} ticks while a 300 ms script ran: the GIL was held"


def test_gil_released_off_the_main_thread(vm: VmSystem, session: vm_system.Session) -> None:
    counter = [0]
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(vm.repl, session.id, spin(300))
        while not future.done():
            counter[0] += 1
            time.sleep(0.001)
        assert future.result().status is ExecutionStatus.OK
    assert counter[0] >= 100


def test_one_vm_many_threads_parallel_sessions(vm: VmSystem, template: vm_system.Template, worktree: Path) -> None:
    sessions = [vm.create_session(template.id, f"ws-{i}", "abc", worktree) for i in range(4)]

    def work(session: vm_system.Session) -> list:
        return [vm.repl(session.id, f"{i} * 2").value for i in range(50)]

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(work, sessions))
    assert results == [[i * 2 for i in range(50)]] * 4
    start = time.monotonic()
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda s: vm.repl(s.id, spin(300)), sessions[:2]))
    assert time.monotonic() - start < 0.55, "two sessions did not run in parallel"


def test_two_threads_one_session_busy(vm: VmSystem, session: vm_system.Session) -> None:
    holder = threading.Thread(target=vm.repl, args=(session.id, spin(400)))
    holder.start()
    while vm.running_execution(session.id) is None:
        time.sleep(0.002)
    with pytest.raises(vm_system.SessionBusyError) as info:
        vm.repl(session.id, "1 + 1")
    assert info.value.session_id == session.id
    holder.join()
    assert [e.input for e in vm.list_executions(session.id)] == [spin(400)], "the refused call left a record"


@pytest.mark.parametrize("how", ["raise_signal", "interrupt_main"])
def test_ctrl_c_cancels_the_execution(vm: VmSystem, session: vm_system.Session, how: str) -> None:
    assert threading.current_thread() is threading.main_thread()

    def interrupt() -> None:
        if how == "raise_signal":
            signal.raise_signal(signal.SIGINT)
        else:
            _thread.interrupt_main()

    timer = threading.Timer(0.2, interrupt)
    timer.start()
    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        vm.repl(session.id, "while (true) {}")
    timer.join()
    assert time.monotonic() - start < 3
    assert_cancelled(vm, session.id)
    assert vm.repl(session.id, "'still usable'").value == "still usable"


def test_ctrl_c_during_run_file(vm: VmSystem, session: vm_system.Session, worktree: Path) -> None:
    (worktree / "loop.js").write_text("for (;;) {}")
    timer = threading.Timer(0.2, signal.raise_signal, args=(signal.SIGINT,))
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        vm.run_file(session.id, "loop.js")
    timer.join()
    assert_cancelled(vm, session.id)


def assert_cancelled(vm: VmSystem, session_id: str) -> None:
    """The last execution was stopped by a cancellation (its closing `system` event says so)."""
    last = vm.list_executions(session_id, limit=1)[0]
    assert last.status is ExecutionStatus.CANCELLED and last.ended_at is not None
    closing = vm.events(last.id)[-1]
    assert closing.type == "system" and "cancel" in closing.payload["message"], closing
    assert vm.running_execution(session_id) is None

