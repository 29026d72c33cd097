"""Native modules a template may enable (``database``, ``fs``, ``exec``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

from ._record import Record, strings

__all__ = ["ModuleInfo"]


@dataclass(frozen=True)
class ModuleInfo(Record):
    """A native module: `name`, `description` and its `functions`."""

    name: str
    description: str
    functions: Tuple[str, ...] = strings()
