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
from welfare_observatory.model.observation import ConfStatus, ObsStatus
from welfare_observatory.sources.tabular_options import TabularOptions

__all__ = ["number_pattern", "parse_values"]

_LEADING_ZERO = re.compile(r"^[+-]?0\d")


def number_pattern(decimal: str, thousands: str) -> str:
    """The regex a number cell fully matches, for these separators (``none``: no grouping)."""
    d = re.escape(decimal)
    if thousands == "none":
        integer = r"\d+"
    else:
        t = re.escape(thousands)
        integer = rf"(?:\d{{1,3}}(?:{t}\d{{3}})+|\d+)"
    return rf"[+-]?(?:{integer}(?:{d}\d*)?|{d}\d+)(?:[eE][+-]?\d+)?"


def parse_values(
    column: pd.Series,
    native: pd.Series | None,
    options: TabularOptions,
    *,
    decimal: str,
    thousands: str,
    strict: bool,
    where: Location,
) -> tuple[pd.Series, pd.Series, pd.Series] | None:
    """Values (float64, NaN when missing), OBS_STATUS and CONF_STATUS of a value column.

    Not ``strict`` (auto-detection): returns None when the column does not look like values
    (no number or marker, mostly text, or codes with leading zeros). ``strict``, or once a column is
    taken for values, a cell that is neither a number, a marker nor empty is a ParseError.
    """
    empty = column.eq("")
    is_native = native.fillna(False).astype(bool) if native is not None else _false(column)
    text_number = column.str.fullmatch(number_pattern(decimal, thousands)) & ~is_native
    is_number = is_native | text_number
    marker_hits = {sign: column.eq(sign) & ~is_number for sign in options.markers}
    marked = _false(column)
    for hit in marker_hits.values():
        marked |= hit
    if not strict:
        n_numbers = int(is_number.sum())
        n_text = int((~(is_number | marked | empty)).sum())
        zeros = column[text_number].str.match(_LEADING_ZERO.pattern).any()
        n_marked = int(marked.sum())
        if n_numbers + n_marked == 0 or n_text * 2 > n_numbers + n_marked or zeros:
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
    return values.astype("float64"), status, conf


def _false(column: pd.Series) -> pd.Series:
    return pd.Series(False, index=column.index, dtype=bool)
