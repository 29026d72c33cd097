"""Native modules a template may enable (``database``, ``fs``, ``exec``)."""

from __future__ import annotations

from typing import Tuple

from ._record import Record, frozen, strings

__all__ = ["ModuleInfo"]


@frozen
class ModuleInfo(Record):
    """A native module: `name`, `description` and its `functions`."""

    name: str
    description: str
    functions: Tuple[str, ...] = strings()
