"""The command line: help without heavy imports, one-line errors, JSON schemas."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from welfare_observatory.cli.main import COMMANDS, cli, main


def test_help_lists_every_command_group() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in COMMANDS:
        assert name in result.output


def test_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert result.output.startswith("welfare-observatory ")


def test_help_imports_nothing_heavy() -> None:
    code = (
        "import sys\n"
        "from welfare_observatory.cli.main import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = {'pandas', 'pyarrow', 'pint', 'sdmx', 'duckdb', 'openpyxl', 'numpy'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_schema_indicator_is_json_schema() -> None:
    result = CliRunner().invoke(cli, ["schema", "indicator"])
    assert result.exit_code == 0
    schema = json.loads(result.output)
    assert schema["title"] == "Indicator"
    assert "polarity" in schema["properties"]


def test_schema_observation_is_a_table_schema_with_the_breakdowns() -> None:
    result = CliRunner().invoke(cli, ["schema", "observation", "--breakdown", "sex"])
    assert result.exit_code == 0, result.output
    schema = json.loads(result.output)
    names = [field["name"] for field in schema["fields"]]
    assert names[:5] == ["indicator", "territory", "period", "period_start", "sex"]
    assert schema["primaryKey"] == ["indicator", "territory", "period", "sex"]
    status = next(f for f in schema["fields"] if f["name"] == "obs_status")
    assert "A" in status["constraints"]["enum"] and "Z" not in status["constraints"]["enum"]
    value = next(f for f in schema["fields"] if f["name"] == "value")
    assert value["type"] == "number" and value["constraints"]["required"] is False


def test_library_errors_become_one_line_and_exit_1(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from welfare_observatory.cli import schema as schema_module
    from welfare_observatory.errors import UnknownIdError

    def boom(name: str, breakdowns: tuple[str, ...] = ()) -> dict[str, object]:
        raise UnknownIdError(name, candidates=["indicator"], message="no schema called 'indicatr'")

    monkeypatch.setattr(schema_module, "schema_for", boom)
    with pytest.raises(SystemExit) as info:
        main(["schema", "indicator"])
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert err.splitlines()[0] == "error: no schema called 'indicatr'"
    assert "hint: did you mean 'indicator'?" in err
    assert "Traceback" not in err


def test_usage_errors_exit_2_without_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["schema", "nothing"])
    assert info.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


def test_tables_show_data_as_it_is_and_missing_values_as_empty(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from welfare_observatory.cli._output import print_fields, print_table

    print_table(["name", "value"], [("[bold]Biella[/bold]", float("nan")), ("Cossato", None)])
    print_fields([("note", "[red]x[/red]")])
    out = capsys.readouterr().out
    assert "[bold]Biella[/bold]" in out and "[red]x[/red]" in out
    assert "nan" not in out and "None" not in out


def test_a_model_is_written_as_the_json_of_its_dump(capsys: pytest.CaptureFixture[str]) -> None:
    from datetime import date

    from welfare_observatory.cli._output import print_json
    from welfare_observatory.model.finding import Finding, Severity
    from welfare_observatory.store.edition import Manifest

    finding = Finding(
        code="release-conflict",
        severity=Severity.INFO,
        message="Città 9 wins over 2,082 \u00ab\u00bb \x00",
        count=3,
    )
    manifest = Manifest(
        observatory="o",
        edition="2025",
        build="b-1",
        created="2026-12-06T09:00:00+00:00",
        library_version="1",
        config_digest="-",
        reference_date=date(2025, 1, 1).isoformat(),
        territory="IT",
        tables={"observations": {"rows": 3, "sha256": "0" * 64, "files": ["a", "b"]}},
    )
    for model in (finding, manifest):
        print_json(model)
        written = capsys.readouterr().out
        expected = json.dumps(model.model_dump(mode="json"), indent=2, ensure_ascii=False)
        assert written == expected + "\n"
    # Floats keep their values; one that is not finite is null, never NaN (not JSON).
    from welfare_observatory.build.report import BuildReport

    report = BuildReport(
        observatory="o",
        edition="2025",
        build="b-1",
        knowledge_base="kb",
        timings={"load": 1e-05, "store": 0.25, "parse": float("nan")},
    )
    print_json(report)
    back = json.loads(capsys.readouterr().out, parse_constant=lambda name: pytest.fail(name))
    assert back["timings"] == {"load": 1e-05, "store": 0.25, "parse": None}
