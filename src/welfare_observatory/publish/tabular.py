"""CSV (canonical), the Italian Excel CSV dialect and XLSX.

The canonical CSV is byte-faithful: UTF-8, comma-separated, every value with full
(shortest round-trip) precision, text exactly as stored; an empty unquoted cell is a null,
``""`` an empty text. The Italian dialect and XLSX are for spreadsheets: text cells that a
spreadsheet would run as a formula are prefixed with ``'`` (numbers stay numbers).
"""

from __future__ import annotations

import shutil
import weakref
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from welfare_observatory.errors import PublishError
from welfare_observatory.publish._files import atomic_output, neutralise, plain_table
from welfare_observatory.publish.metadata import ExportMetadata

__all__ = ["XLSX_MAX_ROWS", "export_csv", "export_csv_it", "export_xlsx", "read_csv"]

XLSX_MAX_ROWS = 1_048_575
"""Rows a worksheet holds below its header row."""

_BOM = b"\xef\xbb\xbf"


def export_csv(view: pa.Table, meta: ExportMetadata, out: Path) -> list[Path]:
    """``observations.csv``: the canonical open-data form.

    The CSV depends on ``view`` alone: when the same table was just written to the same
    file (``--format csv --format datapackage``) and the file is untouched, it is not
    written again.
    """
    path = out / "observations.csv"
    if _last_csv.matches(path, view):
        return [path]
    # pyarrow writes a dictionary column as its values: no decoded copy of the table.
    with atomic_output(path) as tmp:
        pacsv.write_csv(view, tmp, pacsv.WriteOptions(include_header=True))
    _last_csv.remember(path, view)
    return [path]


class _LastWrite:
    """The last table written to a file, and the file's identity right after (one entry)."""

    def __init__(self) -> None:
        self._entry: tuple[weakref.ref[pa.Table], Path, tuple[int, int, int, int]] | None = None

    @staticmethod
    def _stamp(path: Path) -> tuple[int, int, int, int] | None:
        try:
            st = path.stat()
        except OSError:
            return None
        return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)

    def remember(self, path: Path, table: pa.Table) -> None:
        stamp = self._stamp(path)
        self._entry = None if stamp is None else (weakref.ref(table), path.resolve(), stamp)

    def matches(self, path: Path, table: pa.Table) -> bool:
        if self._entry is None:
            return False
        ref, written, stamp = self._entry
        return ref() is table and written == path.resolve() and self._stamp(path) == stamp


_last_csv = _LastWrite()


def read_csv(path: Path, schema: pa.Schema) -> pa.Table:
    """Read a canonical CSV back with the types of ``schema`` (codes stay text)."""
    plain = pa.schema(
        [
            pa.field(f.name, f.type.value_type if pa.types.is_dictionary(f.type) else f.type)
            for f in schema
        ]
    )
    options = pacsv.ConvertOptions(
        column_types=plain,
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,
        null_values=[""],
    )
    table = pacsv.read_csv(path, convert_options=options)
    return table.select(plain.names).cast(plain)


def export_csv_it(view: pa.Table, meta: ExportMetadata, out: Path) -> list[Path]:
    """``observations-it.csv``: ``;`` separated, decimal comma, UTF-8 with BOM, for Excel."""
    import duckdb

    path = out / "observations-it.csv"
    table = neutralise(view)
    names = table.column_names
    select = ", ".join(
        f"replace(CAST({_ident(name)} AS VARCHAR), '.', ',') AS {_ident(name)}"
        if pa.types.is_floating(table.schema.field(name).type)
        else _ident(name)
        for name in names
    )
    with atomic_output(path) as tmp:
        body = tmp.with_name(tmp.name + ".body.csv")
        con = duckdb.connect()
        try:
            con.register("view", table)
            con.execute(
                f"COPY (SELECT {select} FROM view) TO {_literal(str(body))} "  # noqa: S608
                "(HEADER, DELIMITER ';', QUOTE '\"')"
            )
        finally:
            con.close()
        try:
            with tmp.open("wb") as target, body.open("rb") as source:
                target.write(_BOM)
                shutil.copyfileobj(source, target, 1 << 20)
        finally:
            body.unlink(missing_ok=True)
    return [path]


def export_xlsx(view: pa.Table, meta: ExportMetadata, out: Path) -> list[Path]:
    """``observations.xlsx``: sheet ``data`` and a sheet ``metadata`` with licence and sources."""
    from openpyxl import Workbook

    if view.num_rows > XLSX_MAX_ROWS:
        raise PublishError(
            f"{view.num_rows} rows do not fit in one worksheet ({XLSX_MAX_ROWS} at most)",
            hint="export csv or parquet for a table this large",
        )
    path = out / "observations.xlsx"
    # Strip first, then neutralise: stripping after the check would turn
    # ``"\x01=HYPERLINK(...)"`` back into a live formula.
    table = neutralise(_legal_text(plain_table(view)))
    book = Workbook(write_only=True)
    data = book.create_sheet("data")
    data.append(table.column_names)
    columns = [column.to_pylist() for column in table.columns]
    for values in zip(*columns, strict=True):
        data.append(values)
    info = book.create_sheet("metadata")
    for row in _metadata_rows(meta):
        info.append(row)
    with atomic_output(path) as tmp:
        book.save(tmp)
    return [path]


def _metadata_rows(meta: ExportMetadata) -> list[tuple[str, str]]:
    # Metadata text comes from configuration and catalogues: neutralised like the data.
    rows = [
        ("title", meta.title),
        ("edition", meta.edition),
        ("build", meta.build),
        ("status", meta.status),
        ("created", meta.created),
        ("reference date", meta.reference_date),
        ("licence", meta.licence),
        ("licence url", meta.licence_url or ""),
        ("disclosure control", meta.disclosure),
    ]
    rows += [(f"source {s.id}", s.licence or "licence not recorded") for s in meta.sources]
    rows += [(f"column {c.name}", c.description) for c in meta.columns]
    table = neutralise(
        _legal_text(pa.table({"k": [r[0] for r in rows], "v": [r[1] for r in rows]}))
    )
    return list(zip(table["k"].to_pylist(), table["v"].to_pylist(), strict=True))


def _legal_text(table: pa.Table) -> pa.Table:
    """Control characters that XLSX cannot hold (all but tab, LF, CR) removed from text."""
    import pyarrow.compute as pc

    columns = []
    for column in table.columns:
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            column = pc.replace_substring_regex(column, r"[\x00-\x08\x0b\x0c\x0e-\x1f]", "")
        columns.append(column)
    return pa.table(columns, names=table.column_names)


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
