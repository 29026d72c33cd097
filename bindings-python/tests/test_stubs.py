"""The typed surface: stubs match the native module, exports are complete and documented."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import vm_system
from vm_system import _native

PACKAGE_DIR = Path(vm_system.__file__).parent


def _stub_names() -> dict:
    tree = ast.parse((PACKAGE_DIR / "_native.pyi").read_text())
    names: dict = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            names[node.name] = {n.name for n in node.body if isinstance(n, ast.FunctionDef)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names[node.target.id] = None
    return names


def test_stubs_match_native_module() -> None:
    stubs = _stub_names()
    exported = {n for n in dir(_native) if not n.startswith("_") or n == "__version__"}
    assert {n for n in stubs if not n.startswith("_") or n == "__version__"} == exported
    for cls_name, methods in stubs.items():
        if methods is None:
            continue
        native = {n for n in dir(getattr(_native, cls_name)) if not n.startswith("_")}
        assert methods - {"__init__"} == native, cls_name


def test_typed_package_files_installed() -> None:
    assert (PACKAGE_DIR / "py.typed").is_file()
    assert (PACKAGE_DIR / "_native.pyi").is_file()


def test_all_is_complete_and_documented() -> None:
    public = {n for n, v in vars(vm_system).items() if not n.startswith("_") and not inspect.ismodule(v)}
    assert set(vm_system.__all__) - {"__version__"} == public - {"annotations"}
    for name in vm_system.__all__:
        obj = getattr(vm_system, name)
        if inspect.isclass(obj):
            assert obj.__doc__ and obj.__doc__.strip(), name
            for attr, member in vars(obj).items():
                if attr.startswith("_") or not (inspect.isfunction(member) or isinstance(member, property)):
                    continue
                doc = member.__doc__
                assert doc and doc.strip(), f"{name}.{attr} has no docstring"


def test_every_spec_operation_is_exposed() -> None:
    spec = """create_template get_template list_templates delete_template update_settings
    add_startup_file list_startup_files remove_startup_file add_capability list_capabilities
    add_module remove_module list_modules available_modules add_library remove_library
    list_libraries available_libraries install_library installed_libraries create_session
    get_session list_sessions close_session runtime_summary repl run_file get_execution
    list_executions events cancel_execution running_execution close""".split()
    for name in spec:
        assert callable(getattr(vm_system.VmSystem, name)), name
        assert hasattr(vm_system.AsyncVmSystem, name if name != "close" else "aclose"), name
