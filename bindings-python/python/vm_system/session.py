"""Sessions: live runtimes built from a template and bound to a worktree."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Optional, Tuple

from ._record import Record, field, strings, timestamp

__all__ = ["Session", "SessionStatus", "RuntimeSummary"]


class SessionStatus(str, enum.Enum):
    """Where a session is in its life: ``starting → ready | crashed``, ``ready → closed``.

    A `str` enum: ``session.status == "ready"`` works.
    """

    STARTING = "starting"
    READY = "ready"
    CRASHED = "crashed"
    CLOSED = "closed"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Session(Record):
    """A session record.

    Attributes:
        id: UUID.
        template_id: the template it was built from (which may since have been deleted).
        workspace_id, base_commit_oid: the caller's identifiers, stored as given.
        worktree_path: absolute, canonical worktree directory (the sandbox for files).
        status: a `SessionStatus`.
        created_at: aware UTC datetime; closed_at: when it was closed (or found lost).
        last_error: why it crashed or was lost.
        daemon_id: the instance that holds (or held) its runtime (`VmSystem.daemon_id`
            there).
    """

    id: str
    template_id: str
    workspace_id: str
    base_commit_oid: str
    worktree_path: str
    status: SessionStatus = field(decode=SessionStatus)
    created_at: datetime = timestamp()
    closed_at: Optional[datetime] = timestamp()
    last_error: Optional[str] = field()
    daemon_id: str = field()


@dataclass(frozen=True)
class RuntimeSummary(Record):
    """The sessions holding a runtime in this process: a count and the sorted ids."""

    active_sessions: int
    active_session_ids: Tuple[str, ...] = strings()
