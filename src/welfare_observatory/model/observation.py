"""The canonical observation table: names, code lists and the Arrow schema.

One row per (indicator, territory, period, breakdowns). Breakdown columns sit between
``period_start`` and ``value``, one per breakdown dimension, with SDMX-style codes
(``_T`` total).
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

KEY_COLUMNS: tuple[str, ...] = ("indicator", "territory", "period")
"""With the breakdown columns, they identify one observation."""

BASE_COLUMNS: tuple[str, ...] = (
    "indicator",
    "territory",
    "period",
    "period_start",
    "value",
    "unit",
    "obs_status",
    "conf_status",
    "flags",
    "source",
    "lineage",
)

TOTAL = "_T"
"""SDMX code for the total of a breakdown."""


class ObsStatus(StrEnum):
    """SDMX 2.1 code list CL_OBS_STATUS."""

    NORMAL = "A"
    BREAK = "B"
    ESTIMATED = "E"
    FORECAST = "F"
    EXPERIMENTAL = "X"
    IMPUTED = "I"
    MISSING = "O"
    NOT_APPLICABLE = "M"
    NOT_COLLECTED = "L"
    PROVISIONAL = "P"
    LOW_RELIABILITY = "U"
    STRIKE = "S"
    DEFINITION_DIFFERS = "D"
    NON_SIGNIFICANT = "N"
    UNVALIDATED = "V"
    CONFIDENTIAL_LEGACY = "C"
    """Not in the 2.1 list but still sent by some services; read as confidential."""


class ConfStatus(StrEnum):
    """SDMX code list CL_CONF_STATUS (the codes an observatory uses)."""

    FREE = "F"
    CONFIDENTIAL = "C"
    SECONDARY = "D"
    NOT_FOR_PUBLICATION = "N"
    NOT_CONFIDENTIAL_SHAREABLE = "S"
    DISSEMINATION_LIMITED = "A"


MISSING_STATUSES = frozenset({ObsStatus.MISSING, ObsStatus.NOT_APPLICABLE, ObsStatus.NOT_COLLECTED})
"""Statuses whose row carries no value (``value`` is null)."""


def observation_schema(breakdowns: tuple[str, ...] | list[str] = ()) -> pa.Schema:
    """The Arrow schema of a canonical observation table with these breakdown columns.

    Keys and repeated texts are dictionary-encoded; ``value`` is float64 in ``unit``
    (multiplier applied); ``period_start`` is a date.
    """
    import pyarrow as pa

    key = pa.dictionary(pa.int32(), pa.string())
    fields = [
        pa.field("indicator", key, nullable=False),
        pa.field("territory", key, nullable=False),
        pa.field("period", key, nullable=False),
        pa.field("period_start", pa.date32(), nullable=False),
    ]
    fields += [pa.field(name, key, nullable=False) for name in breakdowns]
    fields += [
        pa.field("value", pa.float64()),
        pa.field("unit", key, nullable=False),
        pa.field("obs_status", key, nullable=False),
        pa.field("conf_status", key, nullable=False),
        pa.field("flags", pa.string()),
        pa.field("source", key, nullable=False),
        pa.field("lineage", key, nullable=False),
    ]
    return pa.schema(fields)


def breakdown_columns(names: list[str] | tuple[str, ...]) -> list[str]:
    """The breakdown columns of a table with these column names, in table order."""
    return [name for name in names if name not in BASE_COLUMNS]


def unify_breakdowns(tables: Sequence[pa.Table]) -> pa.Table:
    """One canonical table from several: the union of their breakdown columns, absent ones
    filled with the total code, breakdowns in alphabetical order."""
    import pyarrow as pa

    names = sorted({c for t in tables for c in t.column_names} - set(BASE_COLUMNS) - {"domain"})
    schema = observation_schema(tuple(names))
    if not tables:
        return schema.empty_table()
    parts = []
    for table in tables:
        for name in names:
            if name not in table.column_names:
                table = table.append_column(
                    name, pa.repeat(pa.scalar(TOTAL, pa.string()), table.num_rows)
                )
        parts.append(table.select(schema.names).cast(schema))
    # Chunks are kept as they are (no copy of the whole table into one chunk): at national
    # scale that copy was the build's peak memory. Dictionaries are unified so that every
    # chunk of a key column shares one dictionary.
    return pa.concat_tables(parts).unify_dictionaries()
