"""A fast reader for CSV tables declared tidy (``layout: tidy``): one header row, one record
per row, no titles, sections or notes.

Layout detection (:mod:`welfare_observatory.sources.tabular`) is meant for spreadsheets as
Istat publishes them and works cell by cell in pandas; a tidy export does not need it. Here
pyarrow's CSV reader reads every column as text and the value columns are parsed with the
same rules (number format, markers, ``empty``) by vectorized Arrow kernels. The output has
the shape :func:`~welfare_observatory.sources.tabular.read_table` gives: codes as strings
(empty cells null), each value column as float64 followed by ``__status`` and ``__conf``.

A malformed file is still an error naming the place, never a silently different table: an
empty file, a missing, blank or repeated header, a row with a cell past the header (its row
and column), a cell that is neither a number, a marker nor empty (its row and column). As in
the detecting reader, a row with fewer cells than the header and a header without rows are
read, with a ``short-row`` or ``no-rows`` warning naming the place.
XLSX payloads and multi-row headers go to the detecting reader.
"""

from __future__ import annotations

import contextlib
import contextvars
import fnmatch
import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from welfare_observatory.errors import Location, ParseError
from welfare_observatory.model.finding import Finding, Severity
from welfare_observatory.sources.notes import attach_findings
from welfare_observatory.sources.tabular_options import (
    MAX_COLUMNS,
    check_patterns,
    header_line,
    number_format,
)

if TYPE_CHECKING:
    from concurrent.futures import Future

    import numpy as np
    import pyarrow as pa

    from welfare_observatory.sources.tabular_options import TabularOptions

__all__ = ["read_ahead", "read_auto", "read_tidy", "reading_ahead"]

_SDMX_VALUE_COLUMNS = ("OBS_VALUE", "Value")
_YEAR_HEADER = re.compile(r"^(?:19|20)\d{2}(?:\b|$)")  # as sources.tabular
_LEADING_ZERO = r"^[+-]?0\d"
_EMPTY: Any = ""  # typed Any: pandas-stubs reject a str operand of DataFrame.ne


def read_tidy(
    data: bytes,
    options: TabularOptions,
    *,
    file: str | None = None,
    source: str | None = None,
) -> pa.Table:
    """Parse a tidy CSV payload into a source table; raises ParseError (with the place)."""
    # ``isspace`` tests the same ASCII whitespace as ``strip`` without copying the payload.
    if not data or data.isspace():
        where = Location(source=source, file=file)
        raise ParseError("the file is empty", location=where, hint="check the path or the URL")
    if not _detection_only(data, options):
        with contextlib.suppress(_DetectError):
            return _read_tidy(data, options, file, source, plain=False)
    # Imported here only: the detecting reader loads pandas, which a tidy CSV never needs.
    from welfare_observatory.sources.tabular import read_table

    return read_table(data, options, file=file, source=source)


def read_auto(
    data: bytes,
    options: TabularOptions,
    *,
    file: str | None = None,
    source: str | None = None,
) -> pa.Table:
    """Parse a payload whose layout is not declared (``layout: auto``): the table
    :func:`~welfare_observatory.sources.tabular.read_table` makes of it, by layout detection,
    read here when the file is a plain tidy CSV.

    Plain means: a CSV that this module reads without an error or a finding, with one
    header row, no row of fewer cells than the header (short rows, titles, notes, sections
    written as one cell) and no row of fewer than two filled cells when the table has
    several columns (a section label, a note under the table). Layout detection reads such
    a file as one header over its records, as this module does; any other file (a
    spreadsheet, titles, a multi-row header, a footer, sections, ragged rows, a malformed
    cell) goes to layout detection, which reads it, or refuses it, as it always has."""
    if data and not data.isspace() and not _detection_only(data, options):
        with contextlib.suppress(ParseError, _DetectError):
            return _read_tidy(data, options, file, source, plain=True)
    from welfare_observatory.sources.tabular import read_table

    return read_table(data, options, file=file, source=source)


def _detection_only(data: bytes, options: TabularOptions) -> bool:
    """Whether ``data`` is read by layout detection whatever the layout: a workbook, or a
    header of several rows."""
    return (
        options.format == "xlsx" or data.startswith(b"PK\x03\x04") or (options.header_rows or 1) > 1
    )


class _DetectError(Exception):
    """The tidy reader would not read the file as layout detection does (a column named
    ``__row``, the name of its own column of record numbers): layout detection reads it,
    whatever the layout."""


class _NotPlainError(_DetectError):
    """The file is not a plain tidy CSV (:func:`read_auto`): layout detection reads it."""


def _read_tidy(
    data: bytes, options: TabularOptions, file: str | None, source: str | None, *, plain: bool
) -> pa.Table:
    """:func:`read_tidy` of a CSV payload; ``plain``: raise :class:`_NotPlainError` where the file
    is not plain (:func:`read_auto`) rather than read it."""
    import pyarrow as pa

    where = Location(source=source, file=file)
    if plain and options.columns is not None and not options.columns:
        raise _NotPlainError  # no column kept: detection reports the rows as none
    ahead = _ahead(data, options, plain)
    if ahead is None:
        text, skip, sep, width = _head(data, options, where, plain=plain)
        first = None
    else:
        text, skip, sep, width = ahead.text, ahead.skip, ahead.sep, ahead.width
        first = ahead.table, ahead.ragged
    table, names, notes = _read(text, sep, skip, where, width, first, plain=plain)
    table = _drop_blank_rows(table)
    if plain and (notes or table.num_rows == 0 or _sparse_row(table)):
        raise _NotPlainError
    # Where pandas, which layout detection reads numbers with, gives another float than
    # Arrow: a leading plus sign (rounded otherwise past 15 digits), a negative zero (plus
    # zero in a column of integers). A plain file holding either is left to detection.
    signs = plain and (b"+" in text or b"-0" in text)
    if table.num_rows == 0:
        notes.append(
            Finding(
                code="no-rows",
                severity=Severity.WARNING,
                message="the table has a header and no data rows"
                + (f" (file {file})" if file else ""),
                hint="check the file (an export cut short?) or header_row",
                source=source,
                row=skip + 1,
            )
        )
    if options.columns is not None:
        missing = [c for c in options.columns if c not in names]
        if missing:
            raise ParseError(
                f"column {missing[0]!r} is not in the table",
                location=Location(source=source, file=file, column=missing[0]),
                hint="columns: " + ", ".join(repr(n) for n in names[:12]),
            )
        table = table.select([*options.columns, "__row"])
    check_patterns([c for c in table.column_names if c != "__row"], options, where)
    decimal, thousands = number_format(options, sep)
    arrays: dict[str, pa.Array | pa.ChunkedArray] = {}
    sdmx = [c for c in _SDMX_VALUE_COLUMNS if c in table.column_names]
    code_header = re.compile(options.code_header_pattern)
    first_row = skip + 2  # 1-based row of the first record after the header
    rows = table.column("__row")
    # Signs no cell can hold when the file lacks them: their searches per column are skipped.
    present = {sign for sign in ("%", "#") if sign.encode() in text}
    for position, name in enumerate(c for c in table.column_names if c != "__row"):
        column = table.column(name)
        forced = next((t for p, t in options.dtypes.items() if fnmatch.fnmatchcase(name, p)), None)
        if forced is None:
            if isinstance(options.value_columns, list):
                forced = (
                    "float64"
                    if any(fnmatch.fnmatchcase(name, p) for p in options.value_columns)
                    else "string"
                )
            elif sdmx:
                forced = "float64" if name in sdmx else "string"
            elif position == 0 or code_header.match(name):
                forced = "string"
            elif _YEAR_HEADER.match(name):
                forced = "float64"  # years as columns, as the detecting reader types them
        if forced == "string":
            arrays[name] = _codes(name, column, options)
            continue
        parsed = _values(
            column,
            options,
            decimal=decimal,
            thousands=thousands,
            strict=forced == "float64",
            where=Location(source=source, file=file, column=name),
            rows=rows,
            first_row=first_row,
            notes=notes,
            present=present,
        )
        if parsed is None:
            arrays[name] = _codes(name, column, options)
            continue
        values, status, conf, percent = parsed
        if plain and (notes or (signs and _pandas_reads_otherwise(column, values))):
            raise _NotPlainError
        arrays[name] = values
        arrays[name + "__status"] = status
        arrays[name + "__conf"] = conf
        if percent is not None:
            arrays[name + "__percent"] = percent
    return attach_findings(pa.table(arrays), notes)


def _pandas_reads_otherwise(column: pa.ChunkedArray, values: pa.ChunkedArray) -> bool:
    """Whether a cell of ``column`` (text) starts with a plus sign, or a value read of it
    (``values``) is a negative zero."""
    import numpy as np
    import pyarrow.compute as pc

    if pc.any(pc.starts_with(column, "+")).as_py():
        return True
    read = values.to_numpy()
    return bool((np.signbit(read) & (read == 0)).any())


def _sparse_row(table: pa.Table) -> bool:
    """Whether a row of ``table`` (text cells, ``__row`` aside) of two or more columns has
    fewer than two filled cells: layout detection may take such a row for a section label
    or a note. Columns without an empty cell rule it out without a pass over the rows."""
    import pyarrow as pa
    import pyarrow.compute as pc

    names = [name for name in table.column_names if name != "__row"]
    if len(names) < 2:
        return False
    gappy = [name for name in names if _has_empty(table.column(name))]
    if len(names) - len(gappy) >= 2:
        return False
    filled = len(names) - len(gappy)  # cells of the columns without an empty one
    count = None
    for name in gappy:
        here = pc.not_equal(table.column(name), "").cast(pa.int16())
        count = here if count is None else pc.add(count, here)
    assert count is not None
    return bool(pc.less(pc.min(count), 2 - filled).as_py())


_SPARE = 8
"""Columns typed as text beyond the cells on the header's first line (a header may hold
quoted line breaks)."""


@dataclass(frozen=True)
class _Ahead:
    """The first CSV read :func:`read_tidy` makes of ``data``, made beforehand."""

    data: bytes
    options: TabularOptions
    text: bytes
    skip: int
    sep: str
    width: int
    table: pa.Table
    ragged: bool
    plain: bool = False


_AHEAD: contextvars.ContextVar[Future[Any] | None] = contextvars.ContextVar(
    "tidy_ahead", default=None
)


def read_ahead(data: bytes, options: TabularOptions) -> _Ahead | None:
    """The first CSV read :func:`read_tidy` makes of ``data``, made now: a build makes it
    on another thread for the next source while this one is harmonized (Arrow's CSV reader
    releases the GIL). None when ``read_tidy`` would not read ``data`` so or the read fails:
    ``read_tidy`` then reads the bytes itself and fails as it always fails, at the place."""
    try:
        if not data or data.isspace() or _detection_only(data, options):
            return None
        where = Location()
        # A source of layout auto reads its file the plain way (see read_auto).
        plain = getattr(options, "layout", "tidy") == "auto"
        text, skip, sep, width = _head(data, options, where, plain=plain)
        bad: list[Any] = []

        def on_invalid(row: Any) -> str:
            bad.append(row)
            return "skip"

        table = _read_csv(text, sep, skip, width + _SPARE, on_invalid, where)
        return _Ahead(data, options, text, skip, sep, width, table, bool(bad), plain)
    except Exception:  # read_tidy reads the bytes again, and reports
        return None


def _head(
    data: bytes, options: TabularOptions, where: Location, *, plain: bool = False
) -> tuple[bytes, int, str, int]:
    """The payload as UTF-8, the lines before the header, the separator and the cells on
    the header's first line; raises ParseError when the header row is empty. ``plain``
    (:func:`read_auto`): the separator guessed as layout detection guesses it, over the
    head of the whole file."""
    text = _utf8(data, options, where)
    if not text.endswith((b"\n", b"\r")):
        # The last record ends with a line end like every other: Arrow cannot size a
        # header alone without one, and a quote left open then holds the file's last line
        # end (see _quote_left_open).
        text += b"\n"
    skip = header_line(options, where)
    lines = text.split(b"\n", skip + 1)
    if plain and text.startswith(_BOM * 2):
        raise _NotPlainError  # detection drops both marks (its decoding, then pandas)
    if skip and _skipped_records_differ(lines[:skip]):
        if plain:
            raise _NotPlainError
        raise ParseError(
            "a row skipped above the header holds a quoted line break or a carriage return "
            "alone: the rows to skip are counted as records, which layout: tidy reads as lines",
            location=where,
            hint="drop layout: tidy to let layout detection count them",
        )
    first_line = lines[skip] if len(lines) > skip else b""
    if skip == 0:
        first_line = first_line.removeprefix(_BOM)  # a BOM alone is no header
    if not first_line.strip():
        raise ParseError("the header row is empty", location=where, hint="check skip_rows")
    header_text = first_line.decode("utf-8", errors="replace").lstrip("\ufeff")
    sep: str
    if options.separator != "auto":
        sep = options.separator
    elif plain:
        sep = _detected_separator(text)
    else:
        sep = _separator(text, skip)
    return text, skip, sep, header_text.count(sep) + 1


@contextlib.contextmanager
def reading_ahead(ahead: Future[Any] | None) -> Iterator[None]:
    """Within: :func:`read_tidy` takes what ``ahead`` (a :func:`read_ahead` made on another
    thread) read, when it read the same bytes with the same options."""
    token = _AHEAD.set(ahead)
    try:
        yield
    finally:
        _AHEAD.reset(token)


def _ahead(data: bytes, options: TabularOptions, plain: bool = False) -> _Ahead | None:
    """What :func:`reading_ahead` gave for these bytes and options, else None."""
    from concurrent.futures import wait

    future = _AHEAD.get()
    if future is None or future.cancelled():
        return None
    # What interrupts the wait (the source's timeout) goes on up; a read cancelled or
    # failed is made again by the caller.
    wait([future])
    if future.cancelled() or future.exception() is not None:
        return None
    ahead = future.result()
    if not isinstance(ahead, _Ahead) or ahead.options != options or ahead.data != data:
        return None
    return ahead if ahead.plain == plain else None


def _utf8(data: bytes, options: TabularOptions, where: Location) -> bytes:
    """The payload as UTF-8, decoded by the detecting reader's rules (BOM, UTF-8, then
    cp1252; a file broken midway is an error, NUL bytes too)."""
    from welfare_observatory.sources.text_decoding import decode

    text, used = decode(data, options.encoding, where)
    return data if used in ("utf-8", "utf-8-sig") else text.encode("utf-8")


def _separator(text: bytes, skip: int) -> str:
    """The detecting reader's choice over the head of the file from the header on (a title
    row above a ``;`` table must not make it a one-column ``,`` table)."""
    from welfare_observatory.sources.text_decoding import sniff_separator

    # Split off only the lines read (the rest of the 64 KiB stays in the last piece).
    head = b"\n".join(text[: 1 << 16].split(b"\n", skip + 50)[skip : skip + 50])
    return sniff_separator(head.decode("utf-8", errors="replace"))


def _skipped_records_differ(lines: list[bytes]) -> bool:
    """Whether the ``lines`` (split at line feeds) before the header may not be as many
    records: a line with an odd number of quotes (a quoted cell goes on past its end), or
    a carriage return not followed by a line feed (a line end of its own)."""
    return any(line.count(b'"') % 2 or b"\r" in line.removesuffix(b"\r") for line in lines)


def _detected_separator(text: bytes) -> str:
    """The detecting reader's choice, over the head of the whole file as it decodes it
    (``text`` is UTF-8, 4 bytes a character at most; its decoding drops one byte order
    mark)."""
    from welfare_observatory.sources.text_decoding import SNIFF_CHARACTERS, sniff_separator

    text = text.removeprefix(_BOM)
    return sniff_separator(text[: 4 * SNIFF_CHARACTERS].decode("utf-8", errors="ignore"))


_BOM = b"\xef\xbb\xbf"


def _check_header(names: list[str], where: Location, line: int) -> None:
    place = Location(source=where.source, file=where.file, line=line)
    blank = [i + 1 for i, n in enumerate(names) if not n]
    if blank:
        raise ParseError(
            f"header cell {blank[0]} is blank: a tidy table names every column",
            location=place,
            hint="name the column, or drop layout: tidy to let the reader detect the layout",
        )
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ParseError(
                f"column {name!r} appears twice in the header",
                location=place,
                hint="give every column its own name",
            )
        seen.add(name)


def _read(
    text: bytes,
    sep: str,
    skip: int,
    where: Location,
    width: int,
    first: tuple[pa.Table, bool] | None = None,
    *,
    plain: bool = False,
) -> tuple[pa.Table, list[str], list[Finding]]:
    """Every column as text, plus ``__row`` (0-based record number), the header's names
    and what was noticed (short rows); long rows and bad headers are errors. ``first``:
    the first CSV read and whether it met ragged rows, made beforehand (:func:`read_ahead`).
    ``plain``: a file the detecting reader's rules must read (ragged rows, a quote left
    open, a blank line before the last record) raises :class:`_NotPlainError` instead."""

    def ragged() -> tuple[pa.Table, list[str], list[Finding]]:
        if plain:
            raise _NotPlainError
        return _read_ragged(text, sep, skip, where)

    import numpy as np
    import pyarrow as pa

    bad: list[Any] = []
    # The header is read as a record (it may hold quoted line breaks), so columns are named
    # f0, f1, ... until it is known; ``width`` (cells on the header's first line) bounds
    # how many to type as text, and a wider table is read again with every column typed.
    typed = width + _SPARE

    def on_invalid(row: Any) -> str:
        bad.append(row)
        return "skip"

    while True:
        if first is not None:
            table = first[0]
            if first[1]:
                bad.append(None)
            first = None
        else:
            table = _read_csv(text, sep, skip, typed, on_invalid, where)
        if table.num_columns <= typed:
            break
        typed = table.num_columns
        bad.clear()
    if b'"' in text and _quote_left_open(table):
        # A quote opened and never closed: Arrow reads the rest of the file into that one
        # cell, where the detecting reader refuses the file (and a lone quote inside an
        # unquoted cell is read by its rules too).
        return ragged()
    if bad:
        # Rare: rows with more or fewer cells than the header. The detecting reader's grid
        # (ragged rows padded, each row's cells as written) says which and where.
        return ragged()
    import pyarrow.compute as pc

    if table.num_columns > MAX_COLUMNS:
        raise ParseError(
            f"the table has {table.num_columns} columns; layout: tidy reads up to {MAX_COLUMNS}",
            location=where,
        )
    if table.num_rows == 0:
        raise ParseError("the table has no cells", location=where, hint="check skip_rows")
    names = _names(table.slice(0, 1))
    _check_header(names, where, skip + 1)
    if "__row" in names:
        raise _DetectError  # the reader's own column of record numbers
    table = table.slice(1)
    # Runs of whitespace become one space, as the detecting reader does. RE2's ``\s`` is
    # one of space, tab, line feed, form feed, carriage return: in a file holding no tab,
    # form feed, carriage return nor double space only a quoted line break can make a run,
    # and a literal search finds it faster than the regex.
    raw = np.frombuffer(text, dtype=np.uint8)
    space = raw == ord(" ")
    runs = any(sign in text for sign in (b"\t", b"\f", b"\r")) or _double_space(space)
    # A quoted cell may hold a line break only if the file has more line feeds than the
    # records read (header included) end with: else no column needs the search.
    line_feeds = skip + table.num_rows + 1 - (0 if text.endswith(b"\n") else 1)
    feed = raw == ord("\n")
    feeds = int(np.count_nonzero(feed))
    # A blank line before the last record, which Arrow skips where the detecting reader
    # counts it as a row (every record after it would be numbered a row early in the
    # findings; blank lines at the end change no number). Lines that end with a line feed
    # alone have one only when there are more line feeds than records.
    if (b"\r" in text or feeds != line_feeds) and _blank_line(text, feed):
        return ragged()
    spans = b'"' in text and feeds != line_feeds
    # Trimming every cell is a pass per column; a file whose bytes show no whitespace at
    # the edge of a cell (the usual export) skips it.
    trim = runs or spans or len(sep) != 1 or _edge_space(text, raw, space, sep, feed)
    columns = []
    for name in table.column_names:
        column = table.column(name)
        if runs:
            collapse = pc.any(pc.match_substring_regex(column, r"\s\s|[^\S ]")).as_py()
        else:
            collapse = spans and pc.any(pc.match_substring(column, "\n")).as_py()
        if collapse:
            column = pc.replace_substring_regex(column, r"\s+", " ")
        columns.append(pc.utf8_trim_whitespace(column) if trim else column)
    out = pa.table(columns, names=names)
    return out.append_column("__row", pa.array(np.arange(out.num_rows, dtype=np.int64))), names, []


def _names(header: pa.Table) -> list[str]:
    """The cells of ``header`` (one row of text) as the detecting reader strips every cell:
    runs of ASCII whitespace as one space (RE2's ``\\s``), then Unicode whitespace trimmed
    at the ends (a no-break space inside a name stays)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    cells = pa.array([column[0].as_py() or "" for column in header.columns], pa.string())
    return [
        str(name)
        for name in pc.utf8_trim_whitespace(
            pc.replace_substring_regex(cells, r"\s+", " ")
        ).to_pylist()
    ]


def _quote_left_open(table: pa.Table) -> bool:
    """Whether a cell of the last record ends with a line end: where Arrow puts the rest of
    a file (which ends with one, see ``_head``) after a quote never closed. A quoted cell
    that really ends with a line break is sent to the detecting reader's rules too, which
    read it alike."""
    if not table.num_rows:
        return False
    # One row, its few cells in Python: a kernel per column cost more (0.2 ms a file).
    last = table.slice(table.num_rows - 1).to_pylist()[0].values()
    return any(isinstance(cell, str) and cell.endswith(("\r", "\n")) for cell in last)


_BLANK_LINE = re.compile(rb"(?:\r\n|\n|\r(?!\n))(?:\r\n|\n|\r(?!\n))")


def _blank_line(text: bytes, feed: Any) -> bool:
    """Whether a line of ``text`` before its last record is empty (two line ends in a row;
    ``feed`` marks its line feeds): one vectorized pass when lines end with a line feed
    alone."""
    end = len(text.rstrip(b"\r\n"))
    if b"\r" in text:
        return _BLANK_LINE.search(text, 0, end) is not None
    body = feed[:end]
    return bool((body[1:] & body[:-1]).any())


def _edge_space(
    text: bytes, raw: np.ndarray[Any, Any], space: np.ndarray[Any, Any], sep: str, feed: Any
) -> bool:
    """Whether a cell may begin or end with whitespace, in a file with no tab, carriage
    return, form feed, double space nor quoted line break (``_read`` checked): False only
    when its whitespace is single spaces and the line feeds ending records, and no space
    touches a separator, a quote, a line feed or an end of the file. ``space`` and
    ``feed`` mark the spaces and line feeds of ``raw`` (the bytes)."""
    import numpy as np

    if not text.isascii() or int(np.count_nonzero(raw < 0x20)) != int(np.count_nonzero(feed)):
        return True  # Unicode spaces or other control characters: trim as always
    if text.startswith(b" ") or text.endswith(b" "):
        return True
    # One vectorized pass each (a substring search per sign is several times slower).
    edge = feed | (raw == ord(sep)) | (raw == ord('"'))
    return bool((space[1:] & edge[:-1]).any() or (space[:-1] & edge[1:]).any())


def _double_space(space: np.ndarray[Any, Any]) -> bool:
    """Whether two spaces follow each other, ``space`` marking the spaces of the bytes (one
    vectorized pass: ``b"  " in text`` is a slow substring search)."""
    return bool((space[1:] & space[:-1]).any())


def _read_ragged(
    text: bytes, sep: str, skip: int, where: Location
) -> tuple[pa.Table, list[str], list[Finding]]:
    """:func:`_read` for a file with ragged rows, by the detecting reader's rules: a row
    with a cell past the header's last column is an error naming its row and column (its
    cells would land under the wrong headers); a row with fewer cells is read as written,
    the missing cells empty, and reported in a ``short-row`` warning (file, row, column).
    Rows are numbered as the detecting reader numbers them (records, 1-based)."""
    import numpy as np
    import pyarrow as pa

    from welfare_observatory.sources.tabular import _short_rows
    from welfare_observatory.sources.tabular_grid import read_csv_grid

    grid = read_csv_grid(text, encoding="utf-8", separator=sep, where=where)
    cells = grid.cells
    if skip >= len(cells):
        raise ParseError("the table has no cells", location=where, hint="check skip_rows")
    header = cells.iloc[skip]
    filled = [int(c) for c in header.index if header[c] != ""]
    width = int(grid.widths.iloc[skip]) if grid.widths is not None else max(filled, default=0) + 1
    names = [str(header[c]) for c in cells.columns[:width]]  # the grid's cells are stripped
    _check_header(names, where, skip + 1)
    body = cells.iloc[skip + 1 :]
    beyond = [c for c in body.columns if int(c) >= width]
    if beyond and not body.empty:
        past = body[beyond].ne(_EMPTY)
        rows = past.any(axis=1)
        if bool(rows.any()):
            first = rows.index[rows.to_numpy()][0]
            column = next(int(c) for c in beyond if bool(past.at[first, c]))
            have = int(grid.widths.loc[first]) if grid.widths is not None else column + 1
            raise ParseError(
                f"malformed CSV: row {int(first) + 1} has {have} cells where the header has "
                f"{width} (a value in column {column + 1}, which has no header)",
                location=Location(
                    source=where.source, file=where.file, row=int(first) + 1, column=column + 1
                ),
                hint="a separator inside an unquoted cell, or a row that lost its alignment: "
                "fix the row; nothing is shifted to guess",
            )
    body = body[list(cells.columns[:width])]
    notes = _short_rows(body, grid.widths, dict(enumerate(names)), where)
    out = pa.table(
        [pa.array(body[c].to_numpy(dtype=object), pa.string()) for c in body.columns],
        names=names,
    )
    # ``__row`` + the first record's row (skip + 2) is the record's 1-based row.
    rows_index = np.asarray(body.index, dtype=np.int64) - (skip + 1)
    return out.append_column("__row", pa.array(rows_index)), names, notes


def _read_csv(
    text: bytes, sep: str, skip: int, typed: int, on_invalid: Any, where: Location
) -> pa.Table:
    import pyarrow as pa

    try:
        return _arrow_csv(text, sep, skip, typed, on_invalid, block=None)
    except pa.ArrowInvalid as exc:
        if "straddles" not in str(exc) or len(text) >= _MAX_BLOCK:
            raise ParseError(f"malformed CSV: {exc}", location=where) from None
    # A cell longer than Arrow's block (1 MiB): read in one block as long as the file.
    try:
        return _arrow_csv(text, sep, skip, typed, on_invalid, block=len(text) + 1)
    except pa.ArrowInvalid as exc:
        raise ParseError(f"malformed CSV: {exc}", location=where) from None


_MAX_BLOCK = (1 << 31) - 1
"""Arrow's largest block (a 32-bit size): a longer file with a cell over 1 MiB is refused."""


def _arrow_csv(
    text: bytes, sep: str, skip: int, typed: int, on_invalid: Any, *, block: int | None
) -> pa.Table:
    import pyarrow as pa
    import pyarrow.csv as pcsv

    read = pcsv.ReadOptions(
        skip_rows=skip, autogenerate_column_names=True, use_threads=len(text) > 1 << 22
    )
    if block is not None:
        read.block_size = block
    return pcsv.read_csv(
        # Arrow reads the bytes in place (a Python file object is read through the GIL).
        pa.BufferReader(text),
        read_options=read,
        parse_options=pcsv.ParseOptions(
            delimiter=sep, newlines_in_values=True, invalid_row_handler=on_invalid
        ),
        convert_options=pcsv.ConvertOptions(
            column_types={f"f{i}": pa.string() for i in range(typed)},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )


def _drop_blank_rows(table: pa.Table) -> pa.Table:
    import pyarrow.compute as pc

    names = [name for name in table.column_names if name != "__row"]
    if not names:
        return table
    # A blank row has an empty first cell: a first column without one rules them all out
    # in one pass instead of one per column.
    if not _has_empty(table.column(names[0])):
        return table
    filled = None
    for name in names:
        here = pc.not_equal(table.column(name), "")
        filled = here if filled is None else pc.or_(filled, here)
    if filled is None or pc.all(filled).as_py():
        return table
    return table.filter(filled)


def _codes(name: str, column: pa.ChunkedArray, options: TabularOptions) -> pa.ChunkedArray:
    import pyarrow.compute as pc

    blank = _has_empty(column)
    empty = pc.equal(column, "") if blank else None
    for pattern, width in options.zero_pad.items():
        if fnmatch.fnmatchcase(name, pattern):
            column = _zero_padded(column, width)
            break
    if empty is None:
        return column
    return pc.if_else(empty, None, column)


def _zero_padded(column: pa.ChunkedArray, width: int) -> pa.ChunkedArray:
    """Cells padded with zeros on the left to ``width``, after a leading sign (``-1`` is
    ``-00001``), as Python's ``str.zfill`` pads them in the detecting reader."""
    import pyarrow.compute as pc

    padded = pc.utf8_lpad(column, width=width, padding="0")
    signed = pc.match_substring_regex(column, "^[+-]")
    if not pc.any(signed).as_py():
        return padded
    sign = pc.utf8_slice_codeunits(column, 0, 1)
    rest = pc.utf8_lpad(pc.utf8_slice_codeunits(column, 1), width=width - 1, padding="0")
    return pc.if_else(signed, pc.binary_join_element_wise(sign, rest, ""), padded)


def _has_empty(column: pa.ChunkedArray) -> bool:
    """Whether a cell of a text column is empty, read off the string offsets (two equal
    offsets) instead of a comparison of every cell."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    for chunk in column.chunks:
        if chunk.type != pa.string() or chunk.null_count:
            return bool(pc.any(pc.equal(column, "")).as_py())
        if not len(chunk):
            continue  # Arrow allows an empty string array without an offsets buffer
        offsets = np.frombuffer(
            chunk.buffers()[1], dtype=np.int32, count=len(chunk) + 1, offset=chunk.offset * 4
        )
        if (offsets[1:] == offsets[:-1]).any():
            return True
    return False


def _values(
    column: pa.ChunkedArray,
    options: TabularOptions,
    *,
    decimal: str,
    thousands: str,
    strict: bool,
    where: Location,
    rows: pa.ChunkedArray,
    first_row: int,
    notes: list[Finding],
    present: Collection[str] = ("%", "#"),
) -> tuple[pa.ChunkedArray, pa.ChunkedArray, pa.ChunkedArray, pa.ChunkedArray | None] | None:
    """Values, OBS_STATUS, CONF_STATUS and the percent-sign cells (None when none), by the
    rules of ``tabular_values.parse_values`` (error values and undeclared "not available"
    signs are missing, with a finding). ``present``: of ``%`` and ``#``, those the file holds."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from welfare_observatory.sources.tabular_values import (
        ERROR_VALUE,
        NOT_AVAILABLE,
        PERCENT_SIGN,
        number_pattern,
    )

    if (
        strict
        and "%" not in present
        and column.null_count == 0
        and pc.all(pc.ascii_is_decimal(column)).as_py()
    ):
        # ASCII digits alone in every cell (counts, the usual export): each cell is a number
        # in any number format (no sign, separator, marker nor empty cell), with status A/F.
        return _all_numbers(column, None)
    empty = pc.equal(column, "")
    pattern = number_pattern(decimal, thousands)
    # A literal search first: the regexes below find nothing in a column without the sign.
    percent = (
        pc.match_substring_regex(column, "^" + pattern + PERCENT_SIGN + "$")
        if "%" in present and pc.any(pc.match_substring(column, "%")).as_py()
        else None
    )
    has_percent = percent is not None and bool(pc.any(percent).as_py())
    if has_percent:
        stripped = pc.replace_substring_regex(column, PERCENT_SIGN + "$", "")
        column = pc.if_else(percent, stripped, column)
    is_number = pc.match_substring_regex(column, "^" + pattern + "$")
    none = pc.and_(empty, False)
    # A column of numbers and empty cells alone (a clean export) holds no marker, error value
    # or "not available" sign (each is a non-empty cell that is not a number; markers are
    # never empty): their masks are known to be empty without a pass over the cells each.
    plain = bool(pc.all(pc.or_(is_number, empty)).as_py())
    signs = () if plain else options.markers
    hits = {sign: pc.and_(pc.equal(column, sign), pc.invert(is_number)) for sign in signs}
    marked = none
    for hit in hits.values():
        marked = pc.or_(marked, hit)
    if not plain and "#" in present and pc.any(pc.match_substring(column, "#")).as_py():
        free = pc.invert(pc.or_(is_number, marked))
        error_cell = pc.and_(pc.match_substring_regex(column, "^" + ERROR_VALUE + "$"), free)
    else:
        error_cell = none
    if plain:
        # Nothing is marked (see above): the masks below stay empty without a kernel call.
        n_declared, not_available = 0, none
    else:
        marked = pc.or_(marked, error_cell)
        n_declared = pc.sum(marked).as_py() or 0
        not_available = pc.and_(
            pc.is_in(pc.utf8_lower(column), pa.array(sorted(NOT_AVAILABLE), pa.string())),
            pc.invert(pc.or_(is_number, marked)),
        )
        marked = pc.or_(marked, not_available)
    if not strict:
        n_numbers = pc.sum(is_number).as_py() or 0
        n_marked = 0 if plain else pc.sum(marked).as_py() or 0
        n_text = (
            0 if plain else pc.sum(pc.invert(pc.or_(pc.or_(is_number, marked), empty))).as_py() or 0
        )
        zeros = pc.any(pc.and_(is_number, pc.match_substring_regex(column, _LEADING_ZERO))).as_py()
        if n_numbers + n_declared == 0 or n_text * 2 > n_numbers + n_marked or zeros:
            return None
    bad = none if plain else pc.invert(pc.or_(pc.or_(is_number, marked), empty))
    if not plain and pc.any(bad).as_py():
        first = int(pc.indices_nonzero(bad.combine_chunks())[0].as_py())
        raise ParseError(
            f"cell {column[first].as_py()!r} is neither a number nor a declared marker",
            location=Location(
                source=where.source,
                file=where.file,
                column=where.column,
                row=int(rows[first].as_py()) + first_row,
            ),
            hint=(
                f"numbers are read with decimal {decimal!r} and thousands {thousands!r}; "
                "declare the sign under markers (with its value and status), fix decimal/"
                "thousands, or read the column as text with dtypes: {column: string}"
            ),
        )
    cleaned = column
    if thousands != "none":
        cleaned = pc.replace_substring(cleaned, thousands, "")
    if decimal != ".":
        cleaned = pc.replace_substring(cleaned, decimal, ".")
    has_empty = bool(pc.any(empty).as_py())
    # As the detecting reader: only when neither sign is declared (one settles the other).
    ambiguous = options.decimal == "auto" and options.thousands == "auto"
    if plain and not has_empty:
        # Every cell is a number (a clean export): the masks below are all true, so the
        # values are the cells cast and every status is A/F, without a selection per row.
        if ambiguous:
            notes += _ambiguous(column, is_number, decimal, thousands, where, rows, first_row)
        return _all_numbers(cleaned, percent if has_percent else None)
    values = pc.cast(pc.if_else(is_number, cleaned, None), pa.float64())
    status = pc.if_else(is_number, "A", None)
    conf = pc.if_else(is_number, "F", None)
    # Empty cells that are not numbers take the ``empty`` marker; a column without an
    # empty cell (the usual export) skips building that mask.
    empties = [("", pc.and_(empty, pc.invert(is_number)))] if has_empty else []
    for sign, hit in [*hits.items(), *empties]:
        if not pc.any(hit).as_py():
            continue  # a sign the column does not use changes nothing
        marker = options.markers[sign] if sign else options.empty
        values = pc.if_else(hit, pa.scalar(marker.value, pa.float64()), values)
        status = pc.if_else(hit, marker.obs_status.value, status)
        conf = pc.if_else(hit, marker.conf_status.value, conf)
    for code, hit in (("error-cell", error_cell), ("not-available", not_available)):
        if not plain and pc.any(hit).as_py():
            status = pc.if_else(hit, "O", status)
            notes.append(_unread(code, column, hit, where, rows, first_row))
    if ambiguous:  # after the cells read as missing, as the detecting reader lists them
        notes += _ambiguous(column, is_number, decimal, thousands, where, rows, first_row)
    return (
        values,
        pc.fill_null(status, "A"),
        pc.fill_null(conf, "F"),
        percent if has_percent else None,
    )


_SETTLED_HEAD = 64
"""Rows of a value column looked at in Python for a cell that settles how a sign reads,
before the column is searched whole."""


def _ambiguous(
    column: pa.ChunkedArray,
    is_number: pa.ChunkedArray,
    decimal: str,
    thousands: str,
    where: Location,
    rows: pa.ChunkedArray,
    first_row: int,
) -> list[Finding]:
    """The detecting reader's ``ambiguous-number`` warnings (``tabular_values``): cells like
    ``1.234`` read with an undeclared sign one way, when no cell of the column settles it.
    A literal search first: most columns hold neither sign."""
    import pyarrow.compute as pc

    from welfare_observatory.sources.tabular_values import ambiguous_finding, grouped_pattern

    found: list[Finding] = []
    head = column.slice(0, _SETTLED_HEAD).to_pylist()
    numbers = is_number.slice(0, _SETTLED_HEAD).to_pylist()
    for sign in sorted({decimal, thousands} - {"none"}):
        grouped_text = re.compile(grouped_pattern(sign))
        if any(
            n and sign in str(c) and not grouped_text.fullmatch(str(c))
            for c, n in zip(head, numbers, strict=True)
        ):
            continue  # settled in the first rows (a column of decimals: the usual case)
        holds = pc.and_(pc.match_substring(column, sign), is_number)
        if not pc.any(holds).as_py():
            continue
        grouped = pc.and_(pc.match_substring_regex(column, f"^{grouped_pattern(sign)}$"), holds)
        if not pc.any(grouped).as_py() or pc.any(pc.and_(holds, pc.invert(grouped))).as_py():
            continue
        first = int(pc.indices_nonzero(grouped.combine_chunks())[0].as_py())
        found.append(
            ambiguous_finding(
                sign,
                decimal,
                cell=str(column[first].as_py()),
                count=int(pc.sum(grouped).as_py() or 0),
                row=int(rows[first].as_py()) + first_row,
                where=where,
            )
        )
    return found


def _all_numbers(
    cells: pa.ChunkedArray, percent: pa.ChunkedArray | None
) -> tuple[pa.ChunkedArray, pa.ChunkedArray, pa.ChunkedArray, pa.ChunkedArray | None]:
    """:func:`_values` of a column whose every cell is a plain number (``cells`` cleaned of
    separators): the cells cast, every status A/F."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(cells)
    return (
        pc.cast(cells, pa.float64()),
        pa.repeat(pa.scalar("A", pa.string()), n),
        pa.repeat(pa.scalar("F", pa.string()), n),
        percent,
    )


def _unread(
    code: str,
    column: pa.ChunkedArray,
    hit: pa.ChunkedArray,
    where: Location,
    rows: pa.ChunkedArray,
    first_row: int,
) -> Finding:
    """The finding of cells read as missing, as the detecting reader words it."""
    import pyarrow.compute as pc

    from welfare_observatory.sources.tabular_values import unread_finding

    first = int(pc.indices_nonzero(hit.combine_chunks())[0].as_py())
    signs = sorted(set(pc.unique(column.filter(hit)).to_pylist()))
    return unread_finding(
        code,
        signs,
        count=int(pc.sum(hit).as_py() or 0),
        row=int(rows[first].as_py()) + first_row,
        where=where,
    )
