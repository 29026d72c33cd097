"""The shared machinery of the record classes: immutable dataclasses built from the core's
snake_case dicts, with `to_dict()` giving those dicts back."""

from __future__ import annotations

import dataclasses
import enum
from datetime import datetime, timezone
from typing import Any, Callable, Dict, Optional, Tuple, Type, TypeVar

R = TypeVar("R", bound="Record")


def parse_timestamp(text: str) -> datetime:
    """An RFC 3339 UTC timestamp (``2024-05-01T12:00:00.123Z``) as an aware datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


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
    this runs once per record the library returns, so it is kept short."""
    plan = tuple(
        (f.name, f.metadata.get("key") or f.name, _fast(f.metadata.get("decode")))
        for f in dataclasses.fields(cls)  # type: ignore[arg-type]
    )
    new = object.__new__

    def build(data: Dict[str, Any]) -> R:
        get = data.get
        values = {}
        for name, key, decode in plan:
            raw = get(key)
            values[name] = raw if decode is None or raw is None else decode(raw)
        record = new(cls)
        record.__dict__.update(values)
        return record

    return build


class Record:
    """Base of every record class: immutable, compared by value, `to_dict()`."""

    @classmethod
    def _from_dict(cls: Type[R], data: Dict[str, Any]) -> R:
        build = cls.__dict__.get("_build")
        if build is None:
            build = _builder(cls)
            setattr(cls, "_build", build)
        return build(data)

    def to_dict(self) -> Dict[str, Any]:
        """The record as a JSON-compatible dict with the SPEC's snake_case keys
        (timestamps as RFC 3339 strings, enums as their names)."""
        out: Dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            out[f.metadata.get("key") or f.name] = _plain(getattr(self, f.name))
        return out


__all__: Tuple[str, ...] = ()
