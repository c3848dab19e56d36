"""Registers the governance section with the report (hook ``register_report_sections``).

The library loads this module as a built-in plugin; the section renders only for an
observatory whose ``observatory.yaml`` names a ``governance`` file.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from welfare_observatory.sdk import hookimpl

__all__ = ["governance_report_section", "register_report_sections"]


def governance_report_section() -> Any:
    """The :class:`~welfare_observatory.publish.report.sections.ReportSection`."""
    from welfare_observatory.governance.report_section import SECTION_TITLE, governance_section
    from welfare_observatory.publish.report.sections import ReportSection

    return ReportSection(id="governance", title=SECTION_TITLE, render=governance_section)


@hookimpl
def register_report_sections(register: Callable[[Any], None]) -> None:
    register(governance_report_section())
