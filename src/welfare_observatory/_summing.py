"""Sums whose bits do not depend on the order rows come in, the engine or its threads.

Floating-point addition is not associative: adding the same values in another order can
change the last bits of the total. DuckDB adds a group's values in the order its threads
meet them (two runs over two million amounts gave different totals for a few hundred of
34,580 aggregates), and Arrow adds them in row order. Aggregation therefore adds in one of
three ways, each a function of the values alone:

* **plain**: every value is a whole number and the largest of them times their number is
  below 2**53 (each rounded up to a power of two). Every partial sum is then a whole
  number a float64 holds exactly: any order gives the exact total (counts, the usual
  case; the plain ``sum``, at no cost).
* **scaled**: otherwise each value is multiplied by ``2**shift``, the least power of two
  that makes every value of the set a whole number (exact: a power of two only moves the
  exponent), and the 128-bit integers are added, which is exact in any order. The total is
  turned back into a float64 with one rounding (to nearest), so it is the correctly
  rounded sum of the values, as :func:`math.fsum` gives it, whatever the shift. A set
  qualifies when its largest scaled value times their number stays below 2**104 (2**105
  leaves the conversion exact in two parts of 53 bits; one bit spare): when the finest
  step of its values is more than about 2**-51 of that bound, cents up to some 10**13.
* **ordered**: a set with a NaN or an infinity, or spanning more than that, is added in
  one fixed order, by absolute value then value. Equal values are interchangeable and
  ``-x`` comes before ``x``, so the additions are fixed by the values alone.

The bounds are the largest value and the count, not a float total: both are exact in any
order, so which way a set takes is a function of its values too.
"""

from __future__ import annotations

import math
from typing import TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "adds_exactly",
    "ordered_sum_sql",
    "scaled_sum_sql",
    "shift_of",
    "shifts_by",
    "sum_sql",
]

EXACT_BITS = 53
"""Whole numbers below 2**53 (in absolute value) are exact in a float64."""

SCALED_BITS = 104
"""A scaled total below 2**105 converts back to a float64 exactly rounded (two parts of
53 bits); the bound used, the largest value times the count, keeps one bit spare."""

_MAX_SHIFT = 969
"""2**-969 times a whole number is a normal float64 (no second rounding below 2**-1022)."""

_SPLIT = 2**53
_SLICE = 1 << 20
"""Rows looked at a time: the temporaries of one slice, not of a national column."""

Column: TypeAlias = pa.ChunkedArray | pa.Array


def _bound_bits(largest: float, count: int) -> int:
    """Bits of a bound on any partial sum, ``largest * count < 2**result``, from the
    powers of two above each (so up to four times the product). Both are
    exact whatever the order of the values (unlike a float sum of them), so the choice
    of a way is a function of the values alone."""
    if count == 0 or largest == 0:
        return 0
    return math.frexp(largest)[1] + count.bit_length()


def adds_exactly(values: Column, where: Column | None = None) -> bool:
    """True when any order of adding any subset of ``values`` (those ``where`` marks, if
    given) gives the same float64: every valid value is a whole number and the largest
    times their number is below 2**53, each rounded up to a power of two
    (:func:`_bound_bits`: up to four times stricter, never looser). Nulls are skipped
    (as ``sum`` skips them); a NaN or an infinity is not a whole number here."""
    largest, count = 0.0, 0
    for part, _ in _slices(values, where):
        if not pc.all(pc.equal(part, pc.floor(part))).as_py():
            return False  # a fraction or a NaN
        largest = max(largest, pc.max(pc.abs(part)).as_py() or 0.0)
        count += len(part) - part.null_count
    return math.isfinite(largest) and _bound_bits(largest, count) <= EXACT_BITS


def _slices(
    values: Column, where: Column | None = None, keys: Column | None = None
) -> list[tuple[pa.Array, pa.Array | None]]:
    """``values`` as float64 slices of at most :data:`_SLICE` rows, each with its rows of
    ``keys`` (if given), keeping the rows ``where`` marks; slices without a valid value
    are left out."""
    columns = {"value": values}
    if where is not None:
        columns["where"] = where
    if keys is not None:
        columns["key"] = keys
    table = pa.table(columns)
    out = []
    for batch in table.to_batches(max_chunksize=_SLICE):
        if where is not None:
            batch = batch.filter(pc.fill_null(batch.column("where"), False))
        part = batch.column("value")
        if part.type != pa.float64():
            part = part.cast(pa.float64())
        if part.null_count < len(part):
            out.append((part, batch.column("key") if keys is not None else None))
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


def _fits(largest: float, count: int, shift: int) -> bool:
    """The scaled way holds: any partial sum of the scaled values is below 2**104."""
    if not math.isfinite(largest) or shift > _MAX_SHIFT:
        return False
    return _bound_bits(largest, count) + shift <= SCALED_BITS


def shift_of(values: Column, where: Column | None = None) -> int | None:
    """The scaled way's shift for adding any subset of ``values`` (those ``where``
    marks), or None when they must be added in order (a NaN or an infinity, or too wide
    a span)."""
    _, shifts = _shifts(pa.nulls(len(values), pa.int8()), values, where)
    return shifts[0] if shifts else 0


def shifts_by(keys: Column, values: Column, where: Column | None = None) -> pa.Table:
    """Per distinct key, the scaled way's ``up`` (``2**shift``) and ``down``
    (``2**-shift``) for adding that key's values (those ``where`` marks), both null when
    they must be added in order: columns ``key``, ``up``, ``down``. A key's figures
    depend on its own values only, so adding one indicator alone or with others gives
    the same bits."""
    found, shifts = _shifts(keys, values, where)
    return pa.table(
        {
            "key": found,
            "up": pa.array(
                [None if n is None else math.ldexp(1.0, n) for n in shifts], pa.float64()
            ),
            "down": pa.array(
                [None if n is None else math.ldexp(1.0, -n) for n in shifts], pa.float64()
            ),
        }
    )


def _shifts(
    keys: Column, values: Column, where: Column | None
) -> tuple[pa.Array | pa.ChunkedArray, list[int | None]]:
    """The distinct keys of the rows ``where`` marks, and each one's shift (None: in
    order). Scanned a slice at a time; only a slice's temporaries are held."""
    pieces = []
    for part, key in _slices(values, where, keys):
        data = part.to_numpy(zero_copy_only=False)
        valid = part.is_valid().to_numpy(zero_copy_only=False)
        finite = np.isfinite(data) | ~valid
        clean = np.where(valid & finite, data, 0.0)
        frame = pa.table(
            {
                "key": key,
                "bits": _fraction_bits(clean),
                "size": np.abs(clean),
                "n": valid.astype(np.int64),
                "finite": finite,
            }
        )
        pieces.append(
            frame.group_by("key", use_threads=False).aggregate(
                [("bits", "max"), ("size", "max"), ("n", "sum"), ("finite", "all")]
            )
        )
    if not pieces:
        return pa.array([], keys.type), []
    found = (
        pa.concat_tables(pieces)
        .group_by("key", use_threads=False)
        .aggregate(
            [("bits_max", "max"), ("size_max", "max"), ("n_sum", "sum"), ("finite_all", "all")]
        )
    )
    shifts: list[int | None] = []
    for shift, largest, count, ok in zip(
        found.column("bits_max_max").to_pylist(),
        found.column("size_max_max").to_pylist(),
        found.column("n_sum_sum").to_pylist(),
        found.column("finite_all_all").to_pylist(),
        strict=True,
    ):
        # One row per indicator (a few hundred at most), not per observation.
        fits = bool(ok) and _fits(float(largest), int(count), int(shift))
        shifts.append(int(shift) if fits else None)
    return found.column("key"), shifts


def sum_sql(expression: str, values: Column, where: Column | None = None) -> str:
    """DuckDB's aggregate adding ``expression``, whose values are among ``values`` (those
    ``where`` marks): the plain way when they add exactly, else the scaled way, else the
    ordered way."""
    if adds_exactly(values, where):
        return f"sum({expression})"
    shift = shift_of(values, where)
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
