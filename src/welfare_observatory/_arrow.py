"""The package's one copy of a few Arrow chores: decoding dictionary columns, listing the
distinct values of a column and counting its rows per value.

Keys of the observation table are dictionary-encoded (codes keep their leading zeros and
millions of rows share a few thousand strings); DuckDB, pandas and writers want them plain.
pyarrow is imported inside the functions, so importing this module stays free.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["counts", "decoded", "distinct", "plain"]


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


def counts(table: pa.Table, column: str) -> dict[str, int]:
    """Rows of ``table`` per non-null text of ``column`` (absent values are not listed). A
    dictionary column is counted on its indices, chunk by chunk (its rows never decoded,
    no hash table of them): one text held in two slots is counted once, with both."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    data = table.column(column)
    found: dict[str, int] = {}
    if not pa.types.is_dictionary(data.type):
        for row in pc.value_counts(pc.drop_null(data)).to_pylist():
            found[str(row["values"])] = found.get(str(row["values"]), 0) + int(row["counts"])
        return found
    for chunk in data.chunks:
        indices = pc.drop_null(chunk.indices).to_numpy(zero_copy_only=False)
        if not len(indices):
            continue
        names = chunk.dictionary.to_pylist()
        tally = np.bincount(indices, minlength=len(names))
        for name, count in zip(names, tally.tolist(), strict=False):
            if count and name is not None:
                found[str(name)] = found.get(str(name), 0) + count
    return found
