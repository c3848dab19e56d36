"""``welfare-observatory territory show/search``."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from welfare_observatory.cli.main import cli, main


def run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_show_json_for_a_moved_municipality() -> None:
    data = json.loads(run("territory", "show", "041033", "--json", "--at", "2022-01-01"))
    assert data["name"] == "Montecopiolo"
    assert data["successors"] == ["099030"]
    assert data["history"][-1]["kind"] == "province_change"
    assert [p["code"] for p in data["parents"]] == ["041", "11", "ITI", "IT"]


def test_show_by_name_and_legacy_code() -> None:
    out = run("territory", "show", "ITD20")
    assert "Trento" in out and "ITH20" in out
    data = json.loads(run("territory", "show", "Biella", "--json"))
    assert data["code"] == "096" and data["children"] == 74


def test_search() -> None:
    rows = json.loads(run("territory", "search", "S. Antonio Abate", "--json"))
    assert rows[0]["code"] == "063074"
    assert "no territory matches" in run("territory", "search", "qqqqqq")


def test_unknown_territory_is_one_line_and_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["territory", "show", "Bielle"])
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert "unknown territory 'Bielle'" in err and "Biella" in err
    assert "Traceback" not in err
