"""Row digests: the same rows give the same digest whatever their order, chunks, batches
or dictionaries, and any changed value changes its group's digest (checked against a
plain-Python recomputation of the documented hash)."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import struct
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from welfare_observatory import _row_digests
from welfare_observatory._row_digests import GroupDigest, digests_by_group

_MOD = 1 << 64
_MISSING = 0x9E3779B97F4A7C15
_STEP = 0xC2B2AE3D27D4EB4F
_SEED = 0x243F6A8885A308D3


def _mix(x: int) -> int:
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9 % _MOD
    x = (x ^ (x >> 27)) * 0x94D049BB133111EB % _MOD
    return x ^ (x >> 31)


def _value_hash(value: Any) -> int:
    """The module docstring's hash of one value, in plain Python."""
    if value is None:
        return _MISSING
    if isinstance(value, str | bytes):
        raw = value.encode("utf-8") if isinstance(value, str) else value
        return int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest(), "little")
    if isinstance(value, bool):
        return _mix(int(value))
    if isinstance(value, float):
        bits = (
            0x7FF8000000000000
            if math.isnan(value)
            else struct.unpack("<Q", struct.pack("<d", value))[0]
        )
        return _mix(bits)
    if isinstance(value, int):
        return _mix(value % _MOD)
    if isinstance(value, dt.date):
        return _mix((value - dt.date(1970, 1, 1)).days % _MOD)
    raise TypeError(type(value))


def _expected(
    table: pa.Table, keys: list[str], parts: list[list[str]]
) -> dict[tuple[str | None, ...], GroupDigest]:
    """``digests_by_group`` recomputed row by row from the rows' Python values."""
    found: dict[tuple[str | None, ...], GroupDigest] = {}
    for row in table.to_pylist():
        key = tuple(row[k] for k in keys)
        entry = found.setdefault(key, GroupDigest(0, [0] * len(parts)))
        entry.rows += 1
        state = _SEED
        for p, part in enumerate(parts):
            for name in part:
                state = (state * _STEP % _MOD) ^ _value_hash(row[name])
            entry.digests[p] = (entry.digests[p] + _mix(state)) % _MOD
    return found


_texts = st.one_of(st.none(), st.sampled_from(["", "a", "b", "IT", "017029", "città", " a"]))
_floats = st.one_of(
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1.0, 1e-300]),
)


@st.composite
def _tables(draw: Any) -> pa.Table:
    n = draw(st.integers(0, 40))
    return pa.table(
        {
            "indicator": pa.array(
                draw(st.lists(st.sampled_from(["I1", "I2", "I3"]), min_size=n, max_size=n)),
                pa.string(),
            ),
            "domain": pa.array(
                draw(st.lists(st.sampled_from(["d", "e", None]), min_size=n, max_size=n)),
                pa.string(),
            ),
            "territory": pa.array(draw(st.lists(_texts, min_size=n, max_size=n)), pa.string()),
            "value": pa.array(draw(st.lists(_floats, min_size=n, max_size=n)), pa.float64()),
            "year": pa.array(
                draw(
                    st.lists(
                        st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1)),
                        min_size=n,
                        max_size=n,
                    )
                ),
                pa.int64(),
            ),
            "flag": pa.array(
                draw(st.lists(st.one_of(st.none(), st.booleans()), min_size=n, max_size=n)),
                pa.bool_(),
            ),
        }
    )


_KEYS = ["indicator", "domain"]
_PARTS = [["territory", "value", "year"], ["flag"]]


def _same(a: dict[Any, GroupDigest], b: dict[Any, GroupDigest]) -> None:
    assert {k: (v.rows, v.digests) for k, v in a.items()} == {
        k: (v.rows, v.digests) for k, v in b.items()
    }


@settings(max_examples=200, deadline=None)
@given(_tables())
def test_digests_are_the_documented_hash_recomputed_row_by_row(table: pa.Table) -> None:
    _same(digests_by_group(table, _KEYS, _PARTS), _expected(table, _KEYS, _PARTS))


@settings(max_examples=150, deadline=None)
@given(_tables(), st.randoms(use_true_random=False), st.integers(1, 7))
def test_order_dictionaries_chunks_and_batches_do_not_count(
    table: pa.Table, random: Any, batch: int
) -> None:
    expected = digests_by_group(table, _KEYS, _PARTS)
    order = list(range(table.num_rows))
    random.shuffle(order)
    shuffled = table.take(pa.array(order, pa.int64()))
    # Text columns as dictionaries of their own, each chunk with its own dictionary in
    # another order, some with entries no row uses.
    halves = [shuffled.slice(0, table.num_rows // 2), shuffled.slice(table.num_rows // 2)]
    chunks = []
    for half in halves:
        columns = {}
        for name in half.column_names:
            column = half.column(name).combine_chunks()
            if pa.types.is_string(column.type):
                words = sorted(set(column.drop_null().to_pylist()) | {"unused"}, reverse=True)
                dictionary = pa.array(words, pa.string())
                indices = pc.index_in(column, value_set=dictionary)
                column = pa.DictionaryArray.from_arrays(indices, dictionary)
            columns[name] = column
        chunks.append(pa.table(columns))
    encoded = pa.concat_tables(chunks)
    original = _row_digests.BATCH_ROWS
    try:
        _row_digests.BATCH_ROWS = batch
        _same(digests_by_group(encoded, _KEYS, _PARTS), expected)
        _same(digests_by_group(shuffled, _KEYS, _PARTS), expected)
    finally:
        _row_digests.BATCH_ROWS = original


def _one_row(**values: Any) -> pa.Table:
    base: dict[str, Any] = {"indicator": "I1", "domain": "d", "territory": "IT", "value": 1.0}
    base.update(values)
    return pa.table(
        {k: pa.array([v], pa.float64() if k == "value" else pa.string()) for k, v in base.items()}
    )


def _digest(table: pa.Table) -> tuple[int, int]:
    found = digests_by_group(table, _KEYS, [["territory", "value"], []])
    (only,) = found.values()
    return only.digests[0], only.rows


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ({"value": 0.0}, {"value": -0.0}),  # the analyses keep a zero's sign
        ({"value": None}, {"value": 0.0}),
        ({"territory": None}, {"territory": ""}),  # missing is not empty
        ({"territory": "IT"}, {"territory": "it"}),
        ({"value": 1.0}, {"value": 1.0 + 2**-52}),
    ],
)
def test_a_changed_value_changes_the_digest(one: dict[str, Any], other: dict[str, Any]) -> None:
    assert _digest(_one_row(**one)) != _digest(_one_row(**other))


def test_every_nan_is_one_nan() -> None:
    quiet = np.array([np.nan])
    other = np.array([0x7FF0000000000001], dtype=np.uint64).view(np.float64)
    assert _digest(_one_row(value=float(quiet[0]))) == _digest(_one_row(value=float(other[0])))


def test_only_the_group_whose_rows_changed_changes() -> None:
    rows = pa.table(
        {
            "indicator": ["A", "A", "B"],
            "domain": ["d", "d", "d"],
            "territory": ["IT", "03", "IT"],
            "value": [1.0, 2.0, 3.0],
        }
    )
    before = digests_by_group(rows, _KEYS, [["territory", "value"]])
    changed = rows.set_column(3, "value", pa.array([1.0, 2.5, 3.0]))
    after = digests_by_group(changed, _KEYS, [["territory", "value"]])
    assert before[("B", "d")].digests == after[("B", "d")].digests
    assert before[("A", "d")].digests != after[("A", "d")].digests
    assert before[("A", "d")].rows == after[("A", "d")].rows == 2


def test_column_order_counts_and_parts_nest() -> None:
    table = _one_row()
    ab = digests_by_group(table, _KEYS, [["territory", "value"]])
    ba = digests_by_group(table, _KEYS, [["value", "territory"]])
    assert ab[("I1", "d")].digests != ba[("I1", "d")].digests
    nested = digests_by_group(table, _KEYS, [["territory"], ["value"]])
    alone = digests_by_group(table, _KEYS, [["territory"]])
    # The second part's digest covers both parts' columns: as one part of both.
    assert nested[("I1", "d")].digests == [
        alone[("I1", "d")].digests[0],
        ab[("I1", "d")].digests[0],
    ]


def test_other_types_hash_by_value_and_missing_keys_group_as_none() -> None:
    table = pa.table(
        {
            "indicator": pa.array(["A", None, None]),
            "domain": pa.array(["d", None, None]).dictionary_encode(),
            "day": pa.array([dt.date(2024, 1, 1), None, dt.date(1969, 12, 31)], pa.date32()),
            "moment": pa.array([0, None, -1], pa.timestamp("s")),
            "small": pa.array([1, None, 255], pa.uint8()),
            "nothing": pa.nulls(3),
            "amount": pa.array([Decimal("1.50"), None, Decimal("2.00")], pa.decimal128(5, 2)),
            "raw": pa.array([b"\xff", None, b""], pa.binary()),
        }
    )
    found = digests_by_group(table, _KEYS, [table.column_names[2:]])
    assert set(found) == {("A", "d"), (None, None)}
    assert found[(None, None)].rows == 2
    # As plain Python values (the decimal as its text, the timestamp as its seconds).
    plain = pa.table(
        {
            "indicator": ["A", None, None],
            "domain": ["d", None, None],
            "day": pa.array([dt.date(2024, 1, 1), None, dt.date(1969, 12, 31)], pa.date32()),
            "moment": pa.array([0, None, -1], pa.int64()),
            "small": pa.array([1, None, 255], pa.int64()),
            "nothing": pa.array([None, None, None], pa.string()),
            "amount": pa.array(["1.50", None, "2.00"]),
            "raw": pa.array([b"\xff", None, b""], pa.binary()),
        }
    )
    _same(found, _expected(plain, _KEYS, [plain.column_names[2:]]))


def test_an_empty_table_has_no_group_and_a_missing_column_is_refused() -> None:
    assert digests_by_group(_one_row().slice(0, 0), _KEYS, [["territory", "value"]]) == {}
    with pytest.raises(KeyError, match="no single column 'year'"):
        digests_by_group(_one_row(), _KEYS, [["year"]])


def test_representations_of_the_same_values_give_the_same_digests() -> None:
    words = ["b", "a", None, "a", "c", "b"]
    plain = pa.table(
        {
            "indicator": pa.array(["X"] * 6),
            "domain": pa.array(["d"] * 6),
            "text": pa.array(words, pa.string()),
            "value": pa.array([1.5, -0.0, None, float("nan"), 2.0, 3.0], pa.float64()),
            "count": pa.array([1, -2, None, 3, 127, 0], pa.int64()),
        }
    )
    # A dictionary holding a text twice and a missing entry, rows pointing at both copies
    # and at the missing entry, sliced out of a longer array; float32, int8, large_string.
    dictionary = pa.array(["a", "b", "a", None, "c", "b"], pa.string())
    indices = pa.array([0, 0, 0, 1, 2, 3, 0, 4, 5], pa.int32()).slice(3)
    encoded = plain.set_column(2, "text", pa.DictionaryArray.from_arrays(indices, dictionary))
    assert encoded.column("text").to_pylist() == words
    narrow = encoded.set_column(3, "value", plain.column("value").cast(pa.float32())).set_column(
        4, "count", plain.column("count").cast(pa.int8())
    )
    large = plain.set_column(2, "text", plain.column("text").cast(pa.large_string()))
    keyed = plain.set_column(
        0, "indicator", pa.DictionaryArray.from_arrays(pa.array([0, 1] * 3, pa.int32()), ["X", "X"])
    )
    parts = [["text", "value", "count"]]
    expected = digests_by_group(plain, _KEYS, parts)
    assert len(expected) == 1
    for other in (encoded, narrow, large, keyed):
        _same(digests_by_group(other, _KEYS, parts), expected)


def test_a_row_of_zeros_counts() -> None:
    zeros = pa.table({"indicator": ["I"], "domain": ["d"], "n": pa.array([0], pa.int64())})
    both = pa.concat_tables([zeros, zeros])
    one = digests_by_group(zeros, _KEYS, [["n"]])[("I", "d")].digests
    two = digests_by_group(both, _KEYS, [["n"]])[("I", "d")].digests
    assert one != [0] and two != one


def test_empty_parts_have_a_digest_each() -> None:
    found = digests_by_group(_one_row(), _KEYS, [[], ["territory"], []])
    (only,) = found.values()
    assert len(only.digests) == 3
    assert only.digests[1] == only.digests[2] != only.digests[0]


def test_other_types_with_missing_values_hash_as_their_text() -> None:
    table = pa.table(
        {
            "indicator": ["I", "I", "I"],
            "domain": ["d", "d", "d"],
            "items": pa.array([[1, 2], None, []], pa.list_(pa.int64())),
            "view": pa.array(["x", None, "y"], pa.string_view()),
        }
    )
    found = digests_by_group(table, _KEYS, [["items", "view"]])
    assert found[("I", "d")].rows == 3
    changed = table.set_column(2, "items", pa.array([[1, 3], None, []], pa.list_(pa.int64())))
    assert digests_by_group(changed, _KEYS, [["items", "view"]]) != found


def test_sums_of_a_full_batch_of_the_largest_digests_are_exact() -> None:
    rows = _row_digests.BATCH_ROWS
    digests = np.full(rows, np.uint64(2**64 - 1), dtype=np.uint64)
    slots = np.zeros(rows, dtype=np.int64)
    sums = _row_digests._sums(
        digests, slots, np.array([0]), np.empty(rows, np.uint64), np.empty(rows, np.float64)
    )
    assert sums == [rows * (2**64 - 1)]


def test_keys_of_many_distinct_texts_group_without_a_large_count_array() -> None:
    many = pa.array([f"k{i}" for i in range(200_000)], pa.string())
    # Two keys whose dictionaries hold 200,000 texts each (a product of 4e10 slots), of
    # which the rows use a few.
    first = pa.DictionaryArray.from_arrays(pa.array([5, 5, 199_999, 7], pa.int32()), many)
    second = pa.DictionaryArray.from_arrays(pa.array([1, 2, 1, 1], pa.int32()), many)
    table = pa.table({"a": first, "b": second, "v": [1.0, 2.0, 3.0, 4.0]})
    found = digests_by_group(table, ["a", "b"], [["v"]])
    assert {k: g.rows for k, g in found.items()} == {
        ("k5", "k1"): 1,
        ("k5", "k2"): 1,
        ("k199999", "k1"): 1,
        ("k7", "k1"): 1,
    }
    _same(found, _expected(table, ["a", "b"], [["v"]]))


def test_what_a_call_remembers_is_bounded_and_forgetting_changes_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Twenty chunks, each with a dictionary of its own, and a column of plain texts.
    chunks = [
        pa.table(
            {
                "indicator": pa.array(["I", "J"]).dictionary_encode(),
                "domain": pa.array(["d", "d"]).dictionary_encode(),
                "place": pa.array([f"p{n}", f"q{n}"]).dictionary_encode(),
                "note": pa.array([f"n{n}", None]),
            }
        )
        for n in range(20)
    ]
    table = pa.concat_tables(chunks)
    expected = digests_by_group(table, _KEYS, [["place", "note"]])
    monkeypatch.setattr(_row_digests, "_TEXTS_KEPT", 3)
    _same(digests_by_group(table, _KEYS, [["place", "note"]]), expected)
    _same(expected, _expected(table, _KEYS, [["place", "note"]]))
