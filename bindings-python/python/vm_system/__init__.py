"""vm-system: run JavaScript in sandboxed QuickJS runtimes and record every run in SQLite.

>>> import tempfile, vm_system
>>> with vm_system.VmSystem() as vm:
...     template = vm.create_template("demo")
...     session = vm.create_session(template.id, "ws", "abc123", tempfile.gettempdir())
...     vm.repl(session.id, "40 + 2").value
42

Errors are `VmSystemError` subclasses with a `code` (see `vm_system.errors`);
`AsyncVmSystem` offers the same API as coroutines.
"""

from ._native import __version__
from .async_system import AsyncVmSystem
from .errors import (
    ERROR_CLASSES,
    ExecutionNotFoundError,
    InternalError,
    InvalidPathError,
    ModuleNotAllowedError,
    NoCapacityError,
    OutputLimitExceededError,
    SessionBusyError,
    SessionNotFoundError,
    SessionNotReadyError,
    StartupFailedError,
    StartupModeUnsupportedError,
    StoreUnavailableError,
    TemplateNotFoundError,
    ValidationError,
    VmFileNotFoundError,
    VmSystemError,
)
from .event import Event, EventType
from .execution import Execution, ExecutionKind, ExecutionStatus, Metrics
from .library import InstalledLibrary, LibraryInfo
from .modules import ModuleInfo
from .session import RuntimeSummary, Session, SessionStatus
from .system import EventCallback, VmSystem
from .template import (
    Capability,
    Limits,
    Resolver,
    RuntimeSettings,
    Settings,
    StartupFile,
    Template,
    TemplateDetail,
)

__all__ = [
    "__version__",
    "VmSystem",
    "AsyncVmSystem",
    "EventCallback",
    "Template",
    "TemplateDetail",
    "Settings",
    "Limits",
    "Resolver",
    "RuntimeSettings",
    "StartupFile",
    "Capability",
    "ModuleInfo",
    "LibraryInfo",
    "InstalledLibrary",
    "Session",
    "SessionStatus",
    "RuntimeSummary",
    "Execution",
    "ExecutionKind",
    "ExecutionStatus",
    "Metrics",
    "Event",
    "EventType",
    "ERROR_CLASSES",
    "VmSystemError",
    "ValidationError",
    "TemplateNotFoundError",
    "SessionNotFoundError",
    "ExecutionNotFoundError",
    "VmFileNotFoundError",
    "SessionNotReadyError",
    "SessionBusyError",
    "InvalidPathError",
    "OutputLimitExceededError",
    "StartupModeUnsupportedError",
    "ModuleNotAllowedError",
    "StartupFailedError",
    "InternalError",
    "NoCapacityError",
    "StoreUnavailableError",
]
