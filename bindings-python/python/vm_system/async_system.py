"""`AsyncVmSystem`: the `VmSystem` API as coroutines, for asyncio programs."""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import threading
import time
from types import TracebackType
from typing import Any, Callable, List, Mapping, Optional, Type, TypeVar, Union

from .errors import VmSystemError
from .event import Event
from .execution import Execution
from .library import InstalledLibrary, LibraryInfo
from .modules import ModuleInfo
from .session import RuntimeSummary, Session, SessionStatus
from .system import EventCallback, PathLike, VmSystem
from .template import Capability, Settings, StartupFile, Template, TemplateDetail

__all__ = ["AsyncVmSystem"]

T = TypeVar("T")


class AsyncVmSystem:
    """The `VmSystem` API as coroutines: every call runs in a worker thread (the GIL is
    released while JavaScript and SQLite work), so the event loop never blocks.

    Cancelling the task awaiting `repl` / `run_file` (e.g. with `asyncio.wait_for`) cancels
    the execution, which ends ``cancelled``. `on_event` callbacks run on the worker thread
    as events happen; use ``loop.call_soon_threadsafe`` in them to reach the loop.

    ``AsyncVmSystem(path=None, library_cache=None, max_workers=None)``, or wrap an existing
    instance with ``AsyncVmSystem.wrap(vm)``. Use ``async with`` or ``await aclose()``.
    """

    def __init__(
        self,
        path: Optional[PathLike] = None,
        library_cache: Optional[PathLike] = None,
        max_workers: Optional[int] = None,
    ) -> None:
        self._init(VmSystem(path, library_cache), max_workers)

    def _init(self, vm: VmSystem, max_workers: Optional[int]) -> None:
        self._vm = vm
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=max_workers, thread_name_prefix="vm-system"
        )

    @classmethod
    def wrap(cls, vm: VmSystem, max_workers: Optional[int] = None) -> "AsyncVmSystem":
        """An `AsyncVmSystem` on an existing `VmSystem` (both share everything)."""
        self = cls.__new__(cls)
        self._init(vm, max_workers)
        return self

    @property
    def sync(self) -> VmSystem:
        """The blocking `VmSystem` underneath."""
        return self._vm

    async def __aenter__(self) -> "AsyncVmSystem":
        return self

    async def __aexit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Closes the `VmSystem` (ending live sessions) and the worker threads."""
        await self._call(self._vm.close)
        self._executor.shutdown(wait=False)

    async def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        future = self._executor.submit(functools.partial(fn, *args, **kwargs))
        return await asyncio.wrap_future(future)

    async def _execute(self, session_id: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        future = self._executor.submit(functools.partial(fn, *args, **kwargs))
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            if not future.cancel():
                threading.Thread(
                    target=_cancel_until_done, args=(self._vm, session_id, future), daemon=True
                ).start()
            raise

    # ---- templates ----

    async def create_template(self, name: str, engine: str = "quickjs") -> Template:
        """See `VmSystem.create_template`."""
        return await self._call(self._vm.create_template, name, engine)

    async def get_template(self, template_id: str) -> TemplateDetail:
        """See `VmSystem.get_template`."""
        return await self._call(self._vm.get_template, template_id)

    async def list_templates(self) -> List[Template]:
        """See `VmSystem.list_templates`."""
        return await self._call(self._vm.list_templates)

    async def delete_template(self, template_id: str) -> None:
        """See `VmSystem.delete_template`."""
        await self._call(self._vm.delete_template, template_id)

    async def update_settings(
        self,
        template_id: str,
        limits: Optional[Mapping[str, Any]] = None,
        resolver: Optional[Mapping[str, Any]] = None,
        runtime: Optional[Mapping[str, Any]] = None,
    ) -> Settings:
        """See `VmSystem.update_settings`."""
        return await self._call(self._vm.update_settings, template_id, limits, resolver, runtime)

    async def add_startup_file(
        self, template_id: str, path: str, order_index: int = 0, mode: str = "eval"
    ) -> StartupFile:
        """See `VmSystem.add_startup_file`."""
        return await self._call(self._vm.add_startup_file, template_id, path, order_index, mode)

    async def list_startup_files(self, template_id: str) -> List[StartupFile]:
        """See `VmSystem.list_startup_files`."""
        return await self._call(self._vm.list_startup_files, template_id)

    async def remove_startup_file(self, template_id: str, path: str) -> None:
        """See `VmSystem.remove_startup_file`."""
        await self._call(self._vm.remove_startup_file, template_id, path)

    async def add_capability(
        self,
        template_id: str,
        kind: str,
        name: str,
        enabled: bool = True,
        config: Optional[Mapping[str, Any]] = None,
    ) -> Capability:
        """See `VmSystem.add_capability`."""
        return await self._call(self._vm.add_capability, template_id, kind, name, enabled, config)

    async def list_capabilities(self, template_id: str) -> List[Capability]:
        """See `VmSystem.list_capabilities`."""
        return await self._call(self._vm.list_capabilities, template_id)

    async def add_module(self, template_id: str, name: str) -> None:
        """See `VmSystem.add_module`."""
        await self._call(self._vm.add_module, template_id, name)

    async def remove_module(self, template_id: str, name: str) -> None:
        """See `VmSystem.remove_module`."""
        await self._call(self._vm.remove_module, template_id, name)

    async def list_modules(self, template_id: str) -> List[str]:
        """See `VmSystem.list_modules`."""
        return await self._call(self._vm.list_modules, template_id)

    async def available_modules(self) -> List[ModuleInfo]:
        """See `VmSystem.available_modules`."""
        return await self._call(self._vm.available_modules)

    async def add_library(self, template_id: str, name: str) -> None:
        """See `VmSystem.add_library`."""
        await self._call(self._vm.add_library, template_id, name)

    async def remove_library(self, template_id: str, name: str) -> None:
        """See `VmSystem.remove_library`."""
        await self._call(self._vm.remove_library, template_id, name)

    async def list_libraries(self, template_id: str) -> List[str]:
        """See `VmSystem.list_libraries`."""
        return await self._call(self._vm.list_libraries, template_id)

    async def available_libraries(self) -> List[LibraryInfo]:
        """See `VmSystem.available_libraries`."""
        return await self._call(self._vm.available_libraries)

    async def install_library(self, name: str, from_file: Optional[PathLike] = None) -> InstalledLibrary:
        """See `VmSystem.install_library`."""
        return await self._call(self._vm.install_library, name, from_file)

    async def installed_libraries(self) -> List[InstalledLibrary]:
        """See `VmSystem.installed_libraries`."""
        return await self._call(self._vm.installed_libraries)

    # ---- sessions ----

    async def create_session(
        self,
        template_id: str,
        workspace_id: str,
        base_commit_oid: str,
        worktree_path: PathLike,
        on_event: Optional[EventCallback] = None,
    ) -> Session:
        """See `VmSystem.create_session`. Cancelling the awaiting task (e.g. with
        `asyncio.wait_for`) stops the startup files and closes the session: no session is left
        running that nobody has the id of."""
        # The first startup event names an execution, and through it the new session: a
        # cancel can then close the session while its startup files still run.
        seen: List[str] = []

        def watch(event: Event) -> Any:
            if not seen:
                seen.append(event.execution_id)
            if on_event is not None:
                return on_event(event)
            return None

        if on_event is not None and not callable(on_event):
            raise TypeError(f"on_event must be callable, got {type(on_event).__name__}")
        future = self._executor.submit(
            self._vm.create_session, template_id, workspace_id, base_commit_oid, worktree_path, watch
        )
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            if not future.cancel():
                threading.Thread(
                    target=_abandon_create, args=(self._vm, future, seen), daemon=True
                ).start()
            raise

    async def get_session(self, session_id: str) -> Session:
        """See `VmSystem.get_session`."""
        return await self._call(self._vm.get_session, session_id)

    async def list_sessions(self, status: Optional[Union[SessionStatus, str]] = None) -> List[Session]:
        """See `VmSystem.list_sessions`."""
        return await self._call(self._vm.list_sessions, status)

    async def close_session(self, session_id: str) -> Session:
        """See `VmSystem.close_session`."""
        return await self._call(self._vm.close_session, session_id)

    async def runtime_summary(self) -> RuntimeSummary:
        """See `VmSystem.runtime_summary`."""
        return await self._call(self._vm.runtime_summary)

    # ---- executions ----

    async def repl(self, session_id: str, input: str, on_event: Optional[EventCallback] = None) -> Execution:
        """See `VmSystem.repl`; cancelling the awaiting task cancels the execution."""
        return await self._execute(session_id, self._vm.repl, session_id, input, on_event)

    async def run_file(
        self,
        session_id: str,
        path: str,
        args: Optional[Mapping[str, Any]] = None,
        env: Optional[Mapping[str, str]] = None,
        on_event: Optional[EventCallback] = None,
    ) -> Execution:
        """See `VmSystem.run_file`; cancelling the awaiting task cancels the execution."""
        return await self._execute(session_id, self._vm.run_file, session_id, path, args, env, on_event)

    async def running_execution(self, session_id: str) -> Optional[str]:
        """See `VmSystem.running_execution`."""
        return self._vm.running_execution(session_id)

    async def get_execution(self, execution_id: str) -> Execution:
        """See `VmSystem.get_execution`."""
        return await self._call(self._vm.get_execution, execution_id)

    async def list_executions(self, session_id: str, limit: int = 50) -> List[Execution]:
        """See `VmSystem.list_executions`."""
        return await self._call(self._vm.list_executions, session_id, limit)

    async def events(self, execution_id: str, after_seq: int = 0) -> List[Event]:
        """See `VmSystem.events`."""
        return await self._call(self._vm.events, execution_id, after_seq)

    async def cancel_execution(self, execution_id: str) -> None:
        """See `VmSystem.cancel_execution`."""
        await self._call(self._vm.cancel_execution, execution_id)


def _abandon_create(vm: VmSystem, future: "concurrent.futures.Future[Session]", seen: List[str]) -> None:
    """Closes the session a cancelled `create_session` is starting, as soon as its id is
    known (from its first startup execution), or once the call has returned it."""
    closed = False
    while not future.done():
        if seen and not closed:
            try:
                vm.close_session(vm.get_execution(seen[0]).session_id)
                closed = True
            except VmSystemError:  # the handle was closed meanwhile: nothing is left to close
                return
        time.sleep(0.005)
    if future.exception() is None:
        try:
            vm.close_session(future.result().id)
        except VmSystemError:  # closed meanwhile (the handle, or the session itself)
            pass


def _cancel_until_done(vm: VmSystem, session_id: str, future: "concurrent.futures.Future[Any]") -> None:
    """Cancels whatever runs in the session until the call ends (it may not have started
    its execution yet when the task was cancelled)."""
    while not future.done():
        running = vm.running_execution(session_id)
        if running is not None:
            vm.cancel_execution(running)
        time.sleep(0.005)
