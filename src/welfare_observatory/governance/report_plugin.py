"""Registers the governance section with the report (hook ``register_report_sections``).

The library loads this module as a built-in plugin; the section renders only for an
observatory whose ``observatory.yaml`` names a ``governance`` file.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from welfare_observatory.model.common import Text
from welfare_observatory.sdk import hookimpl

__all__ = ["SECTION_TITLE", "governance_report_section", "register_report_sections"]


SECTION_TITLE = Text(it="Governance e azioni", en="Governance and actions")


def governance_report_section() -> Any:
    """The :class:`~welfare_observatory.publish.report.sections.ReportSection`."""
    from welfare_observatory.publish.report.sections import ReportSection

    return ReportSection(id="governance", title=SECTION_TITLE, render=_render)


def _render(section_input: Any) -> str:
    # Plugins register at every start (a build too); the section's module needs pandas,
    # imported only when a report renders it.
    from welfare_observatory.governance.report_section import governance_section

    return governance_section(section_input)


@hookimpl
def register_report_sections(register: Callable[[Any], None]) -> None:
    register(governance_report_section())
