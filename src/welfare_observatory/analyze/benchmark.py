"""A territory against its comparison territories (region, Italy, neighbouring provinces)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

import numpy as np
import pandas as pd

from welfare_observatory.analyze._common import (
    PolaritySource,
    breakdowns,
    polarity_map,
    require_columns,
    round_rates,
    size_dependent_ids,
    stable_order,
    text,
    text_isin,
    years,
)
from welfare_observatory.errors import AnalysisError, Location, closest

__all__ = ["WORDING", "benchmark"]

WORDING: dict[str, tuple[str, str]] = {
    "better": ("better than", "migliore di"),
    "worse": ("worse than", "peggiore di"),
    "equal": ("equal to", "pari a"),
    "higher": ("higher than", "superiore a"),
    "lower": ("lower than", "inferiore a"),
}
"""Comparison codes and their wording (English, Italian); ``higher``/``lower`` for neutral
indicators, where a difference carries no judgement."""


_ENGLISH = {"IT": "Italy"}
"""Names the territory registry holds in Italian only, in English (NUTS names stay Italian)."""


def _names(codes: pd.Series) -> dict[str, str]:
    """Territory names by code for the distinct ``codes`` (the code when it is unknown)."""
    from welfare_observatory.territory import registry

    reg = registry()
    return {
        str(c): (reg.get(str(c)).name if str(c) in reg else str(c)) for c in codes.dropna().unique()
    }


def benchmark(
    frame: pd.DataFrame,
    *,
    territory: str,
    against: Sequence[str],
    polarity: PolaritySource,
    period: str | None = None,
    counts: Literal["exclude", "flag"] = "exclude",
    size_dependent: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Compare ``territory`` with each territory in ``against`` on every indicator.

    ``frame`` is a canonical observation table (columns ``indicator``, ``territory``,
    ``period``, ``value`` and any breakdown columns). For each indicator the period is
    ``period`` or else the latest one in which ``territory`` has a value. One row per
    (indicator, breakdowns, comparison territory present in the data) with ``value``,
    ``against_value``, ``difference`` (territory - comparison), ``ratio`` (territory /
    comparison), ``comparison`` (a key of :data:`WORDING`), ``text_en``, ``text_it``, and the
    territory's ``rank`` (1 = best, polarity-aware; by value for neutral indicators),
    ``n_compared`` and ``quintile`` (of the position ``(rank - 1) / (n - 1)``: 5 = best
    fifth, 1 = worst) among itself and the comparison
    territories present for that indicator.

    Counts that grow with the size of a territory (residents, births, citizenship
    acquisitions) say nothing when a province is set against Italy, so by default
    (``counts="exclude"``) they are left out; ``counts="flag"`` keeps them with
    ``size_dependent`` True, to be read as context only. Which indicators are such counts:
    ``size_dependent`` when given, else those of a catalogue-like ``polarity`` with
    ``aggregation: sum`` (a plain polarity mapping flags none). Rows are sorted by
    indicator, breakdowns and comparison territory.
    """
    if counts not in ("exclude", "flag"):
        raise AnalysisError(
            f"unknown counts setting {counts!r}",
            hint="'exclude' (leave size-dependent counts out) or 'flag' (keep and flag them)",
        )
    extensive = set(size_dependent) if size_dependent is not None else size_dependent_ids(polarity)
    require_columns(frame, ["indicator", "territory", "period", "value"], what="the table")
    peers = [t for t in dict.fromkeys(against) if t != territory]
    if not peers:
        raise AnalysisError(
            "nothing to compare with", hint="pass the comparison territories in against="
        )
    if not text_isin(frame["territory"], [territory]).any():
        known = text(frame["territory"])
        suggestions = closest(territory, known.dropna().unique().tolist())
        raise AnalysisError(
            f"territory {territory!r} has no values in the table",
            location=Location(key=territory),
            hint=f"did you mean {suggestions[0]!r}?" if suggestions else None,
        )
    group = ["indicator", *breakdowns(frame)]
    data = frame.loc[
        frame["value"].notna() & text_isin(frame["territory"], [territory, *peers]),
        [*group, "territory", "period", "value"],
    ].copy()
    data["_year"] = years(data)
    data["territory"] = text(data["territory"])
    data["period"] = text(data["period"])
    own = data["territory"] == territory
    if period is None:
        latest = data[own].groupby(group, observed=True, dropna=False)["_year"].max()
        keep = data.join(latest.rename("_latest"), on=group)["_latest"]
        data = data[data["_year"] == keep]
    else:
        data = data[data["period"] == period]
    is_count = text(data["indicator"]).isin(sorted(extensive)).to_numpy(dtype=bool)
    if counts == "exclude":
        data = data[~is_count]
        is_count = np.zeros(len(data), dtype=bool)
    data["size_dependent"] = is_count
    pols = polarity_map(polarity, text(data["indicator"]).unique().tolist())
    sign = text(data["indicator"]).map({k: p.sign for k, p in pols.items()})
    # Neutral indicators are ranked by value (descending), without a better/worse judgement.
    data["_oriented"] = data["value"] * sign.replace(0, 1).astype("float64")
    by = [*group, "period"]
    grouped = data.groupby(by, observed=True, dropna=False)["_oriented"]
    data["rank"] = grouped.rank(ascending=False, method="min").astype("int64")
    data["n_compared"] = grouped.transform("count").astype("int64")
    n, rank = data["n_compared"].to_numpy(), data["rank"].to_numpy()
    # Position 0 (best) .. 1 (worst) among those compared; quintile 5 is the best fifth.
    position = (rank - 1) / np.maximum(n - 1, 1)
    data["quintile"] = (5 - np.minimum(4, np.floor(5 * position))).astype("int64")
    data["_sign"] = sign.astype("int64")

    mine = data[data["territory"] == territory].drop(columns=["territory"])
    theirs = data.loc[data["territory"] != territory, [*by, "territory", "value"]].rename(
        columns={"territory": "against", "value": "against_value"}
    )
    out = mine.merge(theirs, on=by, how="inner")
    out.insert(len(group), "territory", territory)
    diff = out["value"] - out["against_value"]
    out["difference"] = diff
    with np.errstate(divide="ignore", invalid="ignore"):
        out["ratio"] = np.where(
            out["against_value"] != 0, out["value"] / out["against_value"], np.nan
        )
    judged = round_rates(diff.to_numpy(dtype="float64") * out["_sign"].to_numpy())
    raw = round_rates(diff.to_numpy(dtype="float64"))
    neutral = out["_sign"].to_numpy() == 0
    code = np.select(
        [neutral & (raw > 0), neutral & (raw < 0), judged > 0, judged < 0],
        ["higher", "lower", "better", "worse"],
        default="equal",
    )
    out["comparison"] = pd.Series(code, index=out.index, dtype="string")
    # Readers get the comparison territory's name ("lower than Piemonte"), not its code.
    names = _names(out["against"])
    peer = out["against"].astype("string")
    text_en = " " + peer.map(names | {k: v for k, v in _ENGLISH.items() if k in names})
    out["text_en"] = out["comparison"].map({k: v[0] for k, v in WORDING.items()}) + text_en
    out["text_it"] = out["comparison"].map({k: v[1] for k, v in WORDING.items()}) + (
        " " + peer.map(names)
    )
    columns = [
        *group,
        "territory",
        "period",
        "value",
        "against",
        "against_value",
        "difference",
        "ratio",
        "comparison",
        "text_en",
        "text_it",
        "rank",
        "n_compared",
        "quintile",
        "size_dependent",
    ]
    return stable_order(out[columns], [*group, "against"])
