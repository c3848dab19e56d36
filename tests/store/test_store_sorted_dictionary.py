"""A dictionary column re-encoded for the store keeps its rows' values, on a dictionary of
exactly the distinct values its rows use, sorted.

Reference: the rows decoded to text, their distinct non-missing values sorted. Chunks of
their own dictionaries, unused slots, one text in two slots of a dictionary, missing values.
"""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from welfare_observatory.store.edition import _sorted_column, _sorted_dictionary

_TEXTS = ["096004", "096", "IT", "F", "M", "_T", "b", "a"]


@st.composite
def _chunk(draw: st.DrawFn) -> pa.DictionaryArray:
    # Duplicates allowed: one text in two slots, and slots no row uses.
    dictionary = draw(st.lists(st.sampled_from(_TEXTS), min_size=1, max_size=6))
    slot = st.integers(0, len(dictionary) - 1)
    rows = draw(st.lists(st.none() | slot, max_size=30))
    return pa.DictionaryArray.from_arrays(
        pa.array(rows, pa.int32()), pa.array(dictionary, pa.string())
    )


@settings(max_examples=150, deadline=None)
@given(st.lists(_chunk(), min_size=1, max_size=5))
def test_values_kept_on_a_sorted_dictionary_of_used_values(chunks: list[pa.Array]) -> None:
    column = pa.chunked_array(chunks, pa.dictionary(pa.int32(), pa.string()))
    encoded = _sorted_dictionary(column)

    rows = column.cast(pa.string()).to_pylist()
    assert encoded.cast(pa.string()).to_pylist() == rows
    assert encoded.num_chunks == 1
    dictionary = encoded.chunk(0).dictionary.to_pylist()
    assert dictionary == sorted({r for r in rows if r is not None})
    # An index orders like its value: equal texts get equal indices.
    indices = encoded.chunk(0).indices.to_pylist()
    assert [None if i is None else dictionary[i] for i in indices] == rows


@st.composite
def _small_index_chunk(draw: st.DrawFn) -> pa.DictionaryArray:
    # int8 indices: chunks whose dictionaries together exceed them cannot be joined.
    size = draw(st.integers(1, 100))
    start = draw(st.integers(0, 150))
    dictionary = [f"v{start + i:03d}" for i in range(size)]
    rows = draw(st.lists(st.none() | st.integers(0, size - 1), max_size=20))
    return pa.DictionaryArray.from_arrays(pa.array(rows, pa.int8()), pa.array(dictionary))


@settings(max_examples=150, deadline=None)
@given(
    st.lists(_chunk(), min_size=1, max_size=5)
    | st.lists(_small_index_chunk(), min_size=1, max_size=4)
)
def test_a_column_joined_into_one_chunk_is_encoded_as_the_chunked_column(
    chunks: list[pa.Array],
) -> None:
    """The store joins a column's chunks before re-encoding it: the result (or the error)
    is the one the chunks give as they are."""
    column = pa.chunked_array(chunks, chunks[0].type)
    table = pa.table({"unit": column})
    try:
        expected = _sorted_dictionary(column)
    except pa.ArrowInvalid as exc:
        with pytest.raises(pa.ArrowInvalid, match=str(exc)[:40]):
            _sorted_column(table, 0, {"unit": False})
        return
    field, encoded = _sorted_column(table, 0, {"unit": False})
    assert encoded.equals(expected) and encoded.type == expected.type
    assert field == pa.field("unit", expected.type, nullable=False)
