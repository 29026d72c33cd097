"""Shared fixtures. The tests import the installed wheel, never the source tree."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest

import vm_system

BINDING_DIR = Path(__file__).resolve().parent.parent
REPO_DIR = BINDING_DIR.parent


def pytest_configure(config: pytest.Config) -> None:
    source = BINDING_DIR / "python"
    if Path(vm_system.__file__).resolve().is_relative_to(source) and not os.environ.get("VM_SYSTEM_ALLOW_SOURCE"):
        raise pytest.UsageError(f"vm_system was imported from the source tree ({source}); install the wheel")


@pytest.fixture
def vm(tmp_path: Path) -> Iterator[vm_system.VmSystem]:
    with vm_system.VmSystem(library_cache=tmp_path / "libcache") as system:
        yield system


@pytest.fixture
def worktree(tmp_path: Path) -> Path:
    path = (tmp_path / "worktree").resolve()
    path.mkdir()
    return path


@pytest.fixture
def template(vm: vm_system.VmSystem) -> vm_system.Template:
    return vm.create_template("test")


@pytest.fixture
def session(vm: vm_system.VmSystem, template: vm_system.Template, worktree: Path) -> vm_system.Session:
    return vm.create_session(template.id, "ws", "abc123", worktree)


#: A snippet that keeps the session busy for about `ms` milliseconds.
def spin(ms: int) -> str:
    return f"{{ const until = Date.now() + {ms}; while (Date.now() < until) {{}} }} 'done'"
