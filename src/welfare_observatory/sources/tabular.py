"""Read a table as Italian public bodies publish it (CSV or XLSX) into a pyarrow Table.

The pure reader behind the ``table`` and ``ckan`` sources: bytes in, Table out, no I/O.

Output convention: code columns are strings (leading zeros kept: ``"096004"``); each value
column is float64 and is followed by ``<col>__status`` (SDMX OBS_STATUS: ``A`` for a number,
else what the marker says) and ``<col>__conf`` (SDMX CONF_STATUS, ``F`` unless a marker says
otherwise). Wide tables stay wide (years as columns); harmonization melts them. Section rows
(a label alone in the first column, such as ``DIPLOMA``, when the row labels repeat under
each section) become a column named by ``section_column``, first in the table.

Layout detection (each step can be declared instead): the header is the first row with at
least half the cells of the fullest row (title rows have one); the rows after it that fill
its gaps with text (under merged cells) are further header levels; after the last row with
two or more cells, notes ("Fonte: ...", "(a) ...") are a footer and are dropped; columns
with neither header nor data (spacers) are dropped.

Which columns hold values, unless ``value_columns`` or ``dtypes`` say so: in SDMX-CSV and
I.Stat exports only ``OBS_VALUE`` / ``Value``; otherwise never the first column (row
labels) nor a header matching ``code_header_pattern`` (``Codice ...``, ``ANNI``, ``SEX``);
always a year-like header (``2023``, ``2023 | Maschi``); else a column whose cells are
mostly numbers or markers, without leading zeros (``017`` is a code).
"""

from __future__ import annotations

import fnmatch
import math
import re
from typing import Any, cast

import pandas as pd
import pyarrow as pa

from welfare_observatory.errors import Location, ParseError
from welfare_observatory.model.finding import Finding, Severity
from welfare_observatory.sources.notes import attach_findings
from welfare_observatory.sources.tabular_grid import (
    Grid,
    read_csv_grid,
    read_xlsx_grid,
    sniff_format,
)
from welfare_observatory.sources.tabular_options import (
    CONF_SUFFIX,
    PERCENT_SUFFIX,
    STATUS_SUFFIX,
    TabularOptions,
    check_patterns,
    did_you_mean,
    header_line,
    number_format,
)
from welfare_observatory.sources.tabular_values import parse_values

__all__ = ["HEADER_JOIN", "read_grid", "read_table", "table_from_grid", "type_columns"]

HEADER_JOIN = " | "
"""Joins the levels of a multi-row header: ``"15-24 | Straniera"``."""

_EMPTY: Any = ""  # typed Any: pandas-stubs reject a str operand of DataFrame.ne
_SDMX_VALUE_COLUMNS = ("OBS_VALUE", "Value")
_YEAR_HEADER = re.compile(r"^(?:19|20)\d{2}(?:\b|$)")


def read_table(
    data: bytes,
    options: TabularOptions | None = None,
    *,
    file: str | None = None,
    source: str | None = None,
) -> pa.Table:
    """Parse CSV or XLSX bytes into a source table (see the module docstring for the shape).

    ``file`` and ``source`` only name the place in errors. Raises ParseError.
    """
    options = options or TabularOptions()
    where = Location(source=source, file=file)
    grid = read_grid(data, options, where)
    return table_from_grid(grid, options, where)


def read_grid(data: bytes, options: TabularOptions, where: Location) -> Grid:
    """The raw cell grid of a CSV or XLSX payload."""
    if not data.strip():
        raise ParseError("the file is empty", location=where, hint="check the path or the URL")
    try:
        fmt = sniff_format(data) if options.format == "auto" else options.format
    except ParseError as exc:
        raise ParseError(exc.message, location=where, hint=exc.hint) from None
    if fmt == "xlsx":
        return read_xlsx_grid(
            data,
            sheet=options.sheet,
            max_bytes=options.max_uncompressed_bytes,
            max_ratio=options.max_compression_ratio,
            where=where,
        )
    if data.startswith(b"PK\x03\x04"):
        raise ParseError(
            "the file is a zip/XLSX workbook but format is csv",
            location=where,
            hint="set format: xlsx (or auto)",
        )
    return read_csv_grid(data, encoding=options.encoding, separator=options.separator, where=where)


def table_from_grid(grid: Grid, options: TabularOptions, where: Location) -> pa.Table:
    """Find header, body, sections and footer in ``grid``, then type every column."""
    cells = grid.cells.iloc[options.skip_rows :]
    nonempty = cells.ne(_EMPTY)
    counts = nonempty.sum(axis=1)
    if not bool(counts.any()):
        raise ParseError("the table has no cells", location=where, hint="check skip_rows")
    start = _header_start(counts, options, where, grid)
    depth = options.header_rows or _header_depth(cells, nonempty, start)
    header = cells.loc[start : start + depth - 1]
    body = cells.loc[start + depth :]
    body = body[nonempty.loc[body.index].any(axis=1)]
    names = _column_names(header)
    _refuse_ragged(body, names, where)
    notes = list(grid.findings)
    notes += _short_rows(body, grid.widths, names, where)
    keep = [int(c) for c in cells.columns if names[int(c)] or bool(body[c].ne(_EMPTY).any())]
    body = body[keep]
    names = _unique({c: names[c] or f"column_{c + 1}" for c in keep})
    if options.footer == "auto" and len(keep) > 1:
        body = _drop_footer(body)
    body, sections = _split_sections(body, options)
    body = body.rename(columns=names)
    native = percent = None
    if grid.native_numbers is not None:
        native = grid.native_numbers.loc[body.index, keep].rename(columns=names)
    if grid.percent_cells is not None:
        percent = grid.percent_cells.loc[body.index, keep].rename(columns=names)
    body = _select(body, options, where)
    if body.empty:
        notes.append(
            Finding(
                code="no-rows",
                severity=Severity.WARNING,
                message="the table has a header and no data rows"
                + (f" (file {where.file})" if where.file else ""),
                hint="check the file (an export cut short?) or header_row",
                source=where.source,
                row=start + depth,
            )
        )
    table = type_columns(
        body,
        options,
        where,
        native=native,
        percent_format=percent,
        sections=sections,
        separator=grid.separator,
    )
    return attach_findings(table, notes)


def _refuse_ragged(body: pd.DataFrame, names: dict[int, str], where: Location) -> None:
    """Refuse rows with cells past the header's last column, when only some rows have
    them: such a row has more cells than the header, and no reading of it is safe
    (taking it as is would shift its cells under the wrong headers)."""
    named = [c for c, name in names.items() if name]
    if not named or body.empty:
        return
    beyond = [c for c in body.columns if int(c) > max(named)]
    if not beyond:
        return
    filled = body[beyond].ne(_EMPTY)
    rows = filled.any(axis=1)
    # A whole column without a header (row labels, a unit column) is a layout, not a
    # ragged row: only a minority of rows reaching past the header is.
    if not bool(rows.any()) or int(rows.sum()) * 2 > len(body):
        return
    first = int(cast(int, rows.idxmax()))
    column = next(c for c in beyond if bool(filled[c].loc[first]))
    raise ParseError(
        f"row {first + 1} has more cells than the header "
        f"(a value in column {int(column) + 1}, which has no header)",
        location=Location(
            source=where.source,
            file=where.file,
            sheet=where.sheet,
            row=first + 1,
            column=int(column) + 1,
        ),
        hint="a separator inside an unquoted cell, or a row that lost its alignment: "
        "fix the row; nothing is shifted to guess",
    )


def _short_rows(
    body: pd.DataFrame, widths: pd.Series | None, names: dict[int, str], where: Location
) -> list[Finding]:
    """A warning for data rows (two or more cells) written with fewer cells than the
    header: their missing cells read as empty, which the file does not say. Rows of one
    cell are titles, section labels and notes, not short rows."""
    named = [c for c, name in names.items() if name]
    if widths is None or not named or body.empty:
        return []
    need = max(named) + 1
    data_rows = body.ne(_EMPTY).sum(axis=1) >= 2
    short = widths.reindex(body.index).lt(need) & data_rows
    if not bool(short.any()):
        return []
    first = int(cast(int, short.idxmax()))
    have = int(widths.loc[first])
    return [
        Finding(
            code="short-row",
            severity=Severity.WARNING,
            message=f"{int(short.sum())} rows have fewer cells than the header; first: row "
            f"{first + 1} has {have} where the header has {need}: the missing cells "
            f"({names.get(have) or f'column {have + 1}'} onwards) are read as empty"
            + (f" (file {where.file})" if where.file else ""),
            hint="a row cut short by the export or a lost separator: check the row; its "
            "values are read as written, never shifted",
            source=where.source,
            column=names.get(have) or None,
            row=first + 1,
            count=int(short.sum()),
        )
    ]


def _header_start(counts: pd.Series, options: TabularOptions, where: Location, grid: Grid) -> int:
    if options.header_row is not None:
        start = header_line(options, where)
        if start not in counts.index:
            raise ParseError(
                f"header_row {options.header_row} is past the end of the table",
                location=where,
                hint=f"the table has {grid.cells.shape[0]} rows (after skip_rows)",
            )
        return start
    # A header has at least half the cells of the fullest row: title rows have one.
    threshold = max(min(2, int(counts.max())), math.ceil(0.5 * int(counts.max())))
    return int(counts[counts >= threshold].index[0])


def _header_depth(cells: pd.DataFrame, nonempty: pd.DataFrame, start: int) -> int:
    """1 + the rows after the header that fill its gaps (under merged cells) with text only."""
    depth = 1
    covered = nonempty.loc[start].copy()
    for row in range(start + 1, min(start + 3, int(cast(int, cells.index[-1])) + 1)):
        here = nonempty.loc[row]
        texts = cells.loc[row][here.to_numpy(dtype=bool)]
        numbers = texts.str.fullmatch(r"[+-]?[\d.,]+")
        # Years under a merged "Anni" cell are header cells; a row label makes it data.
        years = texts.str.fullmatch(_YEAR_HEADER.pattern + ".*") & (not bool(here.iloc[0]))
        numeric = bool((numbers & ~years).any())
        if not here.any() or numeric or not bool((here & ~covered).any()):
            break
        covered |= here
        depth += 1
    return depth


def _column_names(header: pd.DataFrame) -> dict[int, str]:
    """Join header levels, forward-filling an upper level over the columns it spans."""
    levels = header.reset_index(drop=True)
    parts = []
    for i in range(len(levels)):
        level = levels.iloc[i]
        lower = levels.iloc[i + 1 :].ne(_EMPTY).any(axis=0) if i + 1 < len(levels) else None
        if lower is not None:
            filled = level.replace("", pd.NA).ffill().fillna("")
            level = filled.where(level.ne(_EMPTY) | lower, "")
        parts.append(level)
    joined = pd.concat(parts, axis=1).apply(
        lambda row: HEADER_JOIN.join(p for p in row if p), axis=1
    )
    return {int(cast(int, c)): str(v) for c, v in joined.items()}


def _unique(names: dict[int, str]) -> dict[int, str]:
    seen: dict[str, int] = {}
    out: dict[int, str] = {}
    for col, name in names.items():
        seen[name] = seen.get(name, 0) + 1
        out[col] = name if seen[name] == 1 else f"{name} ({seen[name]})"
    return out


def _drop_footer(body: pd.DataFrame) -> pd.DataFrame:
    """Drop notes after the last row with two or more cells ("Fonte: Istat", "(a) ...")."""
    full = body.ne(_EMPTY).sum(axis=1) >= 2
    if not bool(full.any()):
        return body
    last = full.index[full.to_numpy()][-1]
    return body.loc[:last]


def _split_sections(
    body: pd.DataFrame, options: TabularOptions
) -> tuple[pd.DataFrame, pd.Series | None]:
    if options.section_column is None or body.shape[1] < 2 or body.empty:
        return body, None
    filled = body.ne(_EMPTY)
    first = body.columns[0]
    is_section = filled[first] & (filled.sum(axis=1) == 1)
    # Sections only where they tell rows apart: the row labels repeat under each of them.
    if not bool(is_section.any()) or not bool(body[first][~is_section].duplicated().any()):
        return body, None
    labels = body[first].where(is_section).ffill()
    keep = ~is_section
    return body[keep], labels[keep].fillna("")


def _select(body: pd.DataFrame, options: TabularOptions, where: Location) -> pd.DataFrame:
    if options.columns is None:
        return body
    missing = [c for c in options.columns if c not in body.columns]
    if missing:
        raise ParseError(
            f"column {missing[0]!r} is not in the table",
            location=Location(source=where.source, file=where.file, column=missing[0]),
            hint=did_you_mean(missing[0], list(body.columns)),
        )
    return body[options.columns]


def _matches(name: str, patterns: list[str] | dict[str, str]) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


def type_columns(
    body: pd.DataFrame,
    options: TabularOptions,
    where: Location,
    *,
    native: pd.DataFrame | None = None,
    percent_format: pd.DataFrame | None = None,
    sections: pd.Series | None = None,
    separator: str | None = None,
) -> pa.Table:
    """Type the named columns of ``body`` (stripped strings, index = 0-based row): codes as
    strings, values as float64 with their ``__status`` and ``__conf`` companions.

    ``native`` flags cells that already are numbers (XLSX, JSON), ``percent_format`` those of them
    a number format shows as a percentage (XLSX); ``separator`` picks the default decimal
    sign (``,``-separated files use the decimal point).
    """
    check_patterns(list(body.columns), options, where)
    code_header = re.compile(options.code_header_pattern)
    sdmx = [c for c in _SDMX_VALUE_COLUMNS if c in body.columns]
    decimal, thousands = number_format(options, separator)
    notes: list[Finding] = []
    arrays: dict[str, pa.Array] = {}
    if sections is not None:
        arrays[options.section_column or "section"] = _strings(sections)
    for position, name in enumerate(body.columns):
        column = body[name]
        forced = _forced_dtype(name, options)
        is_native = native[name] if native is not None else None
        if forced is None:
            if isinstance(options.value_columns, list):
                forced = "float64" if _matches(name, options.value_columns) else "string"
            elif sdmx:
                forced = "float64" if name in sdmx else "string"
            elif position == 0 or code_header.match(name):
                forced = "string"
            elif _YEAR_HEADER.match(name):
                forced = "float64"  # years as columns: every cell must be a value
        if forced == "string":
            arrays[name] = _codes(name, column, options)
            continue
        parsed = parse_values(
            column,
            is_native,
            options,
            formatted_percent=percent_format[name] if percent_format is not None else None,
            decimal=decimal,
            thousands=thousands,
            strict=forced == "float64",
            where=Location(source=where.source, file=where.file, column=name),
            notes=notes,
        )
        if parsed is None:
            arrays[name] = _codes(name, column, options)
            continue
        values, status, conf, percent = parsed
        arrays[name] = pa.array(
            values.to_numpy(dtype="float64"), type=pa.float64(), from_pandas=True
        )
        arrays[name + STATUS_SUFFIX] = pa.array(status.to_numpy(dtype=object), type=pa.string())
        arrays[name + CONF_SUFFIX] = pa.array(conf.to_numpy(dtype=object), type=pa.string())
        if percent is not None:
            arrays[name + PERCENT_SUFFIX] = pa.array(percent.to_numpy(dtype=bool), pa.bool_())
    return attach_findings(pa.table(arrays), notes)


def _codes(name: str, column: pd.Series, options: TabularOptions) -> pa.Array:
    """A code column as strings; ``zero_pad`` restores leading zeros a spreadsheet dropped."""
    for pattern, width in options.zero_pad.items():
        if fnmatch.fnmatchcase(name, pattern):
            column = column.str.zfill(width).where(column.ne(_EMPTY), "")
            break
    return _strings(column)


def _forced_dtype(name: str, options: TabularOptions) -> str | None:
    for pattern, dtype in options.dtypes.items():
        if fnmatch.fnmatchcase(name, pattern):
            return dtype
    return None


def _strings(column: pd.Series) -> pa.Array:
    values = column.to_numpy(dtype=object)
    return pa.array(values, type=pa.string(), mask=(column == "").to_numpy())
