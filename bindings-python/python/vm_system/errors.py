"""The exceptions of vm-system: one class per SPEC error code, all under `VmSystemError`.

Every error the library raises is a `VmSystemError` whose `code` is the SPEC string
(``"SESSION_BUSY"``, …). Catch the base class, or a subclass for one code. The class for
``FILE_NOT_FOUND`` is `VmFileNotFoundError`, so that it does not shadow Python's built-in
`FileNotFoundError`; it does not inherit from it either (it is about a worktree path, not an
``open()`` on the caller's side).
"""

from __future__ import annotations

from typing import Dict, Optional, Type

__all__ = [
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
    "ERROR_CLASSES",
]


class VmSystemError(Exception):
    """Base class of every vm-system error.

    Attributes:
        code: the stable SPEC code, e.g. ``"SESSION_BUSY"``.
        message: the human message (also ``str(error)``).
        session_id: the session the error is about, where the core says so (else None).
        execution_id: the execution the error is about, where the core says so (else None).
    """

    code: str = ""

    def __init__(
        self,
        message: str,
        *,
        session_id: Optional[str] = None,
        execution_id: Optional[str] = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.session_id = session_id
        self.execution_id = execution_id

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (_from_native, (self.code, self.message, self.session_id, self.execution_id))


class ValidationError(VmSystemError):
    """A missing or invalid argument (``VALIDATION_ERROR``)."""

    code = "VALIDATION_ERROR"


class TemplateNotFoundError(VmSystemError):
    """No template has this id (``TEMPLATE_NOT_FOUND``)."""

    code = "TEMPLATE_NOT_FOUND"


class SessionNotFoundError(VmSystemError):
    """No session has this id (``SESSION_NOT_FOUND``)."""

    code = "SESSION_NOT_FOUND"


class ExecutionNotFoundError(VmSystemError):
    """No execution has this id (``EXECUTION_NOT_FOUND``)."""

    code = "EXECUTION_NOT_FOUND"


class VmFileNotFoundError(VmSystemError):
    """A file is missing in the worktree (``FILE_NOT_FOUND``).

    Named so as not to shadow the built-in `FileNotFoundError`.
    """

    code = "FILE_NOT_FOUND"


class SessionNotReadyError(VmSystemError):
    """The session is not ``ready`` (``SESSION_NOT_READY``); `session_id` names it."""

    code = "SESSION_NOT_READY"


class SessionBusyError(VmSystemError):
    """Another execution is running in the session (``SESSION_BUSY``)."""

    code = "SESSION_BUSY"


class InvalidPathError(VmSystemError):
    """An absolute path, a traversal or a symlink escape (``INVALID_PATH``)."""

    code = "INVALID_PATH"


class OutputLimitExceededError(VmSystemError):
    """``max_events`` or ``max_output_kb`` was reached (``OUTPUT_LIMIT_EXCEEDED``).

    `execution_id` names the stopped execution; its events up to the limit are stored.
    """

    code = "OUTPUT_LIMIT_EXCEEDED"


class StartupModeUnsupportedError(VmSystemError):
    """A startup mode other than ``eval`` or ``module`` (``STARTUP_MODE_UNSUPPORTED``)."""

    code = "STARTUP_MODE_UNSUPPORTED"


class ModuleNotAllowedError(VmSystemError):
    """A JavaScript built-in or unknown module name (``MODULE_NOT_ALLOWED``)."""

    code = "MODULE_NOT_ALLOWED"


class StartupFailedError(VmSystemError):
    """Session startup failed; the session is ``crashed`` (``STARTUP_FAILED``)."""

    code = "STARTUP_FAILED"


class InternalError(VmSystemError):
    """An unexpected failure: a bug in vm-system (``INTERNAL``)."""

    code = "INTERNAL"


class NoCapacityError(VmSystemError):
    """The instance (or, for placement, every instance) holds as many live sessions as its
    capacity allows (``NO_CAPACITY``)."""

    code = "NO_CAPACITY"


class StoreUnavailableError(VmSystemError):
    """The store (a PostgreSQL server) cannot be reached; a retried call may succeed
    (``STORE_UNAVAILABLE``)."""

    code = "STORE_UNAVAILABLE"


ERROR_CLASSES: Dict[str, Type[VmSystemError]] = {
    cls.code: cls
    for cls in (
        ValidationError,
        TemplateNotFoundError,
        SessionNotFoundError,
        ExecutionNotFoundError,
        VmFileNotFoundError,
        SessionNotReadyError,
        SessionBusyError,
        InvalidPathError,
        OutputLimitExceededError,
        StartupModeUnsupportedError,
        ModuleNotAllowedError,
        StartupFailedError,
        InternalError,
        NoCapacityError,
        StoreUnavailableError,
    )
}
"""The exception class of each SPEC code."""


def _from_native(
    code: str,
    message: str,
    session_id: Optional[str],
    execution_id: Optional[str],
) -> VmSystemError:
    """Builds the exception for a core error (called by the native module)."""
    cls = ERROR_CLASSES.get(code)
    if cls is None:
        err = VmSystemError(message, session_id=session_id, execution_id=execution_id)
        err.code = code
        return err
    return cls(message, session_id=session_id, execution_id=execution_id)
