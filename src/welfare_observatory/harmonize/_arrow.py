"""Small pyarrow helpers: map distinct values, wide to long, findings from masks."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from welfare_observatory.errors import HarmonizeError, Location, closest

__all__ = ["as_text", "map_distinct", "melt", "require_columns"]


def as_text(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray:
    """A column as strings (dictionary-encoded columns keep their encoding)."""
    if isinstance(column, pa.Array):
        column = pa.chunked_array([column])
    if pa.types.is_dictionary(column.type):
        if pa.types.is_string(column.type.value_type):
            return column
        return column.cast(pa.dictionary(column.type.index_type, pa.string()))
    if pa.types.is_floating(column.type):
        # 96004.0 is the code 96004: integral floats print without the decimals.
        as_int = pc.cast(column, pa.int64(), safe=False)
        integral = pc.equal(pc.cast(as_int, pa.float64()), column)
        return pc.if_else(integral, pc.cast(as_int, pa.string()), pc.cast(column, pa.string()))
    if pa.types.is_string(column.type):
        return column
    return pc.cast(column, pa.string())


def map_distinct(
    column: pa.ChunkedArray, fn: Callable[[str], Any]
) -> tuple[list[Any], pa.Array, list[str | None]]:
    """Apply ``fn`` once per distinct text value.

    Returns ``(results, indices, distinct)``: ``results[indices[i]]`` is the result for row
    ``i``; null rows map to ``None`` without calling ``fn``.
    """
    text = as_text(column)
    combined = text.combine_chunks() if text.num_chunks != 1 else text.chunk(0)
    if not pa.types.is_dictionary(combined.type):
        combined = pc.dictionary_encode(combined)
    dictionary = combined.dictionary.to_pylist()
    results: list[Any] = [None if value is None else fn(value) for value in dictionary]
    # A null row gets the extra slot at the end (index == len(dictionary)); a column
    # without one (the usual) skips the fill.
    indices = combined.indices
    if indices.type != pa.int32():
        indices = indices.cast(pa.int32())
    if indices.null_count:
        indices = pc.fill_null(indices, len(dictionary))
    return [*results, None], indices, [*dictionary, None]


def take_results(
    values: Sequence[Any], indices: pa.Array, type_: pa.DataType, *, dictionary: bool = True
) -> pa.Array:
    """Row values from per-distinct ``values`` (``None`` -> null).

    Text comes back dictionary-encoded (each distinct code stored once), as the canonical
    schema wants it, unless ``dictionary`` is false.
    """
    if dictionary and pa.types.is_string(type_):
        unique = list(dict.fromkeys(v for v in values if v is not None))
        position = {v: i for i, v in enumerate(unique)}
        slots = pa.array([position.get(v) if v is not None else None for v in values], pa.int32())
        return pa.DictionaryArray.from_arrays(slots.take(indices), pa.array(unique, pa.string()))
    return pa.array(values, type_).take(indices)


def require_columns(table: pa.Table, names: Sequence[str], *, source: str | None) -> None:
    """Raise HarmonizeError naming the first missing column and the closest existing one."""
    for name in names:
        if name not in table.column_names:
            suggestions = closest(name, table.column_names)
            raise HarmonizeError(
                f"the rule reads column {name!r}, which the source table does not have",
                location=Location(source=source, column=name),
                hint=("did you mean " + ", ".join(repr(s) for s in suggestions) + "?")
                if suggestions
                else "columns: " + ", ".join(table.column_names),
            )


def melt_columns(
    table: pa.Table, columns: Sequence[str], pattern: str | None
) -> list[tuple[str, str]]:
    """``(column, key)`` pairs to stack: listed columns, then those matching ``pattern``."""
    pairs = [(name, name) for name in columns]
    if pattern is not None:
        regex = re.compile(pattern)
        for name in table.column_names:
            m = regex.fullmatch(name)
            if m and name not in columns:
                pairs.append((name, m.group(1) if m.groups() else name))
    return pairs


def melt(
    table: pa.Table, pairs: Sequence[tuple[str, str]], names_to: str, values_to: str
) -> tuple[pa.Table, np.ndarray[Any, Any]]:
    """Stack value columns under each other; returns the long table and source row numbers.

    Text columns are dictionary-encoded before they are repeated, so the long table holds
    each distinct key once plus int32 indices.
    """
    n = table.num_rows
    stacked = [name for name, _ in pairs]
    keep = [name for name in table.column_names if name not in stacked]
    value_types = {table.column(name).type for name in stacked}
    value_type = value_types.pop() if len(value_types) == 1 else pa.string()
    if pa.types.is_null(value_type):
        value_type = pa.float64()
    rows = np.tile(np.arange(n, dtype=np.int64), len(pairs))
    take = pa.array(rows)
    out: dict[str, pa.ChunkedArray | pa.Array] = {}
    for name in keep:
        column = table.column(name)
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            column = pc.dictionary_encode(column)
        out[name] = column.take(take)
    keys = pa.DictionaryArray.from_arrays(
        pa.array(np.repeat(np.arange(len(pairs), dtype=np.int32), n)),
        pa.array([key for _, key in pairs], pa.string()),
    )
    out[names_to] = keys
    out[values_to] = pa.chunked_array(
        [chunk for name in stacked for chunk in table.column(name).cast(value_type).chunks],
        value_type,
    )
    return pa.table(out), rows
