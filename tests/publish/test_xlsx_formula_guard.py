"""The XLSX export never writes a live formula, whatever text a cell holds (issue 18 item 3)."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from welfare_observatory.publish.metadata import ExportMetadata
from welfare_observatory.publish.tabular import export_xlsx

META = ExportMetadata(
    observatory="biella",
    edition="2025",
    build="b-1",
    status="draft",
    created="2026-01-01T00:00:00",
    reference_date="2025-01-01",
    territory="096",
    library_version="0",
)

# What a spreadsheet application runs: a cell starting with one of these.
RISKY = re.compile(r"^[=+\-@\t\r]")


def cells(path: Path) -> list[object]:
    book = load_workbook(path)
    sheet = book["data"]
    found = [cell for row in sheet.iter_rows() for cell in row]
    assert all(cell.data_type != "f" for cell in found)
    return [cell.value for cell in found]


def test_control_characters_before_an_equals_sign_do_not_revive_a_formula(tmp_path: Path) -> None:
    text = '\x01=HYPERLINK("http://example.invalid","x")'
    export_xlsx(pa.table({"note": [text, "\x1f\x02+1", "plain"]}), META, tmp_path)
    values = cells(tmp_path / "observations.xlsx")
    assert values[1:] == ['\'=HYPERLINK("http://example.invalid","x")', "'+1", "plain"]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        # Arbitrary text, and text built from the characters that matter here.
        st.text(max_size=12) | st.text(alphabet="\x00\x01\x0b\x1f\t\r\n =+-@a1'", max_size=8),
        min_size=1,
        max_size=6,
    )
)
def test_no_cell_starts_like_a_formula(tmp_path: Path, texts: list[str]) -> None:
    export_xlsx(pa.table({"note": texts}), META, tmp_path)
    for value in cells(tmp_path / "observations.xlsx")[1:]:
        if isinstance(value, str):
            assert not RISKY.match(value), value
            assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", value)
