"""A Frictionless Tabular Data Package: ``datapackage.json`` beside the canonical CSV.

The descriptor carries the table schema (types, descriptions, the SDMX status code lists as
``enum`` constraints, the primary key), the licence and the sources, so that
``frictionless validate datapackage.json`` checks the data against it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pyarrow as pa

from welfare_observatory.model.observation import KEY_COLUMNS, ConfStatus, ObsStatus
from welfare_observatory.publish._files import write_text
from welfare_observatory.publish.labels import LABEL_COLUMNS
from welfare_observatory.publish.metadata import ExportMetadata
from welfare_observatory.publish.tabular import export_csv

__all__ = ["descriptor", "export_datapackage"]

_NAME = re.compile(r"[^a-z0-9._-]+")
_ENUMS = {
    "obs_status": sorted(s.value for s in ObsStatus),
    "conf_status": sorted(s.value for s in ConfStatus),
}
_NOT_KEYS = {
    "period_start",
    "value",
    "unit",
    "obs_status",
    "conf_status",
    "flags",
    "source",
    "lineage",
    "domain",
    *LABEL_COLUMNS,
}


def _name(text: str) -> str:
    """A package or resource name: lower case letters, digits, ``.``, ``_`` and ``-``."""
    return _NAME.sub("-", text.casefold()).strip("-") or "data"


def descriptor(meta: ExportMetadata, csv_name: str = "observations.csv") -> dict[str, Any]:
    """The ``datapackage.json`` content for an export described by ``meta``."""
    fields: list[dict[str, Any]] = []
    for column in meta.columns:
        field: dict[str, Any] = {
            "name": column.name,
            "type": column.type,
            "description": column.description,
        }
        constraints: dict[str, Any] = {}
        if column.name in _ENUMS:
            constraints["enum"] = _ENUMS[column.name]
        if column.name in KEY_COLUMNS or column.name not in _NOT_KEYS:
            constraints["required"] = True
        if constraints:
            field["constraints"] = constraints
        fields.append(field)
    keys = [c.name for c in meta.columns if c.name not in _NOT_KEYS]
    licence: dict[str, Any] = {"name": meta.licence, "title": meta.licence}
    if meta.licence_url:
        licence["path"] = meta.licence_url
    sources = []
    for source in meta.sources:
        entry: dict[str, Any] = {"title": source.title}
        if source.url:
            entry["path"] = source.url
        if source.licence:
            entry["licence"] = source.licence
        sources.append(entry)
    return {
        "profile": "tabular-data-package",
        "name": _name(f"{meta.observatory}-{meta.edition}"),
        "id": f"{meta.observatory}/{meta.edition}/{meta.build}",
        "title": meta.title,
        "description": (
            f"Edition {meta.edition} (build {meta.build}, {meta.status}, created "
            f"{meta.created}), reference date {meta.reference_date}. "
            f"Disclosure control: {meta.disclosure}."
        ),
        "licenses": [licence],
        "sources": sources,
        "resources": [
            {
                "name": "observations",
                "path": csv_name,
                "profile": "tabular-data-resource",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "dialect": {"delimiter": ",", "doubleQuote": True, "header": True},
                "schema": {
                    "fields": fields,
                    "missingValues": [""],
                    "primaryKey": keys,
                },
            }
        ],
    }


def export_datapackage(view: pa.Table, meta: ExportMetadata, out: Path) -> list[Path]:
    """``datapackage.json`` and the canonical ``observations.csv`` it describes."""
    [csv_path] = export_csv(view, meta, out)
    text = json.dumps(descriptor(meta, csv_path.name), indent=2, ensure_ascii=False) + "\n"
    return [write_text(out / "datapackage.json", text), csv_path]
