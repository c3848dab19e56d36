"""Undeclared "not available" signs (issue 18, item 12): missing with status O and a finding
naming the cell, in every reader path (detecting reader, tidy reader, CKAN DataStore JSON)."""

from __future__ import annotations

import json

import pytest

from welfare_observatory.errors import Location
from welfare_observatory.sources.ckan_datastore import datastore_table
from welfare_observatory.sources.notes import parse_findings
from welfare_observatory.sources.tabular import read_table
from welfare_observatory.sources.tabular_options import Marker, TabularOptions
from welfare_observatory.sources.tabular_values import NOT_AVAILABLE
from welfare_observatory.sources.tidy import read_tidy

SIGNS = ["n.d.", "N.D.", "nd", "n.a.", "N/A", "n/a", "\u2014", "...", "\u2026"]


@pytest.mark.parametrize("sign", SIGNS)
@pytest.mark.parametrize("reader", [read_table, read_tidy])
def test_a_not_available_sign_is_missing_with_a_finding(sign: str, reader: object) -> None:
    data = f"Comune;2022;2023\nBiella;1;2\nBrescia;3;{sign}\n".encode()
    table = reader(data, TabularOptions(), file="f.csv", source="s")  # type: ignore[operator]
    row = table.to_pylist()[1]
    assert row["2023"] is None and row["2023__status"] == "O"
    assert row["2022"] == 3.0
    (finding,) = [f for f in parse_findings(table) if f.code == "not-available"]
    assert (finding.row, finding.column, finding.source, finding.count) == (3, "2023", "s", 1)
    assert "f.csv" in finding.message and repr(sign) in finding.message


def test_the_list_is_short_and_lower_case() -> None:
    assert len(NOT_AVAILABLE) <= 12
    assert all(sign == sign.lower() for sign in NOT_AVAILABLE)
    assert not {"-", "..", "....", ":", "x", "0"} & NOT_AVAILABLE  # Istat signs mean more


def test_a_declared_sign_keeps_its_declared_meaning() -> None:
    options = TabularOptions(markers={"n.d.": Marker(value=None, obs_status="L")})
    data = b"Comune;2023\nBiella;n.d.\nBrescia;12\n"
    for reader in (read_table, read_tidy):
        table = reader(data, options)
        assert table.to_pylist()[0]["2023__status"] == "L"
        assert not [f for f in parse_findings(table) if f.code == "not-available"]


def test_a_column_of_signs_alone_is_not_taken_for_values() -> None:
    table = read_table(b"Comune;Nota;2023\nBiella;n.d.;1\nBrescia;nd;2\n")
    assert table["Nota"].to_pylist() == ["n.d.", "nd"]
    assert "Nota__status" not in table.column_names


def test_ckan_datastore_text_sign_in_a_numeric_field() -> None:
    answer = {
        "success": True,
        "result": {
            "fields": [
                {"id": "_id", "type": "int"},
                {"id": "comune"},
                {"id": "v", "type": "numeric"},
            ],
            "records": [
                {"_id": 1, "comune": "Biella", "v": 12.5},
                {"_id": 2, "comune": "Cossato", "v": "n.d."},
            ],
        },
    }
    where = Location(source="ckan_s", file="page-1.json")
    table = datastore_table(json.dumps(answer).encode(), TabularOptions(), where)
    assert table["v"].to_pylist() == [12.5, None]
    assert table["v__status"].to_pylist() == ["A", "O"]
    (finding,) = [f for f in parse_findings(table) if f.code == "not-available"]
    assert (finding.row, finding.column, finding.source) == (2, "v", "ckan_s")
