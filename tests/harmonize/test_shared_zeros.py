"""Columns of zeros alone (one-entry dictionaries, text columns of nulls) read one shared
zero-filled buffer: the same values, the same bytes written, less memory per source."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from welfare_observatory.harmonize import CodeTable, HarmonizeRule, harmonize
from welfare_observatory.harmonize import _columns as col
from welfare_observatory.harmonize.engine import _shared_zeros


def _stream(table: pa.Table, codec: str | None) -> bytes:
    sink = pa.BufferOutputStream()
    options = ipc.IpcWriteOptions(compression=codec, use_threads=False)
    with ipc.new_stream(sink, table.schema, options=options) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def _parquet(table: pa.Table) -> bytes:
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


def _own(table: pa.Table) -> pa.Table:
    """``table`` with every buffer its own (what the columns held before sharing)."""
    return ipc.open_stream(_stream(table, None)).read_all()


def _same_everywhere(shared: pa.Table, own: pa.Table) -> None:
    assert shared.schema.equals(own.schema, check_metadata=True)
    assert shared.equals(own)
    assert shared.to_pylist() == own.to_pylist()
    for codec in (None, "lz4"):
        assert _stream(shared, codec) == _stream(own, codec)
    assert _parquet(shared) == _parquet(own)


_values = st.lists(st.sampled_from(["a", "b", None]), min_size=1, max_size=50)


@settings(max_examples=80, deadline=None)
@given(_values, st.sampled_from(["x", "yy"]), st.integers(0, 40), st.booleans())
def test_sharing_changes_no_value_and_no_byte_written(
    texts: list[str | None], constant: str, offset: int, sliced: bool
) -> None:
    n = len(texts)
    table = pa.table(
        {
            "indicator": pa.array([constant] * n).dictionary_encode(),
            "sex": pa.array(texts, pa.string()).dictionary_encode(),
            "value": pa.array([float(i) for i in range(n)]),
            "flags": pa.nulls(n, pa.string()),
            "note": pa.array(texts, pa.string()),
        }
    )
    if sliced:
        # A column read off a longer one (offset past zero) is left as it is.
        table = pa.concat_tables([table, table]).slice(min(offset, n), n).combine_chunks()
    shared = _shared_zeros(table)
    _same_everywhere(shared, _own(table))
    zero = col.zeros(0).address
    one_entry = shared.column("indicator").chunk(0)
    if one_entry.offset == 0:
        assert one_entry.indices.buffers()[1].address == zero
    else:
        assert one_entry.indices.buffers()[1].address != zero


def test_a_one_entry_dictionary_with_a_null_keeps_its_own_indices() -> None:
    table = pa.table({"sex": pa.array(["F", None, "F"]).dictionary_encode()})
    shared = _shared_zeros(table)
    assert shared.column("sex").to_pylist() == ["F", None, "F"]
    assert shared.column("sex").chunk(0).indices.buffers()[1].address != col.zeros(0).address


def test_a_table_longer_than_the_shared_buffer_keeps_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(col, "SHARED_ROWS", 4)
    table = pa.table({"indicator": pa.array(["x"] * 5).dictionary_encode()})
    assert _shared_zeros(table) is table
    long = col.constant(5, "x")
    assert long.to_pylist() == ["x"] * 5
    assert long.indices.buffers()[1].address != col.zeros(0).address


def test_the_shared_buffer_is_never_replaced_and_larger_requests_get_their_own() -> None:
    before = col.constant(3, "x")
    shared = col.zeros(0).address
    # A text column of nulls at the limit needs one offset more than its rows.
    largest = 4 * (col.SHARED_ROWS + 1)
    assert col.zeros(largest).address == shared
    beyond = col.zeros(largest + 8)
    assert beyond.address != shared
    assert beyond.size == largest + 8 and not any(beyond.to_pybytes())
    assert col.zeros(16).address == shared
    after = col.constant(col.SHARED_ROWS, "y")
    assert after.indices.buffers()[1].address == shared
    assert before.to_pylist() == ["x"] * 3 and after[-1].as_py() == "y"


def test_slices_taken_on_many_threads_are_whole_zero_buffers() -> None:
    sizes = [0, 1, 4096, 4 * col.SHARED_ROWS, 4 * (col.SHARED_ROWS + 1), 4 * col.SHARED_ROWS + 64]
    with ThreadPoolExecutor(4) as pool:
        buffers = list(pool.map(col.zeros, sizes * 8))
    assert [b.size for b in buffers] == sizes * 8
    assert not any(np.frombuffer(b, dtype=np.uint8).any() for b in buffers)


RULE = HarmonizeRule.model_validate(
    {
        "indicator": {"value": "POP"},
        "territory": {"column": "Codice", "scheme": "istat"},
        "period": {"column": "Anno"},
        "value": {"column": "Valore"},
        "breakdowns": {"sex": {"column": "Sesso", "map": {"Totale": "_T", "Femmine": "F"}}},
        "unit": {"unit": "person"},
    }
)


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["096004", "096021"]),
            st.sampled_from(["2022", "2023"]),
            st.sampled_from(["Totale", "Femmine"]),
        ),
        min_size=1,
        max_size=8,
        unique=True,
    )
)
def test_harmonized_tables_read_the_shared_buffer_and_equal_their_own(
    codes: CodeTable, rows: list[tuple[str, str, str]]
) -> None:
    source = pa.table(
        {
            "Codice": [r[0] for r in rows],
            "Anno": [r[1] for r in rows],
            "Sesso": [r[2] for r in rows],
            "Valore": [float(i) for i in range(len(rows))],
        }
    )
    result = harmonize(source, RULE, codes=codes, source="s")
    assert not [f for f in result.findings if f.severity.value == "error"]
    table = result.table
    zero = col.zeros(0).address
    for name in ("indicator", "unit", "obs_status", "conf_status", "source", "lineage"):
        assert table.column(name).chunk(0).indices.buffers()[1].address == zero, name
    assert table.column("flags").chunk(0).buffers()[1].address == zero
    _same_everywhere(table, _own(table))
