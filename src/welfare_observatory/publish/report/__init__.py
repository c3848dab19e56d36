"""The report website of an edition (and its PDF).

``build_report(kb, edition, out)`` writes a static site that works from file://: a home page,
one card per indicator, one page per municipality and social district, composite indices by
domain, the thematic deep-dive and the sections plugins contribute. See ``docs/publishing.md``.

Importing this package is cheap (the plugin manager may check sections with
``accept_section`` while loading plugins); Jinja2, pandas and pyarrow load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from welfare_observatory._lazy import lazy_exports

if TYPE_CHECKING:
    from welfare_observatory.publish.report.builder import MARKER, ReportResult, build_report
    from welfare_observatory.publish.report.sections import (
        ReportSection,
        SectionInput,
        SectionRegistry,
        accept_section,
    )

__all__ = [
    "MARKER",
    "ReportResult",
    "ReportSection",
    "SectionInput",
    "SectionRegistry",
    "accept_section",
    "build_report",
]

_LAZY = {
    "MARKER": "welfare_observatory.publish.report.builder",
    "ReportResult": "welfare_observatory.publish.report.builder",
    "build_report": "welfare_observatory.publish.report.builder",
    "ReportSection": "welfare_observatory.publish.report.sections",
    "SectionInput": "welfare_observatory.publish.report.sections",
    "SectionRegistry": "welfare_observatory.publish.report.sections",
    "accept_section": "welfare_observatory.publish.report.sections",
}


__getattr__, __dir__ = lazy_exports(globals(), _LAZY)
