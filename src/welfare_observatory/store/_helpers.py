"""Small helpers of the knowledge-base reader: key columns, period hints, SQL quoting."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from welfare_observatory._arrow import distinct
from welfare_observatory.model.observation import KEY_COLUMNS, TOTAL

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["distinct_texts", "ident", "near_periods", "quote", "with_columns"]


def with_columns(table: pa.Table, breakdowns: list[str]) -> pa.Table:
    """Plain-string keys, with absent breakdown columns filled with the total code."""
    import pyarrow as pa

    columns = {}
    for name in [*KEY_COLUMNS, *breakdowns, "value", "obs_status"]:
        if name in table.column_names:
            column = table.column(name)
            if pa.types.is_dictionary(column.type):
                column = column.cast(column.type.value_type)
            columns[name] = column
        else:
            columns[name] = pa.array([TOTAL] * table.num_rows, pa.string())
    return pa.table(columns)


distinct_texts = distinct  # welfare_observatory._arrow


def near_periods(period: str, known: Iterable[str], n: int = 3) -> list[str]:
    """The ``n`` known periods nearest to ``period`` by year (``2022`` -> ``2022-01-01``).

    Periods of the same year come first, then by distance in years; labels without a
    leading year come last.
    """

    def distance(label: str) -> tuple[int, str]:
        try:
            return abs(int(label[:4]) - int(period[:4])), label
        except ValueError:
            return 10_000, label

    return sorted(set(known), key=distance)[:n]


def quote(path: Path | str) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
