"""AMPI composites of each domain over every (territory, year) of a frame (stored per edition).

For each domain: the indicators with a polarity (neutral ones cannot enter a composite),
totals only (every breakdown ``_T``). The reference scoring 100 is the first of
``references`` (the observatory's territory, then Italy) that has values for at least
``min_indicators`` of them in one year; the base year is the year in which it has the most,
the earliest on a tie (so scores read as change since then). Indicators without a reference
value in the base year, or constant over the panel, are left out; a domain left with fewer
than ``min_indicators`` gets no composite and a note saying why. Rows missing any indicator
get no score (never a partial, silently biased one) and are not returned.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from welfare_observatory.analyze._common import breakdowns, stable_order, text, text_isin, years
from welfare_observatory.analyze.composite import ampi_components
from welfare_observatory.analyze.trend import key_codes
from welfare_observatory.model.indicator import Indicator
from welfare_observatory.model.observation import TOTAL

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["COMPOSITE_COLUMNS", "MIN_INDICATORS", "domain_composites"]

MIN_INDICATORS = 2
"""AMPI needs at least two indicators."""

COMPOSITE_COLUMNS = [
    "domain",
    "territory",
    "year",
    "ampi",
    "mean",
    "sd",
    "cv",
    "penalty",
    "reference_territory",
    "reference_year",
    "n_indicators",
    "indicators",
]


def domain_composites(
    frame: pd.DataFrame,
    *,
    indicators: Mapping[str, Indicator],
    references: Sequence[str],
    min_indicators: int = MIN_INDICATORS,
) -> tuple[pd.DataFrame, list[str]]:
    """The AMPI- of each domain for every complete (territory, year) row, and the notes.

    Returns ``(table, notes)``: ``table`` has :data:`COMPOSITE_COLUMNS` (``indicators`` is
    the ids that entered, joined by ``,``), sorted by domain, territory and year; ``notes``
    says, per domain without a composite, why.
    """
    data = _totals(frame)
    data = data.assign(year=years(data))
    data = data[[c for c in ("indicator", "territory", "period", "year", "value") if c in data]]
    present = {str(i) for i in data["indicator"].dropna().unique()}
    domains: dict[str, list[str]] = {}
    for key, indicator in sorted(indicators.items()):
        if key in present and indicator.polarity.sign != 0:
            domains.setdefault(indicator.domain.value, []).append(key)
    # Only the rows a composite can read (indicators with a polarity) are deduplicated and
    # turned into text: each indicator's rows are read on their own.
    data = _subset(data, text_isin(data["indicator"], [i for ids in domains.values() for i in ids]))
    # One value per (indicator, territory, year): the latest period of the year. Ordered and
    # deduplicated before keys become text (categorical keys sort and compare as text).
    # Composites read the rows by key only (pivot sorts them), so with one period per key
    # (annual data) there is nothing to order or drop.
    if _repeated(data, ["indicator", "territory", "year"]):
        data = stable_order(data, ["indicator", "territory", "year", "period"])
        data = data.drop_duplicates(["indicator", "territory", "year"], keep="last")
    tables: list[pd.DataFrame] = []
    notes: list[str] = []
    for domain in sorted({i.domain.value for k, i in indicators.items() if k in present}):
        ids = domains.get(domain, [])
        signs = {i: indicators[i].polarity.sign for i in ids}
        # Each domain's rows picked by their keys' codes (a test per category), and only
        # they made text (not every row, then a text comparison per domain).
        part = _subset(data, text_isin(data["indicator"], ids)) if ids else data.iloc[:0]
        table, note = _one(domain, signs, part, references, min_indicators)
        if note:
            notes.append(note)
        if table is not None:
            tables.append(table)
    if not tables:
        return pd.DataFrame(columns=COMPOSITE_COLUMNS), notes
    out = pd.concat(tables, ignore_index=True)
    return stable_order(out, ["domain", "territory", "year"]), notes


def _subset(data: pd.DataFrame, keep: pd.Series) -> pd.DataFrame:
    """The rows of ``data`` where ``keep``; ``data`` itself when that is every row."""
    return data if bool(keep.all()) else data[keep]


def _repeated(data: pd.DataFrame, keys: list[str]) -> bool:
    """Whether two rows of ``data`` share their ``keys``."""
    codes = key_codes(data, keys)
    if codes is None:
        return bool(data.duplicated(keys).any())
    return bool(pd.Series(codes).duplicated().any())


def _totals(frame: pd.DataFrame) -> pd.DataFrame:
    mask = frame["value"].notna()
    for column in breakdowns(frame):
        if column in ("domain", "year"):
            continue
        mask &= text_isin(frame[column], [TOTAL])
    # Only the columns composites and years() read: the other columns are not copied.
    read = ("indicator", "territory", "period", "period_start", "year", "value")
    return frame.loc[mask, [c for c in frame.columns if c in read]]


def _one(
    domain: str,
    signs: dict[str, int],
    data: pd.DataFrame,
    references: Sequence[str],
    need: int,
) -> tuple[pd.DataFrame | None, str | None]:
    ids = list(signs)
    if len(ids) < need:
        return None, (
            f"no composite for domain {domain!r}: {len(ids)} indicator(s) with a polarity "
            f"and data ({need} needed)"
        )
    reference = base_year = None
    for candidate in references:
        rows = data[text_isin(data["territory"], [candidate]).to_numpy(dtype=bool)]
        counts = rows.groupby("year")["indicator"].nunique()
        if len(counts) and int(counts.max()) >= need:
            reference = candidate
            base_year = int(counts[counts == counts.max()].index.min())
            break
    if reference is None or base_year is None:
        return None, (
            f"no composite for domain {domain!r}: no reference territory "
            f"({', '.join(references)}) has {need} of its indicators in one year"
        )
    panel = _pivot(data)
    has_ref = panel.loc[[(reference, base_year)]].notna().iloc[0]
    varies = _varies(panel)
    used = [i for i in ids if bool(has_ref[i]) and varies[i]]
    if len(used) < need:
        return None, (
            f"no composite for domain {domain!r}: {len(used)} indicator(s) with a value for "
            f"{reference} in {base_year} and some variation ({need} needed)"
        )
    parts = ampi_components(
        panel[used],
        polarity={i: signs[i] for i in used},
        reference=(reference, base_year),
    )
    parts = parts[parts["ampi"].notna()].reset_index()
    parts.insert(0, "domain", domain)
    parts["reference_territory"] = reference
    parts["reference_year"] = base_year
    parts["n_indicators"] = len(used)
    parts["indicators"] = ",".join(used)
    return parts[COMPOSITE_COLUMNS], None


def _pivot(data: pd.DataFrame) -> pd.DataFrame:
    """``data.pivot(index=["territory", "year"], columns="indicator", values="value")`` of
    ``data`` with its keys as text, from the keys' integer codes: rows by territory (as
    text) then year, columns by indicator (as text), labels made once per distinct key (no
    grouper over the rows, no key as text per row). Missing keys, repeated cells or years
    that are not integers: pandas' pivot itself (its result or its error)."""
    panel = _pivot_by_codes(data)
    if panel is not None:
        return panel
    keys = data.assign(territory=text(data["territory"]), indicator=text(data["indicator"]))
    return keys.pivot(index=["territory", "year"], columns="indicator", values="value")


def _pivot_by_codes(data: pd.DataFrame) -> pd.DataFrame | None:
    """:func:`_pivot` from the keys' codes; None where pandas' pivot decides (missing
    keys, a repeated cell, years that are not integers, a sparse panel)."""
    year = data["year"].to_numpy()
    territory, places = _text_codes(data["territory"])
    indicator, ids = _text_codes(data["indicator"])
    general = (
        len(year) == 0
        or year.dtype.kind not in "iu"
        or bool((territory < 0).any() or (indicator < 0).any())
    )
    if not general:
        low = int(year.min())
        span = int(year.max()) - low + 1
        general = len(places) * span > 10 * len(year) + 1_000_000  # sparse: pandas
    if general:
        return None
    cell = territory.astype("int64") * span + (year.astype("int64") - low)
    present = np.zeros(len(places) * span, dtype=bool)
    present[cell] = True
    cells = np.flatnonzero(present)
    row_of = np.cumsum(present) - 1  # row of each (territory, year) present, in order
    used = np.flatnonzero(np.bincount(indicator, minlength=len(ids)))
    column_of = np.cumsum(np.bincount(indicator, minlength=len(ids)) > 0) - 1
    at = row_of[cell] * len(used) + column_of[indicator]
    if int(np.bincount(at).max()) > 1:  # two values in one cell: pandas' error
        return None
    values = np.full(len(cells) * len(used), np.nan)
    values[at] = data["value"].to_numpy(dtype="float64")
    index = pd.MultiIndex.from_arrays(
        [places[cells // span], pd.Index(cells % span + low, dtype="int64")],
        names=["territory", "year"],
    )
    columns = pd.Index(ids[used], name="indicator")
    return pd.DataFrame(values.reshape(len(cells), len(used)), index=index, columns=columns)


def _text_codes(column: pd.Series) -> tuple[NDArray[np.intp], pd.Index]:
    """Integer codes of ``column`` in the order of its distinct values as text (-1:
    missing), and those values as text, sorted."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = column.cat.codes.to_numpy()
        labels = pd.Index(column.cat.categories.astype("string"))
    else:
        codes, uniques = pd.factorize(column, use_na_sentinel=True)
        labels = pd.Index(pd.Series(uniques).astype("string"))
    order = np.argsort(np.asarray([str(x) for x in labels], dtype=object), kind="stable")
    rank = np.empty(len(labels) + 1, dtype=np.intp)
    rank[order] = np.arange(len(labels))
    rank[-1] = -1  # code -1: missing
    return rank[codes], labels[order]


def _varies(panel: pd.DataFrame) -> dict[str, bool]:
    """``panel[c].nunique() > 1`` for every column ``c``: at least two distinct values, NaN
    not counted (one pass over a float panel instead of one hash table per column)."""
    if not all(t == np.float64 for t in panel.dtypes):
        return {c: panel[c].nunique() > 1 for c in panel.columns}
    values = panel.to_numpy(dtype="float64")
    present = ~np.isnan(values)
    # A column's smallest and largest values differ exactly when it has two distinct ones
    # (0.0 and -0.0 are one value for both); +inf stands in for a missing one in the min.
    low = np.where(present, values, np.inf).min(axis=0, initial=np.inf)
    high = np.where(present, values, -np.inf).max(axis=0, initial=-np.inf)
    two = (present.sum(axis=0) > 1) & (low != high)
    return dict(zip(panel.columns, two.tolist(), strict=True))
