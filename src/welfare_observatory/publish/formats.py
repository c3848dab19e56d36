"""Parquet (typed, metadata in the file) and JSON (records with their metadata)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa

from welfare_observatory.publish._files import atomic_output
from welfare_observatory.publish.metadata import ExportMetadata

__all__ = ["METADATA_KEY", "export_json", "export_parquet"]

METADATA_KEY = b"welfare_observatory"
"""Key of the export metadata (JSON) in the Parquet schema metadata."""


def export_parquet(view: pa.Table, meta: ExportMetadata, out: Path) -> list[Path]:
    """``observations.parquet``: the view with its types; metadata under :data:`METADATA_KEY`."""
    import pyarrow.parquet as pq

    path = out / "observations.parquet"
    existing = view.schema.metadata or {}
    table = view.replace_schema_metadata(
        {**existing, METADATA_KEY: meta.model_dump_json().encode("utf-8")}
    )
    with atomic_output(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")
    return [path]


def export_json(view: pa.Table, meta: ExportMetadata, out: Path) -> list[Path]:
    """``observations.json``: ``{"metadata": {...}, "data": [{column: value}, ...]}``.

    Values are JSON numbers with full precision; missing and suppressed values are null.
    DuckDB serialises the records (the same text its ``COPY ... (FORMAT json, ARRAY
    true)`` writes: one record per line, after a tab); its string batches go to the file
    as they are, never built row by row in Python nor copied through a temporary file.
    """
    import duckdb

    path = out / "observations.json"
    head = '{\n"metadata": ' + json.dumps(meta.model_dump(mode="json"), ensure_ascii=False)
    with atomic_output(path) as tmp, tmp.open("wb") as handle:
        handle.write((head + ',\n"data": [').encode("utf-8"))
        con = duckdb.connect()
        try:
            # Dictionary columns are read as their values: no decoded copy of the table.
            con.register("view", view)
            alias = "record"
            while alias in view.column_names:  # a column of that name would shadow the row
                alias += "_"
            records = con.sql(_RECORDS.format(alias=alias))
            first = True
            for batch in records.to_arrow_reader(1 << 16):
                text = _text_bytes(batch.column(0))
                if first and len(text):
                    text, first = text[1:], False  # "[" then "\n\t{...}"
                handle.write(text)
        finally:
            con.close()
        # No record: what COPY writes for an empty array.
        handle.write(b"\n\t\n]\n}\n" if first else b"\n]\n}\n")
    return [path]


_RECORDS = "SELECT ',' || chr(10) || chr(9) || to_json({alias})::VARCHAR FROM view {alias}"
"""One text per record, each after ``,``, a newline and a tab (the first one's comma is
dropped)."""


def _text_bytes(column: pa.Array) -> memoryview:
    """The UTF-8 bytes of a string array's values, one after the other (no copy)."""
    import numpy as np

    if len(column) == 0:
        return memoryview(b"")
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        column = column.cast(pa.large_string())  # e.g. a string view, if DuckDB sends one
    width = np.int64 if pa.types.is_large_string(column.type) else np.int32
    _, offsets, data = column.buffers()
    bounds = np.frombuffer(
        offsets, dtype=width, count=len(column) + 1, offset=column.offset * np.dtype(width).itemsize
    )
    return memoryview(data)[int(bounds[0]) : int(bounds[-1])]
