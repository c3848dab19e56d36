"""Report sections contributed by plugins (the governance section, a regional focus, ...).

A section is an id, a title in Italian and English and a function that turns the edition's
data into an HTML fragment. The fragment is placed in a page of its own as it is, so the
function must escape every text it takes from data (``markupsafe.escape``). Sections are
collected in a :class:`SectionRegistry`, filled directly or from the plugins' registrations
of kind ``report_section`` (the ``register_report_sections(register)`` hook).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

# The types and their check live low in the package (the plugin manager checks sections
# when plugins load); they are re-exported here, where they always were.
from welfare_observatory._hooktypes import ReportSection, SectionInput, accept_section
from welfare_observatory.errors import Location, PluginError

if TYPE_CHECKING:
    from welfare_observatory.sources.manager import Plugins

__all__ = ["ReportSection", "SectionInput", "SectionRegistry", "accept_section"]

KIND = "report_section"
"""The registration kind plugins' sections are recorded under."""


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
