"""Report sections contributed by plugins (the governance section, a regional focus, ...).

A section is an id, a title in Italian and English and a function that turns the edition's
data into an HTML fragment. The fragment is placed in a page of its own as it is, so the
function must escape every text it takes from data (``markupsafe.escape``). Sections are
collected in a :class:`SectionRegistry`, filled directly or from the plugins' registrations
of kind ``report_section`` (the ``register_report_sections(register)`` hook).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from welfare_observatory.errors import Location, PluginError
from welfare_observatory.model.common import Text

if TYPE_CHECKING:
    import pyarrow as pa

    from welfare_observatory.config import ObservatoryConfig
    from welfare_observatory.sources.manager import Plugins
    from welfare_observatory.store.edition import Manifest

__all__ = ["ReportSection", "SectionInput", "SectionRegistry", "accept_section"]

_SECTION_ID = re.compile(r"^[a-z][a-z0-9_-]*$")
KIND = "report_section"
"""The registration kind plugins' sections are recorded under."""


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


class SectionRegistry:
    """Sections by id, in registration order; ids are unique."""

    def __init__(self) -> None:
        self._sections: dict[str, tuple[ReportSection, str]] = {}

    def register(self, section: ReportSection, *, origin: str = "direct") -> None:
        """Add ``section``; PluginError when its id is already taken."""
        key, _ = accept_section(section)
        if key in self._sections:
            raise PluginError(
                f"report section {key!r} is already registered by {self._sections[key][1]!r}",
                location=Location(key=origin),
                hint="choose another section id",
            )
        self._sections[key] = (section, origin)

    def __iter__(self) -> Iterator[ReportSection]:
        return iter(section for section, _ in self._sections.values())

    def __len__(self) -> int:
        return len(self._sections)

    def origin(self, section_id: str) -> str:
        return self._sections[section_id][1]

    @classmethod
    def from_plugins(cls, plugins: Plugins) -> SectionRegistry:
        """The sections plugins registered through ``register_report_sections``."""
        registry = cls()
        for registration in plugins.registrations(KIND):
            value = registration.value
            if isinstance(value, ReportSection):
                registry.register(value, origin=registration.plugin)
        return registry
