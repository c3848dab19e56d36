"""The duplicate-key check first tells whether any two rows share a key from integer codes
(``schema._keys_unique``: each key column's texts numbered, a row's numbers packed into one
integer, sorted); only when they might does it group the texts, which names the
duplicates. The findings are those of grouping every time, whatever the columns' encoding
(plain text, a dictionary, one repeating a text in two slots) and with missing keys."""

from __future__ import annotations

from itertools import pairwise

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from welfare_observatory.validate import schema

KEYS = ["indicator", "territory", "period", "sex"]
TEXTS = st.sampled_from(["A", "B", "C", "AB", "é", ""])


def _encoded(values: list[str | None], how: str) -> pa.Array:
    """One chunk of ``values``: a slice of a longer array (an offset of its own)."""
    padded = ["pad", *values]
    if how == "plain":
        return pa.array(padded, pa.string()).slice(1)
    if how == "large":
        return pa.array(padded, pa.large_string()).slice(1)
    if how == "dictionary":
        return pa.array(padded, pa.string()).dictionary_encode().slice(1)
    texts = sorted({v for v in padded if v is not None})
    if how == "twice":
        # One text in two slots of the dictionary, missing keys as missing indices.
        dictionary = pa.array(texts + texts, pa.string())
        indices = [
            None if v is None else texts.index(v) + (len(texts) if n % 2 else 0)
            for n, v in enumerate(padded)
        ]
    else:  # "null in dictionary": a missing key as a NULL the dictionary holds
        dictionary = pa.array([*texts, None], pa.string())
        indices = [len(texts) if v is None else texts.index(v) for v in padded]
    array = pa.DictionaryArray.from_arrays(pa.array(indices, pa.int32()), dictionary)
    return array.slice(1)


ENCODINGS = {
    "plain": ["plain"],
    "large": ["large"],
    "dictionary": ["dictionary", "twice", "null in dictionary"],
}


@st.composite
def columns(draw: st.DrawFn, values: list[str | None]) -> pa.ChunkedArray:
    """``values`` in one to three chunks of one type, each chunk encoded its own way (a
    dictionary of its own, which Arrow may or may not be able to unify)."""
    kind = draw(st.sampled_from(sorted(ENCODINGS)))
    cuts = sorted(draw(st.lists(st.integers(0, len(values)), max_size=2)))
    bounds = [0, *cuts, len(values)]
    chunks = [
        _encoded(values[a:b], draw(st.sampled_from(ENCODINGS[kind]))) for a, b in pairwise(bounds)
    ]
    return pa.chunked_array(chunks, chunks[0].type)


@st.composite
def tables(draw: st.DrawFn) -> pa.Table:
    rows = draw(st.integers(0, 25))
    nulls = draw(st.booleans())
    cell = st.one_of(st.none(), TEXTS) if nulls else TEXTS
    made = {}
    for name in KEYS:
        values = draw(st.lists(cell, min_size=rows, max_size=rows))
        made[name] = draw(columns(values))
    return pa.table(made)


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
    held = any(
        pa.types.is_dictionary(chunk.type) and chunk.dictionary.null_count
        for k in KEYS
        for chunk in table.column(k).chunks
    )
    # Unique keys without a missing one are told by the codes alone (no grouping), unless
    # a dictionary holds a NULL (Arrow does not unify such dictionaries).
    assert unique or expected or missing or held


def test_a_duplicate_key_across_encodings_is_found() -> None:
    # The same key, once in each of the two slots a hand-built dictionary gives its text.
    table = pa.table({k: pa.chunked_array([_encoded(["A", "A"], "twice")]) for k in KEYS})
    assert not schema._keys_unique(table, KEYS)
    (found,) = schema._check_duplicates(table, KEYS, "s")
    assert found.code == "duplicate-key" and found.count == 1


def test_keys_too_many_for_one_integer_are_left_to_grouping() -> None:
    # Five columns of 10,000 distinct texts: 10**20 combinations, beyond 63 bits.
    texts = [f"{i:05d}" for i in range(10_000)]
    wide = pa.table({f"k{i}": pa.array(texts, pa.string()) for i in range(5)})
    assert not schema._keys_unique(wide, list(wide.column_names))
    assert schema._keys_unique(wide, list(wide.column_names)[:4])


def test_a_key_that_is_not_text_is_left_to_grouping() -> None:
    table = pa.table({"indicator": ["A", "B"], "period": pa.array([1, 2], pa.int64())})
    assert not schema._keys_unique(table, ["indicator", "period"])
    assert schema._check_duplicates(table, ["indicator", "period"], "s") == []
