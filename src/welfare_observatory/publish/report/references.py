"""Deep-dive references with filters: the series a ``{{ indicator: ID key=value ... }}`` picks.

A reference picks one series of the publishable view: the indicator, one territory (the
observatory's territory unless ``territory=`` says otherwise) and one code of every breakdown
(``_T``, the total, unless the reference names another: ``citizenship=FOR``). ``year=`` picks
the value of that year instead of the latest. When nothing matches, the answer names the
first filter that matched nothing and the values the edition does hold there, so the author
can fix the reference.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import pyarrow as pa

from welfare_observatory.model.observation import BASE_COLUMNS, TOTAL
from welfare_observatory.publish.report.data import MARKED, SUPPRESSED

__all__ = ["Picked", "Unmatched", "pick", "view_frame"]

_SHOWN = 6
"""How many available values a "matched nothing" message lists."""


@dataclass(frozen=True)
class Picked:
    """The series a reference picked: years ascending, values None where suppressed."""

    territory: str
    years: list[int]
    values: list[float | None]
    markers: list[str]
    """One-letter markers per year (``s`` suppressed, ``p`` provisional, ...)."""
    index: int
    """Position of the value the reference shows (the latest, or the ``year=`` one)."""


@dataclass(frozen=True)
class Unmatched:
    """No series: ``key=value`` matched nothing; ``available`` are the values present."""

    key: str
    value: str
    available: tuple[str, ...]
    default: bool
    """True when the filter was implied (the territory, or a breakdown's total)."""


def view_frame(table: pa.Table) -> pd.DataFrame:
    """The publishable view as a plain frame with a ``year`` column (for :func:`pick`)."""
    columns = []
    for column in table.columns:
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        columns.append(column)
    frame = pa.table(columns, names=table.column_names).to_pandas()
    if "period_start" in frame.columns and frame["period_start"].notna().all():
        frame["year"] = pd.to_datetime(frame["period_start"]).dt.year.astype("int64")
        frame = frame.sort_values(["indicator", "territory", "period_start"], kind="stable")
    else:
        frame["year"] = frame["period"].astype(str).str[:4].astype("int64")
        frame = frame.sort_values(["indicator", "territory", "period"], kind="stable")
    out: pd.DataFrame = frame.reset_index(drop=True)
    return out


def _breakdowns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c not in (*BASE_COLUMNS, "domain", "year")]


def _unmatched(rows: pd.DataFrame, column: str, key: str, value: str, default: bool) -> Unmatched:
    present = sorted({str(v) for v in rows[column].dropna().unique().tolist()})
    return Unmatched(key, value, tuple(present[:_SHOWN]), default)


def pick(
    frame: pd.DataFrame,
    indicator: str,
    filters: tuple[tuple[str, str], ...],
    focus: str,
) -> Picked | Unmatched:
    """The series of ``indicator`` that ``filters`` (``key``, ``value`` pairs) pick in
    ``frame`` (from :func:`view_frame`), or the first filter that matched nothing."""
    given = dict(filters)
    named = set(given)
    rows = frame[frame["indicator"] == indicator]
    if rows.empty:
        return Unmatched("indicator", indicator, (), False)
    territory = given.pop("territory", focus)
    chosen = rows[rows["territory"] == territory]
    if chosen.empty:
        return _unmatched(rows, "territory", "territory", territory, "territory" not in named)
    rows = chosen
    year = given.pop("year", None)
    dimensions = _breakdowns(frame)
    for key in given:
        if key not in dimensions:
            return Unmatched(key, given[key], tuple(dimensions[:_SHOWN]), False)
    for dimension in dimensions:
        column = rows[dimension]
        if column.isna().all() and dimension not in given:
            continue  # a breakdown this indicator does not have
        code = given.get(dimension, TOTAL)
        chosen = rows[column.astype("string") == code]
        if chosen.empty:
            return _unmatched(rows, dimension, dimension, code, dimension not in given)
        rows = chosen
    rows = rows.drop_duplicates("year", keep="last")
    years = [int(y) for y in rows["year"].tolist()]
    conf = rows["conf_status"].fillna("F").astype(str) if "conf_status" in rows else None
    hidden = conf.isin(list(SUPPRESSED)).tolist() if conf is not None else [False] * len(rows)
    status = rows.get("obs_status", pd.Series("A", index=rows.index)).fillna("A").astype(str)
    raw = rows["value"].astype("float64").tolist()
    values = [None if h or v != v else float(v) for v, h in zip(raw, hidden, strict=True)]
    markers = [
        "s" if h else MARKED.get(s, "") for s, h in zip(status.tolist(), hidden, strict=True)
    ]
    if year is None:
        index = len(years) - 1
    elif year.isdigit() and int(year) in years:
        index = years.index(int(year))
    else:
        return Unmatched("year", year, tuple(str(y) for y in years[-_SHOWN:]), False)
    return Picked(territory, years, values, markers, index)
