"""Helpers shared by the analyses: polarity coercion, year extraction, key columns."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

from welfare_observatory.errors import AnalysisError, Location, WelfareObservatoryError, closest
from welfare_observatory.model.indicator import Aggregation, Indicator, Polarity
from welfare_observatory.model.observation import BASE_COLUMNS

if TYPE_CHECKING:
    from numpy.typing import NDArray

PolarityLike = Polarity | str | int
"""A polarity as ``Polarity``, its string value (``"negative"``) or a sign (+1, -1, 0)."""


class IndicatorLookup(Protocol):
    """What the analyses need of a catalogue: ``get(id)`` (raising a library error for an
    unknown id) and iteration over its indicators."""

    def get(self, key: str) -> Indicator: ...

    def __iter__(self) -> Iterator[Indicator]: ...


PolaritySource = (
    Mapping[str, Indicator] | Mapping[str, Polarity] | Mapping[str, PolarityLike] | IndicatorLookup
)
"""Where the polarity of each indicator comes from: a catalogue-like mapping or plain values.
A :class:`~welfare_observatory.catalog.Catalog` (anything with ``get(id) -> Indicator``) works
too where the analyses take a polarity source."""

_NAMES = [p.value for p in Polarity]

DECIMALS = 10
"""Growth rates are rounded to this many decimals before they are compared with a threshold,
so a rate that is exactly 1 % on paper (1.01 ** 5 over five years) is read as exactly 1 % and
not as 1.0000000000000009 %."""


def as_polarity(value: object, *, key: str | None = None) -> Polarity:
    """``value`` as a :class:`Polarity`; raises :class:`AnalysisError` with a hint otherwise."""
    if isinstance(value, Polarity):
        return value
    if isinstance(value, Indicator):
        return value.polarity
    if isinstance(value, bool):  # bool is an int: True is not a polarity
        raise _unknown_polarity(value, key)
    if isinstance(value, int | np.integer):
        by_sign = {1: Polarity.POSITIVE, -1: Polarity.NEGATIVE, 0: Polarity.NEUTRAL}
        if int(value) in by_sign:
            return by_sign[int(value)]
        raise _unknown_polarity(value, key)
    if isinstance(value, str):
        text = value.strip().casefold()
        aliases = {"+": "positive", "+1": "positive", "-": "negative", "-1": "negative"}
        text = aliases.get(text, text)
        if text in _NAMES:
            return Polarity(text)
    raise _unknown_polarity(value, key)


def _unknown_polarity(value: object, key: str | None) -> AnalysisError:
    hints = closest(str(value), _NAMES)
    hint = "polarity is one of positive, negative, neutral (or +1, -1, 0)"
    if hints:
        hint = f"did you mean {hints[0]!r}? " + hint
    return AnalysisError(
        f"unknown polarity {value!r}", location=Location(key=key) if key else None, hint=hint
    )


def polarity_map(source: PolaritySource, needed: Iterable[str]) -> dict[str, Polarity]:
    """The polarity of each id in ``needed``, from ``source``; a missing id is an error."""
    out: dict[str, Polarity] = {}
    missing: list[str] = []
    for key in dict.fromkeys(needed):
        if isinstance(source, Mapping):
            if key in source:
                out[key] = as_polarity(source[key], key=key)
            else:
                missing.append(key)
            continue
        try:  # a catalogue: get() resolves ids and aliases, raises for unknown ones
            out[key] = as_polarity(source.get(key), key=key)
        except WelfareObservatoryError:
            missing.append(key)
    if missing:
        known = [str(k) for k in source] if isinstance(source, Mapping) else []
        suggestions = closest(missing[0], known)
        hint = "add the indicator to the polarity mapping or pass the catalogue"
        if suggestions:
            hint = f"did you mean {suggestions[0]!r}? " + hint
        raise AnalysisError(
            f"no polarity for indicator(s) {', '.join(missing[:5])}"
            + (f" and {len(missing) - 5} more" if len(missing) > 5 else ""),
            location=Location(key=missing[0]),
            hint=hint,
        )
    return out


def column_polarities(source: PolaritySource, ids: pd.Series) -> dict[str, Polarity]:
    """``polarity_map(source, ids.dropna().unique())`` (as text), for lookups by id: of a
    categorical, the polarities of all its categories when each has one (no pass over the
    rows), else of those its codes use; the error, for a value without a polarity, names
    the values in the order they appear, as that call's."""
    if isinstance(ids.dtype, pd.CategoricalDtype):
        categories = [str(i) for i in ids.cat.categories]
        try:
            return polarity_map(source, categories)  # unused ones too: read by id only
        except AnalysisError:
            pass
        used = np.zeros(len(categories) + 1, dtype=bool)
        used[ids.cat.codes.to_numpy()] = True  # code -1 (missing): the last, not read
        try:
            return polarity_map(source, [categories[i] for i in np.flatnonzero(used[:-1])])
        except AnalysisError:
            pass  # raised again below, naming the values as they appear
    return polarity_map(source, [str(i) for i in ids.dropna().unique()])


def signs(polarities: Mapping[str, Polarity]) -> dict[str, int]:
    """+1, -1 or 0 for each id."""
    return {key: pol.sign for key, pol in polarities.items()}


def require_columns(frame: pd.DataFrame, columns: Iterable[str], *, what: str) -> None:
    """Raise :class:`AnalysisError` when ``frame`` lacks one of ``columns``."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise AnalysisError(
            f"{what} lacks column(s) {', '.join(missing)}",
            location=Location(column=missing[0]),
            hint="pass a canonical observation table (columns indicator, territory, period, "
            "value, ...; see welfare_observatory.model.observation)",
        )


def text(column: pd.Series) -> pd.Series:
    """``column.astype("string")``; a categorical's distinct values are converted once and
    taken by code (not one string per row)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = column.cat.codes.to_numpy()
        values = column.cat.categories.astype("string").array
        return pd.Series(values.take(codes, allow_fill=True), index=column.index, name=column.name)
    return column.astype("string")


def text_isin(column: pd.Series, values: Iterable[str]) -> pd.Series:
    """``text(column).isin(values)``; a categorical is tested once per category and the
    answer taken by code (no string per row)."""
    if not isinstance(column.dtype, pd.CategoricalDtype):
        return text(column).isin(list(values))
    of_category = column.cat.categories.astype("string").isin(list(values))
    hit = np.append(np.asarray(of_category, dtype=bool), False)  # code -1: missing
    codes = np.asarray(column.array.codes)
    return pd.Series(by_code(hit, codes), index=column.index, name=column.name)


_FEW = 8
"""Categories compared one by one (a pass over small integers each) up to this count."""


def by_code(of_code: NDArray[np.bool_], codes: NDArray[np.integer[Any]]) -> NDArray[np.bool_]:
    """``of_code[codes]`` (code -1 reads the last entry): when few codes are true, or few
    false, an equality test per such code (a tenth of the time of a look-up per row, which
    widens every code to a pointer-sized index first)."""
    on = np.flatnonzero(of_code[:-1])
    off = np.flatnonzero(~of_code[:-1])
    if len(on) <= _FEW and not of_code[-1]:
        out = np.zeros(len(codes), dtype=bool)
        for code in on:
            out |= codes == int(code)
        return out
    if len(off) <= _FEW and of_code[-1]:
        out = np.ones(len(codes), dtype=bool)
        for code in off:
            out &= codes != int(code)
        return out
    if len(off) <= _FEW:
        out = codes >= 0
        for code in off:
            out &= codes != int(code)
        return out
    result: NDArray[np.bool_] = of_code[codes]
    return result


def breakdowns(frame: pd.DataFrame) -> list[str]:
    """The breakdown columns of a canonical observation frame (``sex``, ``age``, ...)."""
    return [c for c in frame.columns if c not in BASE_COLUMNS and c != "year"]


def years(frame: pd.DataFrame) -> pd.Series:
    """The calendar year of each row, from ``period_start`` when present, else ``period``.

    ``period`` is an SDMX time period (``2024``, ``2024-Q1``, ``2023-09-01/P1Y``): its first
    four characters are the year in every form the canonical table allows. Years are parsed
    once per distinct period (periods repeat across millions of rows).
    """
    if "year" in frame.columns and pd.api.types.is_integer_dtype(frame["year"]):
        return frame["year"].astype("int64")
    if "period_start" in frame.columns:
        plain = frame["period_start"].to_numpy()
        if plain.dtype.kind == "M" and not np.isnat(plain).any():
            # Plain datetimes: the year straight from the integer (no hashing per row).
            return pd.Series(
                plain.astype("datetime64[Y]").astype("int64") + 1970,
                index=frame.index,
                dtype="int64",
            )
        codes, uniques = pd.factorize(frame["period_start"], use_na_sentinel=True)
        start = pd.to_datetime(pd.Series(uniques), errors="coerce")
        if (codes >= 0).all() and not start.isna().any():
            year_of = start.dt.year.to_numpy(dtype="int64")
            return pd.Series(year_of[codes], index=frame.index, dtype="int64")
    require_columns(frame, ["period"], what="the observation table")
    codes, uniques = pd.factorize(frame["period"], use_na_sentinel=True)
    text = pd.Series(uniques, dtype="string").str.slice(0, 4)
    parsed = pd.to_numeric(text, errors="coerce")
    if (codes < 0).any() or parsed.isna().any():
        bad = (
            frame["period"].iloc[int(np.flatnonzero(codes < 0)[0])]
            if (codes < 0).any()
            else (uniques[int(np.flatnonzero(parsed.isna())[0])])
        )
        raise AnalysisError(
            f"period {bad!r} does not start with a year",
            location=Location(column="period", key=str(bad)),
            hint="periods are SDMX time periods such as 2024, 2024-Q1 or 2023-09-01/P1Y",
        )
    year_of = parsed.to_numpy(dtype="int64")
    return pd.Series(year_of[codes], index=frame.index, dtype="int64")


def round_rates(values: NDArray[np.float64] | float) -> Any:
    """Rates rounded to :data:`DECIMALS` for threshold comparisons."""
    return np.round(values, DECIMALS)


def stable_order(frame: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    """``frame`` sorted by the ``columns`` it has, text compared as text (a categorical's own
    category order depends on the input, so it is not used), missing values last, index
    reset.

    Two runs over the same rows in any order give the same frame when ``columns`` identify
    a row; this is what makes stored analyses byte-identical from build to build. Each text
    column is turned into integer ranks once per distinct value, then one stable
    ``numpy.lexsort`` orders the rows.
    """
    present = [c for c in dict.fromkeys(columns) if c in frame.columns]
    if not present:
        return frame.reset_index(drop=True)
    keys = [_sort_key(frame[c]) for c in present]
    order = np.lexsort(keys[::-1])  # lexsort's primary key is the last one
    if _in_order(order):
        # Already in this order (a table sorted by its maker, ordered again by the build):
        # no copy of every column.
        return frame.reset_index(drop=True)
    return frame.iloc[order].reset_index(drop=True)


def text_ranks(column: pd.Series) -> tuple[NDArray[np.integer[Any]], int] | None:
    """Each row's rank among the distinct values of ``column`` as :func:`stable_order`
    compares them (as text, missing last), and the number of ranks (missing included):
    ranks of two rows are equal exactly when their values are. None when that order is
    not one of distinct values (numbers, which ``stable_order`` compares as numbers; two
    values with one text). Categories are ranked once each, used or not (ranks only order
    the rows), and taken by code."""
    if pd.api.types.is_numeric_dtype(column) and not isinstance(column.dtype, pd.CategoricalDtype):
        return None
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = column.cat.codes.to_numpy()
        labels = [str(u) for u in column.cat.categories]
    else:
        codes, uniques = pd.factorize(column, use_na_sentinel=True)
        labels = [str(u) for u in uniques]
    if len(set(labels)) != len(labels):
        return None
    size = len(labels) + 1
    narrow = next(t for t in (np.int8, np.int16, np.int32, np.int64) if size < np.iinfo(t).max)
    rank: NDArray[np.integer[Any]] = np.empty(size, dtype=narrow)
    rank[np.argsort(np.asarray(labels, dtype=object), kind="stable")] = np.arange(
        len(labels), dtype=narrow
    )
    rank[-1] = len(labels)  # code -1: missing, last
    ranks: NDArray[np.integer[Any]] = rank[codes]
    return ranks, size


def text_key(frame: pd.DataFrame, columns: list[str]) -> NDArray[np.int64] | None:
    """One integer per row of ``frame`` that orders the rows as ``stable_order(frame,
    columns)`` does, from the ranks of :func:`text_ranks` of each column (all of which
    ``frame`` has); equal for rows with equal ``columns``. None when a column has no such
    ranks or their combinations do not fit one 64-bit integer."""
    combined = np.zeros(len(frame), dtype="int64")
    radix = 1
    for name in columns:
        ranked = text_ranks(frame[name])
        if ranked is None:
            return None
        ranks, size = ranked
        radix *= size
        if radix >= 2**62:
            return None
        combined *= size
        combined += ranks
    return combined


def strictly_ordered(frame: pd.DataFrame, columns: list[str]) -> bool:
    """Whether ``stable_order(frame, columns)`` keeps every row where it is and no two rows
    have equal ``columns``; False when that cannot be told from :func:`text_key` (then the
    caller orders the rows)."""
    combined = text_key(frame, columns)
    return combined is not None and bool((combined[1:] > combined[:-1]).all())


def _in_order(order: NDArray[np.intp]) -> bool:
    """Whether ``order`` is ``0, 1, ..., n - 1``."""
    return bool((order[1:] > order[:-1]).all()) if len(order) > 1 else True


def _sort_key(column: pd.Series) -> NDArray[np.float64]:
    """Numbers as they are; text as the rank of its value among the sorted distinct values."""
    if pd.api.types.is_numeric_dtype(column) and not isinstance(column.dtype, pd.CategoricalDtype):
        return column.to_numpy(dtype="float64", na_value=np.nan)
    categories = column.cat.categories if isinstance(column.dtype, pd.CategoricalDtype) else None
    if categories is not None and categories.inferred_type == "string":
        # Ranked once per category (used or not: ranks only order the rows), taken by code.
        codes = column.cat.codes.to_numpy()
        text = np.asarray([str(u) for u in categories], dtype=object)
        rank = np.empty(len(text) + 1, dtype="float64")
        rank[np.argsort(text, kind="stable")] = np.arange(len(text), dtype="float64")
        rank[-1] = np.inf  # code -1: missing, last
        return rank[codes]
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    text = np.asarray([str(u) for u in uniques], dtype=object)
    rank = np.empty(len(text), dtype="float64")
    rank[np.argsort(text, kind="stable")] = np.arange(len(text), dtype="float64")
    # Missing (code -1) takes the last entry, inf: also when every value is missing.
    return np.append(rank, np.inf)[codes]


def size_dependent_ids(source: object) -> set[str]:
    """Ids of ``source`` (a catalogue-like mapping) whose values grow with the territory's
    size: counts the catalogue aggregates by adding the parts (``aggregation: sum``, such as
    residents, births or citizenship acquisitions). Rates, shares, ratios, indices, medians
    and averages (``formula`` or ``none``) are comparable across territories of any size.
    Plain polarity values carry no such information and give no ids. A catalogue (iterable
    of ``Indicator``) works too.
    """
    if not isinstance(source, Mapping):
        entries = source if isinstance(source, Iterable) else ()
        return {
            i.id for i in entries if isinstance(i, Indicator) and i.aggregation is Aggregation.SUM
        }
    return {
        key
        for key, value in source.items()
        if isinstance(value, Indicator) and value.aggregation is Aggregation.SUM
    }
