"""``welfare-observatory catalog ...`` through click's test runner."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from welfare_observatory.catalog import catalog as shipped
from welfare_observatory.cli.main import cli


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["catalog", *args])
    return result.exit_code, result.stdout, result.stderr


def test_list_json_filters_by_domain_and_verified() -> None:
    code, out, _ = run("list", "--domain", "demography", "--verified", "--json")
    assert code == 0
    rows = json.loads(out)
    assert rows and all(r["domain"] == "demography" and r["verified"] for r in rows)


def test_list_by_sdg_and_table() -> None:
    code, out, _ = run("list", "--sdg", "10", "--json")
    assert code == 0
    assert {r["id"] for r in json.loads(out)} == {i.id for i in shipped().covering("10")}
    code, out, _ = run("list", "--domain", "demography")
    assert code == 0 and "POP_TOTAL" in out


def test_list_unknown_domain_exits_1() -> None:
    code, _, err = run("list", "--domain", "demografia")
    assert code == 1
    assert "demografia" in err and "demography" in err


def test_show_json_and_text() -> None:
    code, out, _ = run("show", "OLD_AGE_INDEX", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["formula"]["numerator"] == "POP_65_PLUS"
    code, out, _ = run("show", "OLD_AGE_INDEX", "--lang", "en")
    assert code == 0 and "Old-age index" in out
    assert "[id_pagina]" in "".join(out.split())  # URLs shown as written, not as markup


def test_show_unknown_id_exits_1_with_hint() -> None:
    code, _, err = run("show", "OLD_AGE_IDX")
    assert code == 1
    assert "OLD_AGE_INDEX" in err


def test_search_json() -> None:
    code, out, _ = run("search", "ETA MEDIA", "--json")
    assert code == 0
    assert json.loads(out)[0]["id"] == "MEAN_AGE"


def test_validate_good_and_bad_files(tmp_path: Path) -> None:
    good = tmp_path / "own.yaml"
    good.write_text(
        "- id: OWN_RATE\n"
        "  label: {it: Quota locale}\n"
        "  unit: percent\n"
        "  polarity: neutral\n"
        "  domain: demography\n"
        "  measure: ratio\n"
        "  reference_point: jan_1\n"
        "  aggregation: formula\n"
        "  formula: {numerator: POP_65_PLUS, denominator: POP_TOTAL, multiplier: 100}\n"
        "  source: {publisher: Comune, document: Delibera 12/2024}\n",
        encoding="utf-8",
    )
    code, out, _ = run("validate", str(good))
    assert code == 0 and out.startswith("ok:")
    bad = tmp_path / "bad.yaml"
    bad.write_text(good.read_text().replace("POP_TOTAL", "POP_TOTALE"), encoding="utf-8")
    code, _, err = run("validate", str(bad))
    assert code == 1
    assert f"{bad}:9" in err and "formula.denominator" in err
    code, out, _ = run("validate", str(bad), "--json")
    assert code == 1
    problem = json.loads(out)["problems"][0]
    assert problem["location"] == {"file": str(bad), "line": 9, "field": "formula.denominator"}


def test_export_csv_neutralises_formulas(monkeypatch: pytest.MonkeyPatch) -> None:
    from welfare_observatory.catalog import _export

    code, out, _ = run("export", "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == len(shipped())
    assert _export.safe_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert _export.safe_cell("-1") == "'-1"
    assert _export.safe_cell(3) == 3
    for row in rows:
        assert not any(v.startswith(("=", "+", "-", "@")) for v in row.values())


def test_export_json_round_trips(tmp_path: Path) -> None:
    target = tmp_path / "cat.json"
    code, _, _ = run("export", "--format", "json", "--out", str(target))
    assert code == 0
    data = json.loads(target.read_text(encoding="utf-8"))
    assert {d["id"] for d in data} == set(shipped().ids)


def test_export_xlsx_stores_text_not_formulas(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    from welfare_observatory.catalog._export import write_xlsx

    target = tmp_path / "cat.xlsx"
    code, _, _ = run("export", "--format", "xlsx", "--out", str(target))
    assert code == 0
    sheet = load_workbook(target).active
    assert sheet.cell(1, 1).value == "id"
    assert sheet.max_row == len(shipped()) + 1
    # an entry whose label starts with '=' is written as text
    evil = (
        shipped()
        .get("POP_TOTAL")
        .model_copy(
            update={"label": shipped().get("POP_TOTAL").label.model_copy(update={"it": "=1+1"})}
        )
    )
    write_xlsx([evil], target)
    cell = load_workbook(target).active.cell(2, 3)
    assert cell.value == "'=1+1" and cell.data_type == "s"


def test_export_xlsx_needs_out() -> None:
    code, _, err = run("export", "--format", "xlsx")
    assert code == 2 and "--out" in err


def test_coverage_json() -> None:
    pytest.importorskip("welfare_observatory.sdg")
    code, out, _ = run("coverage", "--sdg", "--json")
    assert code == 0
    rows = json.loads(out)
    assert [r["goal"] for r in rows][:3] == ["1", "2", "3"]
    assert all(0 <= r["targets_covered"] <= r["targets"] for r in rows)


def test_catalog_help_imports_nothing_heavy() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from welfare_observatory.cli.main import main\n"
        "try:\n    main(['catalog', '--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted({'pandas', 'pyarrow', 'pint', 'openpyxl', 'numpy'} & set(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"
