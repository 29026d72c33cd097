"""Templates, settings and their sub-resources."""

from __future__ import annotations

import dataclasses
import hashlib
import os
from datetime import timezone
from pathlib import Path

import pytest

import vm_system
from vm_system import VmSystem


def test_create_get_list_delete(vm: VmSystem) -> None:
    t = vm.create_template("alpha")
    assert isinstance(t, vm_system.Template)
    assert t.name == "alpha" and t.engine == "quickjs"
    assert t.created_at.tzinfo is not None and t.created_at.utcoffset() == timezone.utc.utcoffset(None)
    detail = vm.get_template(t.id)
    assert isinstance(detail, vm_system.TemplateDetail)
    assert detail.template == t
    assert detail.settings.limits.cpu_ms == 5000
    assert detail.startup_files == () and detail.modules == () and detail.libraries == ()
    other = vm.create_template("beta", engine="quickjs")
    assert [x.id for x in vm.list_templates()] == [t.id, other.id]
    vm.delete_template(t.id)
    assert [x.id for x in vm.list_templates()] == [other.id]
    with pytest.raises(vm_system.TemplateNotFoundError):
        vm.get_template(t.id)


def test_engine_must_be_quickjs(vm: VmSystem) -> None:
    with pytest.raises(vm_system.ValidationError, match="quickjs"):
        vm.create_template("x", engine="v8")


def test_default_settings(vm: VmSystem, template: vm_system.Template) -> None:
    s = vm.get_template(template.id).settings
    assert s.to_dict() == {
        "limits": {"cpu_ms": 5000, "wall_ms": 30000, "mem_mb": 128, "max_events": 1000, "max_output_kb": 512},
        "resolver": {"roots": [], "extensions": [".js", ".mjs"], "allow_absolute_repo_imports": False},
        "runtime": {"esm": False, "strict": False, "console": True, "unhandled_rejections": "error"},
    }


def test_update_settings_is_partial_and_validated(vm: VmSystem, template: vm_system.Template) -> None:
    s = vm.update_settings(template.id, limits={"cpu_ms": 100})
    assert isinstance(s, vm_system.Settings)
    assert s.limits.cpu_ms == 100 and s.limits.wall_ms == 30000
    s = vm.update_settings(template.id, resolver={"roots": ["lib"]}, runtime={"strict": True})
    assert s.resolver.roots == ("lib",) and s.runtime.strict and s.limits.cpu_ms == 100
    with pytest.raises(vm_system.ValidationError):
        vm.update_settings(template.id, limits={"cpu_ms": -1})
    with pytest.raises(vm_system.ValidationError):
        vm.update_settings(template.id, limits={"cpu_ms": 1}, runtime={"nope": True})
    assert vm.get_template(template.id).settings == s
    with pytest.raises(TypeError):
        vm.update_settings(template.id, limits={"cpu_ms": object()})
    with pytest.raises(vm_system.TemplateNotFoundError):
        vm.update_settings("missing", limits={"cpu_ms": 1})


def test_unhandled_rejections_setting(vm: VmSystem, template: vm_system.Template, worktree: Path) -> None:
    with pytest.raises(vm_system.ValidationError, match="runtime.unhandled_rejections"):
        vm.update_settings(template.id, runtime={"unhandled_rejections": "ignore"})
    s = vm.update_settings(template.id, runtime={"unhandled_rejections": "warn"})
    assert s.runtime.unhandled_rejections == "warn" and not s.runtime.strict
    session = vm.create_session(template.id, "ws", "abc", worktree)
    e = vm.repl(session.id, "Promise.reject(new Error('lost')); 1")
    assert e.status is vm_system.ExecutionStatus.OK and e.value == 1
    warnings = [ev.payload for ev in vm.events(e.id) if ev.type == "system"]
    assert warnings == [{"level": "warn", "message": "Unhandled promise rejection: Error: lost"}]


def test_startup_files(vm: VmSystem, template: vm_system.Template) -> None:
    b = vm.add_startup_file(template.id, "b.js", order_index=2)
    a = vm.add_startup_file(template.id, "a.mjs", order_index=1, mode="module")
    c = vm.add_startup_file(template.id, "c.js")
    assert isinstance(a, vm_system.StartupFile) and a.mode == "module" and c.order_index == 0 and c.mode == "eval"
    assert vm.list_startup_files(template.id) == [c, a, b]
    assert vm.get_template(template.id).startup_files == (c, a, b)
    vm.remove_startup_file(template.id, "a.mjs")
    assert [f.path for f in vm.list_startup_files(template.id)] == ["c.js", "b.js"]
    with pytest.raises(vm_system.StartupModeUnsupportedError):
        vm.add_startup_file(template.id, "d.js", mode="commonjs")
    with pytest.raises(vm_system.InvalidPathError):
        vm.add_startup_file(template.id, "/etc/passwd")
    with pytest.raises(vm_system.InvalidPathError):
        vm.add_startup_file(template.id, "../up.js")


def test_capabilities(vm: VmSystem, template: vm_system.Template) -> None:
    cap = vm.add_capability(template.id, "fs", "read", config={"root": "data"})
    assert isinstance(cap, vm_system.Capability)
    assert cap.enabled and cap.config == {"root": "data"}
    off = vm.add_capability(template.id, "net", "fetch", enabled=False)
    assert off.config == {} and not off.enabled
    assert vm.list_capabilities(template.id) == [cap, off]
    with pytest.raises(vm_system.ValidationError):
        vm.add_capability(template.id, "teleport", "x")


def test_modules(vm: VmSystem, template: vm_system.Template) -> None:
    available = vm.available_modules()
    assert {m.name for m in available} >= {"database", "fs", "exec"}
    assert all(isinstance(m, vm_system.ModuleInfo) and m.functions for m in available)
    vm.add_module(template.id, "fs")
    vm.add_module(template.id, "database")
    assert vm.list_modules(template.id) == ["database", "fs"]
    vm.remove_module(template.id, "fs")
    assert vm.list_modules(template.id) == ["database"]
    with pytest.raises(vm_system.ModuleNotAllowedError):
        vm.add_module(template.id, "Console")
    with pytest.raises(vm_system.ModuleNotAllowedError):
        vm.add_module(template.id, "left-pad")


def test_libraries(vm: VmSystem, template: vm_system.Template, tmp_path: Path) -> None:
    catalog = vm.available_libraries()
    names = [lib.name for lib in catalog]
    assert "lodash-4.17.21" in names and len(names) == 6
    lodash = catalog[names.index("lodash-4.17.21")]
    assert lodash.global_name == "_" and lodash.to_dict()["global"] == "_"
    vm.add_library(template.id, "lodash-4.17.21")
    vm.add_library(template.id, "dayjs-1.11.10")
    assert vm.list_libraries(template.id) == ["dayjs-1.11.10", "lodash-4.17.21"]
    vm.remove_library(template.id, "dayjs-1.11.10")
    assert vm.list_libraries(template.id) == ["lodash-4.17.21"]
    with pytest.raises(vm_system.ValidationError):
        vm.add_library(template.id, "jquery-3.0.0")
    assert vm.installed_libraries() == []
    assert vm.library_cache == tmp_path / "libcache"
    bogus = tmp_path / "bogus.js"
    bogus.write_text("var _ = 1;")
    with pytest.raises(vm_system.ValidationError, match="checksum"):
        vm.install_library("lodash-4.17.21", from_file=bogus)


def _library_file(name: str, sha256: str) -> Path:
    folder = Path(os.environ.get("VM_SYSTEM_LIBRARY_FILES", "/work/lib-files"))
    path = folder / f"{name}.js"
    if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != sha256:
        pytest.skip(f"no local copy of {name} in {folder} (set VM_SYSTEM_LIBRARY_FILES)")
    return path


def test_install_library_and_use_it(vm: VmSystem, template: vm_system.Template, worktree: Path) -> None:
    lodash = next(lib for lib in vm.available_libraries() if lib.name == "lodash-4.17.21")
    installed = vm.install_library(lodash.name, from_file=_library_file(lodash.name, lodash.sha256))
    assert isinstance(installed, vm_system.InstalledLibrary)
    assert installed.sha256 == lodash.sha256 and installed.size > 0
    assert vm.installed_libraries() == [installed]
    vm.add_library(template.id, lodash.name)
    session = vm.create_session(template.id, "ws", "abc", worktree)
    assert vm.repl(session.id, "_.chunk([1, 2, 3], 2)").value == [[1, 2], [3]]


def test_records_are_immutable_and_round_trip(vm: VmSystem, template: vm_system.Template) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        template.name = "changed"  # type: ignore[misc]
    d = template.to_dict()
    assert d["id"] == template.id and d["created_at"].endswith("Z")
    assert vm_system.Template._from_dict(d) == template
    detail = vm.get_template(template.id)
    assert vm_system.TemplateDetail._from_dict(detail.to_dict()) == detail
