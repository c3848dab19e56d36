"""The canonical CSV is byte-faithful: any float, any text, null or empty, reads back the same."""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path

import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from welfare_observatory.model.observation import observation_schema
from welfare_observatory.publish._files import neutralise
from welfare_observatory.publish.metadata import ExportMetadata
from welfare_observatory.publish.tabular import export_csv, read_csv

META = ExportMetadata(
    observatory="test",
    edition="2025",
    build="b-1",
    status="draft",
    created="2026-01-01T00:00:00",
    reference_date="2025-01-01",
    territory="IT",
    library_version="0",
)
# Any text a publisher may send, except NUL (which no CSV reader keeps).
texts = st.text(st.characters(exclude_characters="\x00", exclude_categories=("Cs",)), max_size=12)
rows = st.lists(
    st.tuples(
        st.floats(allow_nan=False, allow_infinity=False) | st.none(),
        texts | st.none(),
        st.sampled_from(["096004", "-1", "=A1", "+39", "@x", "I'x", 'a"b', "a,b", "é\n\r"]),
    ),
    min_size=1,
    max_size=25,
)


def table(data: list[tuple[float | None, str | None, str]]) -> pa.Table:
    records = [
        {
            "indicator": "POP_TOTAL",
            "territory": territory,
            "period": f"{2000 + i}",
            "period_start": date(2000 + i, 1, 1),
            "value": value,
            "unit": "person",
            "obs_status": "A" if value is not None else "O",
            "conf_status": "F",
            "flags": flags,
            "source": "s",
            "lineage": "l",
        }
        for i, (value, flags, territory) in enumerate(data)
    ]
    return pa.Table.from_pylist(records, schema=observation_schema())


@given(rows)
def test_read_back_equals_the_table(data: list[tuple[float | None, str | None, str]]) -> None:
    original = table(data)
    with tempfile.TemporaryDirectory() as folder:
        [path] = export_csv(original, META, Path(folder))
        back = read_csv(path, original.schema)
    assert back.equals(original.cast(back.schema))


@given(rows)
def test_neutralising_touches_only_text_that_starts_like_a_formula(
    data: list[tuple[float | None, str | None, str]],
) -> None:
    original = table(data)
    safe = neutralise(original)
    assert safe["value"].equals(original["value"])
    for before, after in zip(
        original["territory"].to_pylist(), safe["territory"].to_pylist(), strict=True
    ):
        risky = before[:1] in ("=", "+", "-", "@", "\t", "\r")
        assert after == ("'" + before if risky else before)
