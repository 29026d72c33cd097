"""Templates: the saved runtime policy sessions are built from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Dict, Tuple

from ._record import Record, field, records, strings, timestamp

__all__ = [
    "Template",
    "TemplateDetail",
    "Settings",
    "Limits",
    "Resolver",
    "RuntimeSettings",
    "StartupFile",
    "Capability",
]


@dataclass(frozen=True)
class Template(Record):
    """A template's identity.

    Attributes:
        id: UUID.
        name: name given at creation.
        engine: always ``"quickjs"``.
        created_at, updated_at: aware UTC datetimes (`updated_at` changes with settings
            and sub-resources).
    """

    id: str
    name: str
    engine: str
    created_at: datetime = timestamp()
    updated_at: datetime = timestamp()


@dataclass(frozen=True)
class Limits(Record):
    """Resource limits of every execution in a session (see the SPEC's Limits)."""

    cpu_ms: int
    wall_ms: int
    mem_mb: int
    max_events: int
    max_output_kb: int


@dataclass(frozen=True)
class Resolver(Record):
    """How ``import`` specifiers resolve (ESM mode)."""

    roots: Tuple[str, ...] = strings()
    extensions: Tuple[str, ...] = strings()
    allow_absolute_repo_imports: bool = field()


@dataclass(frozen=True)
class RuntimeSettings(Record):
    """Language and console switches: ``esm``, ``strict``, ``console``, and
    ``unhandled_rejections`` (``"error"``: a promise rejected without a handler ends the run;
    ``"warn"``: it is recorded as a ``system`` warning and the run goes on)."""

    esm: bool
    strict: bool
    console: bool
    unhandled_rejections: str


@dataclass(frozen=True)
class Settings(Record):
    """Every setting of a template: `limits`, `resolver` and `runtime`."""

    limits: Limits = field(decode=Limits._from_dict)
    resolver: Resolver = field(decode=Resolver._from_dict)
    runtime: RuntimeSettings = field(decode=RuntimeSettings._from_dict)


@dataclass(frozen=True)
class StartupFile(Record):
    """A file run when a session starts: worktree-relative `path`, `order_index`, `mode`
    (``"eval"`` or ``"module"``)."""

    path: str
    order_index: int
    mode: str


@dataclass(frozen=True)
class Capability(Record):
    """A capability record: `kind` (``module | global | fs | net | env``), `name`,
    `enabled` and a `config` dict."""

    kind: str
    name: str
    enabled: bool
    config: Dict[str, Any]


@dataclass(frozen=True)
class TemplateDetail(Record):
    """A template with its settings and everything attached to it (`get_template`)."""

    id: str
    name: str
    engine: str
    created_at: datetime = timestamp()
    updated_at: datetime = timestamp()
    settings: Settings = field(decode=Settings._from_dict)
    startup_files: Tuple[StartupFile, ...] = records(StartupFile)
    capabilities: Tuple[Capability, ...] = records(Capability)
    modules: Tuple[str, ...] = strings()
    libraries: Tuple[str, ...] = strings()

    @property
    def template(self) -> Template:
        """The template's identity alone."""
        return Template(self.id, self.name, self.engine, self.created_at, self.updated_at)

