"""Options of the table reader: layout, number format and conventional signs (markers).

These are the fields an observatory YAML may give a ``table`` source (and the ``table``
block of a ``ckan`` source). Defaults follow how Istat and Italian public bodies publish.
"""

from __future__ import annotations

import functools
import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from welfare_observatory.errors import Location, ParseError, closest
from welfare_observatory.model.common import Frozen
from welfare_observatory.model.observation import ConfStatus, ObsStatus

__all__ = [
    "CODE_HEADER_PATTERN",
    "CONF_SUFFIX",
    "ISTAT_MARKERS",
    "MAX_COLUMNS",
    "PERCENT_SUFFIX",
    "STATUS_SUFFIX",
    "Marker",
    "TabularOptions",
    "check_patterns",
    "header_line",
    "number_format",
    "number_pattern",
]

MAX_COLUMNS = 4096
"""Columns a table is read with at most (both readers): layout detection spends about 4 ms
on a column, and a wider file is no table of indicators."""

STATUS_SUFFIX = "__status"
"""Companion column of each value column with its SDMX OBS_STATUS code (``A`` for a number)."""

CONF_SUFFIX = "__conf"
"""Companion column of each value column with its SDMX CONF_STATUS code (``F`` free)."""

PERCENT_SUFFIX = "__percent"
"""Companion of a value column with a percent cell (``12,5%``): true where the cell had a
trailing percent sign. Present only when one did; harmonize keeps such a value only for an
indicator in percent and reads it as missing, with a finding, otherwise."""

CODE_HEADER_PATTERN = (
    r"(?i)^(?:cod(?:ice)?\b.*|code\b.*|.*[_ ](?:id|code|cod)|id|flag\b.*|tipo(?:logia)?\b.*"
    r"|sigla\b.*|progressivo\b.*|anno|anni|year|years|time|time_period|periodo|period"
    r"|sex|sesso|sexistat\d*|freq|frequency|ref_area|itter107)$"
)
"""Headers whose numeric-looking cells are codes, not values (``Codice Regione``, ``ANNI``)."""


class Marker(Frozen):
    """What a conventional sign in a value cell means: the value and the statuses it gets."""

    value: float | None = None
    obs_status: ObsStatus
    conf_status: ConfStatus = ConfStatus.FREE


ISTAT_MARKERS: dict[str, Marker] = {
    # "Linea: il fenomeno non esiste oppure esiste e viene rilevato, ma i casi non si sono
    # verificati" -> a true zero.
    "-": Marker(value=0.0, obs_status=ObsStatus.NORMAL),
    # "Quattro puntini: il fenomeno esiste, ma i dati non si conoscono per qualsiasi ragione".
    "....": Marker(value=None, obs_status=ObsStatus.MISSING),
    # "Due puntini: i numeri non raggiungono la meta' della cifra dell'ordine minimo
    # considerato": the figure rounds to 0 at the precision shown; SDMX calls that N.
    "..": Marker(value=0.0, obs_status=ObsStatus.NON_SIGNIFICANT),
    # "Due punti: dati non significativi o riservati": no value; treated as confidential so
    # that disclosure control never re-derives it.
    ":": Marker(value=None, obs_status=ObsStatus.MISSING, conf_status=ConfStatus.CONFIDENTIAL),
    # Istat's SDMX-CSV downloads write NaN for an observation without a value.
    "NaN": Marker(value=None, obs_status=ObsStatus.MISSING),
}
"""Istat's conventional signs ("segni convenzionali") and SDMX-CSV's ``NaN``: the default
``markers``."""


class TabularOptions(Frozen):
    """How to read a CSV or XLSX table as published (layout, numbers, markers).

    Row numbers are 1-based spreadsheet rows: a quoted cell spanning several lines of a CSV
    counts as one row, as in a spreadsheet application.
    """

    format: Literal["auto", "csv", "xlsx"] = "auto"
    sheet: str | int | None = None
    encoding: Literal["auto", "utf-8", "cp1252"] = "auto"
    separator: Literal["auto", ";", ",", "\t", "|"] = "auto"
    decimal: Literal["auto", ",", "."] = "auto"
    thousands: Literal["auto", "none", ".", ",", " ", "'"] = "auto"
    skip_rows: int = Field(default=0, ge=0)
    header_row: int | None = Field(default=None, ge=1)
    header_rows: int | None = Field(default=None, ge=1, le=5)
    footer: Literal["auto", "none"] = "auto"
    section_column: str | None = "section"
    markers: dict[str, Marker] = Field(default_factory=lambda: dict(ISTAT_MARKERS))
    empty: Marker = Marker(value=None, obs_status=ObsStatus.MISSING)
    columns: list[str] | None = None
    dtypes: dict[str, Literal["string", "float64"]] = Field(default_factory=dict)
    value_columns: Literal["auto"] | list[str] = "auto"
    code_header_pattern: str = CODE_HEADER_PATTERN
    zero_pad: dict[str, int] = Field(default_factory=dict)
    max_uncompressed_bytes: int = Field(default=256 * 1024 * 1024, gt=0)
    max_compression_ratio: float = Field(default=200.0, gt=1)

    @model_validator(mode="after")
    def _one_sign_one_meaning(self) -> TabularOptions:
        if self.decimal != "auto" and self.decimal == self.thousands:
            raise ValueError(
                f"decimal and thousands are both {self.decimal!r}: a number such as "
                f"'1{self.decimal}5' could not be read; declare one of them only"
            )
        # A number cell is read as its number before any marker is looked for: a marker
        # written as a number would never apply, and the declaration would be lost unseen.
        formats = frozenset(number_format(self, separator) for separator in (",", ";"))
        for sign in self.markers:
            if _a_number(sign.strip(), formats):
                raise ValueError(
                    f"marker {sign!r} is a number, which the reader takes as its value: "
                    "a marker is a sign that is not a number (such as '-' or '..'); "
                    "declare how such cells are meant with dtypes or in harmonize"
                )
        return self

    @field_validator("columns")
    @classmethod
    def _columns_once(cls, columns: list[str] | None) -> list[str] | None:
        # A table has one column of a name: both readers failed deep inside on a repeat.
        seen: set[str] = set()
        for name in columns or ():
            if name in seen:
                raise ValueError(f"column {name!r} is listed twice in columns; list it once")
            seen.add(name)
        return columns

    @field_validator("markers")
    @classmethod
    def _markers_are_signs(cls, markers: dict[str, Marker]) -> dict[str, Marker]:
        for sign in markers:
            if not sign.strip():
                raise ValueError("an empty marker is configured with 'empty', not in markers")
        return markers


def number_format(options: TabularOptions, separator: str | None) -> tuple[str, str]:
    """Decimal and thousands separators: declared, or Italian (``,`` and ``.``) unless the
    file is comma-separated (then ``.`` and none, as SDMX-CSV and most exports). Both
    readers (layout detection and the tidy fast path) read numbers this way."""
    decimal = options.decimal
    if decimal == "auto" and options.thousands in (".", ","):
        # A declared thousands separator settles the decimal sign: the other one.
        decimal = "," if options.thousands == "." else "."
    elif decimal == "auto":
        decimal = "." if separator == "," else ","
    thousands = options.thousands
    if thousands == "auto":
        thousands = "." if decimal == "," else "none"
    return decimal, thousands


@functools.lru_cache(maxsize=1024)
def _a_number(text: str, formats: frozenset[tuple[str, str]]) -> bool:
    """Whether ``text`` reads as a number in one of ``formats`` (decimal, thousands). Kept
    per process: every source of an observatory declares the same few markers (160
    sources spent 13 ms of a rebuild matching them)."""
    return any(re.fullmatch(number_pattern(*f), text) for f in formats)


def number_pattern(decimal: str, thousands: str) -> str:
    """The regex a number cell fully matches, for these separators (``none``: no grouping)."""
    # ASCII digits only: Python's ``\\d`` also matches Arabic-Indic or fullwidth digits,
    # which the conversion to float then reads as nothing (a value lost without a word);
    # RE2, which the tidy reader uses, never matched them.
    d = re.escape(decimal)
    if thousands == "none":
        integer = r"[0-9]+"
    else:
        t = re.escape(thousands)
        integer = rf"(?:[0-9]{{1,3}}(?:{t}[0-9]{{3}})+|[0-9]+)"
    return rf"[+-]?(?:{integer}(?:{d}[0-9]*)?|{d}[0-9]+)(?:[eE][+-]?[0-9]+)?"


def header_line(options: TabularOptions, where: Location) -> int:
    """The 0-based line of the header: ``header_row`` counts from the top of the file, the
    skipped rows included (as the detecting reader and the docs count it), else the first
    line after ``skip_rows``."""
    if options.header_row is None:
        return options.skip_rows
    if options.header_row <= options.skip_rows:
        raise ParseError(
            f"header_row {options.header_row} is one of the {options.skip_rows} rows "
            "skip_rows drops",
            location=where,
            hint="header_row counts from the top of the file, skipped rows included",
        )
    return options.header_row - 1


def check_patterns(names: list[str], options: TabularOptions, where: Location) -> None:
    """Every pattern of ``dtypes``, ``zero_pad`` and ``value_columns`` names one of the
    columns ``names`` (both readers): a misspelt value column would be read as text."""
    import fnmatch

    listed = options.value_columns if isinstance(options.value_columns, list) else []
    for pattern in [*options.dtypes, *options.zero_pad, *listed]:
        if not any(fnmatch.fnmatchcase(name, pattern) for name in names):
            raise ParseError(
                f"no column matches {pattern!r} (from dtypes, zero_pad or value_columns)",
                location=Location(source=where.source, file=where.file, column=pattern),
                hint=did_you_mean(pattern, names),
            )


def did_you_mean(name: str, columns: list[str]) -> str:
    """A hint naming the columns closest to ``name``, then the first dozen columns."""
    near = closest(name, columns)
    listed = ", ".join(repr(c) for c in columns[:12]) + (" ..." if len(columns) > 12 else "")
    return ("did you mean " + ", ".join(map(repr, near)) + "? " if near else "") + (
        f"columns: {listed}"
    )
