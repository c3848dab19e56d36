"""Author tooling: ``plugins``, ``source preview``, ``source record`` and ``new-plugin``."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from welfare_observatory.cli.main import main
from welfare_observatory.cli.new_plugin import scaffold
from welfare_observatory.cli.plugins import plugins
from welfare_observatory.cli.source import parse_options, source
from welfare_observatory.errors import ConfigError
from welfare_observatory.sources.manager import ENV_ALLOW
from welfare_observatory.sources.sdmx import SdmxSource
from welfare_observatory.testing import Sample, fetch_sample, recorded_responses

CSV = (
    b"DATAFLOW,FREQ,REF_AREA,SEX,TIME_PERIOD,OBS_VALUE,OBS_STATUS\n"
    b"IT1:22_289(1.0),A,096004,F,2022,22791,\n"
    b"IT1:22_289(1.0),A,096004,M,2022,20157,e\n"
    b"IT1:22_289(1.0),A,096025,F,2022,1450,\n"
)

OBSERVATORY = """\
id: testland
name: {it: Osservatorio di prova, en: Test observatory}
edition: "2025"
territory:
  code: "096"
  reference_date: 2024-01-01
indicators:
  add: [POP_TOTAL]
sources:
  pop_local:
    type: sdmx
    options: {path: data/pop.csv}
"""


def run_main(args: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(args)
        raise SystemExit(0)
    out = capsys.readouterr()
    return int(info.value.code or 0), out.out, out.err


# -- plugins ---------------------------------------------------------------------------------
def test_plugins_lists_the_built_in_sources_with_their_distribution(monkeypatch):
    monkeypatch.setenv(ENV_ALLOW, "")
    result = CliRunner().invoke(plugins, ["--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    by_name = {p["name"]: p for p in report["plugins"]}
    sdmx = by_name["welfare_observatory.sources.sdmx"]
    assert sdmx["registers"] == {"source": ["sdmx"]}
    assert sdmx["distribution"] == "welfare-observatory" and sdmx["origin"] == "builtin"
    assert report["problems"] == []


def test_plugins_as_a_table_for_people(monkeypatch):
    monkeypatch.setenv(ENV_ALLOW, "")
    result = CliRunner().invoke(plugins, [])
    assert result.exit_code == 0 and "source: sdmx" in result.output


def test_plugins_reports_load_problems_by_name(monkeypatch, tmp_path):
    import importlib.metadata as metadata

    from welfare_observatory.sources import manager

    (tmp_path / "wo_cli_broken.py").write_text("import no_such_module_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv(ENV_ALLOW, raising=False)
    broken = metadata.EntryPoint("broken", "wo_cli_broken", "welfare_observatory")
    monkeypatch.setattr(
        manager.metadata,
        "entry_points",
        lambda *, group: [broken] if group == "welfare_observatory" else [],
    )
    report = json.loads(CliRunner().invoke(plugins, ["--json"]).stdout)
    [problem] = report["problems"]
    assert problem["error"] == "PluginError" and "'broken' failed to import" in problem["message"]
    result = CliRunner().invoke(plugins, [])
    assert result.exit_code == 0 and "problem:" in result.output


# -- source preview --------------------------------------------------------------------------
def test_options_from_the_command_line():
    assert parse_options(("path=a.csv", "headers.Accept=text/csv", "with_structure=false")) == {
        "path": "a.csv",
        "headers": {"Accept": "text/csv"},
        "with_structure": "false",
    }
    assert parse_options(('list=["a", "b"]',)) == {"list": ["a", "b"]}
    with pytest.raises(ConfigError, match="key=value"):
        parse_options(("path",))


def test_preview_shows_rows_and_distinct_codes(tmp_path):
    (tmp_path / "pop.csv").write_bytes(CSV)
    args = ["preview", "sdmx", "-o", "path=pop.csv", "--dir", str(tmp_path),
            "--cache", str(tmp_path / "cache"), "--rows", "2", "--json"]  # fmt: skip
    result = CliRunner().invoke(source, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["rows"] == 3 and len(report["head"]) == 2
    columns = {c["name"]: c for c in report["columns"]}
    assert columns["REF_AREA"]["codes"] == ["096004", "096025"]
    assert columns["OBS_STATUS"] == {"name": "OBS_STATUS", "type": "string", "distinct": 1,
                                     "nulls": 2, "codes": ["e"]}  # fmt: skip
    assert report["payloads"][0]["key"] == "file:pop.csv"
    assert report["payloads"][0]["bytes"] == len(CSV)  # the bytes read, held: no copy
    assert not (tmp_path / "cache" / "objects").exists()


def test_preview_as_tables(tmp_path):
    (tmp_path / "pop.csv").write_bytes(CSV)
    args = ["preview", "sdmx", "-o", "path=pop.csv", "--dir", str(tmp_path),
            "--cache", str(tmp_path / "cache")]  # fmt: skip
    result = CliRunner().invoke(source, args)
    assert result.exit_code == 0, result.output
    assert "096025" in result.output and "distinct" in result.output


def test_preview_a_source_of_an_observatory(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "pop.csv").write_bytes(CSV)
    (tmp_path / "observatory.yaml").write_text(OBSERVATORY, encoding="utf-8")
    args = ["preview", "pop_local", "--observatory", str(tmp_path), "--cache",
            str(tmp_path / "cache"), "--json"]  # fmt: skip
    result = CliRunner().invoke(source, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["source"], report["rows"]) == ("pop_local", 3)
    assert report["payloads"][0]["key"] == "file:data/pop.csv"


def test_preview_of_bad_options_is_one_line_with_a_hint(tmp_path, capsys):
    code, _, err = run_main(["source", "preview", "sdmx", "-o", "pth=x.csv",
                             "--cache", str(tmp_path)], capsys)  # fmt: skip
    assert code == 1
    assert "invalid options for source 'preview_sdmx'" in err and "did you mean 'path'" in err
    assert "Traceback" not in err


def test_preview_offline_without_a_cached_answer_says_how_to_fetch(tmp_path, capsys):
    code, _, err = run_main(["source", "preview", "sdmx", "-o", "service=istat",
                             "-o", "dataflow=22_289", "-o", "format=csv", "--offline",
                             "--cache", str(tmp_path)], capsys)  # fmt: skip
    assert code == 1
    assert "offline" in err and "esploradati.istat.it" in err and "without --offline" in err


def test_preview_of_an_unknown_type_suggests_one(tmp_path, capsys):
    code, _, err = run_main(["source", "preview", "sdmxx", "--cache", str(tmp_path)], capsys)
    assert code == 1 and "unknown source type 'sdmxx'" in err and "'sdmx'" in err


# -- source record ---------------------------------------------------------------------------
def test_recorded_answers_replay_offline_in_the_conformance_kit(tmp_path, server):
    server.routes["/rest/data/22_289"] = [(200, {"Content-Type": "text/csv"}, CSV)]
    into = tmp_path / "fixtures"
    args = ["record", "sdmx", "-o", f"url={server.url}/rest", "-o", "dataflow=22_289",
            "-o", "format=csv", "--cache", str(tmp_path / "cache"),
            "--into", str(into)]  # fmt: skip
    result = CliRunner().invoke(source, args)
    assert result.exit_code == 0, result.output
    manifest = json.loads((into / "recorded.json").read_text())
    assert manifest["type"] == "sdmx"
    [entry] = manifest["responses"]
    assert entry["key"] == f"{server.url}/rest/data/22_289" and entry["file"].endswith(".csv")
    sample = Sample(manifest["options"], responses=recorded_responses(into), id="replay")
    [payload] = fetch_sample(SdmxSource, sample, tmp_path / "replay")
    assert SdmxSource("replay", manifest["options"]).parse(payload).num_rows == 3


def test_a_recording_keeps_the_sdmx_structure_and_replays_offline(tmp_path, server, shared_data):
    data = (shared_data / "sdmx_istat_22_289.xml").read_bytes()
    structure = (shared_data / "sdmx_istat_22_289-structure.xml").read_bytes()
    server.routes["/rest/dataflow/IT1/22_289/latest"] = [(200, {}, structure)]
    server.routes["/rest/data/22_289/A.IT.JAN"] = [(200, {}, data)]
    into = tmp_path / "fixtures"
    args = ["record", "sdmx", "-o", f"url={server.url}/rest", "-o", "agency=IT1",
            "-o", "dataflow=22_289", "-o", "key=A.IT.JAN", "--into", str(into)]  # fmt: skip
    result = CliRunner().invoke(source, args)
    assert result.exit_code == 0, result.output
    manifest = json.loads((into / "recorded.json").read_text())
    keys = [entry["key"] for entry in manifest["responses"]]
    assert keys == [
        f"{server.url}/rest/data/22_289/A.IT.JAN",
        f"{server.url}/rest/dataflow/IT1/22_289/latest?references=datastructure",
    ]
    sample = Sample(manifest["options"], responses=recorded_responses(into), id="replay")
    [payload] = fetch_sample(SdmxSource, sample, tmp_path / "replay")
    assert SdmxSource("replay", manifest["options"]).parse(payload).num_rows == 8


def test_an_answer_that_cannot_be_parsed_is_not_served_again_offline(tmp_path, server, capsys):
    server.routes["/rest/data/22_289"] = [(200, {"Content-Type": "text/csv"}, b"\x00\x01 not csv")]
    args = ["source", "preview", "sdmx", "-o", f"url={server.url}/rest", "-o", "dataflow=22_289",
            "-o", "format=csv", "--cache", str(tmp_path / "cache")]  # fmt: skip
    code, _, err = run_main(args, capsys)
    assert code == 1 and "Traceback" not in err
    code, _, err = run_main([*args, "--offline"], capsys)
    assert code == 1 and "not in the cache" in err


def test_preview_gives_up_after_the_retries_and_timeout_given(tmp_path, server, capsys):
    server.routes["/rest/data/22_289"] = [(503, {}, b"busy")] * 5
    args = ["source", "preview", "sdmx", "-o", f"url={server.url}/rest", "-o", "dataflow=22_289",
            "-o", "format=csv", "--cache", str(tmp_path),
            "--retries", "1", "--timeout", "2"]  # fmt: skip
    code, _, err = run_main(args, capsys)
    assert code == 1 and "503" in err
    assert len(server.seen) == 2  # the request and one retry


def test_recording_a_local_file_source_is_refused(tmp_path, capsys):
    (tmp_path / "pop.csv").write_bytes(CSV)
    code, _, err = run_main(["source", "record", "sdmx", "-o", "path=pop.csv", "--dir",
                             str(tmp_path), "--cache", str(tmp_path / "c"), "--into",
                             str(tmp_path / "f")], capsys)  # fmt: skip
    assert code == 1 and "fetched nothing over HTTP" in err


# -- new-plugin ------------------------------------------------------------------------------
def test_a_scaffolded_plugin_passes_its_own_tests(tmp_path):
    target = scaffold("asl-biella-beds", tmp_path)
    assert (target / "src" / "asl_biella_beds" / "plugin.py").is_file()
    pyproject = (target / "pyproject.toml").read_text()
    assert (
        '[project.entry-points.welfare_observatory]\nasl_biella_beds = "asl_biella_beds.plugin"'
        in (pyproject)
    )
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=target,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "11 passed" in run.stdout


def test_new_plugin_command_and_its_refusals(tmp_path, capsys):
    result = CliRunner().invoke(main_cli(), ["new-plugin", "my-source", "--dir", str(tmp_path)])
    assert result.exit_code == 0 and (tmp_path / "my-source" / "README.md").is_file()
    with pytest.raises(ConfigError, match="not empty"):
        scaffold("my-source", tmp_path)
    with pytest.raises(ConfigError, match="not a package name"):
        scaffold("My Source!", tmp_path)


def main_cli():
    from welfare_observatory.cli.main import cli

    return cli
