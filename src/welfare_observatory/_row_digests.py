"""Order-free digests of a table's rows, by group, in numpy: no query engine needed.

A row's digest is a 64-bit hash of its values, column after column; a group's digest is the
sum of its rows' digests modulo 2**64, so the same rows give the same digest in any order,
and a row changed, added or removed changes it (but for a chance of about 2**-64).

A value's hash depends on the value alone, never on how Arrow holds it: a text hashes as its
UTF-8 bytes (BLAKE2b), whether it is a plain string or an entry of any dictionary; a number,
date or time as its bits (integers as int64; a float's sign is kept, so -0.0 is not 0.0, and
every NaN is one NaN); a missing value as one constant of its own (an empty text is not a
missing one). Other types hash as their text (Arrow's cast to string, else ``repr``).

Rows are read in batches of :data:`BATCH_ROWS` (views, no copy of the table), so the memory
this takes is a few arrays of a batch and the hashes of up to :data:`_TEXTS_KEPT` texts and
as many dictionary entries, whatever the table's size.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["BATCH_ROWS", "GroupDigest", "digests_by_group"]

BATCH_ROWS = 1 << 16
"""Rows hashed at a time (each scratch array 512 KiB). A batch's sums are exact in float64
(``np.bincount``): 2**16 halves of 32 bits add up to less than 2**48."""

_MISSING = np.uint64(0x9E3779B97F4A7C15)
"""A missing value's hash (any column, any type)."""

_STEP = np.uint64(0xC2B2AE3D27D4EB4F)
"""The odd multiplier between one column's hash and the next: column order counts."""

_SEED = np.uint64(0x243F6A8885A308D3)
"""A row's state before its first column: not 0, which the finalizer keeps as 0 (a row
whose every value hashed to 0 would then add nothing to its group's digest)."""

_TEXTS_KEPT = 100_000
"""Texts whose hash one call remembers at most, and dictionary entries (a column of many
distinct texts, or a table of many chunks each with a dictionary of its own, is hashed again
rather than held)."""

_NAN = np.uint64(0x7FF8000000000000)
"""The bits every NaN is hashed as."""

_LOW = np.uint64(0xFFFFFFFF)
_MOD = 1 << 64

Key = tuple[str | None, ...]


@dataclass
class GroupDigest:
    """One group's rows: how many, and per part the sum (modulo 2**64) of their digests."""

    rows: int = 0
    digests: list[int] = field(default_factory=list)


@dataclass
class _Seen:
    """What one call has hashed already: texts, and the dictionaries of the table's own
    columns by their buffers (they live as long as the table, so an address is theirs)."""

    texts: dict[str | bytes, np.uint64] = field(default_factory=dict)
    dictionaries: dict[tuple[int, ...], np.ndarray] = field(default_factory=dict)
    entries: int = 0
    """The dictionaries' entries, in all."""


class _Scratch:
    """Arrays of one batch's length, made once per call and reused for every batch and
    column. A build hashes on a thread of its own beside its analyses: with new arrays
    (and Arrow casts) for each column of each batch, the 3-million-row build's peak rose
    from about 570 to 630 MiB (the allocations kept taking pages of the C library's heap
    not touched yet); without, it stays at about 570."""

    def __init__(self, rows: int) -> None:
        self.state = np.empty(rows, dtype=np.uint64)
        self.hashes = np.empty(rows, dtype=np.uint64)
        self.mixed = np.empty(rows, dtype=np.uint64)
        self.spare = np.empty(rows, dtype=np.uint64)
        self.weights = np.empty(rows, dtype=np.float64)
        self.slots = np.empty(rows, dtype=np.int64)

    def of(self, rows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Views of ``rows`` of: the state, a column's hashes, a mixed digest, a spare."""
        return self.state[:rows], self.hashes[:rows], self.mixed[:rows], self.spare[:rows]


def digests_by_group(
    table: pa.Table, keys: Sequence[str], parts: Sequence[Sequence[str]]
) -> dict[Key, GroupDigest]:
    """Per distinct value of the columns ``keys`` (read as text; a missing key is None):
    its rows and one digest per entry of ``parts``. A part's digest covers its columns and
    those of every earlier part, in order: ``parts=(read, rest)`` gives the digest of the
    columns ``read``, and that of ``read`` then ``rest``."""
    found: dict[Key, GroupDigest] = {}
    seen = _Seen()
    columns = [_position(table, name) for part in parts for name in part]
    # After how many columns each part's digest is taken (an empty part: where it stands).
    ends = np.cumsum([0, *(len(part) for part in parts)])[1:].tolist()
    by = [_position(table, name) for name in keys]
    batch_rows = BATCH_ROWS
    scratch = _Scratch(min(batch_rows, table.num_rows))
    for batch in table.to_batches(max_chunksize=batch_rows):
        if batch.num_rows == 0:
            continue
        slots, keyed = _slots(batch, by, scratch.slots[: batch.num_rows])
        counts = np.bincount(slots)
        used = np.flatnonzero(counts)
        state, hashes, mixed, spare = scratch.of(batch.num_rows)
        weights = scratch.weights[: batch.num_rows]
        state.fill(_SEED)
        sums: list[list[int]] = []
        for position in range(len(columns) + 1):
            if position:
                state *= _STEP
                state ^= _hashes(batch.column(columns[position - 1]), seen, hashes, spare, own=True)
            for _ in range(ends.count(position)):
                _mix(state, mixed, spare)
                sums.append(_sums(mixed, slots, used, spare, weights))
            if len(seen.texts) > _TEXTS_KEPT:
                seen.texts.clear()
        for n, slot in enumerate(used.tolist()):
            entry = found.setdefault(keyed(slot), GroupDigest(0, [0] * len(sums)))
            entry.rows += int(counts[slot])
            entry.digests = [(d + s[n]) % _MOD for d, s in zip(entry.digests, sums, strict=True)]
    return found


def _position(table: pa.Table, name: str) -> int:
    """The index of the column ``name`` (KeyError when the table has none or several)."""
    index = int(table.schema.get_field_index(name))
    if index < 0:
        raise KeyError(f"no single column {name!r} to digest")
    return index


def _slots(
    batch: pa.RecordBatch, keys: Sequence[int], slots: np.ndarray
) -> tuple[np.ndarray, Callable[[int], Key]]:
    """``slots``, filled with each row's group as a number from 0 to at most the batch's
    rows, and the function that gives a slot's key texts. Each key's codes are first
    narrowed to those the batch holds, and the slots renumbered when their product would
    pass the batch's rows: a key of many distinct texts never makes a large count array."""
    slots.fill(0)
    texts: list[list[Any]] = []
    rows = len(slots)
    size = 1
    for index in keys:
        codes, values = _codes(batch.column(index))
        present = np.bincount(codes, minlength=len(values)) > 0
        if len(values) > rows or not present.all():
            dense = np.cumsum(present) - 1
            codes = dense[codes]
            values = [v for v, held in zip(values, present.tolist(), strict=True) if held]
        slots *= len(values)
        np.add(slots, codes, out=slots, casting="unsafe")
        size *= len(values)
        texts.append(values)
        if size > rows:
            distinct, inverse = np.unique(slots, return_inverse=True)
            slots[:] = inverse
            texts = [[_key_of(int(v), texts) for v in distinct.tolist()]]
            size = len(distinct)
    return slots, lambda slot: _key_of(slot, texts)


def _key_of(slot: int, texts: list[list[Any]]) -> Key:
    """The key texts of a slot: each key's code, last key first (``slots * size + code``)."""
    key: list[str | None] = []
    for values in reversed(texts):
        slot, code = divmod(slot, len(values))
        value = values[code]
        if isinstance(value, tuple):
            key.extend(reversed(value))
        else:
            key.append(value)
    return tuple(reversed(key))


def _codes(column: pa.Array) -> tuple[np.ndarray, list[str | None]]:
    """A column's rows as codes into its texts; missing rows have the last code (None)."""
    encoded = column if pa.types.is_dictionary(column.type) else pc.dictionary_encode(column)
    values: list[str | None] = [
        None if v is None else v if isinstance(v, str) else str(v)
        for v in encoded.dictionary.to_pylist()
    ]
    codes = _indices(encoded)
    if encoded.null_count:
        valid = encoded.is_valid().to_numpy(zero_copy_only=False)
        codes = np.where(valid, codes, len(values))
    # Two codes of one text (a dictionary holding it twice, or a missing entry) give two
    # slots of one key: the caller adds them up.
    return codes, [*values, None]


def _hashes(
    column: pa.Array, seen: _Seen, out: np.ndarray, spare: np.ndarray, *, own: bool
) -> np.ndarray:
    """``out``, filled with one hash per row of ``column``: its value's (see the module
    docstring). ``spare`` is scratch of the same length; ``own``: the column is the
    table's (its dictionary may be remembered by address)."""
    kind = column.type
    if column.null_count == len(column) or pa.types.is_null(kind):
        out.fill(_MISSING)
        return out
    if pa.types.is_dictionary(kind):
        values = column.dictionary
        if not _is_text(values.type):
            return _hashes(column.dictionary_decode(), seen, out, spare, own=False)
        table = _dictionary_hashes(values, seen, remember=own)
        np.take(table, _indices(column), out=out)
        return _with_missing(column, out)
    if _is_text(kind):
        return _hashes(pc.dictionary_encode(column), seen, out, spare, own=False)
    bits = _bits(column, out)
    if bits is not None:
        _mix(bits, out, spare)
        return _with_missing(column, out)
    return _hashes(_as_text(column), seen, out, spare, own=False)


def _indices(column: pa.DictionaryArray) -> np.ndarray:
    """A dictionary column's indices as integers (0 where a row is missing)."""
    indices = column.indices
    if indices.null_count:
        indices = pc.fill_null(indices, 0)
    found: np.ndarray = indices.to_numpy(zero_copy_only=False)
    return found


def _is_text(kind: pa.DataType) -> bool:
    return bool(
        pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_string_view(kind)
        or pa.types.is_binary(kind)
        or pa.types.is_large_binary(kind)
        or pa.types.is_binary_view(kind)
    )


def _as_text(column: pa.Array) -> pa.Array:
    try:
        return column.cast(pa.string())
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
        return pa.array([None if v is None else repr(v) for v in column.to_pylist()], pa.string())


def _dictionary_hashes(values: pa.Array, seen: _Seen, *, remember: bool) -> np.ndarray:
    """The hashes of a dictionary's entries; a dictionary of the table's own is worked out
    once (the batches of a chunk share it), and each text once."""
    key = (
        *(b.address if b is not None else 0 for b in values.buffers()),
        values.offset,
        len(values),
    )
    found = seen.dictionaries.get(key) if remember else None
    if found is None:
        texts = seen.texts
        found = np.fromiter(
            (_text_hash(t, texts) for t in values.to_pylist()), dtype=np.uint64, count=len(values)
        )
        if remember:
            if seen.entries + len(found) > _TEXTS_KEPT:
                seen.dictionaries.clear()  # those of earlier chunks, most likely
                seen.entries = 0
            seen.dictionaries[key] = found
            seen.entries += len(found)
    return found


def _text_hash(text: str | bytes | None, texts: dict[str | bytes, np.uint64]) -> np.uint64:
    if text is None:
        return _MISSING  # a missing entry of a dictionary: its rows are missing values
    found = texts.get(text)
    if found is None:
        raw = text.encode("utf-8") if isinstance(text, str) else text
        digest = hashlib.blake2b(raw, digest_size=8).digest()
        found = texts[text] = np.uint64(int.from_bytes(digest, "little"))
    return found


def _bits(column: pa.Array, out: np.ndarray) -> np.ndarray | None:
    """``out`` (or an array of Arrow's), holding the 64 bits of each row's number (anything
    for a missing one), or None for a type that is not a number, a date, a time or a
    boolean. Arrays without missing values are read in place: no copy for the usual types
    (this runs beside the analyses, where each allocation can take fresh pages)."""
    kind = column.type
    if pa.types.is_floating(kind):
        floats = _filled(column).to_numpy(zero_copy_only=False)
        if floats.dtype != np.float64:
            np.copyto(out.view(np.float64), floats)
            floats = out.view(np.float64)
        bits = floats.view(np.uint64)
        nan = np.isnan(floats)
        return np.where(nan, _NAN, bits) if nan.any() else bits
    if pa.types.is_boolean(kind):
        flags = pc.fill_null(column, False).to_numpy(zero_copy_only=False)
        np.copyto(out, flags, casting="unsafe")
        return out
    if pa.types.is_integer(kind):
        # Two's complement of the int64 value (an unsigned one's own bits).
        integers = _filled(column).to_numpy(zero_copy_only=False)
        np.copyto(out.view(np.int64), integers, casting="unsafe")
        return out
    if pa.types.is_temporal(kind) and kind.bit_width in (32, 64):
        # A date or time is a count of days or units: its integer, as Arrow holds it.
        return _bits(column.view(pa.int32() if kind.bit_width == 32 else pa.int64()), out)
    return None


def _filled(column: pa.Array) -> pa.Array:
    """A number column with 0 in its missing rows (their hash is set apart afterwards)."""
    return pc.fill_null(column, 0) if column.null_count else column


def _mix(bits: np.ndarray, out: np.ndarray, spare: np.ndarray) -> None:
    """SplitMix64's finalizer of ``bits`` into ``out`` (nearby inputs hash far apart);
    ``spare`` is scratch. ``bits`` may be ``out``."""
    np.right_shift(bits, np.uint64(30), out=spare)
    np.bitwise_xor(bits, spare, out=out)
    np.multiply(out, np.uint64(0xBF58476D1CE4E5B9), out=out)
    np.right_shift(out, np.uint64(27), out=spare)
    np.bitwise_xor(out, spare, out=out)
    np.multiply(out, np.uint64(0x94D049BB133111EB), out=out)
    np.right_shift(out, np.uint64(31), out=spare)
    np.bitwise_xor(out, spare, out=out)


def _with_missing(column: pa.Array, hashes: np.ndarray) -> np.ndarray:
    """``hashes``, with the missing rows' set to :data:`_MISSING` (in place)."""
    if column.null_count:
        missing = column.is_null().to_numpy(zero_copy_only=False)
        np.copyto(hashes, _MISSING, where=missing)
    return hashes


def _sums(
    digests: np.ndarray, slots: np.ndarray, used: np.ndarray, spare: np.ndarray, weights: np.ndarray
) -> list[int]:
    """Per used slot, the sum of its rows' digests (exact, as a Python int); ``spare`` and
    ``weights`` are scratch of the digests' length."""
    np.bitwise_and(digests, _LOW, out=spare)
    np.copyto(weights, spare, casting="unsafe")
    low = np.bincount(slots, weights=weights)[used]
    np.right_shift(digests, np.uint64(32), out=spare)
    np.copyto(weights, spare, casting="unsafe")
    high = np.bincount(slots, weights=weights)[used]
    # Each bin holds at most BATCH_ROWS (2**16) values below 2**32: the sums are exact.
    return [(int(h) << 32) + int(lo) for h, lo in zip(high.tolist(), low.tolist(), strict=True)]
