"""Parquet (typed, metadata in the file) and JSON (records with their metadata)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa

from welfare_observatory.publish._files import atomic_output, plain_table
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
    The records are written by DuckDB straight to the file, never built in Python.
    """
    import duckdb

    path = out / "observations.json"
    head = '{\n"metadata": ' + json.dumps(meta.model_dump(mode="json"), ensure_ascii=False)
    with atomic_output(path) as tmp:
        body = tmp.with_name(tmp.name + ".records.json")
        con = duckdb.connect()
        try:
            con.register("view", plain_table(view))
            target = "'" + str(body).replace("'", "''") + "'"
            con.execute(f"COPY view TO {target} (FORMAT json, ARRAY true)")
        finally:
            con.close()
        try:
            with tmp.open("wb") as handle, body.open("rb") as records:
                handle.write((head + ',\n"data": ').encode("utf-8"))
                shutil.copyfileobj(records, handle, 1 << 20)
                handle.write(b"}\n")
        finally:
            body.unlink(missing_ok=True)
    return [path]
