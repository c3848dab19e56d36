"""What an observatory's selection gets from its installed sources, and what it does not.

``selection_coverage(observatory, kb)`` reads an edition built from the observatory (its
observations and its build report) and gives one row per selected indicator:

- ``local``: a value for the observatory's territory or one of its municipalities;
- ``context``: values only for larger or other territories (region, NUTS area, Italy, other
  provinces), shown beside the territory's own figures but not about it;
- ``missing``: no value at all, with the build report's reason (no source declares it, its
  source failed or was skipped, an operand of its formula is missing, ...).

Levels are read from the shape of the territory codes (municipality, province, region, NUTS,
Italy); years are those with a value (missing markers do not count). ``request-template``
asks local bodies for the ``missing`` rows (and ``context`` ones, where a local figure would
replace a regional one).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from welfare_observatory.observatory import Observatory

__all__ = ["CoverageRow", "selection_coverage"]

Status = Literal["local", "context", "missing"]
_LEVEL_ORDER = ("municipality", "province", "region", "nuts", "country", "other")


@dataclass(frozen=True)
class CoverageRow:
    """One selected indicator: where the edition has it, which years, from which sources."""

    indicator: str
    domain: str
    status: Status
    levels: tuple[str, ...]
    """Territory levels with a value, finest first (``municipality`` ... ``country``)."""
    local_years: tuple[int, int] | None
    """First and last year with a value for the territory or its municipalities."""
    years: tuple[int, int] | None
    """First and last year with a value anywhere in the edition."""
    sources: tuple[str, ...]
    """Sources the values come from (``derive`` for rates and sums computed by the build)."""
    reason: str
    """Why it is missing or context only; empty when local."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def selection_coverage(
    observatory: Observatory,
    kb: Path | str,
    *,
    edition: str | None = None,
    reasons: Mapping[str, str] | None = None,
) -> list[CoverageRow]:
    """One :class:`CoverageRow` per selected indicator of ``observatory``, in selection order.

    ``kb`` is a knowledge base built from this observatory (``welfare-observatory build``);
    ``edition`` defaults to the newest. ``reasons`` maps a skipped indicator to why (the
    build report's ``skipped`` list). Invariant: every selected indicator has one row.
    """
    from welfare_observatory.analyze import territory_levels
    from welfare_observatory.store import KnowledgeBase

    base = KnowledgeBase.open(kb)
    info = base.edition(edition)
    code = observatory.config.territory.code
    frame = base.query(
        "SELECT indicator, territory, CAST(substr(CAST(period AS VARCHAR), 1, 4) AS INTEGER) "
        "AS year, source FROM observations WHERE value IS NOT NULL",
        edition=info.name,
    )
    frame["level"] = territory_levels(frame["territory"]).astype(str)
    territory = frame["territory"].astype(str)
    frame["local"] = (territory == code) | (
        (frame["level"] == "municipality") & territory.str.startswith(code)
    )
    reasons = reasons or {}
    grouped = {str(k): g for k, g in frame.groupby("indicator", observed=True)}
    rows = []
    for indicator in observatory.selection():
        values = grouped.get(indicator.id)
        domain = str(indicator.domain.value)
        if values is None or values.empty:
            reason = reasons.get(
                indicator.id, "no value in the edition (the build report says why)"
            )
            rows.append(CoverageRow(indicator.id, domain, "missing", (), None, None, (), reason))
            continue
        levels = tuple(lv for lv in _LEVEL_ORDER if lv in set(values["level"]))
        own = values[values["local"]]
        local_years = (int(own["year"].min()), int(own["year"].max())) if len(own) else None
        status: Status = "local" if len(own) else "context"
        reason = (
            ""
            if len(own)
            else f"no value for {code} or its municipalities; values for other territories "
            f"({', '.join(levels)})"
        )
        rows.append(
            CoverageRow(
                indicator.id,
                domain,
                status,
                levels,
                local_years,
                (int(values["year"].min()), int(values["year"].max())),
                tuple(sorted(set(values["source"].astype(str)))),
                reason,
            )
        )
    return rows
