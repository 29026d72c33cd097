"""Events: the numbered facts of an execution."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Dict

from ._record import Record, field, timestamp

__all__ = ["Event", "EventType"]


class EventType(str, enum.Enum):
    """What an event records (a `str` enum: ``event.type == "console"`` works)."""

    INPUT_ECHO = "input_echo"
    CONSOLE = "console"
    VALUE = "value"
    EXCEPTION = "exception"
    SYSTEM = "system"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Event(Record):
    """One event of an execution.

    Attributes:
        execution_id: the execution it belongs to.
        seq: 1, 2, 3 … without gaps.
        ts: aware UTC datetime.
        type: an `EventType`.
        payload: the type's payload dict, as in the SPEC (e.g. ``{"level": "log",
            "text": "hi"}`` for ``console``).
    """

    execution_id: str
    seq: int
    ts: datetime = timestamp()
    type: EventType = field(decode=EventType)
    payload: Dict[str, Any] = field()
