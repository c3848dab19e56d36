"""The fast paths of the store's domain split against what they replace.

A table whose chunks each hold one domain (a source's or an indicator group's rows, the
usual shape) is split by chunk ranges instead of a row-by-row comparison, and a domain's
rows are ordered on one folded integer key instead of ``pc.sort_indices`` on the key
columns. Differential: the partition files are byte for byte those the text comparison per
domain writes; the order is the one ``pc.sort_indices`` gives, ties included.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from welfare_observatory.model.observation import observation_schema
from welfare_observatory.store import edition
from welfare_observatory.store.edition import (
    _domain_spans,
    _key_order,
    _one_index,
    _one_text,
    _write_observations,
)

from .test_store_domain_split import ByDomain, _by_text, _files

INDICATORS = ["POP_TOTAL", "BIRTHS", "OLD_AGE_INDEX"]
TERRITORIES = ["096004", "096", "IT"]
DOMAINS = ["demography", "health", "labour", "None"]


def _chunk(rows: list[tuple[str, str, str]], domain: Any, encoding: str) -> pa.Table:
    records = [
        {
            "indicator": i,
            "territory": t,
            "period": p,
            "period_start": date(2000, 1, 1),
            "value": float(n),
            "unit": "person",
            "obs_status": "A",
            "conf_status": "F",
            "flags": None,
            "source": "s",
            "lineage": "l",
        }
        for n, (i, t, p) in enumerate(rows)
    ]
    table = pa.Table.from_pylist(records, schema=observation_schema(()))
    texts = domain if isinstance(domain, list) else [domain] * len(rows)
    column: Any = pa.array(texts, pa.string())
    if encoding == "dictionary":
        column = column.dictionary_encode()
    return table.append_column("domain", column)


key = st.tuples(
    st.sampled_from(INDICATORS),
    st.sampled_from(TERRITORIES),
    st.sampled_from(["2020", "2021", "2019-01-01"]),
)
# A chunk of one domain (the fast path), or now and then one of several or a missing one.
chunk = st.tuples(
    st.lists(key, min_size=0, max_size=12),
    st.one_of(
        st.sampled_from(DOMAINS),
        st.sampled_from(DOMAINS),
        st.lists(st.one_of(st.sampled_from(DOMAINS), st.none()), min_size=12, max_size=12),
    ),
)


@settings(max_examples=80, deadline=None)
@given(
    chunks=st.lists(chunk, min_size=1, max_size=6),
    encoding=st.sampled_from(["plain", "dictionary"]),
)
def test_split_by_chunk_writes_the_files_the_text_comparison_wrote(
    tmp_path_factory: Any, chunks: list[tuple[list[tuple[str, str, str]], Any]], encoding: str
) -> None:
    tables = [
        _chunk(rows, domain if isinstance(domain, str) else domain[: len(rows)], encoding)
        for rows, domain in chunks
    ]
    data = pa.concat_tables(tables, promote_options="permissive")
    before, after = tmp_path_factory.mktemp("text"), tmp_path_factory.mktemp("spans")
    expected = _by_text(data, before)
    got = _write_observations(data, after)
    assert got == expected
    assert _files(after) == _files(before)


def test_spans_are_the_row_ranges_of_each_domain() -> None:
    data = pa.chunked_array([["a", "a"], [], ["b"], ["a"], ["a", "a"]], pa.string())
    assert _domain_spans(data) == {"a": [(0, 2), (3, 6)], "b": [(2, 3)]}


@pytest.mark.parametrize(
    "chunks",
    [
        [["a", "b"]],  # one chunk of two domains
        [["a"], ["a", None]],  # a missing domain
    ],
)
def test_a_chunk_of_mixed_or_missing_domains_is_split_row_by_row(chunks: list[list[Any]]) -> None:
    assert _domain_spans(pa.chunked_array(chunks, pa.string())) is None


def test_one_text_in_two_dictionary_slots_is_split_row_by_row() -> None:
    column = pa.DictionaryArray.from_arrays(pa.array([0, 1], pa.int32()), ["a", "a"])
    assert _domain_spans(pa.chunked_array([column])) is None


def test_a_domain_column_of_numbers_is_split_row_by_row() -> None:
    assert _domain_spans(pa.chunked_array([[1, 1]], pa.int64())) is None


INDEX_TYPES = [
    pa.int8(),
    pa.int16(),
    pa.int32(),
    pa.int64(),
    pa.uint8(),
    pa.uint16(),
    pa.uint32(),
    pa.uint64(),
]


@st.composite
def index_arrays(draw: st.DrawFn) -> tuple[pa.Array, list[int]]:
    """A slice of an index array (an offset into a larger buffer) and its rows: every row
    one value of the type's whole range, or all but one row (anywhere, the last too)."""
    kind = draw(st.sampled_from(INDEX_TYPES))
    bits = kind.bit_width
    signed = pa.types.is_signed_integer(kind)
    value = (
        st.integers(-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
        if signed
        else st.integers(0, 2**bits - 1)
    )
    size = draw(st.integers(1, 40))
    rows = [draw(value)] * size
    if draw(st.booleans()):
        rows[draw(st.integers(0, size - 1))] = draw(value)  # another value, or the same
    before, after = draw(st.lists(value, max_size=3)), draw(st.lists(value, max_size=3))
    whole = pa.array(before + rows + after, kind)
    return whole.slice(len(before), size), rows


@example(arrays=(pa.array([0] * 9 + [7], pa.int8()), [0] * 9 + [7]), block=3)
@example(arrays=(pa.array([200] * 3, pa.uint8()), [200] * 3), block=2)
@example(arrays=(pa.array([2**63] * 2, pa.uint64()), [2**63] * 2), block=8)
@settings(max_examples=400, deadline=None)
@given(arrays=index_arrays(), block=st.sampled_from([1, 3, 8, 24, 1 << 18]))
def test_one_index_is_what_comparing_the_rows_tells(
    arrays: tuple[pa.Array, list[int]], block: int
) -> None:
    """The rows' bytes compared a block at a time (blocks of whole rows: one row when a row
    is wider than the block; the last block short when the rows do not fill it) tell what
    comparing the rows as integers tells, read with the type's sign."""
    indices, rows = arrays
    same = len(set(rows)) == 1
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(edition, "_COMPARED_BYTES", block)
        assert _one_index(indices) == (rows[0] if same else None)


def test_a_missing_row_or_none_has_no_one_index() -> None:
    assert _one_index(pa.array([1, None, 1], pa.int32())) is None
    assert _one_index(pa.array([], pa.int32())) is None


def test_a_negative_index_is_read_as_signed() -> None:
    # Not an index a valid dictionary array holds: what the bytes say, read as Arrow does.
    assert _one_index(pa.array([-2, -2], pa.int16())) == -2


@pytest.mark.parametrize("index", [-1, 2])
def test_a_slot_outside_the_dictionary_names_no_text(index: int) -> None:
    # An array no valid build holds (a damaged file): never read as another slot's text.
    chunk = pa.DictionaryArray.from_arrays(
        pa.array([index, index], pa.int32()), pa.array(["a", "b"]), safe=False
    )
    assert _one_text(chunk) is None


ranks = st.one_of(st.none(), st.integers(0, 5))


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(st.tuples(ranks, ranks, ranks), min_size=0, max_size=50),
    wide=st.booleans(),
)
def test_folded_key_orders_like_sort_indices(
    rows: list[tuple[int | None, int | None, int | None]], wide: bool
) -> None:
    names = ["a", "b", "c"]
    columns = {n: [r[k] for r in rows] for k, n in enumerate(names)}
    if wide:
        # Ranks whose mixed-radix product does not fit 63 bits: the columns are sorted.
        columns["a"] = [None if v is None else v * (1 << 40) for v in columns["a"]]
        columns["b"] = [None if v is None else v * (1 << 30) for v in columns["b"]]
    keys = pa.table(
        {n: pa.array(v, pa.int64() if wide else pa.int32()) for n, v in columns.items()}
    )
    expected = pc.sort_indices(keys, sort_keys=[(n, "ascending") for n in names])
    assert _key_order(keys, names).to_pylist() == expected.to_pylist()


@settings(max_examples=100, deadline=None)
@given(rows=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), min_size=2, max_size=60))
def test_folded_key_keeps_ties_in_row_order(rows: list[tuple[int, int]]) -> None:
    keys = pa.table({"a": pa.array([r[0] for r in rows], pa.int32())})
    order = _key_order(keys, ["a"]).to_pylist()
    assert order == sorted(range(len(rows)), key=lambda i: rows[i][0])


def test_text_keys_are_sorted_as_text() -> None:
    keys = pa.table({"a": ["b", "a", "c"], "b": pa.array([1, 2, 3], pa.int32())})
    assert _key_order(keys, ["a", "b"]).to_pylist() == [1, 0, 2]


@pytest.mark.parametrize("harm", ["damaged", "missing", "other digest"])
def test_an_earlier_file_not_intact_is_written_anew(tmp_path: Path, harm: str) -> None:
    data = pa.concat_tables(
        [
            _chunk([("BIRTHS", "IT", "2020")], "health", "plain"),
            _chunk([("BIRTHS", "096", "2020")], "labour", "plain"),
        ]
    )
    digests: dict[str, str] = {}
    fresh = _write_observations(data, tmp_path / "fresh", digests=digests)
    earlier = tmp_path / "fresh" / "domain=health" / "part-0.parquet"
    expected = digests["domain=health/part-0.parquet"]
    kept = earlier.read_bytes()
    if harm == "damaged":
        earlier.write_bytes(kept[:-1] + bytes([kept[-1] ^ 1]))
    elif harm == "missing":
        earlier.unlink()
    else:
        expected = "0" * 64
    again: dict[str, str] = {}
    links = ByDomain({"health": (earlier, expected)})
    got = _write_observations(data, tmp_path / "b", links, again)
    assert got == fresh and again == digests
    written = tmp_path / "b" / "domain=health" / "part-0.parquet"
    assert written.read_bytes() == kept and written.stat().st_nlink == 1


def test_an_intact_earlier_file_is_linked(tmp_path: Path) -> None:
    data = _chunk([("BIRTHS", "IT", "2020")], "health", "plain")
    digests: dict[str, str] = {}
    fresh = _write_observations(data, tmp_path / "a", digests=digests)
    earlier = tmp_path / "a" / "domain=health" / "part-0.parquet"
    links = ByDomain({"health": (earlier, digests["domain=health/part-0.parquet"])})
    got = _write_observations(data, tmp_path / "b", links)
    assert got == fresh
    assert (tmp_path / "b" / "domain=health" / "part-0.parquet").stat().st_nlink == 2
