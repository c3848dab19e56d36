"""``catalog coverage --missing`` for one's own selection, comma lists, and profile hints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from welfare_observatory.catalog import catalog as shipped
from welfare_observatory.cli.main import cli

pytest.importorskip("welfare_observatory.sdg")


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["catalog", *args])
    return result.exit_code, result.stdout, result.stderr


def test_missing_targets_of_a_profile_match_the_library() -> None:
    args = ("coverage", "--missing", "--profile", "first_report", "--goal", "8,10,17")
    code, table, _ = run(*args)
    assert code == 0
    code, out, _ = run(*args, "--json")
    listed = [row["target"] for row in json.loads(out)]
    expected = shipped().uncovered_targets(shipped().profile("first_report"), goals=[8, 10, 17])
    assert listed == expected and listed
    assert {t.split(".")[0] for t in listed} <= {"8", "10", "17"}
    assert f"{len(listed)} SDG targets with no indicator" in table


def test_missing_targets_of_my_own_list_of_ids() -> None:
    code, out, _ = run(
        "coverage", "--missing", "--indicators", "UNEMPLOYMENT_RATE", "--goal", "8", "--json"
    )
    assert code == 0
    listed = [row["target"] for row in json.loads(out)]
    covered = {link.id for link in shipped().get("UNEMPLOYMENT_RATE").sdg}
    assert listed and all(not any(c.startswith(t + ".") for c in covered) for t in listed)
    assert "8.1" in listed  # GDP growth: no labour-market indicator covers it


def test_selection_from_a_file_with_comments(tmp_path: Path) -> None:
    ids = tmp_path / "mine.txt"
    ids.write_text("# my selection\nUNEMPLOYMENT_RATE\nPOP_TOTAL, GENDER_PAY_GAP\n", "utf-8")
    code, out, _ = run("coverage", "--indicators", str(ids), "--goal", "5,8", "--json")
    assert code == 0
    rows = {r["goal"]: r for r in json.loads(out)}
    assert set(rows) == {"5", "8"}
    assert rows["5"]["indicators"] == 1 and rows["8"]["indicators"] >= 1


def test_bad_selection_or_goal_is_refused() -> None:
    code, _, err = run("coverage", "--missing", "--indicators", "UNEMPLOYMENT_RATES")
    assert code == 1 and "UNEMPLOYMENT_RATE" in err  # the hint names the real id
    code, _, err = run("coverage", "--profile", "mature", "--indicators", "POP_TOTAL")
    assert code == 2 and "not both" in err
    code, _, err = run("coverage", "--goal", "8.5")
    assert code == 2 and "goals" in err
    code, _, err = run("coverage", "--goal", "18")
    assert code == 1 and "did you mean" in err


def test_list_accepts_comma_separated_sdg_ids() -> None:
    code, out, _ = run("list", "--sdg", "8,10,17", "--json")
    assert code == 0
    expected = {i.id for i in shipped().covering(["8", "10", "17"])}
    assert {r["id"] for r in json.loads(out)} == expected
    code, out2, _ = run("list", "--sdg", "8", "--sdg", "10,17", "--json")
    assert json.loads(out2) == json.loads(out)


def test_unknown_profile_lists_the_profiles() -> None:
    code, _, err = run("list", "--profile", "nope")
    assert code == 1
    assert "unknown profile 'nope'" in err
    assert all(p.id in err for p in shipped().profiles())
    code, _, err = run("list", "--profile", "matur")
    assert code == 1 and "did you mean 'mature'" in err
