"""The package's one copy of a few Arrow chores: decoding dictionary columns, listing the
distinct values of a column, counting its rows per value, telling which rows hold one of
some texts, coding texts as integers that sort as they do and finding runs of equal texts.

Keys of the observation table are dictionary-encoded (codes keep their leading zeros and
millions of rows share a few thousand strings); DuckDB, pandas and writers want them plain.
pyarrow is imported inside the functions, so importing this module stays free.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

    import pyarrow as pa

__all__ = [
    "among",
    "counts",
    "decoded",
    "distinct",
    "plain",
    "ranked",
    "sorted_texts",
    "text_runs",
]


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


def among(column: pa.ChunkedArray, values: Iterable[str]) -> pa.ChunkedArray:
    """Whether each row's text is one of ``values``; a dictionary column is looked up on
    its dictionary (thousands of codes), never decoded row by row."""
    import pyarrow as pa
    import pyarrow.compute as pc

    wanted = pa.array(sorted(set(values)), pa.string())
    if not pa.types.is_dictionary(column.type):
        return pc.is_in(pc.cast(column, pa.string()), wanted)
    chunks = []
    for chunk in column.chunks:
        hit = pc.is_in(pc.cast(chunk.dictionary, pa.string()), wanted)
        chunks.append(pc.fill_null(pc.take(hit, chunk.indices), False))
    return pa.chunked_array(chunks, pa.bool_())


def ranked(column: pa.ChunkedArray | pa.Array) -> tuple[pa.Array, pa.Array]:
    """``column`` as int32 codes that sort as its texts do (byte order, as DuckDB compares
    VARCHAR), and the sorted distinct texts they index; NULL stays NULL. Worked out on a
    dictionary column's values, never on its decoded rows."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(column, pa.ChunkedArray) and column.num_chunks == 1:
        column = column.chunk(0)
    if isinstance(column, pa.DictionaryArray) and sorted_texts(column.dictionary):
        return column.indices, column.dictionary  # already ranked (a column ranked before)
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if pa.types.is_dictionary(array.type):
        values = array.dictionary
        # combine_chunks unified the chunks' dictionaries; one built by hand may repeat a
        # value or hold a NULL, and equal texts must get one code.
        if values.null_count or len(pc.unique(values)) != len(values):
            array = pc.dictionary_encode(array.cast(array.type.value_type))
    else:
        array = pc.dictionary_encode(array)
    values, indices = array.dictionary, array.indices
    order = pc.array_sort_indices(values).to_numpy()
    rank = np.empty(len(order), dtype=np.int32)
    rank[order] = np.arange(len(order), dtype=np.int32)
    return pc.take(pa.array(rank), indices), pc.take(values, pa.array(order))


def sorted_texts(values: pa.Array) -> bool:
    """Whether ``values`` are strictly increasing texts without NULLs (byte order)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if values.null_count or not (
        pa.types.is_string(values.type) or pa.types.is_large_string(values.type)
    ):
        return False
    if len(values) < 2:
        return True
    return bool(pc.all(pc.less(values.slice(0, len(values) - 1), values.slice(1))).as_py())


def text_runs(column: pa.ChunkedArray) -> list[tuple[str, int, int]] | None:
    """``(text, start, stop)`` of each run of equal text in ``column`` (a dictionary
    column's values), in row order; None when it is not text or a row is missing. Found
    by Arrow: a Python string per run, not per row."""
    from itertools import pairwise

    import pyarrow as pa
    import pyarrow.compute as pc

    column = decoded(column)
    if column.null_count or not (
        pa.types.is_string(column.type) or pa.types.is_large_string(column.type)
    ):
        return None
    if not len(column):
        return []
    encoded = pc.run_end_encode(
        column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    )
    starts = [0, *encoded.run_ends.to_pylist()]
    values = encoded.values.to_pylist()
    return [(str(v), a, b) for v, (a, b) in zip(values, pairwise(starts), strict=True)]
