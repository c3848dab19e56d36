"""The analyses' tables are written with their floating-point columns outside a Parquet
dictionary (computed values are almost all distinct: building a dictionary and giving it
up was a fifth of the progress table's writing time); every other column, and every
column of a domain file, keeps its dictionary. What is read back is what was written."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st

from welfare_observatory.store.edition import dictionary_columns, write_parquet


def _dictionary_encoded(path: Path) -> dict[str, bool]:
    """Per column, whether its first row group's chunk uses a dictionary."""
    meta = pq.ParquetFile(path).metadata
    group = meta.row_group(0)
    return {
        group.column(i).path_in_schema: any("DICTIONARY" in e for e in group.column(i).encodings)
        for i in range(group.num_columns)
    }


def _analysis(rows: int) -> pa.Table:
    return pa.table(
        {
            "indicator": pa.array([f"I{i % 7}" for i in range(rows)], pa.large_string()),
            "start_year": pa.array([2000 + i % 3 for i in range(rows)], pa.int64()),
            "observed_cagr": pa.array([math.sin(i) / 7 for i in range(rows)], pa.float64()),
            "ratio": pa.array([1.5] * rows, pa.float32()),
        }
    )


def test_an_analysis_is_written_with_its_floats_outside_a_dictionary(tmp_path: Path) -> None:
    table = _analysis(5000)
    write_parquet(table, tmp_path / "a.parquet", computed=True)
    assert _dictionary_encoded(tmp_path / "a.parquet") == {
        "indicator": True,
        "start_year": True,
        "observed_cagr": False,
        "ratio": False,
    }
    assert pq.read_table(tmp_path / "a.parquet").equals(table)


def test_other_tables_keep_every_dictionary(tmp_path: Path) -> None:
    write_parquet(_analysis(5000), tmp_path / "b.parquet")
    assert all(_dictionary_encoded(tmp_path / "b.parquet").values())


def test_dictionary_columns_are_every_column_but_the_floating_ones() -> None:
    schema = pa.schema(
        [
            ("a", pa.float16()),
            ("b", pa.float32()),
            ("c", pa.float64()),
            ("d", pa.string()),
            ("e", pa.int32()),
            ("f", pa.dictionary(pa.int32(), pa.string())),
            ("g", pa.date32()),
        ]
    )
    assert dictionary_columns(schema) == ["d", "e", "f", "g"]


def test_a_stored_edition_keeps_dictionaries_in_domain_files_and_not_in_analysis_floats(
    tmp_path: Path,
) -> None:
    sys.path.insert(0, str(Path(__file__).parents[1] / "pipeline"))
    from test_pipeline_derive_groups import build, make_grouped_observatory

    result = build(make_grouped_observatory(tmp_path / "obs"), tmp_path / "kb")
    folder = result.knowledge_base / result.edition / result.report.build
    for domain in sorted((folder / "observations").rglob("*.parquet")):
        assert _dictionary_encoded(domain)["value"]
    checked = 0
    for analysis in sorted((folder / "analyses").rglob("*.parquet")):
        if not pq.read_metadata(analysis).num_rows:
            continue
        encoded = _dictionary_encoded(analysis)
        for field in pq.read_schema(analysis):
            if "." in field.name or field.name not in encoded:
                continue
            if pa.types.is_floating(field.type):
                assert not encoded[field.name]
                checked += 1
            elif pa.types.is_string(field.type) or pa.types.is_large_string(field.type):
                # (Parquet never puts booleans in a dictionary.)
                assert encoded[field.name]
    assert checked


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(
        st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
        min_size=0,
        max_size=200,
    )
)
def test_computed_floats_read_back_as_written(
    tmp_path_factory: object, values: list[float | None]
) -> None:
    """Missing values, NaN, infinities and signed zeros alike."""
    folder = tmp_path_factory.mktemp("w")  # type: ignore[attr-defined]
    table = pa.table(
        {
            "v": pa.array(values, pa.float64()),
            "k": pa.array([str(i % 3) for i in range(len(values))], pa.string()),
        }
    )
    write_parquet(table, folder / "t.parquet", computed=True)
    back = pq.read_table(folder / "t.parquet")
    assert back.schema == table.schema
    assert back.column("k").equals(table.column("k"))
    written, read = table.column("v").to_pylist(), back.column("v").to_pylist()
    assert len(written) == len(read)
    for a, b in zip(written, read, strict=True):
        if a is None or b is None:
            assert a is b
        elif math.isnan(a):
            assert math.isnan(b)
        else:
            assert a == b and math.copysign(1, a) == math.copysign(1, b)
