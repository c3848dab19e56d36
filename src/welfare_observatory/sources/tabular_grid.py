"""Bytes to a grid of cell texts: CSV and XLSX reading (the decoding and the separator
guess are :mod:`.text_decoding`'s, shared with the tidy reader).

A *grid* is a pandas DataFrame of stripped strings (``""`` for an empty cell) whose index is
the 0-based spreadsheet row of each record (a quoted multi-line cell is one row, as in a
spreadsheet application). Nothing here decides what is a header or a value: that is
``tabular.py``'s job. XLSX cells that hold true numbers are flagged in a boolean frame of
the same shape, so their digits are never re-read with Italian decimal rules.
"""

from __future__ import annotations

import io
import math
import re
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

import numpy as np
import pandas as pd

from welfare_observatory.errors import Location, ParseError
from welfare_observatory.model.finding import Finding, Severity
from welfare_observatory.sources.tabular_options import MAX_COLUMNS
from welfare_observatory.sources.text_decoding import decode, sniff_format, sniff_separator
from welfare_observatory.sources.xlsx_formats import percent_cells

__all__ = ["Grid", "decode", "read_csv_grid", "read_xlsx_grid", "sniff_format", "sniff_separator"]


@dataclass(frozen=True)
class Grid:
    """Cell texts (stripped, ``""`` when empty) and, for XLSX, which cells are true numbers."""

    cells: pd.DataFrame
    native_numbers: pd.DataFrame | None = None
    encoding: str | None = None
    separator: str | None = None
    findings: tuple[Finding, ...] = ()
    """What the reader noticed without refusing the file (a hidden sheet skipped)."""
    widths: pd.Series | None = None
    """CSV only: the cells each row really had before short rows were padded (same index
    as ``cells``), so a row shorter than the header is reported, not silently padded."""
    percent_cells: pd.DataFrame | None = None
    """XLSX only: the number cells shown with a percent sign by their number format (same
    shape as ``cells``). A ``0.0%`` cell storing 0.125 already holds the 12.5 it shows."""


def _line_breaks(raw: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Where the bytes ``raw`` end a line: a line feed, or a carriage return not followed by
    one (old Mac exports end lines with it alone; pandas reads those as line ends too)."""
    feed: np.ndarray[Any, Any] = np.equal(raw, ord("\n"))
    lone: np.ndarray[Any, Any] = np.equal(raw, ord("\r"))
    if bool(lone.any()):
        lone[:-1] &= ~feed[1:]
        feed = feed | lone
    return feed


def _line_counts(text: str, sep: str) -> np.ndarray[Any, Any]:
    """Cells per physical line (separators + 1), counted vectorized on the bytes."""
    raw = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    if raw.size == 0:
        return np.ones(1, dtype=np.int64)
    breaks = _line_breaks(raw)
    if breaks[-1]:
        raw, breaks = raw[:-1], breaks[:-1]  # the last line's end starts no line
    line = np.concatenate(([0], np.cumsum(breaks)))[:-1]
    return np.bincount(line[raw == ord(sep)], minlength=int(breaks.sum()) + 1) + 1


def _record_widths(text: str, sep: str) -> list[int] | None:
    """Cells per record as written: records are lines when the file holds no quote, else
    they are split as pandas splits them (a quoted separator or line break stays in its
    cell); None when the csv module cannot split the file (then the width is a bound
    counted on the lines, and no row is called short)."""
    if '"' not in text:
        return [int(n) for n in _line_counts(text, sep)]
    import csv

    try:
        return [len(r) for r in csv.reader(io.StringIO(text, newline=""), delimiter=sep)]
    except csv.Error:
        return None


_SAW = re.compile(r"saw (\d+)")


def _check_width(width: int, where: Location) -> None:
    if width > MAX_COLUMNS:
        raise ParseError(
            f"the table has {width} columns; tables are read up to {MAX_COLUMNS}",
            location=where,
            hint="a row holding a run of separators, or a file that is not a table: check the file",
        )


def _far_wider(widths: list[int]) -> bool:
    """Whether the widest record is far wider than the usual one (more than four times the
    median, and 64 cells more)."""
    wide = np.asarray(widths)
    return bool(wide.size) and int(wide.max()) > 4 * float(np.median(wide)) + 64


def _trimmed_frame(text: str, sep: str, where: Location) -> pd.DataFrame:
    """The records of ``text`` as a frame as wide as the last non-blank cell of any, each
    record's blank trailing cells dropped (split by the csv module, as ``_record_widths``
    split them; pandas would make every row as wide as the widest)."""
    import csv

    records = []
    width = 1
    last: list[str] = []
    for record in csv.reader(io.StringIO(text, newline=""), delimiter=sep):
        last = record
        end = len(record)
        while end and not record[end - 1].strip():
            end -= 1
        records.append(record[:end])
        width = max(width, end)
    if text.endswith(("\n", "\r")) and any(cell.endswith(("\n", "\r")) for cell in last):
        # The csv module closes a quote left open at the end of the file, with the rest
        # of the file in its cell (and the file's last line end): pandas refuses it.
        raise ParseError(
            "malformed CSV: a quote is opened and never closed (the rest of the file would "
            "be one cell)",
            location=where,
            hint="close the quote, or remove it",
        )
    _check_width(width, where)
    return pd.DataFrame([r + [""] * (width - len(r)) for r in records], dtype=object)


def read_csv_grid(data: bytes, *, encoding: str, separator: str, where: Location) -> Grid:
    """A CSV file as a grid: every cell a stripped string, ragged rows padded with ``""``."""
    text, used = decode(data, encoding, where)
    sep = sniff_separator(text) if separator == "auto" else separator
    widths = _record_widths(text, sep)
    if widths is not None and _far_wider(widths):
        # A row far wider than the others (a run of separators): its empty trailing cells
        # are dropped before the grid is made, which would else hold rows x its width cells
        # (an 18 KB file made 20 million). The cells as written still name short rows.
        cells = _strip(_trimmed_frame(text, sep, where))
        return Grid(
            cells=cells,
            encoding=used,
            separator=sep,
            widths=pd.Series(widths, dtype="int64") if len(widths) == len(cells) else None,
        )
    # The widest record, not the widest line: a quoted line break joins lines into one
    # record with more cells than any of them (pandas takes a first record wider than the
    # names it is given as the row index, silently).
    width = max(widths, default=1) if widths is not None else int(_line_counts(text, sep).max())
    _check_width(width, where)
    for _attempt in range(3):
        try:
            frame = pd.read_csv(
                io.StringIO(text),
                sep=sep,
                header=None,
                names=list(range(width)),
                dtype=str,
                keep_default_na=False,
                na_filter=False,
                skip_blank_lines=False,
                engine="c",
                quotechar='"',
            )
        except pd.errors.ParserError as exc:
            # A quoted cell spanning lines can hide separators from the byte count.
            wider = _SAW.search(str(exc))
            if wider is None or int(wider.group(1)) <= width:
                raise _csv_error(exc, where) from None
            width = int(wider.group(1))
            continue
        except (ValueError, pd.errors.EmptyDataError) as exc:
            raise _csv_error(exc, where) from None
        if isinstance(frame.index, pd.RangeIndex):
            break
        # A first record wider than ``width`` (pandas made its leading cells the index).
        width += frame.index.nlevels
    else:
        raise ParseError(
            "cannot find the number of columns: the file's records split differently "
            "depending on how its quotes are read",
            location=where,
            hint="check the quotes of the file (a quote opened and never closed?)",
        )
    cells = _strip(frame.fillna(""))
    counted = pd.Series(widths, dtype="int64") if widths is not None else None
    return Grid(
        cells=cells,
        encoding=used,
        separator=sep,
        # Only when the counts line up with the parsed rows (else no row is called short).
        widths=counted if counted is not None and len(counted) == len(cells) else None,
    )


def _csv_error(exc: Exception, where: Location) -> ParseError:
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    line = re.search(r"line (\d+)", message)
    return ParseError(
        f"malformed CSV: {message}",
        location=Location(
            source=where.source, file=where.file, line=int(line.group(1)) if line else None
        ),
        hint='check quotes (an unterminated " swallows the rest of the file) and the separator',
    )


def _strip(frame: pd.DataFrame) -> pd.DataFrame:
    """Cells as stripped strings with runs of whitespace as one space (pyarrow kernels).

    Istat labels carry leading spaces (" LICENZA MEDIA") and headers embedded newlines.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = {}
    for i, name in enumerate(frame.columns):
        text = pa.array(frame[name].astype(object).to_numpy(dtype=object), type=pa.string())
        text = pc.utf8_trim_whitespace(pc.replace_substring_regex(text, r"\s+", " "))
        columns[i] = pd.Series(text.to_numpy(zero_copy_only=False), index=frame.index)
    return pd.DataFrame(columns, index=frame.index, dtype=object)


def check_zip(data: bytes, *, max_bytes: int, max_ratio: float, where: Location) -> None:
    """Refuse a zip whose members would expand past ``max_bytes`` or ``max_ratio`` (a bomb).

    zipfile never inflates a member past its declared size, so checking the declared sizes
    bounds what openpyxl can inflate.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise ParseError(
            f"not a readable XLSX (zip) file: {exc}",
            location=where,
            hint="the file is truncated or is not an .xlsx workbook",
        ) from None
    total = sum(m.file_size for m in members)
    if total <= max_bytes:
        _screen_parts(data, members, where)
    if total > max_bytes:
        raise ParseError(
            f"the workbook would expand to {total:,} bytes (limit {max_bytes:,})",
            location=where,
            hint="raise max_uncompressed_bytes if the file is genuine, or export the sheet as CSV",
        )
    for member in members:
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > 1_000_000 and ratio > max_ratio:
            raise ParseError(
                f"zip member {member.filename!r} expands {ratio:,.0f} times (limit {max_ratio:g}):"
                " refusing a possible zip bomb",
                location=where,
                hint="raise max_compression_ratio only for a file you trust",
            )


def _screen_parts(data: bytes, members: list[zipfile.ZipInfo], where: Location) -> None:
    """Refuse a workbook any of whose XML parts declares a DOCTYPE or an entity.

    openpyxl guards the parts it opens first, not the worksheet rows it streams later,
    so every part is screened here, before any parser sees one.
    """
    from welfare_observatory.sources.markup import find_markup

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for member in members:
            if member.is_dir():
                continue
            try:
                with archive.open(member) as handle:
                    found = find_markup(handle.read())
            except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
                raise ParseError(
                    f"zip member {member.filename!r} cannot be read: {exc}",
                    location=where,
                    hint="the file is truncated or is not an .xlsx workbook",
                ) from None
            if found is not None:
                raise ParseError(
                    f"workbook part {member.filename!r} holds a{'n' if found == 'ENTITY' else ''}"
                    f" {found} declaration: refused (entities are never expanded)",
                    location=where,
                    hint="a spreadsheet application never writes one; the file may be "
                    "tampered with: re-export it from the original",
                )


def read_xlsx_grid(
    data: bytes,
    *,
    sheet: str | int | None,
    max_bytes: int,
    max_ratio: float,
    where: Location,
) -> Grid:
    """One worksheet as a grid, read with openpyxl in read-only, values-only mode.

    ``data_only=True`` returns the value a spreadsheet application cached for a formula; no
    formula is evaluated here. A formula without a cached value is an error, not an empty
    cell. Merged cells read as empty except their top-left cell.
    """
    import openpyxl

    check_zip(data, max_bytes=max_bytes, max_ratio=max_ratio, where=where)
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many unrelated types for a broken file
        raise ParseError(
            f"cannot open the workbook: {type(exc).__name__}: {exc}",
            location=where,
            hint="the file is truncated, password-protected or not an .xlsx workbook",
        ) from None
    findings: list[Finding] = []
    try:
        worksheet = _sheet(book, sheet, where, findings)
        # Some generators write a wrong <dimension>; read every row that is really there.
        worksheet.reset_dimensions()
        rows, formats = _read_rows(book, worksheet)
    except ParseError:
        raise
    except Exception as exc:  # openpyxl reads cells lazily: a damaged cell raises here
        raise _sheet_error(exc, where) from None
    finally:
        book.close()
    sheet_name = worksheet.title
    # As wide as the last filled cell of any row, at most MAX_COLUMNS: one stray cell far
    # to the right (column XFD) made every row 16,384 cells wide before it was refused.
    width = max((_filled(row) for row in rows), default=0)
    _check_width(width, where)
    if any(len(row) > width for row in rows):
        rows = [row[:width] for row in rows]
        formats = None if formats is None else [row[:width] for row in formats]
    cells = _frame(rows)
    if _has_formulas(data):
        _refuse_uncached_formulas(data, sheet_name, cells, where)
    native = cells.map(_is_number).astype(bool)
    percent = None
    if formats is not None:
        cells, percent = percent_cells(cells, _frame(formats).reindex_like(cells), native)
        if bool(percent.to_numpy().any()):
            findings.append(_percent_finding(percent, sheet_name, where))
        else:
            percent = None
    text = _strip(cells.map(_cell_text))
    part = getattr(worksheet, "_worksheet_path", None)  # openpyxl's read-only sheets have it
    if isinstance(part, str):
        findings += _hidden_cells(data, part, text, sheet_name, where)
    return Grid(cells=text, native_numbers=native, findings=tuple(findings), percent_cells=percent)


def _filled(row: tuple[object, ...]) -> int:
    """Cells of ``row`` up to its last one holding a value (None and "" hold none)."""
    end = len(row)
    while end and (row[end - 1] is None or row[end - 1] == ""):
        end -= 1
    return end


def _sheet_error(exc: Exception, where: Location) -> ParseError:
    """A cell openpyxl cannot read (a number cell holding text, a shared string past the
    table, an impossible date, a column past XFD): the workbook is damaged."""
    return ParseError(
        f"cannot read the sheet: {type(exc).__name__}: {exc}",
        location=where,
        hint="the workbook is damaged or was not written by a spreadsheet application: "
        "open it in one and save it again, or export the sheet as CSV",
    )


def _read_rows(book: Any, worksheet: Any) -> tuple[list[tuple[object, ...]], list[Any] | None]:
    """The sheet's cell values and, when the workbook has a percent number format, each
    cell's format (else None: reading values only is faster)."""
    if not _may_show_percent(book):
        return list(worksheet.iter_rows(values_only=True)), None
    values: list[tuple[object, ...]] = []
    formats: list[tuple[object, ...]] = []
    for row in worksheet.iter_rows():
        values.append(tuple(cell.value for cell in row))
        formats.append(tuple(cell.number_format for cell in row))
    return values, formats


def _may_show_percent(book: Any) -> bool:
    """Whether any cell style of the workbook has a format with a percent sign; true when
    openpyxl does not expose its styles (then every cell's format is read)."""
    from openpyxl.styles.numbers import BUILTIN_FORMATS

    styles = getattr(book, "_cell_styles", None)
    custom = getattr(book, "_number_formats", None)
    if styles is None or custom is None:
        return True
    for style in styles:
        number_format = getattr(style, "numFmtId", None)
        if not isinstance(number_format, int):
            return True
        code = (
            BUILTIN_FORMATS.get(number_format)
            if number_format < 164  # openpyxl's BUILTIN_FORMATS_MAX_SIZE
            else (custom[number_format - 164] if number_format - 164 < len(custom) else None)
        )
        if code is not None and "%" in code:
            return True
    return False


def _percent_finding(percent: pd.DataFrame, sheet: str, where: Location) -> Finding:
    """The cells read as the percentage their format shows, by address."""
    from openpyxl.utils import get_column_letter

    found = np.argwhere(percent.to_numpy())
    cells = [f"{get_column_letter(int(c) + 1)}{int(r) + 1}" for r, c in found[:10]]
    shown = ", ".join(cells) + (" ..." if len(found) > 10 else "")
    return Finding(
        code="percent-format",
        severity=Severity.INFO,
        message=f"{len(found)} number cells formatted as percent in sheet {sheet!r}"
        + (f" (file {where.file})" if where.file else "")
        + " read as the number shown before the % sign (0.125 shown as 12.5% reads 12.5): "
        + shown,
        hint="harmonization keeps them only for an indicator in percent and reads them as "
        "missing, with a percent-sign warning, for any other unit",
        source=where.source,
        column=get_column_letter(int(found[0][1]) + 1),
        row=int(found[0][0]) + 1,
        count=len(found),
    )


_HIDDEN_ROW = re.compile(rb"<(?:\w+:)?row\b[^>]*?\shidden=\"(?:1|true)\"[^>]*>")
_HIDDEN_COL = re.compile(rb"<(?:\w+:)?col\b[^>]*?\shidden=\"(?:1|true)\"[^>]*>")
_ROW_NUMBER = re.compile(rb"\sr=\"(\d+)\"")
_COL_SPAN = re.compile(
    rb"\smin=\"(\d+)\"[^>]*?\smax=\"(\d+)\"|\smax=\"(\d+)\"[^>]*?\smin=\"(\d+)\""
)


def _hidden_cells(
    data: bytes, part: str, cells: pd.DataFrame, sheet: str, where: Location
) -> list[Finding]:
    """Warnings for hidden rows and columns that hold cells: they are read like the rest,
    but a person checking the sheet would not see them. (Read-only openpyxl does not load
    row and column dimensions, so the sheet's XML is scanned; it was screened for markup.)"""
    from openpyxl.utils import get_column_letter

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            xml = archive.read(part.lstrip("/"))
    except (KeyError, zipfile.BadZipFile, OSError):
        return []
    empty: Any = ""  # typed Any: pandas-stubs reject a str operand of DataFrame.ne
    filled = cells.ne(empty)
    rows = sorted(
        int(m.group(1)) - 1
        for tag in _HIDDEN_ROW.finditer(xml)
        if (m := _ROW_NUMBER.search(tag.group(0)))
    )
    rows = [r for r in rows if r in filled.index and bool(filled.loc[r].any())]
    columns: list[int] = []
    for tag in _HIDDEN_COL.finditer(xml):
        span = _COL_SPAN.search(tag.group(0))
        if span is None:
            continue
        low, high = (
            (span.group(1), span.group(2)) if span.group(1) else (span.group(4), span.group(3))
        )
        for c in range(int(low) - 1, min(int(high), filled.shape[1])):
            if c in filled.columns and bool(filled[c].any()):
                columns.append(c)
    found: list[Finding] = []
    in_file = f" in sheet {sheet!r}" + (f" (file {where.file})" if where.file else "")
    hint = "a person opening the file would not see them: check they belong to the table"
    if rows:
        shown = ", ".join(str(r + 1) for r in rows[:10]) + (" ..." if len(rows) > 10 else "")
        found.append(
            Finding(
                code="hidden-rows",
                severity=Severity.WARNING,
                message=f"{len(rows)} hidden rows hold cells and were read: {shown}{in_file}",
                hint=hint,
                source=where.source,
                row=rows[0] + 1,
                count=len(rows),
            )
        )
    if columns:
        letters = [get_column_letter(c + 1) for c in sorted(set(columns))]
        shown = ", ".join(letters[:10]) + (" ..." if len(letters) > 10 else "")
        found.append(
            Finding(
                code="hidden-columns",
                severity=Severity.WARNING,
                message=f"{len(letters)} hidden columns hold cells and were read: {shown}"
                + in_file,
                hint=hint,
                source=where.source,
                column=letters[0],
                count=len(letters),
            )
        )
    return found


def _frame(rows: list[tuple[object, ...]]) -> pd.DataFrame:
    """Rows of cell values as an object frame, short rows padded with None."""
    width = max((len(row) for row in rows), default=1) or 1
    padded = [(*row, *([None] * (width - len(row)))) for row in rows] or [(None,)]
    return pd.DataFrame(padded, dtype=object)


def _sheet(book: Any, sheet: str | int | None, where: Location, findings: list[Finding]) -> Any:
    chosen = _pick_sheet(book, sheet, where)
    hidden = [ws.title for ws in book.worksheets if getattr(ws, "sheet_state", "") != "visible"]
    in_file = f" (file {where.file})" if where.file else ""
    if chosen.title in hidden:
        findings.append(
            Finding(
                code="hidden-sheet",
                severity=Severity.WARNING,
                message=f"sheet {chosen.title!r} is hidden in the workbook and was read "
                "because the options name it" + in_file,
                hint="a person opening the file would not see this sheet: check it is meant",
                source=where.source,
            )
        )
    elif sheet is None and hidden:
        findings.append(
            Finding(
                code="hidden-sheet",
                severity=Severity.INFO,
                message=f"hidden sheets skipped: {', '.join(map(repr, hidden))}; read the "
                f"first visible sheet {chosen.title!r}" + in_file,
                hint="name a sheet with the sheet option to read another one",
                source=where.source,
            )
        )
    return chosen


def _pick_sheet(book: Any, sheet: str | int | None, where: Location) -> Any:
    from welfare_observatory.errors import closest

    names: list[str] = list(book.sheetnames)
    if sheet is None:
        # The first sheet a person would see: a hidden first sheet is often a lookup table.
        visible = [ws for ws in book.worksheets if getattr(ws, "sheet_state", "") == "visible"]
        return (visible or book.worksheets)[0]
    if isinstance(sheet, int):
        if not 1 <= sheet <= len(names):
            raise ParseError(
                f"sheet number {sheet} does not exist (the workbook has {len(names)})",
                location=where,
                hint="sheets are numbered from 1; sheets: " + ", ".join(names),
            )
        return book.worksheets[sheet - 1]
    if sheet not in names:
        near = closest(sheet, names)
        raise ParseError(
            f"sheet {sheet!r} does not exist",
            location=where,
            hint=("did you mean " + ", ".join(map(repr, near)) + "? " if near else "")
            + "sheets: "
            + ", ".join(names),
        )
    return book[sheet]


def _has_formulas(data: bytes) -> bool:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for member in archive.infolist():
            if member.filename.startswith("xl/worksheets/") and member.filename.endswith(".xml"):
                with archive.open(member) as handle:
                    chunk = handle.read()
                if b"<f>" in chunk or b"<f " in chunk or b":f>" in chunk:
                    return True
    return False


def _refuse_uncached_formulas(
    data: bytes, sheet_name: str, cached: pd.DataFrame, where: Location
) -> None:
    import openpyxl
    from openpyxl.utils import get_column_letter

    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    try:
        sheet = book[sheet_name]
        sheet.reset_dimensions()
        rows = list(sheet.iter_rows(values_only=True))
    except Exception as exc:  # as in read_xlsx_grid: cells are read lazily
        raise _sheet_error(exc, where) from None
    finally:
        book.close()
    # Row by row (no frame as wide as the widest row): a formula past the cached grid's
    # last column (trimmed there as empty) has no saved value either.
    height, width = cached.shape
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if not (isinstance(value, str) and value.startswith("=")):
                continue
            saved = cached.iat[r, c] if r < height and c < width else None
            if saved is None or (isinstance(saved, float) and math.isnan(saved)):
                cell = f"{get_column_letter(c + 1)}{r + 1}"
                raise ParseError(
                    f"cell {cell} holds a formula ({value!s}) with no saved value;"
                    " formulas are never evaluated",
                    location=Location(
                        source=where.source, file=where.file, sheet=sheet_name, key=cell
                    ),
                    hint="open the file in a spreadsheet application and save it, or export values",
                )


def _is_number(value: object) -> bool:
    if isinstance(value, float):
        return not math.isnan(value)
    return isinstance(value, int) and not isinstance(value, bool)


def _cell_text(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)
