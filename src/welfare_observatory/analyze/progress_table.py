"""Progress assessments of every series of a frame at once (what an edition stores).

The same windows, classes and target rule as :func:`~welfare_observatory.analyze.
assess_progress`, vectorized over all (indicator, territory, breakdown) series: the windows
come from :func:`~welfare_observatory.analyze.trend` (which also starts a window at a break
in series), the classes from :mod:`~welfare_observatory.analyze.classes`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals

from welfare_observatory.analyze._common import (
    PolaritySource,
    column_polarities,
    round_rates,
    stable_order,
    strictly_ordered,
    text,
)
from welfare_observatory.analyze.classes import ProgressCategory, classify_eurostat_ratio
from welfare_observatory.analyze.progress import HORIZONS, MIN_SPAN, cagr_array
from welfare_observatory.analyze.trend import _prepare, _Series, _trend, series_keys
from welfare_observatory.errors import AnalysisError

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["progress_table"]

_FULL_WINDOW = 10_000
"""Years back for the ``full`` horizon: longer than any series."""

_COLUMNS = [
    "horizon",
    "method",
    "start_year",
    "end_year",
    "start_value",
    "end_value",
    "observed_cagr",
    "adjusted_cagr",
    "target",
    "target_year",
    "required_cagr",
    "ratio",
    "category",
    "reason",
]


def progress_table(
    frame: pd.DataFrame,
    *,
    polarity: PolaritySource,
    method: Literal["eurostat", "istat"] = "eurostat",
    horizons: Iterable[str] = ("short", "long"),
    targets: Mapping[str, tuple[float, int]] | None = None,
) -> pd.DataFrame:
    """One assessment per series of ``frame`` and horizon, as :func:`assess_progress` gives.

    ``targets`` maps an indicator id to ``(value, year)``: with ``method="eurostat"`` its
    series are classed by the ratio of observed to required growth (Eurostat's target
    variant), the others by their CAGR alone. Istat's classes have no target variant, so
    targets are ignored with ``method="istat"``. Columns: the series keys (indicator,
    territory, breakdowns), then ``horizon``, ``method``, ``start_year``, ``end_year``,
    ``start_value``, ``end_value``, ``observed_cagr``, ``adjusted_cagr``, ``target``,
    ``target_year``, ``required_cagr``, ``ratio`` (observed / required), ``category`` and
    ``reason`` (why not assessable, or how a target was judged). Rows are sorted by the
    series keys and horizon.
    """
    return _progress_table(
        frame, _once(frame), polarity=polarity, method=method, horizons=horizons, targets=targets
    )


def _once(frame: pd.DataFrame) -> functools._lru_cache_wrapper[_Series]:
    """The :class:`_Series` of ``frame``, prepared on the first call only (every horizon
    reads the same rows; an error is raised again on each call)."""
    return functools.cache(lambda: _prepare(frame))


def _progress_table(
    frame: pd.DataFrame,
    prepared: Callable[[], _Series],
    *,
    polarity: PolaritySource,
    method: Literal["eurostat", "istat"],
    horizons: Iterable[str],
    targets: Mapping[str, tuple[float, int]] | None,
    known: Mapping[tuple[int, int], pd.DataFrame] | None = None,
    read: Callable[[], None] | None = None,
) -> pd.DataFrame:
    """:func:`progress_table` with the series of ``frame`` from ``prepared()``. ``known``:
    trends already computed over the same series with the same polarity and method, by
    ``(window, min_span)`` (the stage's trend table is the short horizon's); read, never
    written into. ``read`` is called once every window is computed (the series are not
    read any more: the stage frees them before the table is assembled)."""
    if method not in ("eurostat", "istat"):
        raise AnalysisError(f"unknown method {method!r}", hint="method is 'eurostat' or 'istat'")
    wanted = list(dict.fromkeys(horizons))
    unknown = [h for h in wanted if h not in HORIZONS]
    if unknown:
        raise AnalysisError(
            f"unknown horizon {unknown[0]!r}", hint="horizons are 'short', 'long' and 'full'"
        )
    keys = series_keys(frame)
    pols = column_polarities(polarity, frame["indicator"])
    trends = []
    for horizon in wanted:  # a handful of horizons, each vectorized over every series
        length = HORIZONS[horizon]
        window = _FULL_WINDOW if length is None else length
        part = (known or {}).get((window, MIN_SPAN[horizon]))
        if part is None:
            part = _trend(
                frame,
                prepared,
                polarity=pols,
                window=window,
                min_span=MIN_SPAN[horizon],
                method=method,
            )
        trends.append(part)
    if read is not None:
        read()
    untargeted = not (method == "eurostat" and targets)
    if untargeted and _aligned(trends, keys):
        return _woven(trends, wanted, keys, method)
    parts = []
    for horizon, part in zip(wanted, trends, strict=True):
        if untargeted and len(part):
            parts.append(_untargeted(part, keys, horizon, method))
            continue
        part = part.rename(columns={"cagr": "observed_cagr"})
        part.insert(len(keys), "horizon", horizon)
        part.insert(len(keys) + 1, "method", method)
        part["category"] = text(part["category"])
        part["reason"] = text(part["reason"])
        if method == "eurostat" and targets:
            _with_targets(part, targets, pols)
        else:
            part["target"] = np.nan
            part["target_year"] = pd.arrays.IntegerArray(
                np.zeros(len(part), dtype="int64"), np.ones(len(part), dtype=bool)
            )
            part["required_cagr"] = np.nan
            part["ratio"] = np.nan
        parts.append(part[[*keys, *_COLUMNS]])
    del trends
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=keys + _COLUMNS)
    return stable_order(out, [*keys, "horizon"])


def _aligned(trends: list[pd.DataFrame], keys: list[str]) -> bool:
    """Whether the trend tables (one per horizon) hold rows, the same series in the same
    rows, in the order :func:`stable_order` gives them, no two alike, and their classes
    and reasons as categoricals: then their progress table is their rows woven together
    (:func:`_woven`), with nothing to sort."""
    first = trends[0]
    if not len(first) or any(len(t) != len(first) for t in trends):
        return False
    for table in trends:
        if not all(isinstance(table[c].dtype, pd.CategoricalDtype) for c in _LABELLED):
            return False
    for key in keys:
        column = first[key]
        for table in trends[1:]:
            other = table[key]
            if other.dtype != column.dtype:
                return False
            if isinstance(column.dtype, pd.CategoricalDtype):
                same = np.array_equal(column.cat.codes.to_numpy(), other.cat.codes.to_numpy())
            else:
                same = column.reset_index(drop=True).equals(other.reset_index(drop=True))
            if not same:
                return False
    return strictly_ordered(first, keys)


_LABELLED = ("category", "reason")
"""Text columns of a trend table, categoricals of a few labels."""


def _woven(
    trends: list[pd.DataFrame], horizons: list[str], keys: list[str], method: str
) -> pd.DataFrame:
    """The progress table of :func:`_aligned` trend tables (one per horizon of
    ``horizons``, no target): each series' rows, one per horizon in the order of their
    names as text, one after the other; what ordering the tables' rows (as
    :func:`_untargeted` makes them) by series keys and horizon gives, each column written
    once, in place (no concatenation, no reordering of every column)."""
    by_name = sorted(range(len(horizons)), key=lambda j: str(horizons[j]))
    tables = [trends[j] for j in by_name]
    names = [horizons[j] for j in by_name]
    count, n = len(tables), len(tables[0])
    rows = n * count
    series = np.repeat(np.arange(n), count)  # each series' row, once per horizon
    which = np.tile(np.arange(count), n)  # the horizon of each row

    def woven(name: str) -> NDArray[Any]:
        values = [t[name].to_numpy() for t in tables]
        out = np.empty((n, count), dtype=np.result_type(*values))
        for j, column in enumerate(values):
            out[:, j] = column
        return out.reshape(rows)

    def labelled(name: str) -> pd.Series:
        joined = union_categoricals([t[name].array for t in tables])
        codes = np.asarray(joined.codes).reshape(count, n).T.reshape(rows)
        return text(pd.Series(pd.Categorical.from_codes(codes, dtype=joined.dtype)))

    # Each key in its own dtype (an array of objects would be read again as text).
    columns: dict[str, object] = {
        key: tables[0][key].take(series).reset_index(drop=True) for key in keys
    }
    # Texts of the dtype a scalar gives a column (as _untargeted's), taken by code.
    columns["horizon"] = _constant_dtype_array(names).take(which)
    columns["method"] = _constant_dtype_array([method]).take(np.zeros(rows, dtype=np.intp))
    for name in ("start_year", "end_year", "start_value", "end_value"):
        columns[name] = woven(name)
    columns["observed_cagr"] = woven("cagr")
    columns["adjusted_cagr"] = woven("adjusted_cagr")
    columns["target"] = np.full(rows, np.nan)
    columns["target_year"] = pd.arrays.IntegerArray(
        np.zeros(rows, dtype="int64"), np.ones(rows, dtype=bool)
    )
    columns["required_cagr"] = np.full(rows, np.nan)
    columns["ratio"] = np.full(rows, np.nan)
    columns["category"] = labelled("category").array
    columns["reason"] = labelled("reason").array
    return pd.DataFrame(columns, index=pd.RangeIndex(rows))


def _constant_dtype_array(values: list[str]) -> pd.api.extensions.ExtensionArray:
    """``values`` in the dtype pandas gives a column made of one of them as a scalar."""
    column = pd.DataFrame({"c": values[0]}, index=pd.RangeIndex(1))["c"]
    return pd.Series(values, dtype=column.dtype).array


def _untargeted(part: pd.DataFrame, keys: list[str], horizon: str, method: str) -> pd.DataFrame:
    """The rows of the trend table ``part`` (one horizon, no target) as the progress table
    has them, made of all its columns at once (adding them one by one costs a copy of the
    column labels each)."""
    n = len(part)
    columns: dict[str, object] = {key: part[key] for key in keys}
    columns["horizon"] = horizon
    columns["method"] = method
    for name in ("start_year", "end_year", "start_value", "end_value"):
        columns[name] = part[name]
    columns["observed_cagr"] = part["cagr"]
    columns["adjusted_cagr"] = part["adjusted_cagr"]
    columns["target"] = np.nan
    columns["target_year"] = pd.arrays.IntegerArray(
        np.zeros(n, dtype="int64"), np.ones(n, dtype=bool)
    )
    columns["required_cagr"] = np.nan
    columns["ratio"] = np.nan
    columns["category"] = text(part["category"])
    columns["reason"] = text(part["reason"])
    return pd.DataFrame(columns, index=part.index)


def _with_targets(
    part: pd.DataFrame, targets: Mapping[str, tuple[float, int]], pols: Mapping[str, object]
) -> None:
    """Eurostat's target variant for the series whose indicator has a target (in place)."""
    ids = part["indicator"].astype("string")
    value = ids.map({k: float(v[0]) for k, v in targets.items()}).to_numpy(dtype="float64")
    year = ids.map({k: float(v[1]) for k, v in targets.items()}).to_numpy(dtype="float64")
    sign = ids.map({k: float(getattr(p, "sign", 0)) for k, p in pols.items()})
    sign_ = sign.to_numpy(dtype="float64")
    start_year = part["start_year"].to_numpy(dtype="float64")
    start = part["start_value"].to_numpy(dtype="float64")
    end = part["end_value"].to_numpy(dtype="float64")
    observed = part["observed_cagr"].to_numpy(dtype="float64")
    has = ~np.isnan(value)
    # Only series with an observed, judged CAGR are classed against a target.
    judged = has & ~np.isnan(observed) & (sign_ != 0)
    bad_target = judged & ~(np.isfinite(value) & (value >= 0))
    met = np.where(sign_ > 0, end >= value, end <= value)
    late = judged & ~bad_target & (year <= start_year)
    with np.errstate(divide="ignore", invalid="ignore"):
        required = cagr_array(start, value, np.where(late, np.nan, year - start_year))
        ratio = np.where(required != 0, observed / required, np.nan)
    away = round_rates(sign_ * required) <= 0
    category = part["category"].to_numpy(dtype=object).copy()
    reason = part["reason"].to_numpy(dtype=object).copy()
    rules = [
        (bad_target, ProgressCategory.NOT_ASSESSABLE.value, "target is not a non-negative number"),
        (late & met, ProgressCategory.SIGNIFICANT_PROGRESS.value, "target already met"),
        (late & ~met, ProgressCategory.NOT_ASSESSABLE.value, "target year is not after start"),
    ]
    open_ = judged & ~bad_target & ~late
    by_ratio = classify_eurostat_ratio(ratio).astype(object)
    rules += [
        (open_ & met, ProgressCategory.SIGNIFICANT_PROGRESS.value, "target already met"),
        (
            open_ & ~met & away,
            ProgressCategory.MOVEMENT_AWAY.value,
            "the target was met at the window start and is no longer met",
        ),
    ]
    category[open_ & ~met & ~away] = by_ratio[open_ & ~met & ~away]
    reason[open_ & ~met & ~away] = None
    # Later rules do not overwrite earlier ones: apply in reverse so the first match wins.
    for mask, label, why in reversed(rules):
        category[mask] = label
        reason[mask] = why
    part["target"] = np.where(has, value, np.nan)
    part["target_year"] = pd.array(np.where(has, year, np.nan), dtype="Float64").astype("Int64")
    part["required_cagr"] = np.where(judged & ~late & ~bad_target, required, np.nan)
    part["ratio"] = np.where(judged & ~late & ~bad_target, ratio, np.nan)
    part["category"] = pd.array(category, dtype="string")
    part["reason"] = pd.array(reason, dtype="string")
