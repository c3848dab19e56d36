"""Sums whose bits do not depend on the order rows come in, the engine or its threads.

Floating-point addition is not associative: adding the same values in another order can
change the last bits of the total. DuckDB adds a group's values in the order its threads
meet them (two runs over two million amounts gave different totals for a few hundred of
34,580 aggregates), and Arrow adds them in row order. Aggregation therefore adds in one of
three ways, each a function of the values alone:

* **plain**: every value is a whole number and the absolute values total less than 2**53.
  Every partial sum is then a whole number a float64 holds exactly: any order gives the
  exact total (counts, the usual case; the plain ``sum``, at no cost).
* **scaled**: otherwise each value is multiplied by ``2**shift``, the least power of two
  that makes every value of the set a whole number (exact: a power of two only moves the
  exponent), and the 128-bit integers are added, which is exact in any order. The total is
  turned back into a float64 with one rounding (to nearest), so it is the correctly
  rounded sum of the values, as :func:`math.fsum` gives it, whatever the shift. A set
  qualifies when its scaled absolute values total less than 2**104 (2**105 leaves the
  conversion exact in two parts of 53 bits; one bit spare), so when the smallest step of
  its values is more than about 2**-51 of their total: cents up to some 10**13.
* **ordered**: a set with a NaN or an infinity, or spanning more than that, is added in
  one fixed order, by absolute value then value. Equal
  values are interchangeable and ``x`` comes before ``-x``, so the additions are fixed by
  the values alone.
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "EXACT_LIMIT",
    "adds_exactly",
    "ordered_sum_sql",
    "scaled_sum_sql",
    "shift_of",
    "shifts_by",
    "sum_sql",
]

EXACT_LIMIT = 2.0**53
"""Whole numbers below this (in absolute value) are exact in a float64, and so is any
sum of them that stays below it."""

SCALED_BITS = 105
"""Scaled totals below 2**105 convert back to a float64 exactly rounded (two 53-bit parts)."""

_SPLIT = 2**53
_SLICE = 1 << 20
"""Rows checked at a time: the temporaries of one slice, not of a national column."""


def adds_exactly(values: pa.ChunkedArray | pa.Array) -> bool:
    """True when any order of adding any subset of ``values`` gives the same float64:
    every valid value is a whole number and their absolute values total less than
    :data:`EXACT_LIMIT`. Nulls are skipped (as ``sum`` skips them); a NaN or an infinity
    is not a whole number here."""
    total = 0.0
    for part in _slices(values):
        if not pc.all(pc.equal(part, pc.floor(part))).as_py():
            return False  # a fraction or a NaN
        total += pc.sum(pc.abs(part)).as_py() or 0.0
        if not total < EXACT_LIMIT:
            return False  # an infinity, or too large a total
    return True


def _slices(values: pa.ChunkedArray | pa.Array) -> list[pa.Array]:
    chunks = values.chunks if isinstance(values, pa.ChunkedArray) else [values]
    out = []
    for chunk in chunks:
        if chunk.type != pa.float64():
            chunk = chunk.cast(pa.float64())
        for start in range(0, len(chunk), _SLICE):
            part = chunk.slice(start, _SLICE)
            if part.null_count < len(part):
                out.append(part)
    return out


def _fraction_bits(values: np.ndarray) -> np.ndarray:
    """For each finite value, the least ``j >= 0`` such that ``value * 2**j`` is a whole
    number (0 for whole numbers and zero)."""
    mantissa, exponent = np.frexp(values)
    # value = whole * 2**(exponent - 53), whole a 53-bit integer; its trailing zero bits
    # are bits the value does not need.
    whole = np.ldexp(mantissa, 53).astype(np.int64)
    lowest = whole & -whole
    zeros = np.where(lowest != 0, np.frexp(lowest.astype(np.float64))[1] - 1, 0)
    bits = 53 - exponent - zeros
    return np.where(values == 0, 0, np.maximum(bits, 0))


def shift_of(values: pa.ChunkedArray | pa.Array) -> int | None:
    """The scaled way's shift for adding any subset of ``values``, or None when they
    must be added in order (a NaN or an infinity, or too wide a span)."""
    shift, total = 0, 0.0
    for part in _slices(values):
        data = part.drop_null().to_numpy(zero_copy_only=False)
        if not np.isfinite(data).all():
            return None
        if len(data):
            shift = max(shift, int(_fraction_bits(data).max()))
            total += float(np.abs(data).sum())
    return shift if _fits(total, shift) else None


_MAX_SHIFT = 969
"""2**-969 times a whole number is a normal float64 (no second rounding below 2**-1022)."""


def _fits(total: float, shift: int) -> bool:
    """The scaled total stays below 2**:data:`SCALED_BITS`, with a factor of two to spare
    for the rounding of ``total`` itself (a float sum of absolute values)."""
    if not math.isfinite(total) or shift > _MAX_SHIFT:
        return False
    return total == 0 or math.frexp(total)[1] + shift <= SCALED_BITS - 1


def shifts_by(keys: pa.Array | pa.ChunkedArray, values: pa.Array | pa.ChunkedArray) -> pa.Table:
    """Per distinct key, the scaled way's ``up`` (``2**shift``) and ``down``
    (``2**-shift``) for adding that key's values, both null when they must be added in
    order: columns ``key``, ``up``, ``down``. A key's figures depend on its own values
    only, so adding one indicator alone or with others gives the same bits."""
    table = pa.table({"key": keys, "value": values}).combine_chunks()
    data = table.column("value").to_numpy(zero_copy_only=False)
    valid = table.column("value").is_valid().to_numpy(zero_copy_only=False)
    finite = np.isfinite(data) | ~valid
    clean = np.where(valid & finite, data, 0.0)
    frame = pa.table(
        {
            "key": table.column("key"),
            "bits": _fraction_bits(clean),
            "size": np.abs(clean),
            "finite": finite,
        }
    )
    found = frame.group_by("key", use_threads=False).aggregate(
        [("bits", "max"), ("size", "sum"), ("finite", "all")]
    )
    ups: list[float | None] = []
    downs: list[float | None] = []
    for shift, total, ok in zip(
        found.column("bits_max").to_pylist(),
        found.column("size_sum").to_pylist(),
        found.column("finite_all").to_pylist(),
        strict=True,
    ):
        # One row per indicator (a few hundred at most), not per observation.
        fits = bool(ok) and _fits(float(total), int(shift))
        ups.append(math.ldexp(1.0, int(shift)) if fits else None)
        downs.append(math.ldexp(1.0, -int(shift)) if fits else None)
    return pa.table(
        {
            "key": found.column("key"),
            "up": pa.array(ups, pa.float64()),
            "down": pa.array(downs, pa.float64()),
        }
    )


def sum_sql(expression: str, values: pa.ChunkedArray | pa.Array) -> str:
    """DuckDB's aggregate adding ``expression``, whose values are among ``values``: the
    plain way when they add exactly, else the scaled way, else the ordered way."""
    if adds_exactly(values):
        return f"sum({expression})"
    shift = shift_of(values)
    if shift is None:
        return ordered_sum_sql(expression)
    up, down = (_literal(math.ldexp(1.0, n)) for n in (shift, -shift))
    return scaled_sum_sql(expression, up, down)


def ordered_sum_sql(expression: str) -> str:
    """``sum`` of ``expression`` in the ordered way."""
    return f"sum({expression} ORDER BY abs({expression}), {expression})"


def scaled_sum_sql(expression: str, up: str, down: str) -> str:
    """``sum`` of ``expression`` in the scaled way: ``up`` and ``down`` are SQL for
    ``2**shift`` and ``2**-shift``. The 128-bit total is split in a multiple of 2**53
    and the rest, each exact as a float64, so their float sum rounds once."""
    total = f"sum(CAST(({expression}) * {up} AS HUGEINT))"
    high = f"({total} // {_SPLIT})"
    return (
        f"((CAST({high} AS DOUBLE) * {_literal(float(_SPLIT))}"
        f" + CAST({total} - {high} * {_SPLIT} AS DOUBLE)) * {down})"
    )


def _literal(number: float) -> str:
    """A DOUBLE literal with ``number``'s exact bits (a power of two here)."""
    return f"CAST('{number!r}' AS DOUBLE)"
