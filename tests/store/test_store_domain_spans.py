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
from hypothesis import given, settings
from hypothesis import strategies as st

from welfare_observatory.model.observation import observation_schema
from welfare_observatory.store import edition
from welfare_observatory.store.edition import (
    _domain_spans,
    _key_order,
    _one_index,
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


INDEX_TYPES = [pa.int8(), pa.int16(), pa.int32(), pa.int64(), pa.uint8(), pa.uint32()]


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(st.integers(0, 3), min_size=1, max_size=40),
    differ=st.one_of(st.none(), st.integers(0, 39)),
    skip=st.integers(0, 3),
    kind=st.sampled_from(INDEX_TYPES),
    block=st.sampled_from([1, 3, 8, 1 << 18]),
)
def test_one_index_is_what_comparing_the_rows_tells(
    values: list[int],
    differ: int | None,
    skip: int,
    kind: pa.DataType,
    block: int,
) -> None:
    """The rows' bytes compared block by block (blocks of one, three and eight bytes, and
    the default: a row cut across two blocks, a short last block) tell what comparing the
    rows as integers tells, on a slice of a larger array (an offset into its buffer)."""
    rows = [values[0]] * len(values) if differ is None else values
    if differ is not None and differ < len(rows):
        rows[differ] = 7  # one row another index (or the first, when it is row 0)
    whole = pa.array([5] * skip + rows + [6], kind)
    indices = whole.slice(skip, len(rows))
    same = len(set(rows)) == 1
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(edition, "_COMPARED_BYTES", block)
        assert _one_index(indices) == (rows[0] if same else None)


def test_a_negative_index_is_read_as_signed() -> None:
    # Not an index a valid dictionary array holds: what the bytes say, read as Arrow does.
    assert _one_index(pa.array([-2, -2], pa.int16())) == -2


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
