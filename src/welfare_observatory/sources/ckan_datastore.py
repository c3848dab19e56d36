"""One CKAN ``datastore_search`` answer to a source table.

Columns keep the DataStore's order (``_id`` dropped). Fields the DataStore types as numbers
become value columns (float64 with ``__status`` and ``__conf``); text fields stay strings
unless the source's ``table`` options name them in ``value_columns`` or ``dtypes`` (Italian
portals often load every column as text, "1.253" and "69,1" included). The schema depends
only on the declared fields, so every page of a resource has the same columns.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pyarrow as pa

from welfare_observatory.errors import Location, ParseError
from welfare_observatory.sources.tabular import type_columns
from welfare_observatory.sources.tabular_options import TabularOptions

__all__ = ["datastore_table"]

_NUMERIC_TYPES = frozenset(
    {
        "numeric",
        "int",
        "int2",
        "int4",
        "int8",
        "integer",
        "bigint",
        "float",
        "float4",
        "float8",
        "double precision",
        "real",
        "number",
    }
)


def datastore_table(data: bytes, options: TabularOptions, where: Location) -> pa.Table:
    """The records of a ``datastore_search`` answer, typed as the table reader types cells."""
    result = _result(data, where)
    fields = result.get("fields")
    records = result.get("records")
    if not isinstance(fields, list) or not isinstance(records, list):
        raise ParseError(
            "the DataStore answer lacks fields or records",
            location=where,
            hint="this payload is not a datastore_search answer",
        )
    names = [str(f.get("id")) for f in fields if isinstance(f, dict) and f.get("id") != "_id"]
    numeric = [
        str(f.get("id"))
        for f in fields
        if isinstance(f, dict)
        and str(f.get("type", "")).casefold() in _NUMERIC_TYPES
        and f.get("id") != "_id"
    ]
    if not all(isinstance(r, dict) for r in records):
        raise ParseError("a DataStore record is not an object", location=where)
    raw = (
        pd.DataFrame.from_records(records, columns=names)
        if records
        else pd.DataFrame(columns=names, dtype=object)
    )
    native = raw.map(_is_number).astype(bool)
    text = raw.map(_text).apply(lambda col: col.str.strip()) if records else raw.astype(object)
    declared = options.value_columns if isinstance(options.value_columns, list) else []
    typed_options = options.model_copy(update={"value_columns": [*numeric, *declared]})
    return type_columns(text, typed_options, where, native=native, separator=",")


def _result(data: bytes, where: Location) -> dict[str, Any]:
    from welfare_observatory.sources.json_text import loads

    try:
        doc = loads(data)
    except ValueError as exc:
        raise ParseError(
            f"the DataStore answer is not valid JSON: {exc}",
            location=where,
            hint="the cached answer is truncated; fetch again with --refresh",
        ) from None
    result = doc.get("result") if isinstance(doc, dict) else None
    if not isinstance(result, dict):
        raise ParseError("the DataStore answer has no result object", location=where)
    return result


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return str(value)
