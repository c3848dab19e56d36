"""``welfare-observatory sdg show/list``: people read tables, scripts read JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable

import pytest
from click.testing import CliRunner

from welfare_observatory.cli.sdg import sdg
from welfare_observatory.sdg import Framework


def test_show_indicator_names_its_target_goal_and_code() -> None:
    result = CliRunner().invoke(sdg, ["show", "8.5.2", "--lang", "en"])
    assert result.exit_code == 0, result.output
    assert "Unemployment rate" in result.output
    assert "C080502" in result.output
    assert "8.5 By 2030, achieve full and productive employment" in " ".join(result.output.split())


def test_show_goal_lists_its_targets_in_italian() -> None:
    result = CliRunner().invoke(sdg, ["show", "1"])
    assert result.exit_code == 0, result.output
    assert "Nessuna povertà" in result.output
    for target in ("1.1", "1.5", "1.a", "1.b"):
        assert target in result.output


def test_show_target_lists_its_indicators() -> None:
    result = CliRunner().invoke(sdg, ["show", "1-5", "--lang", "en"])
    assert result.exit_code == 0, result.output
    for indicator in ("1.5.1", "1.5.2", "1.5.3", "1.5.4"):
        assert indicator in result.output


def test_show_json_of_a_repeated_indicator() -> None:
    result = CliRunner().invoke(sdg, ["show", "13.1.1", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["kind"] == "Indicator"
    assert data["repeated_in"] == ["1.5.1", "11.5.1"]
    assert (data["target"], data["goal"], data["framework"]) == ("13.1", "13", "2023")


def test_show_json_of_a_target_and_a_goal() -> None:
    target = json.loads(CliRunner().invoke(sdg, ["show", "11.c", "--json"]).output)
    assert target["indicators"] == []
    assert target["title"]["it"].startswith("Sostenere i paesi meno sviluppati")
    goal = json.loads(CliRunner().invoke(sdg, ["show", "17", "--json"]).output)
    assert len(goal["targets"]) == 19


def test_list_targets_of_one_goal() -> None:
    result = CliRunner().invoke(sdg, ["list", "--goal", "5", "--level", "targets", "--json"])
    assert result.exit_code == 0, result.output
    assert [t["id"] for t in json.loads(result.output)] == [
        "5.1",
        "5.2",
        "5.3",
        "5.4",
        "5.5",
        "5.6",
        "5.a",
        "5.b",
        "5.c",
    ]


def test_list_all_indicators_counts_every_listing() -> None:
    result = CliRunner().invoke(sdg, ["list", "--level", "indicators", "--json"])
    assert len(json.loads(result.output)) == 248


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    code = "import sys\nfrom welfare_observatory.cli.main import main\nmain(sys.argv[1:])\n"
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=False
    )


def test_unknown_id_exits_1_with_one_line_and_a_hint() -> None:
    done = _run("sdg", "show", "8.5.9")
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert lines[0] == "error: unknown SDG goal, target or indicator '8.5.9'"
    assert lines[1].startswith("hint: did you mean '8.5.2'")
    assert "Traceback" not in done.stderr


def test_list_with_a_target_as_goal_exits_1() -> None:
    done = _run("sdg", "list", "--goal", "8.5")
    assert done.returncode == 1
    assert "is not a goal" in done.stderr


def test_main_group_runs_sdg_show() -> None:
    done = _run("sdg", "show", "1-a-1", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["id"] == "1.a.1"


def test_show_never_mixes_languages(
    framework_without_italian: Callable[..., Framework],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import welfare_observatory.sdg as sdg_package

    shipped = sdg_package.framework()
    # every shipped indicator has an Italian title now: build a target 14.1 whose
    # indicator has none, so the whole answer must be English
    fw = framework_without_italian("14.1.1")
    monkeypatch.setattr(sdg_package, "framework", lambda version="2023": fw)
    result = CliRunner().invoke(sdg, ["show", "14.1", "--lang", "it"])
    assert result.exit_code == 0
    assert fw.resolve("14.1").title.en[:30] in " ".join(result.stdout.split())
    assert fw.resolve("14.1").title.it[:30] not in " ".join(result.stdout.split())
    assert "whole answer is in English" in result.stderr
    # 8.5.2 has a (project) Italian title, as do its target and goal: all Italian
    result = CliRunner().invoke(sdg, ["show", "8.5.2", "--lang", "it"])
    flat = " ".join(result.stdout.split())
    assert "Tasso di disoccupazione" in flat and "traduzione del progetto" in flat
    assert fw.resolve("8.5").title.en[:25] not in flat
    # the shipped framework answers 14.1 all in Italian, with no note
    monkeypatch.undo()
    result = CliRunner().invoke(sdg, ["show", "14.1", "--lang", "it"])
    flat = " ".join(result.stdout.split())
    assert shipped.resolve("14.1").title.it[:30] in flat
    assert shipped.resolve("14.1.1").title.it[:30] in flat
    assert shipped.resolve("14.1").title.en[:30] not in flat
    assert "no Italian title" not in result.stderr


def test_show_every_indicator_in_italian() -> None:
    from welfare_observatory.sdg import framework

    fw = framework()
    for sdg_id in ("3.8.1", "17.19.2", "1.5.1", "13.1.1"):
        result = CliRunner().invoke(sdg, ["show", sdg_id, "--lang", "it"])
        assert result.exit_code == 0, result.output
        flat = " ".join(result.stdout.split())
        node = fw.resolve(sdg_id)
        assert node.title.it[:25] in flat, sdg_id
        assert node.title.en[:25] not in flat, sdg_id
        assert "no Italian title" not in result.stderr, sdg_id
        # labels too: no English word in an Italian answer
        assert "fonte del titolo" in flat and "codice UNSD" in flat, sdg_id
        for english in ("title from", "UNSD code", "indicator ", "framework", "goal"):
            assert english not in flat, (sdg_id, english)
