"""Libraries: third-party JavaScript from the catalog, loaded from a local cache."""

from __future__ import annotations

from dataclasses import dataclass

from ._record import Record, field

__all__ = ["LibraryInfo", "InstalledLibrary"]


@dataclass(frozen=True)
class LibraryInfo(Record):
    """A catalog library.

    Attributes:
        name: the name for `add_library`, e.g. ``"lodash-4.17.21"``.
        package, version, file: where it comes from on npm.
        global_name: the global the file defines (key ``"global"`` in `to_dict`, since
            ``global`` is a Python keyword).
        sha256: hex SHA-256 of the file; description: what it is.
    """

    name: str
    package: str
    version: str
    file: str
    global_name: str = field(key="global")
    sha256: str = field()
    description: str = field()


@dataclass(frozen=True)
class InstalledLibrary(Record):
    """A library present (and intact) in the cache: `name`, file `path`, `sha256`, `size`."""

    name: str
    path: str
    sha256: str
    size: int
