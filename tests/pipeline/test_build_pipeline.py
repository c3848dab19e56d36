"""A whole build: from a municipal CSV to an edition with derived and aggregated values."""

from __future__ import annotations

from pathlib import Path

import pytest

from welfare_observatory.observatory import load_observatory
from welfare_observatory.sources.manager import DEFAULT_PLUGINS, Plugins
from welfare_observatory.store import KnowledgeBase


def test_a_build_derives_rates_and_aggregates_to_the_province(
    observatory_dir: Path, tmp_path: Path
) -> None:
    result = load_observatory(observatory_dir).build(out=tmp_path / "kb", offline=True)
    report = result.report
    assert report.ok, report.sources
    assert [s.status for s in report.sources] == ["ok"]
    kb = KnowledgeBase.open(tmp_path / "kb")
    biella = kb.observations(indicator="POP_TOTAL", territory="096004")
    assert biella["value"].tolist() == [42619.0]
    province = kb.observations(indicator="POP_TOTAL", territory="096")
    assert province["value"].tolist() == [168823.0]
    index = kb.observations(indicator="OLD_AGE_INDEX", territory="096")
    old = kb.observations(indicator="POP_65_PLUS", territory="096")["value"].iloc[0]
    young = kb.observations(indicator="POP_0_14", territory="096")["value"].iloc[0]
    assert index["value"].iloc[0] == old / young * 100
    assert set(report.built) == {"POP_TOTAL", "POP_0_14", "POP_65_PLUS", "OLD_AGE_INDEX"}


def test_an_unchanged_source_is_reused_and_a_changed_one_recomputed(
    observatory_dir: Path, tmp_path: Path
) -> None:
    kb = tmp_path / "kb"
    first = load_observatory(observatory_dir).build(out=kb, offline=True)
    again = load_observatory(observatory_dir).build(out=kb, offline=True)
    assert [s.status for s in again.report.sources] == ["reused"]
    assert again.report.build == first.report.build
    data = observatory_dir / "data" / "popolazione_2023.csv"
    data.write_text(data.read_text().replace("096004;Totale;42.619", "096004;Totale;42.620"))
    changed = load_observatory(observatory_dir).build(out=kb, offline=True)
    assert [s.status for s in changed.report.sources] == ["ok"]
    assert changed.report.build != first.report.build
    assert KnowledgeBase.open(kb).observations("POP_TOTAL", "096004")["value"].tolist() == [42620.0]


def test_a_failing_source_is_named_and_the_others_still_build(
    observatory_dir: Path, tmp_path: Path
) -> None:
    config = observatory_dir / "observatory.yaml"
    config.write_text(
        config.read_text()
        + "  broken:\n    type: table\n    options: {path: data/missing.csv}\n"
        + "    rules: {indicator: {value: BIRTHS}, territory: {column: x},\n"
        + "            period: {value: '2023'}}\n"
    )
    result = load_observatory(observatory_dir).build(out=tmp_path / "kb", offline=True)
    statuses = {s.id: s.status for s in result.report.sources}
    assert statuses == {"population": "ok", "broken": "failed"}
    broken = next(s for s in result.report.sources if s.id == "broken")
    assert "missing.csv" in (broken.error or "")
    assert not result.report.ok
    assert KnowledgeBase.open(tmp_path / "kb").observations("POP_TOTAL", "096004").shape[0] == 1


def test_overrides_replace_a_value_and_keep_the_reason(
    observatory_dir: Path, tmp_path: Path
) -> None:
    (observatory_dir / "overrides.yaml").write_text(
        "- indicator: POP_TOTAL\n  territory: '096004'\n  period: '2023-01-01'\n"
        "  value: 42000\n  reason: corrected after the municipal registry audit\n"
    )
    config = observatory_dir / "observatory.yaml"
    config.write_text(config.read_text() + "overrides: overrides.yaml\n")
    load_observatory(observatory_dir).build(out=tmp_path / "kb", offline=True)
    kb = KnowledgeBase.open(tmp_path / "kb")
    row = kb.observations("POP_TOTAL", "096004")
    assert row["value"].tolist() == [42000.0]
    assert "registry audit" in str(row["flags"].iloc[0])
    assert kb.manifest().overrides == 1


def test_build_and_explain_from_the_command_line(observatory_dir: Path, tmp_path: Path) -> None:
    import json

    from click.testing import CliRunner

    from welfare_observatory.cli.main import cli

    runner = CliRunner()
    kb = str(tmp_path / "kb")
    built = runner.invoke(cli, ["build", str(observatory_dir), "--offline", "--out", kb, "--json"])
    assert built.exit_code == 0, built.output
    report = json.loads(built.output)
    assert report["sources"][0]["status"] == "ok"
    explained = runner.invoke(
        cli, ["explain", "OLD_AGE_INDEX", "096", "2023-01-01", "--kb", kb, "--json"]
    )
    assert explained.exit_code == 0, explained.output
    chain = json.loads(explained.output)["value"]
    kinds: list[str] = []
    raw: list[str] = []
    _walk(chain, kinds, raw)
    # The province's index is re-derived from the summed municipal counts.
    assert chain["step"]["kind"] == "aggregate"
    assert {"harmonize", "parse", "fetch"} <= set(kinds)
    assert raw and raw[0].startswith("sha256:")
    municipal = runner.invoke(
        cli, ["explain", "OLD_AGE_INDEX", "096004", "2023-01-01", "--kb", kb, "--json"]
    )
    assert json.loads(municipal.output)["value"]["step"]["kind"] == "derive"
    missing = runner.invoke(cli, ["explain", "OLD_AGE_INDEX", "096", "1990", "--kb", kb])
    assert missing.exit_code != 0


def _walk(node: object, kinds: list[str], raw: list[str]) -> None:
    """Step kinds and raw payload hashes anywhere in an explained value's tree."""
    if isinstance(node, dict):
        if "kind" in node:
            kinds.append(str(node["kind"]))
        raw += [str(r) for r in node.get("raw") or []]
        for child in node.values():
            _walk(child, kinds, raw)
    elif isinstance(node, list):
        for child in node:
            _walk(child, kinds, raw)


def test_a_plugin_check_runs_in_the_build_and_its_findings_are_reported(
    observatory_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = tmp_path / "wo_test_pipeline_check.py"
    module.write_text(
        "from welfare_observatory import Finding\n"
        "from welfare_observatory.sdk import hookimpl\n\n"
        "def rows_seen(table, context):\n"
        "    return [Finding(severity='info', code='rows-seen', message=str(table.num_rows),\n"
        "                    source=context.source)]\n\n"
        "@hookimpl\n"
        "def register_checks(register):\n"
        "    register('wo-test.rows-seen', rows_seen)\n",
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    observatory = load_observatory(observatory_dir)
    builtins = (*DEFAULT_PLUGINS, "wo_test_pipeline_check")
    observatory.__dict__["plugins"] = Plugins(builtins=builtins, entry_points=False).load()
    report = observatory.build(out=tmp_path / "kb", offline=True).report
    [seen] = [f for f in report.findings if f.code == "rows-seen"]
    assert seen.source == "population" and int(seen.message) > 0


def test_half_written_step_files_of_a_killed_build_are_removed(
    observatory_dir: Path, tmp_path: Path
) -> None:
    steps = tmp_path / "kb" / ".steps"
    steps.mkdir(parents=True)
    (steps / "tmpabc123.tmp").write_bytes(b"PAR1 half a parquet file")
    load_observatory(observatory_dir).build(out=tmp_path / "kb", offline=True)
    assert list(steps.glob("*.tmp")) == []
    assert list(steps.glob("*.json")), "the finished steps are kept for reuse"


def test_only_the_selected_rates_are_derived(observatory_dir: Path, tmp_path: Path) -> None:
    # SHARE_65_PLUS and SHARE_0_14 could be derived from these counts, but nobody selected
    # them: they are not computed, so they cannot add findings either.
    load_observatory(observatory_dir).build(out=tmp_path / "kb", offline=True)
    graph = KnowledgeBase.open(tmp_path / "kb").lineage_graph()
    [derive] = [r for r in graph.to_records() if r["kind"] == "derive"]
    targets = [f["target"] for f in derive["parameters"]["formulas"]]
    assert targets == ["OLD_AGE_INDEX"]
