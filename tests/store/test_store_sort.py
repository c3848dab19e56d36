"""Stored observations are sorted by indicator, territory and period as text, whatever the
order of the dictionaries and chunks the table arrives in."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from welfare_observatory.model.observation import observation_schema
from welfare_observatory.store.edition import _decoded_keys, _write_observations

INDICATORS = ["POP_TOTAL", "BIRTHS", "OLD_AGE_INDEX", "POP_0_14"]
TERRITORIES = ["096004", "096", "01", "IT", "096025", "district:T01024"]
PERIODS = ["2023-01-01", "2022-01-01", "2023", "2019"]


def table(keys: list[tuple[str, str, str]], chunks: int) -> pa.Table:
    rows = [
        {
            "indicator": i,
            "territory": t,
            "period": p,
            "period_start": date(2023, 1, 1),
            "value": float(n),
            "unit": "person",
            "obs_status": "A",
            "conf_status": "F",
            "flags": None,
            "source": "s",
            "lineage": "l",
        }
        for n, (i, t, p) in enumerate(keys)
    ]
    schema = observation_schema(())
    size = max(1, len(rows) // chunks)
    # Each chunk gets dictionaries of its own, in first-seen (not sorted) order.
    parts = [
        pa.Table.from_pylist(rows[k : k + size], schema=schema) for k in range(0, len(rows), size)
    ]
    whole = pa.concat_tables(parts)
    return whole.append_column("domain", pa.array(["demography"] * whole.num_rows))


keys = st.tuples(
    st.sampled_from(INDICATORS), st.sampled_from(TERRITORIES), st.sampled_from(PERIODS)
)


@settings(max_examples=40, deadline=None)
@given(st.lists(keys, min_size=1, max_size=60, unique=True), st.integers(1, 4))
def test_integer_sort_keys_order_rows_like_the_strings(
    rows: list[tuple[str, str, str]], chunks: int
) -> None:
    data = table(rows, chunks)
    ranks = _decoded_keys(data)
    assert ranks.num_rows == data.num_rows
    indices = pa.compute.sort_indices(
        ranks, sort_keys=[(n, "ascending") for n in ranks.column_names]
    )
    taken = data.take(indices)
    as_text = list(
        zip(
            *(
                taken.column(n).cast(pa.string()).to_pylist()
                for n in ("indicator", "territory", "period")
            ),
            strict=True,
        )
    )
    assert as_text == sorted(rows)


def test_the_stored_file_is_sorted_by_the_key_strings(tmp_path: Path) -> None:
    rows = [("POP_TOTAL", "IT", "2023"), ("BIRTHS", "096", "2019"), ("BIRTHS", "01", "2023")]
    _write_observations(table(rows, 3), tmp_path)
    stored = pq.read_table(tmp_path / "domain=demography" / "part-0.parquet")
    keys_back = list(
        zip(
            *(
                stored.column(n).cast(pa.string()).to_pylist()
                for n in ("indicator", "territory", "period")
            ),
            strict=True,
        )
    )
    assert keys_back == sorted(rows)


def _with_dictionary(data: pa.Table, name: str, dictionary: list[str]) -> pa.Table:
    """``data`` with column ``name`` re-encoded on ``dictionary`` (as given: any order,
    repeats allowed), one chunk; a value in two slots takes the later one on odd rows."""
    text = data.column(name).cast(pa.string()).to_pylist()
    slots = {v: [i for i, d in enumerate(dictionary) if d == v] for v in set(text)}
    indices = [slots[v][n % len(slots[v])] for n, v in enumerate(text)]
    column = pa.DictionaryArray.from_arrays(pa.array(indices, pa.int32()), pa.array(dictionary))
    return data.set_column(data.schema.get_field_index(name), name, column)


def _stored(folder: Path) -> pa.Table:
    return pq.read_table(folder / "domain=demography" / "part-0.parquet")


def test_a_value_in_two_dictionary_slots_sorts_by_its_text(tmp_path: Path) -> None:
    # A single-chunk dictionary holding BIRTHS twice: ranking slots by position put
    # (BIRTHS, IT) rows after (POP_TOTAL, ...), ordered by which slot each row used.
    rows = [("BIRTHS", "IT", "2023"), ("BIRTHS", "01", "2023"), ("POP_TOTAL", "096", "2019")]
    data = _with_dictionary(table(rows, 1), "indicator", ["BIRTHS", "POP_TOTAL", "BIRTHS"])
    _write_observations(data, tmp_path)
    stored = _stored(tmp_path)
    keys_back = list(
        zip(
            *(
                stored.column(n).cast(pa.string()).to_pylist()
                for n in ("indicator", "territory", "period")
            ),
            strict=True,
        )
    )
    assert keys_back == sorted(rows)


@settings(max_examples=30, deadline=None)
@given(
    st.lists(keys, min_size=1, max_size=40, unique=True),
    st.permutations(range(40)),
    st.integers(1, 4),
    st.integers(1, 4),
)
def test_the_stored_bytes_depend_on_the_rows_only(
    tmp_path_factory: pytest.TempPathFactory,
    rows: list[tuple[str, str, str]],
    order: list[int],
    chunks_a: int,
    chunks_b: int,
) -> None:
    # The same rows in another order, chunking and dictionary order (as two builds get
    # them from DuckDB) must give the same file, byte for byte, so the manifest's hash too.
    shuffled = [rows[i] for i in order if i < len(rows)]
    first = table(rows, chunks_a)
    second = table(shuffled, chunks_b)
    second = second.set_column(
        second.schema.get_field_index("value"),
        "value",
        pa.array([float(rows.index(r)) for r in shuffled]),
    )
    unused = ["ZZZ_NOT_STORED", *reversed(INDICATORS)]
    second = _with_dictionary(second, "indicator", unused)
    a, b = tmp_path_factory.mktemp("a"), tmp_path_factory.mktemp("b")
    info_a, info_b = _write_observations(first, a), _write_observations(second, b)
    assert _stored(a).equals(_stored(b))
    assert info_a["sha256"] == info_b["sha256"]
