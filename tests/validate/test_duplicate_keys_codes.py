"""The duplicate-key check first tells whether any two rows share a key from integer codes
(``schema._keys_unique``: each key column's texts numbered, a row's numbers packed into one
integer, sorted); only when they might does it group the texts, which names the
duplicates. The findings are those of grouping every time, whatever the columns' encoding
(plain text, a dictionary, one repeating a text in two slots) and with missing keys."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from welfare_observatory.validate import schema

KEYS = ["indicator", "territory", "period", "sex"]
TEXTS = st.sampled_from(["A", "B", "C", "AB", "é", ""])


def _column(values: list[str | None], how: str) -> pa.Array:
    plain = pa.array(values, pa.string())
    if how == "plain":
        return plain
    if how == "dictionary":
        return plain.dictionary_encode()
    if how == "null in dictionary":
        # A missing key as a NULL the dictionary holds, its index valid.
        texts = sorted({v for v in values if v is not None})
        dictionary = pa.array([*texts, None], pa.string())
        indices = [len(texts) if v is None else texts.index(v) for v in values]
        return pa.DictionaryArray.from_arrays(pa.array(indices, pa.int32()), dictionary)
    # A dictionary built by hand that holds every text twice (one text, two slots).
    texts = sorted({v for v in values if v is not None})
    dictionary = pa.array(texts + texts, pa.string())
    slot = {t: i for i, t in enumerate(texts)}
    indices = [
        None if v is None else slot[v] + (len(texts) if n % 2 else 0) for n, v in enumerate(values)
    ]
    return pa.DictionaryArray.from_arrays(pa.array(indices, pa.int32()), dictionary)


@st.composite
def tables(draw: st.DrawFn) -> pa.Table:
    rows = draw(st.integers(0, 25))
    nulls = draw(st.booleans())
    cell = st.one_of(st.none(), TEXTS) if nulls else TEXTS
    columns = {}
    for name in KEYS:
        values = draw(st.lists(cell, min_size=rows, max_size=rows))
        how = st.sampled_from(["plain", "dictionary", "twice", "null in dictionary"])
        columns[name] = _column(values, draw(how))
    return pa.table(columns)


def _grouped(table: pa.Table, monkeypatch: pytest.MonkeyPatch) -> list[object]:
    with monkeypatch.context() as patch:
        patch.setattr(schema, "_keys_unique", lambda *_: False)
        return schema._check_duplicates(table, KEYS, "s")


@settings(max_examples=300, deadline=None)
@given(table=tables())
def test_the_codes_give_the_findings_grouping_gives(table: pa.Table) -> None:
    with pytest.MonkeyPatch.context() as patch:
        expected = _grouped(table, patch)
    assert schema._check_duplicates(table, KEYS, "s") == expected
    unique = schema._keys_unique(table, KEYS)
    assert not (unique and expected)  # never says unique of keys that repeat
    missing = any(pc.any(pc.is_null(table.column(k))).as_py() for k in KEYS)
    # Unique keys without a missing one are told by the codes alone (no grouping).
    assert unique or expected or missing


def test_a_duplicate_key_across_encodings_is_found() -> None:
    # The same key, once in each of the two slots a hand-built dictionary gives its text.
    table = pa.table({k: _column(["A", "A"], "twice") for k in KEYS})
    assert not schema._keys_unique(table, KEYS)
    (found,) = schema._check_duplicates(table, KEYS, "s")
    assert found.code == "duplicate-key" and found.count == 1


def test_keys_too_many_for_one_integer_are_left_to_grouping(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Five columns of 10,000 distinct texts: 10**20 combinations, beyond 63 bits.
    texts = [f"{i:05d}" for i in range(10_000)]
    wide = pa.table({f"k{i}": pa.array(texts, pa.string()) for i in range(5)})
    assert not schema._keys_unique(wide, list(wide.column_names))
    assert schema._keys_unique(wide, list(wide.column_names)[:4])


def test_a_key_that_is_not_text_is_left_to_grouping() -> None:
    table = pa.table({"indicator": ["A", "B"], "period": pa.array([1, 2], pa.int64())})
    assert not schema._keys_unique(table, ["indicator", "period"])
    assert schema._check_duplicates(table, ["indicator", "period"], "s") == []
