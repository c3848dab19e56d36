"""The store's fast paths for a domain's rows against the paths they replace.

- A dictionary column re-encoded on its chunks' slots (no unified dictionary) is the column
  the unifying path gives, array for array: same values, same indices, same type; columns
  it does not take (a missing row or slot, an unsigned index) go the unifying way.
- Rows ordered by scattering their folded keys come in the order a stable sort gives,
  and duplicate keys are left to the sort.
- The manifest made from the configuration's JSON text the build already has is the one
  made from the configuration.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from welfare_observatory.store.edition import (
    _DICTIONARIES_COMPARED,
    _decoded_keys,
    _key_order,
    _ordered_part,
    _scattered_order,
    _sorted_dictionaries,
    _sorted_dictionary,
    _sorted_dictionary_by_slots,
    _sorted_dictionary_unified,
)

from .test_store_sort import _with_dictionary, table

_TEXTS = ["096004", "096", "IT", "F", "M", "_T", "b", "a", "é"]


@st.composite
def _column(draw: st.DrawFn) -> pa.ChunkedArray:
    """Chunks sharing one dictionary object, holding equal copies of it, or their own;
    repeated texts, unused slots, empty chunks; missing rows or slots now and then."""
    index_type = draw(st.sampled_from([pa.int8(), pa.int16(), pa.int32(), pa.int64()]))
    missing = draw(st.booleans())
    shared = pa.array(draw(st.lists(st.sampled_from(_TEXTS), min_size=1, max_size=6)))
    chunks = []
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["shared", "copy", "own"]))
        if kind == "shared":
            dictionary = shared
        elif kind == "copy":
            dictionary = pa.array(shared.to_pylist())
        else:
            texts = st.sampled_from(_TEXTS) | (st.none() if missing else st.nothing())
            dictionary = pa.array(draw(st.lists(texts, min_size=1, max_size=6)), pa.string())
        slot = st.integers(0, len(dictionary) - 1)
        rows = draw(st.lists(slot | (st.none() if missing else st.nothing()), max_size=25))
        chunks.append(pa.DictionaryArray.from_arrays(pa.array(rows, index_type), dictionary))
    return pa.chunked_array(chunks, pa.dictionary(index_type, pa.string()))


@settings(max_examples=300, deadline=None)
@given(_column())
def test_slots_path_is_the_unified_path(column: pa.ChunkedArray) -> None:
    fast = _sorted_dictionary_by_slots(column)
    try:
        expected = _sorted_dictionary_unified(column)
    except pa.ArrowInvalid:
        # Arrow cannot unify dictionaries holding a missing value (even in a chunk of no
        # rows): the slots path takes only columns without one a row uses, by the text.
        if fast is not None:
            rows = column.cast(pa.string()).to_pylist()
            assert fast.cast(pa.string()).to_pylist() == rows
            assert fast.chunk(0).dictionary.to_pylist() == sorted(set(rows))
        return
    if fast is not None:
        assert fast.type == expected.type
        assert fast.num_chunks == expected.num_chunks == 1
        assert fast.equals(expected)
    assert _sorted_dictionary(column).equals(expected)


def _encoded(chunks: list[tuple[list[int | None], list[Any]]], index: pa.DataType) -> Any:
    arrays = [
        pa.DictionaryArray.from_arrays(pa.array(rows, index), pa.array(texts, pa.string()))
        for rows, texts in chunks
    ]
    return pa.chunked_array(arrays, pa.dictionary(index, pa.string()))


@pytest.mark.parametrize(
    ("chunks", "index"),
    [
        ([([0, None], ["a"])], pa.int32()),  # a missing row
        ([([0, 1], ["a", None])], pa.int32()),  # a missing slot a row uses
        ([([0], ["a", None])], pa.int32()),  # a missing slot no row uses
        ([([0, 1], ["b", "a"])], pa.uint8()),  # an unsigned index
        ([([], ["a"])], pa.int32()),  # no rows
    ],
)
def test_columns_the_slots_path_leaves_to_the_unified_one(
    chunks: list[tuple[list[int | None], list[Any]]], index: pa.DataType
) -> None:
    column = _encoded(chunks, index)
    assert _sorted_dictionary_by_slots(column) is None
    assert _sorted_dictionary(column).equals(_sorted_dictionary_unified(column))


def test_more_dictionaries_than_compared_are_kept_apart_and_ranked_alike() -> None:
    # Every chunk its own (equal) dictionary in a new buffer: past the ones compared,
    # slots repeat in the table of slots, and equal texts still get equal indices.
    count = _DICTIONARIES_COMPARED + 5
    column = _encoded([([1, 0, 2], ["M", "F", "_T"]) for _ in range(count)], pa.int32())
    fast = _sorted_dictionary_by_slots(column)
    assert fast is not None
    assert fast.equals(_sorted_dictionary_unified(column))
    assert fast.chunk(0).dictionary.to_pylist() == ["F", "M", "_T"]
    assert fast.chunk(0).indices.to_pylist() == [0, 1, 2] * count


def test_a_chunk_buffer_is_never_written() -> None:
    # The rows of chunks after the first dictionary move in the table of slots: on a copy.
    column = _encoded([([0, 1], ["a", "b"]), ([0, 1], ["c", "a"])], pa.int32())
    before = [c.indices.to_pylist() for c in column.chunks]
    _sorted_dictionary_by_slots(column)
    assert [c.indices.to_pylist() for c in column.chunks] == before


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 40), min_size=1, max_size=60), st.integers(0, 20))
def test_scattered_order_is_the_stable_sort(keys: list[int], spare: int) -> None:
    folded = np.array(keys, dtype=np.uint64)
    room = max(keys) + 1 + spare
    order = _scattered_order(folded, room)
    if len(set(keys)) < len(keys):
        assert order is None  # ties are the sort's
    else:
        assert order is not None
        assert order.tolist() == np.argsort(folded, kind="stable").tolist()


def test_build_manifest_from_the_configuration_text_is_the_same() -> None:
    from welfare_observatory.lineage import LineageGraph, StepRecord, canonical_json
    from welfare_observatory.store.partitioned import build_manifest

    from .test_store_step_ids import _config

    config = _config()
    graph = LineageGraph([StepRecord.create("fetch", ["sha256:00"], {"url": "x"})])
    common: dict[str, Any] = {
        "graph": graph,
        "overrides": 0,
        "sources": {},
        "versions": {},
        "selection": ["POP_TOTAL"],
    }
    plain = build_manifest(config, **common)
    text = canonical_json(config.model_dump(mode="json"))
    given_text = build_manifest(config, config_json=text, **common)
    assert given_text.config_digest == plain.config_digest
    assert given_text.build == plain.build


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([(1 << 20) - 1, (1 << 20) - 2]),
            st.integers((1 << 40) - 400, (1 << 40) - 1),
        ),
        min_size=2,
        max_size=40,
    )
)
def test_folded_keys_past_float_precision_order_like_sort_indices(
    rows: list[tuple[int, int]],
) -> None:
    # Folded keys near 2**60, a few apart: through float64 (53 bits) they would tie.
    import pyarrow.compute as pc

    from welfare_observatory.store.edition import _key_order

    keys = pa.table(
        {
            "a": pa.array([r[0] for r in rows], pa.int64()),
            "b": pa.array([r[1] for r in rows], pa.int64()),
        }
    )
    names = ["a", "b"]
    expected = pc.sort_indices(keys, sort_keys=[(n, "ascending") for n in names])
    assert _key_order(keys, names).to_pylist() == expected.to_pylist()


@pytest.mark.parametrize("failing", ["analyses", "observations"])
def test_a_write_failing_on_either_thread_leaves_the_previous_build(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    # The analyses are written on a second thread while the domains are: a failure on
    # either side is the build's, and the staging folder goes only once both are done.
    import threading
    import time

    from welfare_observatory.errors import StoreError
    from welfare_observatory.store import KnowledgeBase, edition

    from .test_store_editions import BIELLA, build

    build(tmp_path, "2025", "b-1", BIELLA)
    real_write, real_observations = edition.write_parquet, edition._write_observations
    finished: list[str] = []

    def write_parquet(table: pa.Table, path: Any, **options: bool) -> dict[str, Any]:
        if failing == "analyses" and path.parent.parent.name == "analyses":
            raise OSError(28, "No space left on device")
        time.sleep(0.2)  # still writing when the other thread fails
        record = real_write(table, path, **options)
        finished.append(threading.current_thread().name)
        return record

    def write_observations(*args: Any, **kwargs: Any) -> dict[str, Any]:
        if failing == "observations":
            raise OSError(28, "No space left on device")
        return real_observations(*args, **kwargs)

    monkeypatch.setattr(edition, "write_parquet", write_parquet)
    monkeypatch.setattr(edition, "_write_observations", write_observations)
    with pytest.raises(StoreError, match="No space left on device"):
        build(tmp_path, "2025", "b-2", {("POP_TOTAL", "096004"): 1.0})
    if failing == "observations":
        assert finished and all(n.startswith("store") for n in finished)
    kb = KnowledgeBase.open(tmp_path)
    assert kb.edition("2025").build == "b-1"
    assert kb.observations(territory="096004")["value"].tolist() == [42619.0]
    assert not [p for p in (tmp_path / "2025").iterdir() if p.name.startswith(".")]


# The same bytes split otherwise: equal lengths in total, not row by row.
@example(["a", "aa", ""], 1, False)
@example(["ab", "", "abab"], 0, True)
@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(["", "a", "aa", "ab", "ba", "é", "health", "healt", "hhealth"]), min_size=1
    ),
    st.integers(0, 3),
    st.booleans(),
)
def test_uniform_text_of_a_chunk_is_what_comparing_the_rows_tells(
    texts: list[str], skip: int, wide: bool
) -> None:
    import pyarrow.compute as pc

    from welfare_observatory.store.edition import _uniform_text

    # Sliced (an offset into shared buffers) as a table's chunks often are.
    whole = pa.array(["zz"] * skip + texts, pa.large_string() if wide else pa.string())
    chunk = whole.slice(skip)
    same = pc.all(pc.equal(chunk, chunk[0])).as_py()
    assert _uniform_text(chunk) == (chunk[0].as_py() if same else None)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["POP_TOTAL", "BIRTHS", "OLD_AGE_INDEX"]),
            st.sampled_from(["096004", "096", "IT", "01"]),
            st.sampled_from(["2023", "2019", "2022-01-01"]),
        ),
        min_size=1,
        max_size=40,
        unique=True,
    ),
    st.integers(1, 4),
    st.booleans(),
)
def test_ordered_part_column_by_column_is_the_table_taken_whole(
    rows: list[tuple[str, str, str]], chunks: int, reencode: bool
) -> None:
    # What it replaces: every dictionary re-encoded, then the table taken in key order.
    data = table(rows, chunks)
    if reencode:
        data = _with_dictionary(data, "territory", ["IT", "096", "01", "096004", "IT"])
    names = ["indicator", "territory", "period"]
    whole = _sorted_dictionaries(data.drop_columns(["domain"]))
    expected = whole.take(_key_order(_decoded_keys(whole, names, ranked=True), names))
    found = _ordered_part(data, names)
    assert found.schema.equals(expected.schema, check_metadata=True)
    assert found.equals(expected)
    assert [c.num_chunks for c in found.columns] == [c.num_chunks for c in expected.columns]
