"""Composite indices by domain: Istat's AMPI over the municipalities of the territory.

For each domain: the indicators with a polarity (neutral ones cannot enter a composite) and
values for the territory and its municipalities in one year (the latest year in which the
territory has at least :data:`MIN_INDICATORS` of them). The reference (score 100) is the
territory itself in that year. A municipality without every value gets no score, as in
``analyze.ampi``: a partial score would be silently biased.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from welfare_observatory.analyze import ampi
from welfare_observatory.errors import AnalysisError
from welfare_observatory.publish.report.data import EditionData

__all__ = ["MIN_INDICATORS", "DomainComposite", "domain_composites"]

MIN_INDICATORS = 2
"""AMPI needs at least two indicators (``analyze.ampi`` refuses fewer)."""


@dataclass(frozen=True)
class DomainComposite:
    domain: str
    candidates: int
    """Indicators of the domain with a polarity and data for the municipalities."""
    indicators: tuple[str, ...] = ()
    """Indicators that entered the index."""
    year: int | None = None
    scores: dict[str, float | None] = field(default_factory=dict)
    """Territory code -> AMPI (None: not every value present)."""
    problem: str | None = None
    """Why no index was computed, when it was not (beyond too few indicators)."""

    @property
    def computed(self) -> bool:
        return bool(self.scores)


def domain_composites(data: EditionData) -> list[DomainComposite]:
    """One composite per domain of the selected indicators, in domain order."""
    municipal = [t.code for t in data.municipalities]
    focus = data.focus.code
    frame = data.frame[data.frame["territory"].isin([focus, *municipal])]
    frame = frame[frame["value"].notna()]
    out = []
    domains: dict[str, list[str]] = {}
    for indicator in data.indicators:
        domains.setdefault(indicator.domain.value, []).append(indicator.id)
    for domain, ids in domains.items():
        directed = [i for i in ids if data.polarity.get(i) in ("positive", "negative")]
        part = frame[frame["indicator"].isin(directed)]
        with_municipal = part.loc[part["territory"].isin(municipal), "indicator"].unique()
        candidates = [i for i in directed if i in set(with_municipal.tolist())]
        out.append(_one(domain, candidates, part, focus, municipal, data.polarity))
    return out


def _one(
    domain: str,
    candidates: list[str],
    part: pd.DataFrame,
    focus: str,
    municipal: list[str],
    polarity: dict[str, str],
) -> DomainComposite:
    if len(candidates) < MIN_INDICATORS:
        return DomainComposite(domain, len(candidates))
    part = part[part["indicator"].isin(candidates)]
    focus_counts = part[part["territory"] == focus].groupby("year")["indicator"].nunique()
    years = focus_counts[focus_counts >= MIN_INDICATORS].index
    if len(years) == 0:
        return DomainComposite(domain, len(candidates))
    year = int(years.max())
    # One value per (indicator, territory, year) by construction of EditionData.frame.
    panel = part[part["year"] == year].pivot(index="territory", columns="indicator", values="value")
    used = [
        i
        for i in candidates
        if i in panel.columns
        and focus in panel.index
        and bool(pd.notna(panel[i].get(focus)))
        and panel[i].loc[panel.index.isin(municipal)].notna().any()
        and panel[i].nunique() > 1
    ]
    if len(used) < MIN_INDICATORS:
        return DomainComposite(domain, len(used), year=year)
    panel = panel[used]
    panel.index = pd.MultiIndex.from_arrays(
        [panel.index, [year] * len(panel)], names=["territory", "year"]
    )
    signs = {i: 1 if polarity[i] == "positive" else -1 for i in used}
    try:
        scores = ampi(panel, polarity=signs, reference=(focus, year))
    except AnalysisError as exc:
        return DomainComposite(domain, len(used), tuple(used), year, problem=exc.message)
    territories = scores.index.get_level_values("territory")
    values = {
        str(territory): (None if pd.isna(score) else float(score))
        for territory, score in zip(territories, scores.to_numpy(), strict=True)
    }
    return DomainComposite(domain, len(candidates), tuple(used), year, values)
