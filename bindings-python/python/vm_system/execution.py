"""Executions: one run of code in a session, with its outcome and cost."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Dict, Optional

from ._record import Record, field, timestamp

__all__ = ["Execution", "ExecutionKind", "ExecutionStatus", "Metrics"]


class ExecutionKind(str, enum.Enum):
    """How the code was given: a ``repl`` snippet, a ``run_file`` or a ``startup`` file."""

    REPL = "repl"
    RUN_FILE = "run_file"
    STARTUP = "startup"

    def __str__(self) -> str:
        return self.value


class ExecutionStatus(str, enum.Enum):
    """How an execution ended: ``running → ok | error | timeout | cancelled``."""

    RUNNING = "running"
    OK = "ok"
    ERROR = "error"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Metrics(Record):
    """What an execution cost.

    Attributes:
        duration_ms: wall-clock duration; cpu_ms: CPU time of the executing thread.
        event_count: events stored; output_bytes: sum of stored payload bytes.
        host_calls: calls into native modules.
        limit: the limit that ended the run (``cpu_ms``, ``wall_ms``, ``max_events``,
            ``max_output_kb``), if one did.
    """

    duration_ms: float
    cpu_ms: float
    event_count: int
    output_bytes: int
    host_calls: Optional[int] = field(default=0)
    limit: Optional[str] = field(default=None)

    def to_dict(self) -> Dict[str, Any]:
        """The metrics as a dict (``limit`` only when set, as in the core)."""
        out = super().to_dict()
        if out.get("limit") is None:
            out.pop("limit", None)
        return out


@dataclass(frozen=True)
class Execution(Record):
    """An execution record.

    Attributes:
        id, session_id: UUIDs.
        kind: an `ExecutionKind`.
        input: the snippet (repl); path: the worktree-relative path (run_file, startup).
        args, env: the dicts given to `run_file` (``{}`` otherwise).
        status: an `ExecutionStatus`.
        started_at, ended_at: aware UTC datetimes (`ended_at` None while running).
        result: the value payload ``{"type", "preview", "json"?}`` of a successful run.
        error: what went wrong, for any status but ``ok``.
        metrics: a `Metrics`.
    """

    id: str
    session_id: str
    kind: ExecutionKind = field(decode=ExecutionKind)
    input: Optional[str] = field()
    path: Optional[str] = field()
    args: Dict[str, Any] = field()
    env: Dict[str, Any] = field()
    status: ExecutionStatus = field(decode=ExecutionStatus)
    started_at: datetime = timestamp()
    ended_at: Optional[datetime] = timestamp()
    result: Optional[Dict[str, Any]] = field()
    error: Optional[str] = field()
    metrics: Metrics = field(decode=Metrics._from_dict)

    @property
    def value(self) -> Any:
        """The result as a Python object (``result["json"]``); None when there is no result
        or the value has no JSON form (undefined, functions, cycles)."""
        return None if self.result is None else self.result.get("json")
