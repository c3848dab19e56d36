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
this takes is a few arrays of a batch whatever the table's size.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["BATCH_ROWS", "GroupDigest", "digests_by_group"]

BATCH_ROWS = 1 << 20
"""Rows hashed at a time. A batch's sums are exact in float64 (``np.bincount``): 2**20
halves of 32 bits add up to less than 2**52."""

_MISSING = np.uint64(0x9E3779B97F4A7C15)
"""A missing value's hash (any column, any type)."""

_STEP = np.uint64(0xC2B2AE3D27D4EB4F)
"""The odd multiplier between one column's hash and the next: column order counts."""

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
    ends = set(np.cumsum([len(part) for part in parts]).tolist())
    by = [_position(table, name) for name in keys]
    for batch in table.to_batches(max_chunksize=BATCH_ROWS):
        if batch.num_rows == 0:
            continue
        slots, texts = _slots(batch, by)
        counts = np.bincount(slots)
        used = np.flatnonzero(counts)
        state = np.zeros(batch.num_rows, dtype=np.uint64)
        sums: list[list[int]] = []
        if not columns:
            sums.append([0] * len(used))
        for position, column in enumerate(columns, start=1):
            state *= _STEP
            state ^= _hashes(batch.column(column), seen, own=True)
            if position in ends:
                sums.append(_sums(_mixed(state), slots, used))
        for n, slot in enumerate(used.tolist()):
            entry = found.setdefault(_key(slot, texts), GroupDigest(0, [0] * len(sums)))
            entry.rows += int(counts[slot])
            entry.digests = [(d + s[n]) % _MOD for d, s in zip(entry.digests, sums, strict=True)]
    return found


def _position(table: pa.Table, name: str) -> int:
    """The index of the column ``name`` (KeyError when the table has none or several)."""
    index = int(table.schema.get_field_index(name))
    if index < 0:
        raise KeyError(f"no single column {name!r} to digest")
    return index


def _slots(batch: pa.RecordBatch, keys: Sequence[int]) -> tuple[np.ndarray, list[list[str | None]]]:
    """Each row's group as a slot (``sum(code * stride)`` over the key columns), and each
    key's texts by code."""
    slots = np.zeros(batch.num_rows, dtype=np.int64)
    texts: list[list[str | None]] = []
    for index in keys:
        codes, values = _codes(batch.column(index))
        slots *= len(values)
        slots += codes
        texts.append(values)
    return slots, texts


def _key(slot: int, texts: list[list[str | None]]) -> Key:
    """The key texts of a slot of :func:`_slots`."""
    key: list[str | None] = []
    for values in reversed(texts):
        slot, code = divmod(slot, len(values))
        key.append(values[code])
    return tuple(reversed(key))


def _codes(column: pa.Array) -> tuple[np.ndarray, list[str | None]]:
    """A column's rows as codes into its texts; missing rows have the last code (None)."""
    encoded = column if pa.types.is_dictionary(column.type) else pc.dictionary_encode(column)
    values: list[str | None] = [
        None if v is None else v if isinstance(v, str) else str(v)
        for v in encoded.dictionary.to_pylist()
    ]
    codes = _indices(encoded).astype(np.int64, copy=False)
    if encoded.null_count:
        valid = encoded.is_valid().to_numpy(zero_copy_only=False)
        codes = np.where(valid, codes, len(values))
    # Two codes of one text (a dictionary holding it twice, or a missing entry) give two
    # slots of one key: the caller adds them up.
    return codes, [*values, None]


def _hashes(column: pa.Array, seen: _Seen, *, own: bool) -> np.ndarray:
    """One uint64 per row of ``column``: its value's hash (see the module docstring).
    ``own``: the column is the table's (its dictionary may be remembered by address)."""
    kind = column.type
    if pa.types.is_dictionary(kind):
        values = column.dictionary
        if not _is_text(values.type):
            return _hashes(column.dictionary_decode(), seen, own=False)
        table = _dictionary_hashes(values, seen, remember=own)
        if not len(table):
            return np.full(len(column), _MISSING, dtype=np.uint64)  # every row missing
        return _with_missing(column, table[_indices(column)])
    if pa.types.is_null(kind):
        return np.full(len(column), _MISSING, dtype=np.uint64)
    if _is_text(kind):
        return _hashes(pc.dictionary_encode(column), seen, own=False)
    bits = _bits(column)
    if bits is not None:
        return _with_missing(column, _mixed(bits))
    return _hashes(_as_text(column), seen, own=False)


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
        or pa.types.is_binary(kind)
        or pa.types.is_large_binary(kind)
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
            seen.dictionaries[key] = found
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


def _bits(column: pa.Array) -> np.ndarray | None:
    """The 64 bits of each row's number (0 for a missing one), or None for a type that
    is not a number, a date, a time or a boolean."""
    kind = column.type
    bits: np.ndarray
    if pa.types.is_floating(kind):
        floats = pc.fill_null(column.cast(pa.float64()), 0.0).to_numpy(zero_copy_only=False)
        bits = floats.view(np.uint64)
        nan = np.isnan(floats)
        return np.where(nan, _NAN, bits) if nan.any() else bits
    if pa.types.is_boolean(kind):
        bits = pc.fill_null(column, False).to_numpy(zero_copy_only=False).astype(np.uint64)
        return bits
    if pa.types.is_unsigned_integer(kind):
        bits = pc.fill_null(column, 0).to_numpy(zero_copy_only=False).astype(np.uint64)
        return bits
    if pa.types.is_integer(kind):
        wide = pc.fill_null(column.cast(pa.int64()), 0).to_numpy(zero_copy_only=False)
        bits = wide.view(np.uint64)
        return bits
    if pa.types.is_temporal(kind) and kind.bit_width in (32, 64):
        # A date or time is a count of days or units: its integer, as Arrow holds it.
        integer = column.view(pa.int32() if kind.bit_width == 32 else pa.int64())
        return _bits(integer)
    return None


def _mixed(bits: np.ndarray) -> np.ndarray:
    """SplitMix64's finalizer (a new array): nearby inputs hash far apart."""
    x = bits ^ (bits >> np.uint64(30))
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    mixed: np.ndarray = x
    return mixed


def _with_missing(column: pa.Array, hashes: np.ndarray) -> np.ndarray:
    if not column.null_count:
        return hashes
    valid = column.is_valid().to_numpy(zero_copy_only=False)
    return np.where(valid, hashes, _MISSING)


def _sums(digests: np.ndarray, slots: np.ndarray, used: np.ndarray) -> list[int]:
    """Per used slot, the sum of its rows' digests (exact, as a Python int)."""
    low = np.bincount(slots, weights=digests & _LOW)[used]
    high = np.bincount(slots, weights=digests >> np.uint64(32))[used]
    # Each bin holds at most 2**20 values below 2**32: the float64 sums are exact.
    return [(int(h) << 32) + int(lo) for h, lo in zip(high.tolist(), low.tolist(), strict=True)]
