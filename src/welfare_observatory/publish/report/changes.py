"""Headline changes since the previous edition, from ``KnowledgeBase.diff``.

Counts come from the diff of the two editions; the values shown are taken from the
publishable views of both editions (a value suppressed in either is not shown).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from welfare_observatory.model.observation import BASE_COLUMNS, TOTAL
from welfare_observatory.publish.report.data import EditionData, read_observations, totals
from welfare_observatory.store import KnowledgeBase

__all__ = ["EditionChanges", "edition_changes"]

MAX_ROWS = 20


@dataclass(frozen=True)
class EditionChanges:
    previous: str
    counts: dict[str, int]
    """``new``, ``revised``, ``removed`` -> number of values (all territories)."""
    rows: list[dict[str, object]] = field(default_factory=list)
    """Changes of the focus territory: indicator, year, change, before, after."""


def previous_edition(kb: KnowledgeBase, data: EditionData) -> str | None:
    """The edition built just before ``data``'s one, if any."""
    names = [e.name for e in kb.editions()]
    position = names.index(data.info.name)
    return names[position - 1] if position > 0 else None


def edition_changes(kb: KnowledgeBase, data: EditionData) -> EditionChanges | None:
    """What changed since the previous edition; None for the first edition."""
    previous = previous_edition(kb, data)
    if previous is None:
        return None
    diff = kb.diff(previous, data.info.name)
    for name in diff.columns:
        if (
            name not in BASE_COLUMNS
            and name not in ("change", "value_a", "value_b")
            and not (name.startswith("status_"))
        ):
            diff = diff[diff[name].isna() | (diff[name] == TOTAL)]
    counts = {k: int((diff["change"] == k).sum()) for k in ("new", "revised", "removed")}
    mine = diff[diff["territory"] == data.focus.code]
    mine = mine[mine["indicator"].isin([i.id for i in data.indicators])]
    if mine.empty:
        return EditionChanges(previous, counts)
    mine = mine.assign(year=mine["period"].astype(str).str[:4].astype("int64"))
    keys = ["indicator", "territory", "year"]
    before = totals(read_observations(kb, previous, data.rule, data.catalog))[[*keys, "value"]]
    after = data.frame[[*keys, "value"]]
    merged = (
        mine[[*keys, "change"]]
        .drop_duplicates(keys)
        .merge(before.rename(columns={"value": "before"}), on=keys, how="left")
        .merge(after.rename(columns={"value": "after"}), on=keys, how="left")
    )
    order = {i.id: n for n, i in enumerate(data.indicators)}
    merged = merged.assign(order=merged["indicator"].map(order)).sort_values(
        ["order", "year"], ascending=[True, False]
    )
    rows: list[dict[str, object]] = [
        {
            "indicator": str(record["indicator"]),
            "year": int(record["year"]),
            "change": str(record["change"]),
            "before": _number(record["before"]),
            "after": _number(record["after"]),
        }
        for record in merged.head(MAX_ROWS).to_dict("records")
    ]
    return EditionChanges(previous, counts, rows)


def _number(value: Any) -> float | None:
    """A float, or None for a missing (or suppressed) value."""
    return None if value is None or pd.isna(value) else float(value)
