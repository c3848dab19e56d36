"""The types of the publishing hooks and their checks, low in the package.

A plugin registers exporters and report sections; the plugin manager checks each
registration when plugins load, before anything is published. The types and checks live
here, below the plugin manager and the publishing code that both use them, so that
neither imports the other. Plugin authors import them from :mod:`welfare_observatory.sdk`;
``welfare_observatory.publish`` re-exports them where they always were.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from welfare_observatory.model.common import Text

if TYPE_CHECKING:
    import pyarrow as pa

    from welfare_observatory.config import ObservatoryConfig
    from welfare_observatory.publish.metadata import ExportMetadata
    from welfare_observatory.store.edition import Manifest

__all__ = [
    "Exporter",
    "ExporterEntry",
    "ReportSection",
    "SectionInput",
    "accept_exporter",
    "accept_section",
]

_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
_SECTION_ID = re.compile(r"^[a-z][a-z0-9_-]*$")


class Exporter(Protocol):
    """Write ``view`` (the publishable view) into folder ``out``; return the files written."""

    def __call__(self, view: pa.Table, meta: ExportMetadata, out: Path, /) -> list[Path]: ...


@dataclass(frozen=True, slots=True)
class ExporterEntry:
    name: str
    exporter: Exporter
    description: str = ""
    owner: str = "welfare-observatory"


def accept_exporter(name: Any, exporter: Any, description: Any = "") -> tuple[str, object]:
    """Check a plugin's ``register(name, exporter, description)`` call (raises ValueError).

    Shaped like the plugin manager's collectors: returns ``(name, ExporterEntry)``.
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"export format name {name!r} must be kebab-case like 'csv-it'")
    if not callable(exporter):
        raise ValueError(f"exporter {name!r} is not callable")
    if not isinstance(description, str):
        raise ValueError(f"description of exporter {name!r} must be a string")
    return name, ExporterEntry(name, exporter, description)


@dataclass(frozen=True, slots=True)
class SectionInput:
    """What a section function receives: the edition's publishable data and settings."""

    edition: str
    lang: str
    """``it`` or ``en``: the language of the page the fragment goes into."""
    observations: pa.Table
    """The publishable view of the edition (never confidential values)."""
    manifest: Manifest
    config: ObservatoryConfig | None = None
    folder: str | None = None
    """The observatory's folder, when the report was built from one."""


@dataclass(frozen=True, slots=True)
class ReportSection:
    """``render(SectionInput) -> str``: an escaped HTML fragment (no ``<script>``)."""

    id: str
    title: Text
    render: Callable[[SectionInput], str]

    def __post_init__(self) -> None:
        accept_section(self)


def accept_section(section: Any) -> tuple[str, object]:
    """Check a registered section; ``(id, section)`` or ValueError with the reason."""
    if not isinstance(section, ReportSection):
        raise ValueError(f"{section!r} is not a welfare_observatory.publish.report.ReportSection")
    if not isinstance(section.id, str) or not _SECTION_ID.match(section.id):
        raise ValueError(f"section id {section.id!r} must be lower_snake_case or kebab-case")
    if not isinstance(section.title, Text) or not section.title:
        raise ValueError(f"section {section.id!r} needs a title (it/en)")
    if not callable(section.render):
        raise ValueError(f"section {section.id!r}: render must be a function")
    return section.id, section
