"""Stored observations are sorted by indicator, territory and period as text, whatever the
order of the dictionaries and chunks the table arrives in."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
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
