"""The package's one copy of two Arrow chores: decoding dictionary columns and listing the
distinct values of a column.

Keys of the observation table are dictionary-encoded (codes keep their leading zeros and
millions of rows share a few thousand strings); DuckDB, pandas and writers want them plain.
pyarrow is imported inside the functions, so importing this module stays free.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["decoded", "distinct", "plain"]


def decoded(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """``column`` with a dictionary encoding decoded to its values; others unchanged."""
    import pyarrow as pa

    if pa.types.is_dictionary(column.type):
        return column.cast(column.type.value_type)
    return column


def plain(table: pa.Table) -> pa.Table:
    """``table`` with every dictionary column decoded (same names, same order)."""
    import pyarrow as pa

    return pa.table([decoded(c) for c in table.columns], names=table.column_names)


def distinct(table: pa.Table, column: str) -> list[str]:
    """The distinct non-null values of ``column`` as sorted texts, found on the unique
    values (a dictionary column's rows are never decoded)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    values = pc.unique(table.column(column))
    if pa.types.is_dictionary(values.type):
        values = values.cast(values.type.value_type)
    return sorted(str(v) for v in values.to_pylist() if v is not None)
