"""`VmSystem`: the entry point, one method per SPEC operation."""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import TracebackType
from typing import Any, Callable, Dict, List, Mapping, Optional, Type, Union

from . import _native
from .errors import ValidationError
from .event import Event
from .execution import Execution
from .library import InstalledLibrary, LibraryInfo
from .modules import ModuleInfo
from .session import RuntimeSummary, Session, SessionStatus
from .template import Capability, Settings, StartupFile, Template, TemplateDetail

__all__ = ["VmSystem", "EventCallback"]

EventCallback = Callable[[Event], Any]
"""A live-event callback: called with each `Event`, in order, as it happens."""

PathLike = Union[str, "os.PathLike[str]"]


def _watch(on_event: Optional[EventCallback]) -> Optional[Callable[[Dict[str, Any]], Any]]:
    if on_event is None:
        return None
    if not callable(on_event):
        raise TypeError(f"on_event must be callable, got {type(on_event).__name__}")
    return lambda data: on_event(Event._from_dict(data))


def _path(value: Any, name: str, optional: bool = False) -> Optional[str]:
    """A path argument as text; anything that is not a path is a `ValidationError` naming
    the argument (rather than `os.fspath`'s message, which names neither)."""
    if value is None and optional:
        return None
    try:
        return os.fsdecode(os.fspath(value))
    except TypeError:
        expected = "a path (str or os.PathLike)" + (" or None" if optional else "")
        raise ValidationError(f"{name} must be {expected}, got {type(value).__name__}") from None


def _json(value: Optional[Mapping[str, Any]]) -> Optional[str]:
    return None if value is None else json.dumps(value)


class VmSystem:
    """A vm-system database (a SQLite file, or in memory) and the live sessions this
    process runs on it.

    ``VmSystem()`` is in memory; ``VmSystem("state.db")`` opens or creates a file.
    `library_cache` is the folder of installed libraries (default ``.vm-cache/libraries``
    beside the database, or in the working directory when in memory).

    Thread-safe: share one instance between threads. Calls that run JavaScript
    (`create_session`, `repl`, `run_file`) release the GIL and block until done; on the main
    thread, Ctrl-C cancels the running execution and raises `KeyboardInterrupt`.
    Use it as a context manager, or call `close()`: closing ends the live sessions, and a
    closed instance raises `ValidationError`.
    """

    def __init__(self, path: Optional[PathLike] = None, library_cache: Optional[PathLike] = None) -> None:
        self._native = _native.VmSystem(
            _path(path, "path", optional=True),
            _path(library_cache, "library_cache", optional=True),
        )

    def __enter__(self) -> "VmSystem":
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()

    def close(self) -> None:
        """Closes every live session (a running execution ends ``cancelled``) and this
        handle. Closing twice is harmless."""
        self._native.close()

    @property
    def closed(self) -> bool:
        """Whether `close()` was called."""
        return self._native.closed

    @property
    def library_cache(self) -> Path:
        """The folder installed libraries are kept in."""
        return Path(self._native.library_cache())

    # ---- templates ----

    def create_template(self, name: str, engine: str = "quickjs") -> Template:
        """Creates a template with the default settings; `engine` must be ``"quickjs"``."""
        return Template._from_dict(self._native.create_template(name, engine))

    def get_template(self, template_id: str) -> TemplateDetail:
        """A template with its settings, startup files, capabilities, modules and
        libraries."""
        return TemplateDetail._from_dict(self._native.get_template(template_id))

    def list_templates(self) -> List[Template]:
        """Every template, oldest first."""
        return [Template._from_dict(t) for t in self._native.list_templates()]

    def delete_template(self, template_id: str) -> None:
        """Deletes a template and everything attached to it (sessions stay as history)."""
        self._native.delete_template(template_id)

    def update_settings(
        self,
        template_id: str,
        limits: Optional[Mapping[str, Any]] = None,
        resolver: Optional[Mapping[str, Any]] = None,
        runtime: Optional[Mapping[str, Any]] = None,
    ) -> Settings:
        """Partially updates the settings, e.g. ``update_settings(t, limits={"cpu_ms":
        100})``. Every field is validated; nothing changes when one is wrong. Returns the
        new settings."""
        groups = {"limits": limits, "resolver": resolver, "runtime": runtime}
        patch = {k: v for k, v in groups.items() if v is not None}
        return Settings._from_dict(self._native.update_settings(template_id, json.dumps(patch)))

    def add_startup_file(
        self, template_id: str, path: str, order_index: int = 0, mode: str = "eval"
    ) -> StartupFile:
        """Adds a file (relative to the future worktree) run when a session starts;
        `mode` is ``"eval"`` (global script) or ``"module"`` (ES module)."""
        return StartupFile._from_dict(self._native.add_startup_file(template_id, path, order_index, mode))

    def list_startup_files(self, template_id: str) -> List[StartupFile]:
        """Startup files sorted by `order_index` (ties in insertion order)."""
        return [StartupFile._from_dict(f) for f in self._native.list_startup_files(template_id)]

    def remove_startup_file(self, template_id: str, path: str) -> None:
        """Removes the startup file with this path."""
        self._native.remove_startup_file(template_id, path)

    def add_capability(
        self,
        template_id: str,
        kind: str,
        name: str,
        enabled: bool = True,
        config: Optional[Mapping[str, Any]] = None,
    ) -> Capability:
        """Adds (or replaces) a capability; `kind` is one of ``module, global, fs, net,
        env``."""
        return Capability._from_dict(self._native.add_capability(template_id, kind, name, enabled, _json(config)))

    def list_capabilities(self, template_id: str) -> List[Capability]:
        """Capabilities in insertion order."""
        return [Capability._from_dict(c) for c in self._native.list_capabilities(template_id)]

    def add_module(self, template_id: str, name: str) -> None:
        """Enables a native module (``database``, ``fs``, ``exec``)."""
        self._native.add_module(template_id, name)

    def remove_module(self, template_id: str, name: str) -> None:
        """Disables a native module."""
        self._native.remove_module(template_id, name)

    def list_modules(self, template_id: str) -> List[str]:
        """The template's enabled native modules, sorted."""
        return self._native.list_modules(template_id)

    def available_modules(self) -> List[ModuleInfo]:
        """Every native module with its description and functions."""
        return [ModuleInfo._from_dict(m) for m in self._native.available_modules()]

    def add_library(self, template_id: str, name: str) -> None:
        """Enables a catalog library (e.g. ``"lodash-4.17.21"``)."""
        self._native.add_library(template_id, name)

    def remove_library(self, template_id: str, name: str) -> None:
        """Disables a library."""
        self._native.remove_library(template_id, name)

    def list_libraries(self, template_id: str) -> List[str]:
        """The template's enabled libraries, sorted."""
        return self._native.list_libraries(template_id)

    def available_libraries(self) -> List[LibraryInfo]:
        """The library catalog."""
        return [LibraryInfo._from_dict(i) for i in self._native.available_libraries()]

    def install_library(self, name: str, from_file: Optional[PathLike] = None) -> InstalledLibrary:
        """Installs a catalog library into the cache, from `from_file` (a local copy) or
        else with ``npm pack``; its SHA-256 must match the catalog."""
        path = _path(from_file, "from_file", optional=True)
        return InstalledLibrary._from_dict(self._native.install_library(name, path))

    def installed_libraries(self) -> List[InstalledLibrary]:
        """Libraries present (and intact) in the cache."""
        return [InstalledLibrary._from_dict(i) for i in self._native.installed_libraries()]

    # ---- sessions ----

    def create_session(
        self,
        template_id: str,
        workspace_id: str,
        base_commit_oid: str,
        worktree_path: PathLike,
        on_event: Optional[EventCallback] = None,
    ) -> Session:
        """Creates a session on an existing absolute worktree directory: builds its
        runtime, loads modules and libraries, runs the startup files (`on_event` receives
        their events live). A failed startup raises `StartupFailedError` (or
        `InvalidPathError` / `VmFileNotFoundError`) whose `session_id` names the crashed
        session."""
        return Session._from_dict(
            self._native.create_session(
                template_id,
                workspace_id,
                base_commit_oid,
                _path(worktree_path, "worktree_path"),
                _watch(on_event),
            )
        )

    def get_session(self, session_id: str) -> Session:
        """A session record."""
        return Session._from_dict(self._native.get_session(session_id))

    def list_sessions(self, status: Optional[Union[SessionStatus, str]] = None) -> List[Session]:
        """Sessions, oldest first; only those with `status` when given."""
        wanted = None if status is None else getattr(status, "value", status)
        return [Session._from_dict(s) for s in self._native.list_sessions(wanted)]

    def close_session(self, session_id: str) -> Session:
        """Closes a session: interrupts a running execution (it ends ``cancelled``) and
        discards the runtime. A closed or crashed session is returned as is."""
        return Session._from_dict(self._native.close_session(session_id))

    def runtime_summary(self) -> RuntimeSummary:
        """The sessions holding a runtime in this process."""
        return RuntimeSummary._from_dict(self._native.runtime_summary())

    # ---- executions ----

    def repl(self, session_id: str, input: str, on_event: Optional[EventCallback] = None) -> Execution:
        """Evaluates `input` as a global script in the session (declarations persist) and
        returns the execution; `.value` is the completion value. A JavaScript exception is
        not raised: the execution ends ``error`` with an ``exception`` event. `on_event`
        receives each event live, on the thread running the JavaScript."""
        return Execution._from_dict(self._native.repl(session_id, input, _watch(on_event)))

    def run_file(
        self,
        session_id: str,
        path: str,
        args: Optional[Mapping[str, Any]] = None,
        env: Optional[Mapping[str, str]] = None,
        on_event: Optional[EventCallback] = None,
    ) -> Execution:
        """Runs a worktree file (relative path); `args` and `env` become
        ``globalThis.__ARGS__`` and ``globalThis.__ENV__``. The completion value (the
        default export in ESM mode) is the result."""
        return Execution._from_dict(
            self._native.run_file(session_id, path, _json(args), _json(env), _watch(on_event))
        )

    def running_execution(self, session_id: str) -> Optional[str]:
        """The id of the execution running in this process's session right now, if any."""
        return self._native.running_execution(session_id)

    def get_execution(self, execution_id: str) -> Execution:
        """An execution record."""
        return Execution._from_dict(self._native.get_execution(execution_id))

    def list_executions(self, session_id: str, limit: int = 50) -> List[Execution]:
        """A session's executions, newest first, at most `limit` (1 to 10,000)."""
        return [Execution._from_dict(e) for e in self._native.list_executions(session_id, limit)]

    def events(self, execution_id: str, after_seq: int = 0) -> List[Event]:
        """The execution's events with ``seq > after_seq``, in order (readable while it
        runs)."""
        return [Event._from_dict(e) for e in self._native.events(execution_id, after_seq)]

    def cancel_execution(self, execution_id: str) -> None:
        """Cancels a running execution from any thread; it ends ``cancelled``. An ended
        execution is left as it is."""
        self._native.cancel_execution(execution_id)

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<VmSystem {state}>"
