"""Reading the observations to analyse: a knowledge-base edition or a canonical file.

Used by ``welfare-observatory analyze``; everything comes back in one shape: key and
breakdown columns as text, ``value`` as float64, no ``domain`` partition column.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd

from welfare_observatory.analyze._common import breakdowns
from welfare_observatory.errors import (
    AnalysisError,
    DataError,
    Location,
    StoreError,
    UnknownIdError,
)
from welfare_observatory.model.observation import TOTAL

__all__ = ["breakdown_columns", "load_edition", "load_observations", "read_frame", "select"]

_KEYS = ("indicator", "territory", "period")
_NOT_BREAKDOWNS = ("obs_status", "conf_status", "domain", "year")
"""Non-key columns that :func:`breakdown_columns` never lists."""


def read_frame(
    data_path: Path | None,
    kb_path: Path | None,
    edition: str | None,
    *,
    indicators: list[str] | None = None,
) -> pd.DataFrame:
    """The observations to analyse: from ``--data`` or from an edition of ``--kb``.

    Passing both is an error; passing neither reads the knowledge base at ``./kb``.
    ``indicators`` (when given) restricts what is read from the knowledge base.
    """
    if data_path is not None:
        if kb_path is not None or edition is not None:
            raise AnalysisError(
                "--data cannot be combined with --kb or --edition",
                hint="analyse either a file (--data) or an edition (--kb PATH --edition NAME)",
            )
        return load_observations(data_path)
    return load_edition(kb_path or Path("kb"), edition, indicators=indicators)


def load_edition(
    kb_path: Path, edition: str | None, *, indicators: list[str] | None = None
) -> pd.DataFrame:
    """The observations of ``edition`` (every domain) in the canonical shape of
    :func:`load_observations`; the ``domain`` partition column is dropped."""
    from welfare_observatory.store import KnowledgeBase

    kb = KnowledgeBase.open(kb_path)
    info = kb.edition(edition)
    table = kb.to_arrow(indicator=indicators, edition=info.name)
    frame = table.to_pandas()
    if "domain" in frame.columns:
        frame = frame.drop(columns=["domain"])
    if frame.empty:
        raise AnalysisError(
            f"edition {info.name!r} has no observations"
            + (f" of {', '.join(indicators)}" if indicators else ""),
            location=Location(file=str(kb_path)),
            hint="list what it holds with: welfare-observatory kb show",
        )
    return _normalize(frame, where=Location(file=str(kb_path), key=info.name))


def load_observations(path: Path) -> pd.DataFrame:
    """A canonical observation table from a Parquet or CSV file, key columns as text."""
    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".pq", ".csv", ".txt"):
        raise DataError(
            f"cannot read {path.name}: unknown file type",
            location=Location(file=str(path)),
            hint="pass a .parquet or .csv file with the canonical columns",
        )
    try:
        if suffix in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(path, dtype="string", keep_default_na=False, na_values=[""])
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc}", location=Location(file=str(path))) from exc
    except (ValueError, UnicodeDecodeError) as exc:  # parser errors are ValueErrors
        raise DataError(
            f"{path.name} is not a readable {suffix[1:]} file: {exc}",
            location=Location(file=str(path)),
            hint="CSV files are UTF-8 with a header row and comma separators",
        ) from exc
    return _normalize(frame, where=Location(file=str(path)))


def _normalize(frame: pd.DataFrame, *, where: Location) -> pd.DataFrame:
    """Key and breakdown columns as text, ``value`` as float; typed errors otherwise."""
    missing = [c for c in (*_KEYS, "value") if c not in frame.columns]
    if missing:
        raise DataError(
            f"the observations lack column(s) {', '.join(missing)}",
            location=replace(where, column=missing[0]),
            hint="columns: indicator, territory, period, value (and breakdowns, obs_status)",
        )
    for column in frame.columns:
        if column != "value" and not pd.api.types.is_numeric_dtype(frame[column]):
            frame[column] = frame[column].astype("string")
    value = pd.to_numeric(frame["value"], errors="coerce")
    bad = value.isna() & frame["value"].notna()
    if bad.any():
        row = int(bad.to_numpy().nonzero()[0][0])
        raise DataError(
            f"value {frame['value'].iloc[row]!r} is not a number",
            location=replace(where, row=row + 1, column="value"),
            hint="values are plain numbers with a dot as decimal separator",
        )
    frame["value"] = value.astype("float64")
    return frame


def breakdown_columns(frame: pd.DataFrame) -> list[str]:
    """The breakdown columns (``sex``, ``age``, ...) that a table must show, or rows that
    differ only by breakdown look duplicated."""
    return [c for c in breakdowns(frame) if c not in _NOT_BREAKDOWNS]


def select(frame: pd.DataFrame, chosen: tuple[str, ...]) -> pd.DataFrame:
    """Rows with the ``--breakdown DIM=CODE`` codes, and totals on every other breakdown."""
    wanted: dict[str, str] = {}
    for item in chosen:
        key, sep, value = item.partition("=")
        if not sep:
            raise AnalysisError(
                f"--breakdown {item!r} is not DIM=CODE", hint="e.g. --breakdown sex=F"
            )
        wanted[key.strip()] = value.strip()
    columns = breakdown_columns(frame)
    unknown = [k for k in wanted if k not in columns]
    if unknown:
        raise UnknownIdError(
            unknown[0],
            candidates=columns,
            message=f"the observations have no breakdown {unknown[0]!r}",
        )
    mask = frame["value"].notna()
    for column in columns:
        mask &= (frame[column].astype("string") == wanted.get(column, TOTAL)).fillna(False)
    return frame[mask]
