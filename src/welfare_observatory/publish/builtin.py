"""The built-in exporters, registered through the same ``register`` callback as a plugin's.

Registering imports nothing heavy: each exporter's module (pyarrow, DuckDB, openpyxl) loads
when the exporter first runs, so this module can load with the other plugins at start-up.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING

from welfare_observatory.publish.registry import Exporter, RegisterExporter
from welfare_observatory.sdk import hookimpl

if TYPE_CHECKING:
    import pyarrow as pa

    from welfare_observatory.publish.metadata import ExportMetadata

__all__ = ["BUILTIN_PLUGIN", "register_exporters"]

BUILTIN_PLUGIN = __name__
"""The plugin name the built-in exporters are registered under by a plugin manager."""


def _lazy(module: str, name: str) -> Exporter:
    """An exporter that imports ``module.name`` on its first call."""

    def run(view: pa.Table, meta: ExportMetadata, out: Path, /) -> list[Path]:
        exporter: Exporter = getattr(importlib.import_module(module), name)
        return exporter(view, meta, out)

    run.__name__ = run.__qualname__ = name
    run.__doc__ = f"Run {module}.{name} (imported on first use)."
    return run


_PUBLISH = "welfare_observatory.publish"


@hookimpl
def register_exporters(register: RegisterExporter) -> None:
    """Register csv, csv-it, xlsx, parquet, json, datapackage and sdmx."""
    tabular, formats = f"{_PUBLISH}.tabular", f"{_PUBLISH}.formats"
    register(
        "csv",
        _lazy(tabular, "export_csv"),
        "UTF-8 CSV, full precision: the canonical open-data form",
    )
    register(
        "csv-it",
        _lazy(tabular, "export_csv_it"),
        "Excel CSV for Italian locales: ';', decimal comma, UTF-8 with BOM",
    )
    register(
        "xlsx", _lazy(tabular, "export_xlsx"), "Excel workbook with a data and a metadata sheet"
    )
    register(
        "parquet", _lazy(formats, "export_parquet"), "Typed Parquet with the metadata in the file"
    )
    register("json", _lazy(formats, "export_json"), "JSON records with their metadata")
    register(
        "datapackage",
        _lazy(f"{_PUBLISH}.datapackage", "export_datapackage"),
        "Frictionless Tabular Data Package (CSV plus datapackage.json)",
    )
    register(
        "sdmx",
        _lazy(f"{_PUBLISH}.sdmx", "export_sdmx"),
        "SDMX-ML 2.1 generic data plus its structure (DSD and code lists)",
    )
