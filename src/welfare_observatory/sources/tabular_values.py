"""Value cells to float64 plus statuses: numbers with Italian separators and markers.

Vectorized over a column: a regular expression recognises numbers in the declared format
(``1.253.157``, ``69,1``; thousands groups must have three digits, so ``1.25`` is never read
as 125), each marker is one comparison over the column, and whatever is left is an error.
"""

from __future__ import annotations

import re
from typing import cast

import pandas as pd

from welfare_observatory.errors import Location, ParseError
from welfare_observatory.model.finding import Finding, Severity
from welfare_observatory.model.observation import ConfStatus, ObsStatus
from welfare_observatory.sources.tabular_options import TabularOptions, number_pattern

__all__ = ["ERROR_VALUE", "NOT_AVAILABLE", "number_pattern", "parse_values", "unread_finding"]

_LEADING_ZERO = re.compile(r"^[+-]?0\d")
PERCENT_SIGN = "[ \t\u00a0\u202f]*%"
"""A percent sign after a number, with the spaces an export may put before it (a no-break
space from a spreadsheet's locale): one pattern for Python's ``re`` (the detecting reader)
and RE2 (the tidy reader), whose ``\\s`` differ beyond ASCII."""

ERROR_VALUE = r"#(?:N/A|DIV/0!|VALUE!|REF!|NAME\?|NUM!|NULL!|SPILL!|CALC!|GETTING_DATA)"
"""A spreadsheet error value (``#DIV/0!``): the cell has no number, never 0."""

NOT_AVAILABLE: frozenset[str] = frozenset(
    {"n.d.", "n.d", "nd", "n/d", "n.a.", "n.a", "na", "n/a", "\u2014", "...", "\u2026"}
)
"""Textual "not available" signs (compared case-insensitively) that no option declares:
Italian ``n.d.`` (non disponibile), English ``n.a.``/``N/A``, an em dash and an ellipsis.
Kept short on purpose: each reads as missing (status O) with a finding naming the cell,
never as a number. A sign a source declares under ``markers`` keeps its declared meaning
(Istat's ``-`` is a true zero and ``....`` not available; both are markers, not here)."""


def parse_values(
    column: pd.Series,
    native: pd.Series | None,
    options: TabularOptions,
    *,
    decimal: str,
    thousands: str,
    strict: bool,
    where: Location,
    notes: list[Finding] | None = None,
    formatted_percent: pd.Series | None = None,
) -> tuple[pd.Series, pd.Series, pd.Series, pd.Series | None] | None:
    """Values (float64, NaN when missing), OBS_STATUS, CONF_STATUS of a value column and
    which cells had a trailing percent sign (None when none had one).

    A number followed by ``%`` is read as the number written (``12,5 %`` is 12.5); only
    harmonize knows the indicator's unit, so it keeps the value for a percent indicator
    and reads it as missing with a finding otherwise (see ``PERCENT_SUFFIX``). Native
    numbers in ``formatted_percent`` (a worksheet's percent format, already the number
    shown) are flagged the same way.

    Not ``strict`` (auto-detection): returns None when the column does not look like values
    (no number or marker, mostly text, or codes with leading zeros). ``strict``, or once a column is
    taken for values, a cell that is neither a number, a marker nor empty is a ParseError.
    Spreadsheet error values and undeclared "not available" signs (:data:`NOT_AVAILABLE`)
    are missing (status O) and, like a separator that could be read two ways, are reported
    in ``notes``; a source that declares such a sign under ``markers`` gives it the status
    it means.
    """
    empty = column.eq("")
    is_native = native.fillna(False).astype(bool) if native is not None else _false(column)
    pattern = number_pattern(decimal, thousands)
    percent = column.str.fullmatch(pattern + PERCENT_SIGN) & ~is_native
    if bool(percent.any()):
        column = column.mask(percent, column.str.replace(PERCENT_SIGN + "$", "", regex=True))
    if formatted_percent is not None:
        percent |= formatted_percent.fillna(False).astype(bool) & is_native
    has_percent = bool(percent.any())
    text_number = column.str.fullmatch(pattern) & ~is_native
    is_number = is_native | text_number
    marker_hits = {sign: column.eq(sign) & ~is_number for sign in options.markers}
    marked = _false(column)
    for hit in marker_hits.values():
        marked |= hit
    error_cell = column.str.fullmatch(ERROR_VALUE) & ~is_number & ~marked
    n_declared = int(marked.sum() + error_cell.sum())
    unread = {
        "error-cell": error_cell,
        "not-available": column.str.casefold().isin(NOT_AVAILABLE) & ~is_number & ~marked,
    }
    for hit in unread.values():
        marked |= hit
    if not strict:
        n_numbers = int(is_number.sum())
        n_text = int((~(is_number | marked | empty)).sum())
        zeros = column[text_number].str.match(_LEADING_ZERO.pattern).any()
        n_marked = int(marked.sum())
        # Undeclared signs alone never make a column of values (a column of "n.d." is text).
        if n_numbers + n_declared == 0 or n_text * 2 > n_numbers + n_marked or zeros:
            return None
    bad = ~(is_number | marked | empty)
    if bool(bad.any()):
        first = int(cast(int, bad.idxmax()))
        raise ParseError(
            f"cell {column.loc[first]!r} is neither a number nor a declared marker",
            location=Location(
                source=where.source, file=where.file, column=where.column, row=first + 1
            ),
            hint=(
                f"numbers are read with decimal {decimal!r} and thousands {thousands!r}; "
                "declare the sign under markers (with its value and status), fix decimal/"
                "thousands, or read the column as text with dtypes: {column: string}"
            ),
        )
    values = pd.Series(float("nan"), index=column.index, dtype="float64")
    native_text = column.where(is_native)
    values = values.mask(is_native, pd.to_numeric(native_text, errors="coerce"))
    cleaned = column.where(text_number)
    if thousands != "none":
        cleaned = cleaned.str.replace(thousands, "", regex=False)
    if decimal != ".":
        cleaned = cleaned.str.replace(decimal, ".", regex=False)
    values = values.mask(text_number, pd.to_numeric(cleaned, errors="coerce"))
    status = pd.Series(ObsStatus.NORMAL.value, index=column.index, dtype=object)
    conf = pd.Series(ConfStatus.FREE.value, index=column.index, dtype=object)
    for sign, hit in [*marker_hits.items(), ("", empty & ~is_number)]:
        marker = options.markers[sign] if sign else options.empty
        values = values.mask(hit, marker.value if marker.value is not None else float("nan"))
        status = status.mask(hit, marker.obs_status.value)
        conf = conf.mask(hit, marker.conf_status.value)
    for code, hit in unread.items():
        if bool(hit.any()):
            values = values.mask(hit, float("nan"))
            status = status.mask(hit, ObsStatus.MISSING.value)
            if notes is not None:
                notes.append(_note(code, column, hit, where))
    # Only when neither sign is declared: a declared one settles the other.
    if notes is not None and options.decimal == "auto" and options.thousands == "auto":
        notes += _ambiguous(column, text_number, decimal, thousands, where)
    return values.astype("float64"), status, conf, percent if has_percent else None


_WHAT = {
    "error-cell": (
        "spreadsheet error values read as missing (status O)",
        "the file was saved with formulas that failed: fix them and export again",
    ),
    "not-available": (
        "'not available' signs no option declares, read as missing (status O)",
        "declare the sign under markers (with its value and status) to give it another "
        "meaning, or ask the publisher for the value",
    ),
}


def _note(code: str, column: pd.Series, hit: pd.Series, where: Location) -> Finding:
    first = int(cast(int, hit.idxmax()))
    signs = sorted(set(column[hit]))
    return unread_finding(code, signs, count=int(hit.sum()), row=first + 1, where=where)


def unread_finding(
    code: str, signs: list[str], *, count: int, row: int, where: Location
) -> Finding:
    """The warning for ``count`` cells read as missing (``error-cell``, ``not-available``);
    ``row`` is the 1-based row of the first, ``where`` names file, source and column."""
    what, hint = _WHAT[code]
    shown = ", ".join(repr(v) for v in signs[:5])
    return Finding(
        code=code,
        severity=Severity.WARNING,
        message=f"{count} cells: {what}: {shown}" + _in_file(where),
        hint=hint,
        source=where.source,
        column=None if where.column is None else str(where.column),
        row=row,
        count=count,
    )


def grouped_pattern(sign: str) -> str:
    """A number of one to three digits, ``sign`` and three digits (``1.234``): read as a
    thousand and more with ``sign`` a thousands separator, as a fraction with it a decimal
    sign (both readers' ``ambiguous-number``)."""
    return rf"[+-]?[0-9]{{1,3}}{re.escape(sign)}[0-9]{{3}}"


def _ambiguous(
    column: pd.Series, text_number: pd.Series, decimal: str, thousands: str, where: Location
) -> list[Finding]:
    """Numbers like ``1.234`` that the undeclared format reads one way and a reader of the
    other convention another (1234 or 1.234), when no cell of the column settles it."""
    found: list[Finding] = []
    for sign in sorted({decimal, thousands} - {"none"}):
        looks_grouped = column.str.fullmatch(grouped_pattern(sign)) & text_number
        if not bool(looks_grouped.any()):
            continue
        settled = text_number & column.str.contains(sign, regex=False) & ~looks_grouped
        if bool(settled.any()):
            continue
        first = int(cast(int, looks_grouped.idxmax()))
        found.append(
            ambiguous_finding(
                sign,
                decimal,
                cell=str(column.loc[first]),
                count=int(looks_grouped.sum()),
                row=first + 1,
                where=where,
            )
        )
    return found


def ambiguous_finding(
    sign: str, decimal: str, *, cell: str, count: int, row: int, where: Location
) -> Finding:
    """The ``ambiguous-number`` warning: ``count`` cells such as ``cell`` (the first, on
    1-based ``row``) read with ``sign`` as the format says, which nothing confirms."""
    reading = "a decimal sign" if sign == decimal else "a thousands separator"
    return Finding(
        code="ambiguous-number",
        severity=Severity.WARNING,
        message=f"{count} cells such as {cell!r} were read with {sign!r} as {reading}, which "
        "no declaration and no other cell of the column confirms" + _in_file(where),
        hint="declare decimal (and thousands) in the source's options",
        source=where.source,
        column=None if where.column is None else str(where.column),
        row=row,
        count=count,
    )


def _in_file(where: Location) -> str:
    return f" (file {where.file})" if where.file else ""


def _false(column: pd.Series) -> pd.Series:
    return pd.Series(False, index=column.index, dtype=bool)
