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

__all__ = ["MIN_INDICATORS", "DomainComposite", "domain_composites", "stored_composites"]

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
    reference: tuple[str, int] | None = None
    """(territory, year) scoring 100, when not the report's territory in ``year``."""

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


def stored_composites(stored: pd.DataFrame, data: EditionData) -> list[DomainComposite] | None:
    """Composites from the edition's ``composite`` analysis, when the build stored one.

    Expected columns: ``domain``, ``territory``, ``year`` and ``ampi`` (or ``score``);
    optional ``indicators`` (ids joined by commas), ``reference_territory`` and
    ``reference_year``. For each domain the latest year is shown. The analysis is computed
    before disclosure control, so a territory with a suppressed value of any indicator of
    its composite in that year gets no score (the score and the published values could give
    the hidden one back). None when the table lacks those columns (the report then
    computes the composites from the publishable view).
    """
    score = "ampi" if "ampi" in stored.columns else "score"
    if not {"domain", "territory", "year", score} <= set(stored.columns):
        return None
    shown = {data.focus.code, *(t.code for t in data.municipalities)}
    rows = stored[stored["territory"].astype(str).isin(list(shown))]
    hidden = data.frame[data.frame["marker"] == "s"]
    out = []
    for domain in dict.fromkeys(i.domain.value for i in data.indicators):
        part = rows[rows["domain"].astype(str) == domain]
        if part.empty:
            out.append(DomainComposite(domain, 0))
            continue
        year = int(part["year"].astype("int64").max())
        part = part[part["year"].astype("int64") == year]
        used: tuple[str, ...] = ()
        if "indicators" in part.columns and part["indicators"].notna().any():
            used = tuple(i for i in str(part["indicators"].dropna().iloc[0]).split(",") if i)
        masked = hidden[(hidden["year"] == year) & hidden["indicator"].isin(list(used))]
        secret = set(masked["territory"].tolist())
        scores = {
            str(t): (None if pd.isna(v) or str(t) in secret else float(v))
            for t, v in zip(part["territory"], part[score], strict=True)
        }
        reference = None
        if {"reference_territory", "reference_year"} <= set(part.columns):
            first = part.iloc[0]
            reference = (str(first["reference_territory"]), int(first["reference_year"]))
        out.append(DomainComposite(domain, len(used), used, year, scores, reference=reference))
    return out
