"""The preventive-welfare signal: territories both much worse than their peers and worsening.

For each indicator (and breakdown) at its latest year in the table, every territory gets a
robust z-score against its peer group, ``z = (x - median) / (1.4826 * MAD)`` (the median and
the median absolute deviation of the group, the territory itself included; 1.4826 makes the
MAD consistent with the standard deviation of a normal distribution). The score is turned so
that positive means worse (polarity-aware). A territory is flagged on an indicator when its
worse-oriented z reaches ``z_threshold`` and its polarity-adjusted CAGR over the trend window
is below ``-deterioration``. Territories are ranked by the number of flagged indicators, then
by their largest z.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from welfare_observatory.analyze._common import (
    PolaritySource,
    polarity_map,
    require_columns,
    text,
    years,
)
from welfare_observatory.analyze.levels import territory_levels
from welfare_observatory.analyze.trend import (
    _series_ids,
    categories,
    key_codes,
    series_keys,
    trend,
)
from welfare_observatory.errors import AnalysisError

__all__ = ["MAD_SCALE", "early_warnings"]

MAD_SCALE = 1.4826
"""MAD to standard deviation under normality (1 / Phi^-1(3/4))."""

_COLUMNS = [
    "rank",
    "territory",
    "signals",
    "indicator",
    "year",
    "value",
    "peer_group",
    "peer_median",
    "peer_mad",
    "n_peers",
    "robust_z",
    "start_year",
    "start_value",
    "cagr",
    "adjusted_cagr",
    "category",
]


def early_warnings(
    frame: pd.DataFrame,
    *,
    catalog: PolaritySource,
    indicators: Sequence[str] | None = None,
    peer_groups: Mapping[str, str] | pd.Series | None = None,
    z_threshold: float = 2.0,
    deterioration: float = 0.0,
    window: int = 5,
    min_span: int = 3,
    min_peers: int = 5,
) -> pd.DataFrame:
    """Flagged (territory, indicator) pairs with their evidence, best-ranked first.

    ``catalog`` maps indicator ids to an ``Indicator`` or a polarity; neutral indicators are
    skipped. ``peer_groups`` maps a territory to its peer group (its province, its size
    class); territories it does not map, and all territories when it is None, are compared
    with the territories of the same level (municipalities with municipalities, provinces
    with provinces; the level comes from the shape of the id, see
    :func:`~welfare_observatory.analyze.levels.territory_levels`), so Italy is never ranked
    against municipalities. ``peer_group`` reads ``level:<level>`` for those. Groups with
    fewer than ``min_peers`` values, and groups whose MAD is 0, give no signal. Columns:
    ``rank``, ``territory``, ``signals`` (flagged indicators of the territory),
    ``indicator``, breakdowns, ``year``, ``value``,
    ``peer_group``, ``peer_median``, ``peer_mad``, ``n_peers``, ``robust_z`` (positive =
    worse), ``start_year``, ``start_value``, ``cagr``, ``adjusted_cagr``, ``category``.
    """
    return _early_warnings(
        frame,
        catalog=catalog,
        indicators=indicators,
        peer_groups=peer_groups,
        z_threshold=z_threshold,
        deterioration=deterioration,
        window=window,
        min_span=min_span,
        min_peers=min_peers,
        trends=None,
    )


def _early_warnings(
    frame: pd.DataFrame,
    *,
    catalog: PolaritySource,
    indicators: Sequence[str] | None = None,
    peer_groups: Mapping[str, str] | pd.Series | None = None,
    z_threshold: float = 2.0,
    deterioration: float = 0.0,
    window: int = 5,
    min_span: int = 3,
    min_peers: int = 5,
    trends: pd.DataFrame | None = None,
    trends_method: str = "eurostat",
) -> pd.DataFrame:
    """:func:`early_warnings`; ``trends``, when given, is ``trend(frame, polarity=catalog,
    window=window, min_span=min_span, method=trends_method)`` of a frame whose series hold
    the same rows as those of ``frame`` (one row per series, more series allowed): read
    instead of computed again, its classes made Eurostat's (the warnings' own).
    """
    require_columns(frame, ["indicator", "territory", "value"], what="the observation table")
    if z_threshold <= 0 or min_peers < 2:
        raise AnalysisError(
            "z_threshold must be positive and min_peers at least 2",
            hint="typical settings: z_threshold=2.0 (or 3.0 for fewer, stronger signals)",
        )
    data = frame
    if indicators is not None:
        data = data[data["indicator"].isin(list(indicators))]
    ids = [str(i) for i in data["indicator"].dropna().unique()]
    pols = polarity_map(catalog, ids)
    judged = [k for k, p in pols.items() if p.sign != 0]
    # Subsets are copies of every column: none when every row is kept (the usual case).
    data = _subset(data, data["indicator"].isin(judged) & data["value"].notna())
    keys = series_keys(frame)
    group = [k for k in keys if k != "territory"]
    if data.empty:
        return pd.DataFrame(columns=[*_COLUMNS[:4], *group[1:], *_COLUMNS[4:]])

    year = years(data)
    at_last = year == _group_max(data, group, year)
    level = data[at_last].assign(year=year[at_last])
    # Series numbers pick the flagged series' rows for their trends: not needed when the
    # trends are given.
    series = key_codes(data, keys) if trends is None else None
    if series is not None:
        level["_series"] = series[at_last.to_numpy(dtype=bool)]
    territory = text(level["territory"])
    by_level = "level:" + territory_levels(territory)
    if peer_groups is None:
        level["peer_group"] = by_level
    else:
        mapping = peer_groups if isinstance(peer_groups, pd.Series) else pd.Series(peer_groups)
        mapped = territory.map(mapping.astype("string")).astype("string")
        level["peer_group"] = mapped.fillna(by_level)
    by = [*group, "peer_group"]
    values = level.groupby(by, observed=True, dropna=False)["value"]
    level["peer_median"] = values.transform("median")
    level["_dev"] = (level["value"] - level["peer_median"]).abs()
    level["peer_mad"] = level.groupby(by, observed=True, dropna=False)["_dev"].transform("median")
    level["n_peers"] = values.transform("count").astype("int64")
    sign = level["indicator"].map({k: float(pols[k].sign) for k in judged}).astype("float64")
    scale = MAD_SCALE * level["peer_mad"].to_numpy(dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (level["value"] - level["peer_median"]).to_numpy(dtype="float64") / scale
    z = np.where(scale > 0, z, np.nan)
    level["robust_z"] = -sign.to_numpy(dtype="float64") * z
    level = level[(level["robust_z"] >= z_threshold) & (level["n_peers"] >= min_peers)]

    # Trends of the flagged series only (each series' trend reads its own rows alone), so
    # the inner join below keeps the same rows from a table of more series.
    if trends is None:
        if series is not None:
            flagged = pd.Series(np.isin(series, level["_series"].unique()), index=data.index)
        else:
            flagged = data["territory"].isin(level["territory"].unique())
        trends = trend(
            _subset(data, flagged),
            polarity=pols,
            window=window,
            min_span=min_span,
        )
    elif trends_method != "eurostat":
        adjusted = trends["adjusted_cagr"].to_numpy(dtype="float64")
        trends = trends.assign(category=categories(adjusted, "eurostat"))
    trends = trends[[*keys, "start_year", "start_value", "cagr", "adjusted_cagr", "category"]]
    out = level.merge(trends, on=keys, how="inner")
    out = out[out["adjusted_cagr"] < -deterioration].copy()
    out = ranked(out, group)
    columns = [*_COLUMNS[:4], *group[1:], *_COLUMNS[4:]]
    return out[columns].reset_index(drop=True)


def series_group(warnings: pd.DataFrame) -> list[str]:
    """The columns that name a series within a territory in an early-warnings table: the
    indicator and its breakdowns (the columns that are not early warnings' own)."""
    return ["indicator", *(c for c in warnings.columns if c not in _COLUMNS)]


def ranked(warnings: pd.DataFrame, group: list[str]) -> pd.DataFrame:
    """``warnings`` with ``signals`` and ``rank``: territories by number of signals, then by
    their largest robust z; ``group`` names a series within a territory. Every key column
    is in the sort, so ties never fall back on the rows' order (a rebuild ranks warnings
    gathered in another order than a fresh build's)."""
    out = warnings.copy()
    per_territory = out.groupby("territory", observed=True)
    out["signals"] = per_territory["indicator"].transform("count").astype("int64")
    out["_max_z"] = per_territory["robust_z"].transform("max")
    out = out.sort_values(
        ["signals", "_max_z", "territory", "robust_z", *group],
        ascending=[False, False, True, False, *([True] * len(group))],
        kind="stable",
    )
    out["rank"] = (~out["territory"].duplicated()).cumsum().astype("int64")
    return out.drop(columns="_max_z")


def _group_max(data: pd.DataFrame, group: list[str], year: pd.Series) -> pd.Series:
    """``year.groupby([data[c] for c in group], dropna=False).transform("max")``, from the
    groups' integer numbers (no pandas grouper over every row)."""
    codes = key_codes(data, group)
    # Few combinations (indicators x breakdowns): the combined codes index the groups as
    # they are, with no hashing of every row.
    few = codes is not None and (len(codes) == 0 or int(codes.max()) < 2**24)
    gid = codes if few and codes is not None else _series_ids(data, group)
    values = year.to_numpy(dtype="int64")
    latest = np.full(int(gid.max()) + 1 if len(gid) else 0, np.iinfo("int64").min)
    np.maximum.at(latest, gid, values)
    return pd.Series(latest[gid], index=year.index, name=year.name)


def _subset(frame: pd.DataFrame, keep: pd.Series) -> pd.DataFrame:
    """The rows of ``frame`` where ``keep``; ``frame`` itself when that is every row."""
    return frame if bool(keep.all()) else frame[keep]
