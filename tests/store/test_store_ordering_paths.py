"""The cheaper ways the store orders a domain's rows, against the plain ways they replace.

- A domain's rows ordered and re-encoded (:func:`_ordered_part`) are the rows a plain
  reference gives (keys compared as text, a stable sort, each dictionary rebuilt from the
  sorted distinct texts), and their Parquet file is byte for byte the reference's: with
  columns of one value, every row missing, several values, missing rows.
- The distinct indices read off the runs' first rows are the ones hashing every row finds.
- A column kept as it is (one value, or every row missing) is the column a take gives.
- One domain's ordered rows at a time: each is freed before the next domain is ordered. A
  domain file that cannot be written (disk full) is the store's error, no later domain is
  written and nothing of the build stays behind.
"""

from __future__ import annotations

import errno
import gc
import weakref
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from welfare_observatory.errors import StoreError
from welfare_observatory.model.observation import observation_schema
from welfare_observatory.store import edition
from welfare_observatory.store.edition import (
    Manifest,
    _distinct,
    _ordered_part,
    _sorted_dictionary_by_slots,
    _sorted_dictionary_unified,
    _taken,
    write_build,
    write_parquet,
)

NAMES = ["indicator", "territory", "period"]
INDICATORS = ["POP_TOTAL", "BIRTHS", "OLD_AGE_INDEX"]
TERRITORIES = ["096004", "096", "IT", "096025"]
PERIODS = ["2023", "2019", "2021"]


@st.composite
def _domain(draw: st.DrawFn) -> pa.Table:
    """A domain's rows in chunks of their own dictionaries: the other columns hold one
    value, every row missing, or several values (missing ones among them)."""
    keys = draw(
        st.lists(
            st.tuples(
                st.sampled_from(INDICATORS), st.sampled_from(TERRITORIES), st.sampled_from(PERIODS)
            ),
            min_size=1,
            max_size=40,
            unique=True,
        )
    )

    def column(values: list[Any]) -> st.SearchStrategy[list[Any]]:
        n = len(keys)
        one = st.sampled_from([v for v in values if v is not None]).map(lambda v: [v] * n)
        every = st.lists(st.sampled_from(values), min_size=n, max_size=n)
        return st.one_of(one, every, st.just([None] * n)) if None in values else one | every

    units = draw(column(["person", "percent"]))
    flags = draw(column(["e", "p", None]))
    sources = draw(column(["s1", "s2"]))
    rows = [
        {
            "indicator": i,
            "territory": t,
            "period": p,
            "period_start": date(int(p), 1, 1),
            "value": float(n),
            "unit": units[n],
            "obs_status": "A",
            "conf_status": "F",
            "flags": flags[n],
            "source": sources[n],
            "lineage": "l",
        }
        for n, (i, t, p) in enumerate(keys)
    ]
    schema = observation_schema(())
    chunks = draw(st.integers(1, 4))
    size = max(1, len(rows) // chunks)
    parts = [
        pa.Table.from_pylist(rows[k : k + size], schema=schema) for k in range(0, len(rows), size)
    ]
    whole = pa.concat_tables(parts)
    return whole.append_column("domain", pa.array(["demography"] * whole.num_rows))


def _reference(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """The rows sorted by their keys as text (stable), every dictionary column rebuilt on
    the sorted distinct texts its rows hold."""
    table = table.drop_columns(["domain"])
    text = {n: table.column(n).cast(pa.string()) for n in NAMES}
    order = pc.sort_indices(pa.table(text), sort_keys=[(n, "ascending") for n in NAMES])
    columns = []
    for field in schema:
        column = table.column(field.name).take(order).combine_chunks()
        if pa.types.is_dictionary(field.type):
            plain = column.cast(pa.string())
            values = pa.array(sorted({v for v in plain.to_pylist() if v is not None}), pa.string())
            indices = pc.index_in(plain, value_set=values).cast(field.type.index_type)
            column = pa.DictionaryArray.from_arrays(indices, values)
        columns.append(pa.chunked_array([column], field.type))
    return pa.Table.from_arrays(columns, schema=schema)


@settings(max_examples=120, deadline=None)
@given(_domain())
def test_a_domain_ordered_is_the_reference_byte_for_byte(table: pa.Table) -> None:
    import tempfile

    ordered = _ordered_part(table, NAMES)
    expected = _reference(table, ordered.schema)
    assert ordered.equals(expected)
    with tempfile.TemporaryDirectory() as folder:
        ours = write_parquet(ordered, Path(folder) / "ours.parquet")
        theirs = write_parquet(expected, Path(folder) / "theirs.parquet")
    assert ours["sha256"] == theirs["sha256"]


@st.composite
def _indices(draw: st.DrawFn) -> pa.Array:
    """Rows in runs of equal indices (long or short), or scattered; any signed type."""
    index_type = draw(st.sampled_from([pa.int8(), pa.int16(), pa.int32(), pa.int64()]))
    runs = draw(st.lists(st.tuples(st.integers(0, 100), st.integers(1, 40)), min_size=1))
    rows = np.repeat([v for v, _ in runs], [n for _, n in runs])
    if draw(st.booleans()):
        rows = np.random.default_rng(draw(st.integers(0, 9))).permutation(rows)
    return pa.array(rows, index_type)


@settings(max_examples=200, deadline=None)
@given(_indices())
def test_distinct_indices_are_those_hashing_every_row_finds(indices: pa.Array) -> None:
    assert sorted(_distinct(indices).tolist()) == sorted(pc.unique(indices).to_pylist())


def test_distinct_indices_of_long_columns_runs_in_the_head_or_the_tail_only() -> None:
    rng = np.random.default_rng(19)
    runs = np.repeat(np.arange(50), 200)  # 10,000 rows in 50 runs
    scattered = rng.integers(0, 300, 10_000)
    for rows in (
        runs,
        scattered,
        np.concatenate([runs, scattered]),  # the head looks like runs, the tail does not
        np.concatenate([scattered, runs]),
        np.concatenate([runs, [7]]),  # one value only in the last row
    ):
        indices = pa.array(rows, pa.int32())
        assert set(_distinct(indices).tolist()) == set(pc.unique(indices).to_pylist())


def test_a_long_column_in_runs_is_encoded_as_the_unifying_path_encodes_it() -> None:
    rng = np.random.default_rng(4)
    dictionary = pa.array([f"t{k:03d}" for k in rng.permutation(300)])
    rows = np.repeat(rng.integers(0, 300, 500), rng.integers(1, 60, 500))
    for used in (rows, np.zeros_like(rows), np.concatenate([rows, rng.integers(0, 300, 9000)])):
        column = pa.chunked_array(
            [pa.DictionaryArray.from_arrays(pa.array(used, pa.int32()), dictionary)]
        )
        fast = _sorted_dictionary_by_slots(column)
        assert fast is not None
        assert fast.equals(_sorted_dictionary_unified(column))


def test_a_slot_outside_its_dictionary_is_left_to_the_unifying_path() -> None:
    rows = pa.array([0, 1, 5], pa.int32())
    column = pa.chunked_array(
        [pa.DictionaryArray.from_arrays(rows, pa.array(["a", "b"]), safe=False)]
    )
    assert _sorted_dictionary_by_slots(column) is None


def test_one_value_over_chunks_of_different_dictionaries_is_index_zero() -> None:
    chunks = [
        pa.DictionaryArray.from_arrays(pa.array([1, 1], pa.int32()), pa.array(["x", "F"])),
        pa.DictionaryArray.from_arrays(pa.array([0], pa.int32()), pa.array(["F"])),
    ]
    column = pa.chunked_array(chunks)
    fast = _sorted_dictionary_by_slots(column)
    assert fast is not None
    assert fast.equals(_sorted_dictionary_unified(column))
    assert fast.chunk(0).indices.to_pylist() == [0, 0, 0]
    assert fast.chunk(0).dictionary.to_pylist() == ["F"]


_COLUMNS = {
    "one value": pa.chunked_array(
        [pa.DictionaryArray.from_arrays(pa.array([0, 0, 0, 0], pa.int32()), pa.array(["A"]))]
    ),
    "one value, a row missing": pa.chunked_array(
        [pa.DictionaryArray.from_arrays(pa.array([0, None, 0, 0], pa.int32()), pa.array(["A"]))]
    ),
    "one value, two chunks": pa.chunked_array(
        [
            pa.DictionaryArray.from_arrays(pa.array([0, 0], pa.int32()), pa.array(["A"])),
            pa.DictionaryArray.from_arrays(pa.array([0, 0], pa.int32()), pa.array(["A"])),
        ]
    ),
    "two values": pa.chunked_array(
        [pa.DictionaryArray.from_arrays(pa.array([1, 0, 1, 0], pa.int32()), pa.array(["A", "B"]))]
    ),
    "every text missing": pa.chunked_array([pa.nulls(2, pa.string()), pa.nulls(2, pa.string())]),
    "every number missing": pa.chunked_array([pa.nulls(4, pa.float64())]),
    "numbers": pa.chunked_array([pa.array([1.0, None]), pa.array([3.0, 4.0])]),
}


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(sorted(_COLUMNS)), st.permutations(range(4)))
def test_a_column_kept_as_it_is_is_the_column_taken(name: str, order: list[int]) -> None:
    column = _COLUMNS[name]
    taken = _taken(column, pa.array(order, pa.int64()))
    expected = column.take(pa.array(order, pa.int64()))
    assert taken.type == expected.type
    assert taken.combine_chunks().equals(expected.combine_chunks())
    assert taken.num_chunks == 1


def test_an_empty_column_is_taken_as_it_is() -> None:
    empty = pa.chunked_array([], pa.string())
    assert _taken(empty, pa.array([], pa.int64())).to_pylist() == []


def test_each_domain_is_ordered_only_once_the_previous_file_is_written_and_freed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One domain's ordered copy at a time: each is gone (nothing keeps it) before the next
    domain is ordered, so the store's memory is one domain's, whatever their number."""
    table = _reference_domain()  # 12 rows in 4 domains
    written: list[weakref.ref[pa.Table]] = []
    ordered = edition._ordered_part

    def watched(part: pa.Table, names: list[str]) -> pa.Table:
        gc.collect()
        assert all(ref() is None for ref in written), "an earlier domain's rows are still held"
        result = ordered(part, names)
        written.append(weakref.ref(result))
        return result

    monkeypatch.setattr(edition, "_ordered_part", watched)
    edition._write_observations(table, tmp_path / "observations")
    assert len(written) == 4


def test_a_domain_file_that_cannot_be_written_is_a_store_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = _reference_domain()
    calls: list[str] = []
    real = edition.write_parquet

    def full_at_second_domain(data: pa.Table, path: Path, **options: bool) -> dict[str, Any]:
        if "domain=" in str(path):
            calls.append(path.parent.name)
            if len(calls) == 2:
                raise OSError(errno.ENOSPC, "No space left on device")
        return real(data, path, **options)

    monkeypatch.setattr(edition, "write_parquet", full_at_second_domain)
    manifest = Manifest(
        observatory="o",
        edition="2025",
        build="b-1",
        created="2026-01-01T00:00:00Z",
        library_version="0",
        config_digest="x",
        reference_date="2024-01-01",
        territory="096",
    )
    empty = pa.table({"a": pa.array([], pa.int64())})
    with pytest.raises(StoreError, match="No space left on device"):
        write_build(tmp_path, manifest, observations=table, lineage=empty, findings=empty)
    assert calls == ["domain=d0", "domain=d1"]  # no domain after the one that failed
    assert not [p for p in (tmp_path / "2025").iterdir() if p.name.startswith(".building-")]
    assert not (tmp_path / "2025" / "b-1").exists()


def _reference_domain() -> pa.Table:
    rows = [("POP_TOTAL", t, p) for t in TERRITORIES for p in PERIODS]
    records = [
        {
            "indicator": i,
            "territory": t,
            "period": p,
            "period_start": date(int(p), 1, 1),
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
    return table.append_column("domain", pa.array([f"d{n % 4}" for n in range(len(rows))]))
