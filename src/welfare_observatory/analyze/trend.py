"""Trends of every (indicator, territory, breakdown) series of a canonical frame at once.

The window ends at each series' latest year with a value and starts ``window`` years earlier
(or the nearest later year with a value). A break in series (``obs_status == "B"``) marks the
first value of a new, non-comparable series: the window never starts before the latest break.
All work is numpy over the sorted frame (no Python loop over series or rows).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from welfare_observatory.analyze._common import (
    PolaritySource,
    breakdowns,
    polarity_map,
    require_columns,
    round_rates,
    stable_order,
    text_key,
    years,
)
from welfare_observatory.analyze.classes import (
    EUROSTAT_LABELS,
    ISTAT_LABELS,
    eurostat_codes,
    istat_codes,
)
from welfare_observatory.analyze.progress import cagr_array
from welfare_observatory.errors import AnalysisError, Location
from welfare_observatory.model.observation import ObsStatus

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["series_keys", "trend"]

_NO_YEAR = -(10**9)


def series_keys(frame: pd.DataFrame) -> list[str]:
    """The columns that identify one series: indicator, territory and the breakdowns."""
    return ["indicator", "territory", *breakdowns(frame)]


def trend(
    frame: pd.DataFrame,
    *,
    polarity: PolaritySource | None = None,
    window: int = 5,
    min_span: int = 3,
    method: Literal["eurostat", "istat"] = "eurostat",
) -> pd.DataFrame:
    """Direction and CAGR of each series of ``frame`` over the last ``window`` years.

    Returns one row per series with ``start_year``, ``end_year``, ``start_value``,
    ``end_value``, ``span`` (years), ``points`` (values in the window), ``break_year``,
    ``cagr`` (fraction per year), ``direction`` (``up``, ``down``, ``flat``) and ``reason``
    when the CAGR is undefined. With ``polarity`` (a catalogue or id -> polarity mapping) also
    ``adjusted_cagr`` and ``category`` (Eurostat's classes without target, or Istat's).
    Rows are sorted by indicator, territory and breakdowns (as text).
    """
    return _trend(
        frame,
        lambda: _prepare(frame),
        polarity=polarity,
        window=window,
        min_span=min_span,
        method=method,
    )


@dataclass(frozen=True)
class _Series:
    """The rows of a frame that have a value, ordered by series then year: what every
    window of :func:`trend` reads (prepared once for several windows over one frame)."""

    keys: list[str]
    heads: pd.DataFrame
    """Key columns of each series, one row per series in the order of ``starts`` (index
    0..n-1; the per-row keys are not kept)."""
    year: NDArray[np.integer[Any]]
    value: NDArray[np.float64]
    break_year: NDArray[np.integer[Any]]
    """The latest year of a break in each series (``_NO_YEAR``: none); a window never
    starts before it, whatever its length."""
    starts: NDArray[np.integer[Any]]
    ends: NDArray[np.integer[Any]]
    ordered: bool = False
    """Whether ``heads`` are in ``stable_order(heads, keys)``'s order (series listed by the
    ranks of their keys as text, no two alike): tables of one row per series need no
    reordering. The rows of a series are contiguous, series after series in any order."""


def _prepare(frame: pd.DataFrame) -> _Series:
    """The :class:`_Series` of ``frame``; raises :class:`AnalysisError` when a series has
    two values in one year."""
    keys = series_keys(frame)
    has_value = frame["value"].notna()
    every = bool(has_value.all())
    # No copy of the frame's other columns: years() reads only these.
    dated = [c for c in ("year", "period_start", "period") if c in frame.columns]
    data = (frame[keys] if every else frame.loc[has_value, keys]).reset_index(drop=True)
    value = frame["value"].to_numpy(dtype="float64")
    value = value if every else value[has_value.to_numpy()]
    year = _years(frame[dated] if every else frame.loc[has_value, dated])
    if "obs_status" in frame.columns:
        # Compare without converting: the column is often categorical (dictionary-encoded).
        status = frame["obs_status"] if every else frame.loc[has_value, "obs_status"]
        is_break = (status == ObsStatus.BREAK.value).fillna(False).to_numpy(dtype=bool)
    else:
        is_break = np.zeros(len(value), dtype=bool)
    none = np.zeros(0, dtype="int64")
    if len(value) == 0:
        return _Series(keys, data, year, value, none, none, none)

    direct = _sorted_by_keys(data, keys, year)
    if direct is not None:
        order, first_of_series = direct
        year, value = year[order], value[order]
        is_break = is_break[order] if is_break.any() else is_break
    else:  # group numbers of first appearance: also names the first repeated year
        gid = _series_ids(data, keys)
        order = _by_series_then_year(gid, year)
        gid, year, value, is_break = gid[order], year[order], value[order], is_break[order]
        same = (gid[1:] == gid[:-1]) & (year[1:] == year[:-1])
        if same.any():
            row = data.iloc[order[int(np.flatnonzero(same)[0])]]
            raise AnalysisError(
                f"series {tuple(row)} has more than one value in year "
                f"{year[np.flatnonzero(same)[0]]}",
                location=Location(key=str(tuple(row))),
                hint="trends need one value per year: filter sub-annual periods or add the "
                "breakdown columns that distinguish the rows",
            )
        first_of_series = np.r_[True, gid[1:] != gid[:-1]]
    starts = np.flatnonzero(first_of_series)
    ends = np.r_[starts[1:], len(order)] - 1
    # Breaks do not depend on the window: found once for every window read.
    if is_break.any():
        break_year = np.maximum.reduceat(np.where(is_break, year, np.int64(_NO_YEAR)), starts)
    else:
        break_year = np.full(len(starts), _NO_YEAR, dtype="int64")
    # Group numbers, order and per-row keys are not kept: the bounds say where each series
    # is, and every window reads the keys of its series' last row.
    heads = data.iloc[order[ends]].reset_index(drop=True)
    # The series listed in the order of their keys as text (the rows stay where the sort
    # put them: each series' bounds say where): tables of one row per series come out in
    # stable_order's order, with no reordering of their columns.
    by_text = _text_order(heads, keys)
    if by_text is None:
        return _Series(keys, heads, year, value, break_year, starts, ends)
    if not bool((by_text[1:] > by_text[:-1]).all()):
        heads = heads.iloc[by_text].reset_index(drop=True)
        starts, ends = starts[by_text], ends[by_text]
        break_year = break_year[by_text]
    return _Series(keys, heads, year, value, break_year, starts, ends, ordered=True)


def _latest(series: _Series) -> pd.DataFrame:
    """One row per series: its keys, its latest ``year`` with a value (64-bit) and that
    ``value`` (what a reader of each series' latest year reads of its rows)."""
    heads = series.heads
    columns: dict[str, Any] = {name: heads[name] for name in heads.columns}
    columns["year"] = series.year[series.ends].astype("int64")
    columns["value"] = series.value[series.ends]
    return pd.DataFrame(columns, index=heads.index)


def _years(dated: pd.DataFrame) -> NDArray[np.integer[Any]]:
    """The year of each row of ``dated`` as numpy: an integer ``year`` column as it is
    (the build's is 16-bit: no widened copy of millions of rows), else :func:`years`."""
    if "year" in dated.columns and pd.api.types.is_integer_dtype(dated["year"].dtype):
        plain = dated["year"].to_numpy()
        if plain.dtype.kind in "iu":
            return plain
    return years(dated).to_numpy(dtype="int64")


def _sorted_by_keys(
    data: pd.DataFrame, keys: list[str], year: NDArray[np.integer[Any]]
) -> tuple[NDArray[np.integer[Any]], NDArray[np.bool_]] | None:
    """Positions of the rows of ``data`` by series (their keys' integer codes), then year,
    and whether each sorted row starts a series: one stable sort of one integer per row,
    with no group numbers (no hashing of millions of rows). None when the codes and years
    do not fit in one integer, or when a series has two rows in one year (the caller then
    names the first one, in the order of the rows)."""
    low = int(year.min())
    span = int(year.max()) - low + 1
    # 32-bit when series and years fit (half the memory and a faster sort).
    combined = key_codes(data, keys, room=span)
    if combined is None:
        return None
    if (int(combined.max()) + 1) * span >= 2**62:
        return None
    combined *= span  # in place: the series code, then the year within it
    combined += year - low  # year - low: small, in year's own type
    order = np.argsort(combined, kind="stable")
    ordered = combined[order]
    del combined
    if (ordered[1:] == ordered[:-1]).any():
        return None
    series = ordered // span
    return order, np.r_[True, series[1:] != series[:-1]]


def _text_order(heads: pd.DataFrame, keys: list[str]) -> NDArray[np.intp] | None:
    """The positions of ``heads`` (one row per series) in ``stable_order(heads, keys)``'s
    order (:func:`text_key`); None when the keys have no such key (the table is then sorted
    as it is made)."""
    combined = text_key(heads, keys)
    return None if combined is None else np.argsort(combined, kind="stable")


def _series_ids(data: pd.DataFrame, keys: list[str]) -> NDArray[np.integer[Any]]:
    """The group number of each row of ``data`` by ``keys``, groups numbered in order of first
    appearance (``groupby(keys, sort=False, dropna=False).ngroup()``): the keys' integer
    codes combined into one integer per row, then factorized (no grouper over millions of
    rows). Missing keys are a group value of their own."""
    combined = key_codes(data, keys)
    if combined is None:  # too many combinations for one integer: the general grouper
        return data.groupby(keys, sort=False, observed=True, dropna=False).ngroup().to_numpy()
    gid, _ = pd.factorize(combined)
    return gid


def _by_series_then_year(
    gid: NDArray[np.integer[Any]], year: NDArray[np.integer[Any]]
) -> NDArray[np.integer[Any]]:
    """``np.lexsort((year, gid))``: positions by series, then year, ties in row order; one
    stable sort of a single integer key when series and years fit in one (four times
    faster than lexsort over millions of rows)."""
    low, high = int(year.min()), int(year.max())
    span = high - low + 1
    if (int(gid.max()) + 1) * span >= 2**62:
        return np.lexsort((year, gid))
    key = gid.astype("int64") * span + (year.astype("int64") - low)
    return np.argsort(key, kind="stable")


def key_codes(
    data: pd.DataFrame, keys: list[str], *, room: int | None = None
) -> NDArray[np.signedinteger[Any]] | None:
    """One integer per row of ``data``, equal for two rows exactly when their ``keys`` are
    (missing equal to missing); None when the combinations do not fit in 62 bits. Codes of
    one frame only: a subset of rows keeps them when its categoricals keep their categories.
    64-bit, or with ``room`` 32-bit when every code times ``room`` fits in 31 bits (the
    caller multiplies by up to ``room``).
    """
    parts = []
    radix = 1
    for name in keys:
        column = data[name]
        if isinstance(column.dtype, pd.CategoricalDtype):
            codes = column.cat.codes.to_numpy()
            size = len(column.cat.categories) + 1
        else:
            codes, uniques = pd.factorize(column, use_na_sentinel=True)
            size = len(uniques) + 1
        radix *= size
        if radix >= 2**62:
            return None
        parts.append((codes, size))
    narrow = room is not None and radix * room < 2**31
    combined = np.zeros(len(data), dtype="int32" if narrow else "int64")
    for codes, size in parts:
        # In place, small codes widened on the fly: no temporary of millions of int64.
        combined *= size
        combined += codes
        combined += 1
    return combined


def _trend(
    frame: pd.DataFrame,
    prepared: Callable[[], _Series],
    *,
    polarity: PolaritySource | None,
    window: int,
    min_span: int,
    method: Literal["eurostat", "istat"],
) -> pd.DataFrame:
    """:func:`trend` over ``prepared()``, the :class:`_Series` of ``frame``."""
    require_columns(frame, ["indicator", "territory", "value"], what="the observation table")
    if window < 1 or min_span < 1:
        raise AnalysisError("window and min_span must be at least 1 year")
    series = prepared()
    keys = series.keys
    year, value, break_year = series.year, series.value, series.break_year
    starts, ends = series.starts, series.ends
    if len(value) == 0:
        return _empty(keys, polarity is not None)

    end_year = year[ends].astype("int64")  # the frame's years may be narrower
    lower = np.maximum(end_year - window, break_year)
    first = _first_at_least(year, starts, ends, lower)
    start_year = year[first].astype("int64")
    span = end_year - start_year
    rate = cagr_array(value[first], value[ends], span)
    # Texts as categoricals built from integer codes: 800,000 series must not mean 800,000
    # Python strings. Reason codes: the span when too short, else min_span when undefined.
    too_short = span < min_span
    reason_code = np.where(too_short, span, np.where(np.isnan(rate), min_span, -1))
    reasons = [f"window spans {n} year(s); {min_span} needed" for n in range(min_span)]
    reasons.append("CAGR undefined: values must be positive")
    rate = np.where(too_short, np.nan, rate)
    rounded = round_rates(rate)
    direction = np.select([np.isnan(rate), rounded > 0, rounded < 0], [-1, 0, 1], default=2)
    heads = series.heads
    # One frame made of every column (adding them one by one costs a copy of the column
    # labels each: a tenth of a small rebuild's analysis).
    columns: dict[str, Any] = {name: heads[name] for name in heads.columns}
    columns["start_year"] = start_year
    columns["end_year"] = end_year
    columns["start_value"] = value[first]
    columns["end_value"] = value[ends]
    columns["span"] = span
    columns["points"] = ends - first + 1
    columns["break_year"] = pd.Series(break_year).where(break_year != _NO_YEAR).astype("Int64")
    columns["cagr"] = rate
    columns["direction"] = _labelled(direction, ["up", "down", "flat"])
    reason = _labelled(reason_code, reasons)
    columns["reason"] = reason
    if polarity is not None:
        adjusted, columns["reason"] = _judged(heads["indicator"], rate, reason, polarity)
        columns["adjusted_cagr"] = adjusted
        columns["category"] = categories(adjusted, method)
    out = pd.DataFrame(columns, index=heads.index)
    # One row per series: sorting by the series keys gives the same rows in the same order
    # whatever the order of the input (two builds must write identical files). Series
    # prepared in that order are not ordered again.
    return out if series.ordered else stable_order(out, keys)


def _first_at_least(
    year: NDArray[np.integer[Any]],
    starts: NDArray[np.integer[Any]],
    ends: NDArray[np.integer[Any]],
    lower: NDArray[np.integer[Any]],
) -> NDArray[np.int64]:
    """The position of the first year at least ``lower`` in each series (rows ``starts``
    to ``ends``, years ascending; ``lower`` at most the last year): a binary search of all
    series at once, a step per halving of the longest series (one pass over the series,
    none over the rows, per step)."""
    lo = starts.astype("int64")
    hi = ends.astype("int64")  # the last year is at least lower: the answer is in lo..hi
    while True:
        open_ = lo < hi
        if not open_.any():
            return lo
        mid = (lo + hi) // 2
        below = year[mid] < lower
        lo = np.where(open_ & below, mid + 1, lo)
        hi = np.where(open_ & ~below, mid, hi)


def _judged(
    ids: pd.Series,
    rate: NDArray[np.float64],
    reason: pd.Categorical[str],
    polarity: PolaritySource,
) -> tuple[NDArray[np.float64], pd.Categorical[str]]:
    """``adjusted_cagr`` and the reasons (neutral polarity: not assessable) of the series
    of indicators ``ids`` with CAGR ``rate``."""
    pols = polarity_map(polarity, [str(i) for i in ids.dropna().unique()])
    signs = {k: float(p.sign) for k, p in pols.items()}
    if isinstance(ids.dtype, pd.CategoricalDtype):
        # Per category, taken by code (-1, missing: no sign).
        of_category = [signs.get(c, np.nan) for c in ids.cat.categories]
        sign = np.append(np.asarray(of_category, dtype="float64"), np.nan)[ids.cat.codes.to_numpy()]
    else:
        sign = ids.map(signs).to_numpy(dtype="float64")
    adjusted = np.where(sign == 0, np.nan, sign * np.asarray(rate, dtype="float64"))
    codes = np.asarray(reason.codes)
    neutral = (sign == 0) & (codes == -1)
    if neutral.any():
        text = "neutral polarity: growth is reported without judgement"
        labels = list(reason.categories)
        codes = np.where(neutral, len(labels), codes)
        reason = _labelled(codes, [*labels, text])
    return adjusted, reason


def categories(adjusted: NDArray[np.float64], method: str) -> pd.Categorical[str]:
    """The class of each polarity-adjusted CAGR (NaN: missing), Istat's or Eurostat's."""
    codes, labels = (
        (istat_codes(adjusted), ISTAT_LABELS)
        if method == "istat"
        else (eurostat_codes(adjusted), EUROSTAT_LABELS)
    )
    return _labelled(codes, list(labels))


def _labelled(codes: NDArray[np.integer[Any]], labels: list[str]) -> pd.Categorical[str]:
    """A categorical of ``labels`` from integer codes (-1: missing)."""
    return pd.Categorical.from_codes(np.asarray(codes, dtype="int64"), categories=pd.Index(labels))


def _empty(keys: list[str], judged: bool) -> pd.DataFrame:
    columns = [
        *keys,
        "start_year",
        "end_year",
        "start_value",
        "end_value",
        "span",
        "points",
        "break_year",
        "cagr",
        "direction",
        "reason",
    ]
    if judged:
        columns += ["adjusted_cagr", "category"]
    return pd.DataFrame(columns=columns)
