"""Worksheet number formats that show a percent sign, and the numbers such cells show.

A cell formatted ``0.0%`` stores 0.125 and shows ``12.5%``: the stored value is a ratio and
the number a person reads is 100 times it. A ``%`` inside quotes or after a backslash
(``0.0"%"``) is text: the cell shows the number it stores, followed by a percent sign.
Either way the cell reads as the number shown and is flagged like a text cell with a
trailing ``%``, so harmonization keeps it only for an indicator in percent.
"""

from __future__ import annotations

import re
from enum import IntEnum
from functools import cache

import numpy as np
import pandas as pd

__all__ = ["Percent", "hundredfold", "percent_cells", "percent_kinds"]

# Parts of a format code that print themselves: quoted text, an escaped character, the
# width of a character (_x), a fill character (*x), bracketed colours, conditions, locales.
_TOKEN = re.compile(r'"[^"]*"?|\\.|_.|\*.|\[[^\]]*\]?|;|[^"\\_*\[;]+|.', re.DOTALL)


class Percent(IntEnum):
    """How a format shows a number: without a percent sign, with a literal one, or with
    the ``%`` that multiplies it by 100."""

    NONE = 0
    LITERAL = 1
    SCALED = 2


@cache
def percent_kinds(code: str | None) -> tuple[Percent, Percent, Percent]:
    """How format ``code`` shows a positive, a negative and a zero number.

    Sections follow the spreadsheet convention: one section for every number; two for
    positive and zero, then negative; three for positive, negative, zero. Conditions in
    brackets (``[>=100]``) are not evaluated: sections are taken by sign.
    """
    if not code or "%" not in code:
        return Percent.NONE, Percent.NONE, Percent.NONE
    sections: list[Percent] = [Percent.NONE]
    for part in _TOKEN.findall(code):
        if part == ";":
            sections.append(Percent.NONE)
        elif "%" in part and part[0] != "_":  # _% is a space as wide as a % sign
            printed = part[0] in '"\\*['
            sections[-1] = max(sections[-1], Percent.LITERAL if printed else Percent.SCALED)
    positive = sections[0]
    negative = sections[1] if len(sections) > 1 else positive
    zero = sections[2] if len(sections) > 2 else positive
    return positive, negative, zero


def hundredfold(values: np.ndarray) -> np.ndarray:
    """``values`` (finite float64) times 100, computed on their shortest decimal text.

    0.07 becomes 7.0 (``0.07 * 100`` is 7.000000000000001 in binary floating point): the
    decimal point of the number the spreadsheet stored moves two places, which is the
    number the cell shows. Vectorized with Arrow kernels.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pa.array(values, type=pa.float64()).cast(pa.string())
    parts = pc.extract_regex(text, r"^(?P<digits>[^e]*)(?:e\+?(?P<exponent>-?\d+))?$")
    digits = pc.struct_field(parts, "digits")
    exponent = pc.struct_field(parts, "exponent")
    exponent = pc.if_else(pc.equal(exponent, ""), "0", exponent).cast(pa.int32())
    shifted = pc.binary_join_element_wise(digits, pc.add(exponent, 2).cast(pa.string()), "e")
    return np.asarray(shifted.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype="float64")


def percent_cells(
    values: pd.DataFrame, formats: pd.DataFrame, native: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``values`` with the cells a percent format scales replaced by the number shown, and
    the mask of every number shown with a percent sign (scaled or literal).

    ``formats`` holds each cell's number format (same shape as ``values``); ``native``
    flags the cells that are numbers. Text cells keep their text whatever their format.
    """
    shape = values.shape
    codes, uniques = pd.factorize(formats.to_numpy(dtype=object).ravel(), use_na_sentinel=False)
    # One lookup per distinct format, then a gather: never a Python call per cell.
    kinds = np.array(
        [percent_kinds(u if isinstance(u, str) else None) for u in uniques] or [(Percent.NONE,) * 3]
    )
    is_number = native.to_numpy(dtype=bool).ravel()
    number = pd.to_numeric(
        pd.Series(values.to_numpy(dtype=object).ravel()).where(is_number), errors="coerce"
    ).to_numpy(dtype="float64")
    per_sign = np.where(number > 0, 0, np.where(number < 0, 1, 2))
    kind = kinds[codes, per_sign]
    shown = is_number & (kind != Percent.NONE)
    scaled = shown & (kind == Percent.SCALED) & np.isfinite(number)
    out = values.to_numpy(dtype=object).ravel().copy()
    if bool(scaled.any()):
        out[scaled] = hundredfold(number[scaled])
    return (
        pd.DataFrame(out.reshape(shape), index=values.index, columns=values.columns),
        pd.DataFrame(shown.reshape(shape), index=values.index, columns=values.columns),
    )
