"""Every error class: hierarchy, codes, ids, and a call that raises it."""

from __future__ import annotations

import pickle
import threading
import time
from pathlib import Path

import pytest
from conftest import spin

import vm_system
from vm_system import VmSystem, errors

CODES = {
    "VALIDATION_ERROR": vm_system.ValidationError,
    "TEMPLATE_NOT_FOUND": vm_system.TemplateNotFoundError,
    "SESSION_NOT_FOUND": vm_system.SessionNotFoundError,
    "EXECUTION_NOT_FOUND": vm_system.ExecutionNotFoundError,
    "FILE_NOT_FOUND": vm_system.VmFileNotFoundError,
    "SESSION_NOT_READY": vm_system.SessionNotReadyError,
    "SESSION_BUSY": vm_system.SessionBusyError,
    "INVALID_PATH": vm_system.InvalidPathError,
    "OUTPUT_LIMIT_EXCEEDED": vm_system.OutputLimitExceededError,
    "STARTUP_MODE_UNSUPPORTED": vm_system.StartupModeUnsupportedError,
    "MODULE_NOT_ALLOWED": vm_system.ModuleNotAllowedError,
    "STARTUP_FAILED": vm_system.StartupFailedError,
    "INTERNAL": vm_system.InternalError,
    "NO_CAPACITY": vm_system.NoCapacityError,
    "STORE_UNAVAILABLE": vm_system.StoreUnavailableError,
}


def test_one_class_per_code() -> None:
    assert errors.ERROR_CLASSES == CODES
    for code, cls in CODES.items():
        assert issubclass(cls, vm_system.VmSystemError) and cls.code == code
        assert cls.__doc__
    assert not issubclass(vm_system.VmFileNotFoundError, FileNotFoundError)
    assert FileNotFoundError.__module__ == "builtins"


def test_from_native_and_pickle() -> None:
    err = errors._from_native("SESSION_BUSY", "busy", "s-1", None)
    assert type(err) is vm_system.SessionBusyError and err.session_id == "s-1" and err.execution_id is None
    assert str(err) == "busy" and err.message == "busy"
    again = pickle.loads(pickle.dumps(err))
    assert type(again) is vm_system.SessionBusyError and again.session_id == "s-1"
    internal = errors._from_native("INTERNAL", "bug", None, None)
    assert isinstance(internal, vm_system.InternalError)
    unknown = errors._from_native("FUTURE_CODE", "new", None, "e-1")
    assert type(unknown) is vm_system.VmSystemError and unknown.code == "FUTURE_CODE"


def raised(fn, *args, **kwargs) -> vm_system.VmSystemError:  # type: ignore[no-untyped-def]
    with pytest.raises(vm_system.VmSystemError) as info:
        fn(*args, **kwargs)
    return info.value


def test_each_code_from_a_real_call(vm: VmSystem, template: vm_system.Template, worktree: Path) -> None:
    got = {}
    got["VALIDATION_ERROR"] = raised(vm.create_template, "")
    got["TEMPLATE_NOT_FOUND"] = raised(vm.get_template, "nope")
    got["SESSION_NOT_FOUND"] = raised(vm.get_session, "nope")
    got["EXECUTION_NOT_FOUND"] = raised(vm.events, "nope")
    got["STARTUP_MODE_UNSUPPORTED"] = raised(vm.add_startup_file, template.id, "a.js", mode="x")
    got["MODULE_NOT_ALLOWED"] = raised(vm.add_module, template.id, "math")

    session = vm.create_session(template.id, "ws", "abc", worktree)
    got["FILE_NOT_FOUND"] = raised(vm.run_file, session.id, "nope.js")
    got["INVALID_PATH"] = raised(vm.run_file, session.id, "/etc/passwd")

    limited = vm.create_template("limited")
    vm.update_settings(limited.id, limits={"max_output_kb": 1})
    small = vm.create_session(limited.id, "ws", "abc", worktree)
    got["OUTPUT_LIMIT_EXCEEDED"] = raised(vm.repl, small.id, "console.log('x'.repeat(5000))")
    assert got["OUTPUT_LIMIT_EXCEEDED"].execution_id

    holder = threading.Thread(target=vm.repl, args=(session.id, spin(400)))
    holder.start()
    while vm.running_execution(session.id) is None:
        time.sleep(0.002)
    got["SESSION_BUSY"] = raised(vm.repl, session.id, "1")
    holder.join()
    assert got["SESSION_BUSY"].session_id == session.id

    vm.close_session(session.id)
    got["SESSION_NOT_READY"] = raised(vm.repl, session.id, "1")
    assert got["SESSION_NOT_READY"].session_id == session.id

    crashing = vm.create_template("crashing")
    (worktree / "boom.js").write_text("throw new Error('no')")
    vm.add_startup_file(crashing.id, "boom.js")
    got["STARTUP_FAILED"] = raised(vm.create_session, crashing.id, "ws", "abc", worktree)
    assert got["STARTUP_FAILED"].session_id

    missing = vm.create_template("missing-startup")
    vm.add_startup_file(missing.id, "absent.js")
    absent = raised(vm.create_session, missing.id, "ws", "abc", worktree)
    assert isinstance(absent, vm_system.VmFileNotFoundError) and absent.session_id

    for code, err in got.items():
        assert type(err) is CODES[code], (code, err)
        assert err.code == code and str(err)
    # INTERNAL is a bug; NO_CAPACITY needs a capacity and STORE_UNAVAILABLE a PostgreSQL
    # server that goes away (both covered by the core's tests).
    assert set(got) == set(CODES) - {"INTERNAL", "NO_CAPACITY", "STORE_UNAVAILABLE"}
