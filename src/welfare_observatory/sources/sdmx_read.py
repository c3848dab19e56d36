"""Reading SDMX messages (SDMX-ML, SDMX-JSON, SDMX-CSV) into pyarrow source tables.

The table has one string column per dimension (in the message's order), ``TIME_PERIOD``,
``OBS_VALUE`` (float64) and one string column per attribute that carries a value
somewhere in the message (``OBS_STATUS``, ...). XML is screened before any parser sees
it: a DOCTYPE (the carrier of entity declarations, internal or external) is refused, and
the SDMX parsers never expand entities. SDMX-CSV (1.0 ``DATAFLOW`` and 2.0 ``STRUCTURE``
headers) is read by pyarrow directly, columnar.
"""

from __future__ import annotations

import contextlib
import csv
import io
import logging
import re
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv

__all__ = [
    "NO_RECORDS",
    "MessageError",
    "empty_table",
    "error_text",
    "read_csv",
    "read_message",
    "screen_xml",
    "sniff",
]

NO_RECORDS = re.compile(rb"NoRecordsFound|No\s*Records?\s*Found|NoResultsFound|No\s*results", re.I)
"""How SDMX services say "no data for this query" (Istat: ``Not Found - NoRecordsFound``)."""

_DOCTYPE = re.compile(rb"<!DOCTYPE", re.I)
_ERROR_ROOT = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?Error[\s>]")
_CSV_META = ("DATAFLOW", "STRUCTURE", "STRUCTURE_ID", "STRUCTURE_NAME", "ACTION")
_PYARROW_ROW = re.compile(r"Row #(\d+)")


class MessageError(ValueError):
    """A message that cannot be read; ``hint``, ``row`` and ``column`` say where and why."""

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        row: int | None = None,
        column: str | None = None,
        line: int | None = None,
    ) -> None:
        super().__init__(message)
        self.hint = hint
        self.row = row
        """Data row, 1-based, the header not counted."""
        self.column = column
        self.line = line
        """Line in the file, 1-based."""


def sniff(data: bytes) -> str:
    """``xml``, ``json`` or ``csv`` from the first meaningful byte."""
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if head == b"<":
        return "xml"
    if head in (b"{", b"["):
        return "json"
    return "csv"


def screen_xml(data: bytes) -> None:
    """Refuse XML that declares a DOCTYPE or an entity anywhere in the file (entities,
    internal or external, live in a DOCTYPE)."""
    from welfare_observatory.sources.markup import find_markup

    found = find_markup(data)
    if found is not None:
        raise MessageError(
            f"XML with a{'n' if found == 'ENTITY' else ''} {found} declaration refused "
            "(entity declarations are never expanded)",
            hint="SDMX-ML never needs a DOCTYPE; the file may be tampered with or not SDMX",
        )


def error_text(data: bytes) -> str | None:
    """The server's text when ``data`` is an SDMX error message, else None."""
    if not _ERROR_ROOT.search(data[:4096]):
        return None
    if _DOCTYPE.search(data[:65536]):
        return "an error message with a DOCTYPE (not read: entities are never expanded)"
    from lxml import etree  # type: ignore[import-untyped, unused-ignore]

    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        root = etree.fromstring(data, parser=parser)
    except etree.XMLSyntaxError:
        return data[:300].decode("utf-8", "replace")
    if etree.QName(root).localname != "Error":
        return None
    parts = []
    for element in root.iter():
        if etree.QName(element).localname == "ErrorMessage" and element.get("code"):
            parts.append(f"[{element.get('code')}]")
        elif etree.QName(element).localname == "Text" and element.text:
            parts.append(element.text.strip())
    return " ".join(parts) or "unspecified SDMX error"


def empty_table(dimensions: tuple[str, ...] = ()) -> pa.Table:
    """A table with no rows: the dimensions, ``TIME_PERIOD`` and ``OBS_VALUE``."""
    fields = [pa.field(name, pa.string()) for name in dimensions if name != "TIME_PERIOD"]
    fields += [pa.field("TIME_PERIOD", pa.string()), pa.field("OBS_VALUE", pa.float64())]
    return pa.schema(fields).empty_table()


def _quiet(call: Callable[[], Any]) -> Any:
    # sdmx1 prints its parser state to stdout when a message is malformed, and logs notes
    # about structure it inferred ("got no structure= argument"): what matters reaches the
    # user as a typed error, so both are held back while reading.
    log = logging.getLogger("sdmx")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            return call()
    finally:
        log.setLevel(level)


def read_message(data: bytes, fmt: str, structure: bytes | None = None) -> pa.Table:
    """An SDMX-ML or SDMX-JSON data message as a source table (``structure``: its DSD)."""
    import sdmx

    dsd = None
    if structure is not None:
        screen_xml(structure)
        try:
            smsg = _quiet(lambda: sdmx.read_sdmx(io.BytesIO(structure), format="XML"))
        except Exception as exc:
            raise MessageError(
                f"the structure message cannot be read: {_why(exc)}",
                hint="give the DSD of this dataflow (a datastructure or dataflow message)",
            ) from None
        if not getattr(smsg, "structure", None):
            raise MessageError(
                "the structure message holds no data structure definition",
                hint="fetch it with references=datastructure, or point structure_path at a DSD",
            )
        dsd = next(iter(smsg.structure.values()))
    if fmt == "xml":
        screen_xml(data)
        if (text := error_text(data)) is not None:
            raise MessageError(f"the service answered with an SDMX error: {text}")
    kwargs: dict[str, Any] = {"format": "XML" if fmt == "xml" else "JSON"}
    if dsd is not None:
        kwargs["structure"] = dsd
    try:
        msg = _quiet(lambda: sdmx.read_sdmx(io.BytesIO(data), **kwargs))
    except Exception as exc:
        raise MessageError(
            f"not a readable SDMX-{'ML' if fmt == 'xml' else 'JSON'} message: {_why(exc)}",
            hint="the message may be truncated (an interrupted download), or need its "
            "structure (structure_path, or the datastructure option)",
        ) from None
    if not hasattr(msg, "data"):
        raise MessageError(
            f"this is an SDMX {type(msg).__name__}, not a data message",
            hint="point the source at data; structures go in structure_path",
        )
    dims = tuple(d.id for d in dsd.dimensions) if dsd is not None else ()
    if not msg.data or all(len(ds.obs) == 0 for ds in msg.data):
        return empty_table(dims)
    try:
        frames = _quiet(lambda: sdmx.to_pandas(msg, attributes="osgd"))
        return _frame_to_table(frames)
    except (ValueError, TypeError, KeyError, pa.ArrowException) as exc:
        # A message read whole whose observations do not convert (an OBS_VALUE that is
        # text or empty): named as the reader names a malformed message.
        raise MessageError(
            f"the observations of the SDMX message cannot be read: {_why(exc)}",
            hint="OBS_VALUE must be a number; the message may be damaged: download it again",
        ) from None


def _why(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


def _frame_to_table(frames: Any) -> pa.Table:
    import pandas as pd

    if isinstance(frames, list):
        frames = pd.concat([f.to_frame() if isinstance(f, pd.Series) else f for f in frames])
    frame = frames.to_frame() if isinstance(frames, pd.Series) else frames
    flat: Any = frame.reset_index()
    index_names = [str(n) for n in frame.index.names if n is not None]
    value_col = "value" if "value" in flat.columns else frame.columns[0]
    dims = [n for n in index_names if n != "TIME_PERIOD"]
    attrs = [str(c) for c in frame.columns if c != value_col]
    columns: dict[str, pa.Array] = {}
    for name in [*dims, "TIME_PERIOD"]:
        columns[name] = pa.array(flat[name].astype("string"), type=pa.string())
    columns["OBS_VALUE"] = pa.array(pd.to_numeric(flat[value_col]), type=pa.float64())
    for name in attrs:
        values = flat[name].astype("string").replace("", pd.NA)
        if values.notna().any():
            columns[str(name)] = pa.array(values, type=pa.string())
    return pa.table(columns)


def read_csv(data: bytes) -> pa.Table:
    """An SDMX-CSV message (1.0 or 2.0) as a source table: codes as strings, columnar."""
    while data.startswith(b"\xef\xbb\xbf"):  # one BOM, or one written twice by a re-export
        data = data[3:]
    try:
        first = data.split(b"\n", 1)[0].decode("utf-8")
    except UnicodeDecodeError:
        raise MessageError(
            "the CSV header is not UTF-8", hint="SDMX-CSV is UTF-8; re-export it as UTF-8"
        ) from None
    try:
        header = next(csv.reader([first.rstrip("\r")]), [])
    except csv.Error as exc:
        # A carriage return inside the line: no header Python's csv can read.
        raise MessageError(
            f"the CSV header cannot be read: {exc}",
            hint="SDMX-CSV starts with one header line of comma-separated column names",
            line=1,
        ) from None
    if len(set(header)) != len(header):
        dup = next(h for h in header if header.count(h) > 1)
        raise MessageError(f"duplicate column {dup!r} in the header", column=dup, line=1)
    missing = [c for c in ("TIME_PERIOD", "OBS_VALUE") if c not in header]
    if missing:
        raise MessageError(
            f"not SDMX-CSV: no {' or '.join(missing)} column",
            hint="SDMX-CSV has one column per dimension, TIME_PERIOD and OBS_VALUE",
            line=1,
        )
    types = {name: pa.string() for name in header}
    types["OBS_VALUE"] = pa.float64()
    try:
        table = pacsv.read_csv(
            io.BytesIO(data),
            read_options=pacsv.ReadOptions(use_threads=False),
            convert_options=pacsv.ConvertOptions(
                column_types=types,
                null_values=["", "NaN", "NA"],
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        text = str(exc)
        match = _PYARROW_ROW.search(text)
        line = int(match.group(1)) if match else None  # pyarrow counts the header as row 1
        column = "OBS_VALUE" if "double" in text else None
        raise MessageError(
            f"malformed SDMX-CSV: {text.splitlines()[-1][:200]}",
            hint="OBS_VALUE must be a number with a dot as decimal separator; the file must "
            "be UTF-8",
            row=line - 1 if line is not None else None,
            line=line,
            column=column,
        ) from None
    keep = [c for c in header if c not in _CSV_META]
    obs = header.index("OBS_VALUE")
    dims = [c for c in keep if header.index(c) < obs and c != "TIME_PERIOD"]
    attrs = [c for c in keep if header.index(c) > obs and table[c].null_count < table.num_rows]
    return table.select([*dims, "TIME_PERIOD", "OBS_VALUE", *attrs])
