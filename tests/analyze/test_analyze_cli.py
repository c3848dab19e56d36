"""``welfare-observatory analyze``: the four commands on a canonical observation file.

The values are synthetic; the expected classes and scores are computed from the formulas in
docs/methods.md (Eurostat CAGR classes; AMPI: the reference row scores 100).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from welfare_observatory.cli.main import main


def write_observations(tmp_path: Path, *, parquet: bool = False) -> Path:
    rows = []
    for i in range(8):
        for k, year in enumerate(range(2016, 2022)):
            neet = 10.0 + i * 0.3 if i < 7 else 20.0 + 2 * k
            rows.append(("NEET", f"09600{i}", str(year), neet, "A"))
            rows.append(("EMP", f"09600{i}", str(year), 60.0 + i + k, "A"))
    for k, year in enumerate(range(2016, 2022)):
        rows.append(("NEET", "IT", str(year), 20.0 - k, "A"))
        rows.append(("EMP", "IT", str(year), 58.0 + k, "A"))
    frame = pd.DataFrame(rows, columns=["indicator", "territory", "period", "value", "obs_status"])
    if parquet:
        path = tmp_path / "obs.parquet"
        frame.to_parquet(path)
    else:
        path = tmp_path / "obs.csv"
        frame.to_csv(path, index=False)
    return path


POL = ["--polarity", "NEET=negative", "--polarity", "EMP=positive"]


def run_json(capsys: pytest.CaptureFixture[str], args: list[str]) -> object:
    main(["analyze", *args, "--json"])
    return json.loads(capsys.readouterr().out)


def test_progress_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write_observations(tmp_path)
    args = ["progress", "--data", str(data), "--indicator", "NEET", "--territory", "IT"]
    out = run_json(capsys, [*args, *POL, "--method", "eurostat"])
    assert isinstance(out, dict)
    assert out["category"] == "significant_progress"  # 20 -> 15 in five years, negative
    assert out["start_year"] == 2016 and out["end_year"] == 2021


def test_progress_with_target_from_parquet(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_observations(tmp_path, parquet=True)
    args = ["progress", "--data", str(data), "--indicator", "EMP", "--territory", "IT", *POL]
    out = run_json(capsys, [*args, "--target", "78", "--target-year", "2030"])
    assert isinstance(out, dict) and out["ratio"] is not None


def test_composite_benchmark_and_warnings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = str(write_observations(tmp_path))
    comp = run_json(
        capsys,
        [
            "composite",
            "--data",
            data,
            "--reference-territory",
            "IT",
            "--reference-year",
            "2016",
            *POL,
        ],
    )
    assert isinstance(comp, list)
    it2016 = next(r for r in comp if r["territory"] == "IT" and r["year"] == 2016)
    assert it2016["ampi"] == pytest.approx(100.0)
    bench = run_json(
        capsys, ["benchmark", "--data", data, "--territory", "096000", "--against", "IT", *POL]
    )
    assert isinstance(bench, list) and {r["indicator"] for r in bench} == {"NEET", "EMP"}
    warn = run_json(capsys, ["warnings", "--data", data, "--indicator", "NEET", *POL])
    assert isinstance(warn, list) and {r["territory"] for r in warn} == {"096007"}


def test_tables_for_people(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    data = str(write_observations(tmp_path))
    args = ["analyze", "benchmark", "--data", data, "--territory", "096000", "--against", "IT"]
    main([*args, *POL, "--lang", "en"])
    assert "better than Italy" in capsys.readouterr().out
    main([*args, *POL])  # Italian by default, as the report
    assert "migliore di Italia" in capsys.readouterr().out


def test_bad_input_is_one_line_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("indicator,territory,period,value\nX,IT,2020,abc\n", encoding="utf-8")
    with pytest.raises(SystemExit) as info:
        main(["analyze", "progress", "--data", str(bad), "--indicator", "X", "--territory", "IT"])
    assert info.value.code == 1
    assert "not a number" in capsys.readouterr().err
    data = str(write_observations(tmp_path))
    with pytest.raises(SystemExit):
        main(
            [
                "analyze",
                "progress",
                "--data",
                data,
                "--indicator",
                "NEET",
                "--territory",
                "IT",
                "--polarity",
                "NEET=sideways",
            ]
        )
    assert "unknown polarity" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(
            [
                "analyze",
                "composite",
                "--data",
                data,
                "--reference-territory",
                "XX",
                "--reference-year",
                "2016",
                *POL,
            ]
        )
    assert "reference row" in capsys.readouterr().err
    binary = tmp_path / "bad.parquet"
    binary.write_bytes(b"not parquet")
    with pytest.raises(SystemExit):
        main(["analyze", "warnings", "--data", str(binary)])
    assert "not a readable parquet file" in capsys.readouterr().err


def test_help_does_not_import_pandas() -> None:
    code = (
        "import sys; from welfare_observatory.cli.main import main\n"
        "try:\n    main(['analyze', '--help'])\nexcept SystemExit:\n    pass\n"
        "print('pandas' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().endswith("False")


def test_polarity_falls_back_to_the_shipped_catalogue(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = pytest.importorskip("welfare_observatory.catalog").catalog()
    try:
        expected = catalog.get("ABSOLUTE_POVERTY_INDIVIDUALS").polarity.value
    except LookupError:
        pytest.skip("the shipped catalogue has no ABSOLUTE_POVERTY_INDIVIDUALS")
    rows = [("ABSOLUTE_POVERTY_INDIVIDUALS", "IT", str(2015 + k), 7.6 + 0.3 * k) for k in range(6)]
    data = tmp_path / "poverty.csv"
    pd.DataFrame(rows, columns=["indicator", "territory", "period", "value"]).to_csv(
        data, index=False
    )
    args = ["progress", "--data", str(data), "--indicator", "ABSOLUTE_POVERTY_INDIVIDUALS"]
    out = run_json(capsys, [*args, "--territory", "IT"])
    assert isinstance(out, dict) and out["polarity"] == expected
    unknown = tmp_path / "unknown.csv"
    pd.DataFrame(
        [("NOT_AN_ID", "IT", "2020", 1.0)], columns=["indicator", "territory", "period", "value"]
    ).to_csv(unknown, index=False)
    with pytest.raises(SystemExit):
        main(
            [
                "analyze",
                "progress",
                "--data",
                str(unknown),
                "--indicator",
                "NOT_AN_ID",
                "--territory",
                "IT",
            ]
        )
    assert "--polarity NOT_AN_ID=" in capsys.readouterr().err


def test_progress_defaults_to_istat_classes_and_takes_a_territory_by_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = str(write_observations(tmp_path))
    by_code = run_json(
        capsys, ["progress", "--data", data, "--indicator", "NEET", "--territory", "IT", *POL]
    )
    assert isinstance(by_code, dict) and by_code["method"] == "istat"
    by_name = run_json(
        capsys, ["progress", "--data", data, "--indicator", "NEET", "--territory", "Italia", *POL]
    )
    assert by_name == by_code
    # a target means Eurostat's classes, which have the target variant
    args = ["progress", "--data", data, "--indicator", "EMP", "--territory", "IT", *POL]
    target = run_json(capsys, [*args, "--target", "78", "--target-year", "2030"])
    assert isinstance(target, dict) and target["method"] == "eurostat"
