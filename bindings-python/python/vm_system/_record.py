"""The shared machinery of the record classes: immutable dataclasses built from the core's
snake_case dicts, with `to_dict()` giving those dicts back."""

from __future__ import annotations

import dataclasses
import enum
import sys
from datetime import datetime, timezone
from typing import Any, Callable, Dict, Optional, Tuple, Type, TypeVar

R = TypeVar("R", bound="Record")


def parse_timestamp(text: str) -> datetime:
    """An RFC 3339 UTC timestamp (``2024-05-01T12:00:00.123Z``) as an aware datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# Python 3.11+ reads the ``Z`` itself: the builder then calls the C function directly.
_fast_timestamp = datetime.fromisoformat if sys.version_info >= (3, 11) else parse_timestamp


def format_timestamp(value: datetime) -> str:
    """The core's form of a timestamp: UTC, milliseconds, ``Z``."""
    text = value.astimezone(timezone.utc).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def field(
    *,
    decode: Optional[Callable[[Any], Any]] = None,
    key: Optional[str] = None,
    default: Any = dataclasses.MISSING,
) -> Any:
    """A record field: `decode` converts the core's value, `key` is its dict key when the
    attribute name differs (a Python keyword)."""
    metadata = {"decode": decode, "key": key}
    return dataclasses.field(default=default, metadata=metadata)


def timestamp() -> Any:
    """A required timestamp field."""
    return field(decode=parse_timestamp)


def records(cls: Type[R]) -> Any:
    """A tuple-of-records field."""
    return field(decode=lambda items: tuple(cls._from_dict(i) for i in items))


def strings() -> Any:
    """A tuple-of-strings field."""
    return field(decode=tuple)


def _plain(value: Any) -> Any:
    if isinstance(value, Record):
        return value.to_dict()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _fast(decode: Optional[Callable[[Any], Any]]) -> Optional[Callable[[Any], Any]]:
    """`decode`, with an enum class replaced by a lookup in its members (much cheaper than
    calling the class; unknown values still go through the class, which raises)."""
    if decode is parse_timestamp:
        return _fast_timestamp
    owner = getattr(decode, "__self__", None)
    if getattr(decode, "__func__", None) is Record._from_dict.__func__ and isinstance(owner, type):
        return _build_of(owner)  # a nested record (Metrics): its builder, without the lookup
    if isinstance(decode, type) and issubclass(decode, enum.Enum):
        members = decode._value2member_map_
        enum_class = decode

        def lookup(raw: Any) -> Any:
            member = members.get(raw)
            return enum_class(raw) if member is None else member

        return lookup
    return decode


def _builder(cls: Type[R]) -> Callable[[Dict[str, Any]], R]:
    """Builds instances of a record class from the core's dicts without going through the
    dataclass `__init__` (a frozen dataclass sets each field with `object.__setattr__`):
    this runs once per record the library returns (each `repl`), so it is one generated
    function with no loop, each field read and decoded in line."""
    env: Dict[str, Any] = {"new": object.__new__, "cls": cls}
    lines = ["def build(data):", "    get = data.get", "    record = new(cls)", "    record.__dict__.update({"]
    for i, f in enumerate(dataclasses.fields(cls)):  # type: ignore[arg-type]
        key = f.metadata.get("key") or f.name
        decode = _fast(f.metadata.get("decode"))
        if decode is None:
            lines.append(f"        {f.name!r}: get({key!r}),")
        else:
            env[f"decode{i}"] = decode
            lines.append(f"        {f.name!r}: None if (v{i} := get({key!r})) is None else decode{i}(v{i}),")
    lines += ["    })", "    return record"]
    exec("\n".join(lines), env)  # noqa: S102 - the source is built above from field names
    return env["build"]  # type: ignore[no-any-return]


def _build_of(cls: Type[R]) -> Callable[[Dict[str, Any]], R]:
    """The class's builder, made on first use."""
    build = cls.__dict__.get("_build")
    if build is None:
        build = _builder(cls)
        setattr(cls, "_build", build)
    return build  # type: ignore[no-any-return]


class Record:
    """Base of every record class: immutable, compared by value, `to_dict()`."""

    @classmethod
    def _from_dict(cls: Type[R], data: Dict[str, Any]) -> R:
        return _build_of(cls)(data)

    def to_dict(self) -> Dict[str, Any]:
        """The record as a JSON-compatible dict with the SPEC's snake_case keys
        (timestamps as RFC 3339 strings, enums as their names)."""
        out: Dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            out[f.metadata.get("key") or f.name] = _plain(getattr(self, f.name))
        return out


__all__: Tuple[str, ...] = ()
