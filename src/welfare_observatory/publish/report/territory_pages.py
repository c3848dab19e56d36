"""What the territory pages show: the index, and one page per municipality, social district
and declared grouping (the template values; :mod:`.pages` renders them).

Aggregates (districts, groupings) are read against the observatory's territory and its
comparisons (region, Italy, ...); a municipality against the observatory's territory, with
its rank among the municipalities.
"""

from __future__ import annotations

from typing import Any

from welfare_observatory.model import Territory, TerritoryLevel
from welfare_observatory.publish.report.data import EditionData
from welfare_observatory.publish.report.views import ReportView

__all__ = ["territories_values", "territory_values"]


def territories_values(view: ReportView, data: EditionData) -> dict[str, Any]:
    """``territories.html.j2``: municipalities, districts and groupings (``name``, ``href``)."""

    def links(territories: list[Territory]) -> list[dict[str, str]]:
        return [
            {"name": view.name(t.code), "href": view.href_territory(t.code)} for t in territories
        ]

    return {
        "municipalities": links(data.municipalities),
        "districts": links(data.districts),
        "groupings": links(data.groupings),
    }


def territory_values(view: ReportView, data: EditionData, territory: Territory) -> dict[str, Any]:
    """``territory.html.j2``: name, level, members (linked when they have a page), the
    comparison names and the indicator rows grouped by domain."""
    t = view.t
    level = territory.level
    compared = [] if level is TerritoryLevel.MUNICIPALITY else data.comparisons
    pages = {m.code for m in data.municipalities}
    members = [
        {"name": view.name(code), "href": view.href_territory(code) if code in pages else None}
        for code in territory.members
    ]
    rows = view.territory_rows(territory, [c.code for c in compared])
    return {
        "name": view.name(territory.code),
        "code": territory.istat_code or territory.code,
        "level": t(level.value),
        "parent": view.name(data.focus.code),
        "members": members,
        "members_title": t("grouping_members" if level is TerritoryLevel.GROUPING else "members"),
        "comparisons": [view.name(c.code) for c in compared],
        "rows": _by_domain(rows),
    }


def _by_domain(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows (already in domain order) grouped under their domain."""
    groups: list[dict[str, Any]] = []
    for row in rows:
        if not groups or groups[-1]["domain"] != row["domain"]:
            groups.append({"domain": row["domain"], "rows": []})
        groups[-1]["rows"].append(row)
    return groups
