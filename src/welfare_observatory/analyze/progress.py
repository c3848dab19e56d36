"""Compound annual growth rates and the progress assessment of one series.

``assess_progress`` never raises for a data problem (too few points, zero or negative values,
a missing window start): it answers ``not_assessable`` with the reason. It raises
:class:`AnalysisError` only for a caller's mistake (unknown polarity, method or horizon, a
target without a target year, an index that is not years, duplicate years).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
from pydantic import ValidationInfo, field_validator

from welfare_observatory.analyze._common import PolarityLike, as_polarity, round_rates
from welfare_observatory.analyze.classes import (
    IstatCategory,
    ProgressCategory,
    classify_eurostat,
    classify_eurostat_ratio,
    classify_istat,
)
from welfare_observatory.errors import AnalysisError, Location
from welfare_observatory.model.common import Frozen
from welfare_observatory.model.indicator import Polarity

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

__all__ = ["HORIZONS", "MIN_SPAN", "Assessment", "assess_progress", "cagr", "cagr_array"]

Horizon = Literal["short", "long", "full"]
Method = Literal["eurostat", "istat"]

HORIZONS: dict[str, int | None] = {"short": 5, "long": 15, "full": None}
"""Window length in years back from the latest year (Eurostat: 5 short, 15 long term);
``full`` starts at the first available year (Istat's long-term reading)."""

MIN_SPAN: dict[str, int] = {"short": 3, "long": 10, "full": 3}
"""Fewest years between the window's start and end for a trend to be assessed."""


def cagr(start_value: float, end_value: float, years: float) -> float:
    """Compound annual growth rate ``(end / start) ** (1 / years) - 1`` as a fraction.

    Needs ``start_value > 0``, ``end_value >= 0`` and ``years > 0``; otherwise the rate is
    undefined and :class:`AnalysisError` is raised (never a made-up number).
    """
    values = {"start_value": start_value, "end_value": end_value, "years": years}
    for name, value in values.items():
        if not isinstance(value, int | float | np.number) or not math.isfinite(float(value)):
            raise AnalysisError(
                f"{name} must be a finite number, not {value!r}", location=Location(field=name)
            )
    if years <= 0:
        raise AnalysisError(
            f"years must be positive, not {years!r}",
            location=Location(field="years"),
            hint="years is the distance between the end and the start of the window",
        )
    if start_value <= 0 or end_value < 0:
        raise AnalysisError(
            f"CAGR is undefined from {start_value!r} to {end_value!r}",
            location=Location(field="start_value" if start_value <= 0 else "end_value"),
            hint="the compound growth rate needs a positive start and a non-negative end; "
            "for balances or differences use the absolute change instead",
        )
    return float((float(end_value) / float(start_value)) ** (1.0 / float(years)) - 1.0)


def cagr_array(start: ArrayLike, end: ArrayLike, years: ArrayLike) -> NDArray[np.float64]:
    """Vectorized :func:`cagr`: NaN wherever the rate is undefined."""
    s = np.asarray(start, dtype="float64")
    e = np.asarray(end, dtype="float64")
    n = np.asarray(years, dtype="float64")
    ok = (s > 0) & (e >= 0) & (n > 0) & np.isfinite(s) & np.isfinite(e)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(
            ok, np.power(np.where(ok, e / s, 1.0), 1.0 / np.where(ok, n, 1.0)) - 1.0, np.nan
        )
    return out.astype("float64")


class Assessment(Frozen):
    """The outcome of :func:`assess_progress`: the class, the reason and every number used.

    Rates are fractions per year (0.012 = 1.2 %); ``ratio`` is observed / required growth.
    """

    method: Method
    horizon: Horizon
    category: ProgressCategory | IstatCategory
    reason: str | None = None
    polarity: Polarity
    start_year: int | None = None
    end_year: int | None = None
    start_value: float | None = None
    end_value: float | None = None
    observed_cagr: float | None = None
    adjusted_cagr: float | None = None
    """The observed CAGR with its sign turned for negative polarity (None when neutral)."""
    required_cagr: float | None = None
    ratio: float | None = None
    target: float | None = None
    target_year: int | None = None

    @field_validator("category", mode="before")
    @classmethod
    def _category_of_method(cls, value: object, info: ValidationInfo) -> object:
        # Both enums have "not_assessable": read a plain string with the method's own enum,
        # so an assessment survives a round trip through JSON.
        if isinstance(value, str) and not isinstance(value, ProgressCategory | IstatCategory):
            enum = IstatCategory if info.data.get("method") == "istat" else ProgressCategory
            return enum(value)
        return value

    @property
    def assessable(self) -> bool:
        return self.category.value != "not_assessable"

    @property
    def years_used(self) -> tuple[int, int] | None:
        if self.start_year is None or self.end_year is None:
            return None
        return (self.start_year, self.end_year)


def _year_index(series: pd.Series) -> pd.Series:
    """``series`` with an int year index, NaN dropped, sorted; typed errors for bad indexes."""
    index = series.index
    if isinstance(index, pd.DatetimeIndex | pd.PeriodIndex):
        year_values = np.asarray(index.year, dtype="int64")
    else:
        numeric = pd.to_numeric(pd.Index(index).astype("string").str.slice(0, 4), errors="coerce")
        if len(index) and (pd.isna(numeric).any() or not pd.api.types.is_numeric_dtype(numeric)):
            raise AnalysisError(
                "the series index must be years",
                hint="index the values by year (2015, 2016, ...) or by date",
            )
        year_values = np.asarray(numeric, dtype="int64")
    raw = pd.Series(np.asarray(series), dtype="object")
    values = pd.to_numeric(raw, errors="coerce")
    bad = values.isna() & raw.notna() & ~raw.map(_is_nan)
    if bad.any():
        position = int(np.flatnonzero(bad.to_numpy())[0])
        raise AnalysisError(
            f"value {raw.iloc[position]!r} is not a number",
            location=Location(key=str(year_values[position])),
            hint="pass numbers (NaN for a missing year), not text",
        )
    out = pd.Series(values.to_numpy(dtype="float64"), index=year_values).dropna().sort_index()
    if out.index.has_duplicates:
        year = int(out.index[out.index.duplicated()][0])
        raise AnalysisError(
            f"year {year} appears more than once in the series",
            location=Location(key=str(year)),
            hint="pass one value per year (filter breakdowns and sub-annual periods first)",
        )
    return out


def assess_progress(
    series: pd.Series,
    *,
    polarity: PolarityLike,
    target: float | None = None,
    target_year: int | None = None,
    horizon: Horizon = "short",
    method: Method = "eurostat",
    min_span: int | None = None,
) -> Assessment:
    """Classify the progress of ``series`` (values indexed by year) over ``horizon``.

    The window ends at the latest year with a value and starts ``HORIZONS[horizon]`` years
    earlier, or at the nearest later year with a value; it must span ``min_span`` years
    (default ``MIN_SPAN[horizon]``). See ``docs/methods.md`` for classes and sources.
    """
    pol = as_polarity(polarity)
    if horizon not in HORIZONS:
        raise AnalysisError(
            f"unknown horizon {horizon!r}", hint="horizon is 'short', 'long' or 'full'"
        )
    if method not in ("eurostat", "istat"):
        raise AnalysisError(f"unknown method {method!r}", hint="method is 'eurostat' or 'istat'")
    if (target is None) != (target_year is None):
        raise AnalysisError(
            "a target needs both a value and a year",
            hint="pass target= and target_year= together, or neither",
        )
    if target is not None and method == "istat":
        raise AnalysisError(
            "Istat's classes have no target variant", hint="use method='eurostat' with a target"
        )
    na_category: ProgressCategory | IstatCategory = (
        IstatCategory.NOT_ASSESSABLE if method == "istat" else ProgressCategory.NOT_ASSESSABLE
    )
    base: dict[str, object] = {
        "method": method,
        "horizon": horizon,
        "polarity": pol,
        "target": target,
        "target_year": target_year,
    }
    data = _year_index(series)
    if len(data) < 2:
        reason = f"too few values: {len(data)} (at least 2 years are needed)"
        return _build(na_category, reason, base, {})
    end_year = int(data.index[-1])
    length = HORIZONS[horizon]
    window = data if length is None else data[data.index >= end_year - length]
    start_year = int(window.index[0])
    span = end_year - start_year
    need = MIN_SPAN[horizon] if min_span is None else min_span
    start_value, end_value = float(window.iloc[0]), float(data.iloc[-1])
    numbers: dict[str, object] = {
        "start_year": start_year,
        "end_year": end_year,
        "start_value": start_value,
        "end_value": end_value,
    }
    if span < need:
        reason = f"the window {start_year}-{end_year} spans {span} year(s); {need} are needed"
        return _build(na_category, reason, base, numbers)
    if start_value <= 0 or end_value < 0:
        reason = (
            f"CAGR is undefined from {start_value:g} ({start_year}) to {end_value:g} "
            f"({end_year}): values must be positive"
        )
        return _build(na_category, reason, base, numbers)
    observed = cagr(start_value, end_value, span)
    numbers["observed_cagr"] = observed
    if pol is Polarity.NEUTRAL:
        reason = "neutral polarity: growth is reported without judgement"
        return _build(na_category, reason, base, numbers)
    adjusted = pol.sign * observed
    numbers["adjusted_cagr"] = adjusted
    if method == "istat":
        return _build(IstatCategory(_first(classify_istat(adjusted))), None, base, numbers)
    if target is None:
        return _build(ProgressCategory(_first(classify_eurostat(adjusted))), None, base, numbers)
    assert target_year is not None  # checked above: both or neither
    return _against_target(
        pol,
        float(target),
        int(target_year),
        start_year,
        start_value,
        end_value,
        observed,
        base,
        numbers,
    )


def _build(
    category: ProgressCategory | IstatCategory,
    reason: str | None,
    base: dict[str, object],
    numbers: dict[str, object],
) -> Assessment:
    return Assessment.model_validate({**base, **numbers, "category": category, "reason": reason})


def _against_target(
    pol: Polarity,
    target: float,
    target_year: int,
    start_year: int,
    start_value: float,
    end_value: float,
    observed: float,
    base: dict[str, object],
    numbers: dict[str, object],
) -> Assessment:
    """Eurostat's target variant: ratio of the observed to the required CAGR."""
    na = ProgressCategory.NOT_ASSESSABLE
    if not math.isfinite(target) or target < 0:
        return _build(na, f"target {target!r} is not a non-negative number", base, numbers)
    met = end_value >= target if pol is Polarity.POSITIVE else end_value <= target
    if target_year <= start_year:
        if met:
            return _build(
                ProgressCategory.SIGNIFICANT_PROGRESS, "target already met", base, numbers
            )
        reason = f"target year {target_year} is not after the window start {start_year}"
        return _build(na, reason, base, numbers)
    required = cagr(start_value, target, target_year - start_year)
    numbers["required_cagr"] = required
    if required:
        numbers["ratio"] = observed / required
    if met:
        return _build(ProgressCategory.SIGNIFICANT_PROGRESS, "target already met", base, numbers)
    # Met at the window start (no growth required, or growth the wrong way) but not any more.
    if round_rates(pol.sign * required) <= 0:
        reason = "the target was met at the window start and is no longer met"
        return _build(ProgressCategory.MOVEMENT_AWAY, reason, base, numbers)
    category = ProgressCategory(_first(classify_eurostat_ratio(observed / required)))
    return _build(category, None, base, numbers)


def _is_nan(value: object) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _first(labels: NDArray[np.str_]) -> str:
    """The label of a scalar classification (0-d or 1-element array)."""
    return str(np.asarray(labels).reshape(-1)[0])
