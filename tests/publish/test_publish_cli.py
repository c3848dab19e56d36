"""``welfare-observatory publish``: exports from the command line, one-line errors for bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest

from welfare_observatory.model.observation import observation_schema
from welfare_observatory.store.edition import Manifest, write_build


@pytest.fixture
def kb_path(tmp_path: Path) -> Path:
    """Edition 2025 of Biella: children aged 0-14 by sex in two municipalities and the province."""
    values = {
        ("096001", "F"): 2.0,
        ("096001", "M"): 9.0,
        ("096002", "F"): 180.0,
        ("096002", "M"): 190.0,
    }
    for sex in ("F", "M"):
        values[("096", sex)] = values[("096001", sex)] + values[("096002", sex)]
    for territory in ("096001", "096002", "096"):
        values[(territory, "_T")] = values[(territory, "F")] + values[(territory, "M")]
    rows = [
        {
            "indicator": "POP_0_14",
            "territory": territory,
            "period": "2024-01-01",
            "period_start": date(2024, 1, 1),
            "sex": sex,
            "value": value,
            "unit": "person",
            "obs_status": "A",
            "conf_status": "F",
            "flags": None,
            "source": "istat_pop",
            "lineage": "step-1",
        }
        for (territory, sex), value in sorted(values.items())
    ]
    table = pa.Table.from_pylist(rows, schema=observation_schema(("sex",)))
    table = table.append_column("domain", pa.array(["demography"] * table.num_rows))
    manifest = Manifest(
        observatory="biella",
        edition="2025",
        build="b-1",
        created="2026-01-01T00:00:00",
        library_version="0.1.0",
        config_digest="c" * 64,
        reference_date="2024-01-01",
        territory="096",
    )
    empty = pa.table({"step": pa.array([], pa.string())})
    root = tmp_path / "kb"
    write_build(root, manifest, observations=table, lineage=empty, findings=empty)
    return root


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "welfare_observatory.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=cwd,
    )


def test_publish_writes_each_format_with_its_readme(kb_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "open"
    run = cli(
        "publish", "2025", "--kb", str(kb_path), "--format", "csv", "--format", "sdmx",
        "--out", str(out), "--json", cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["edition"] == "2025" and report["licence"] == "CC-BY-4.0"
    assert sorted(report["files"]) == ["csv", "sdmx"]
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "README.md",
        "metadata.json",
        "observations-sdmx.xml",
        "observations-structure.xml",
        "observations.csv",
    ]
    csv_text = (out / "observations.csv").read_text(encoding="utf-8")
    assert '"POP_0_14","096001","2024-01-01",2024-01-01,"F",,' in csv_text


def test_publish_defaults_to_open_data_of_the_edition(kb_path: Path, tmp_path: Path) -> None:
    run = cli(
        "publish", "2025", "--kb", str(kb_path), "--format", "json", "--threshold", "10",
        cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    document = json.loads((tmp_path / "open-data" / "2025" / "observations.json").read_text())
    hidden = {(r["territory"], r["sex"]) for r in document["data"] if r["value"] is None}
    assert ("096001", "M") in hidden, "9 is below the threshold of 10"
    assert "below 10" not in document["metadata"]["disclosure"]
    assert "< 10" in document["metadata"]["disclosure"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["2030", "--format", "csv"], "no edition '2030'"),
        (["2025", "--format", "cvs"], "unknown export format 'cvs'"),
        (["2025", "--format", "csv", "--source-licence", "nolicence"], "SOURCE=LICENCE"),
    ],
)
def test_bad_input_is_one_line_and_exit_1(
    kb_path: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    run = cli("publish", *args, "--kb", str(kb_path), cwd=tmp_path)
    assert run.returncode == 1
    first, *rest = run.stderr.splitlines()
    assert message in first and "Traceback" not in run.stderr
    assert all(line.startswith("hint:") for line in rest)
    assert not (tmp_path / "open-data").exists()


def test_a_missing_knowledge_base_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    run = cli("publish", "2025", "--format", "csv", "--kb", str(tmp_path / "nowhere"), cwd=tmp_path)
    assert run.returncode == 1 and "no knowledge base" in run.stderr
    assert "Traceback" not in run.stderr


def test_help_lists_the_formats(tmp_path: Path) -> None:
    run = cli("publish", "--help", cwd=tmp_path)
    assert run.returncode == 0
    assert "datapackage" in run.stdout and "csv-it" in run.stdout


def test_the_observatory_and_a_disclosure_file_shape_the_export(
    kb_path: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "obs"
    folder.mkdir()
    (folder / "observatory.yaml").write_text(
        "id: biella\nname: {it: Prova}\nedition: '2025'\n"
        "territory: {code: '096', reference_date: 2024-01-01}\n"
        "indicators: {add: [POP_0_14]}\nlicence: CC-BY-SA-4.0\n",
        encoding="utf-8",
    )
    rule = tmp_path / "disclosure.yaml"
    rule.write_text("threshold: 5\nindicator_groups: {POP_TOTAL: [POP_0_14, POP_15_64]}\n")
    out = tmp_path / "open"
    run = cli(
        "publish", "2025", "--kb", str(kb_path), "--format", "csv", "--out", str(out),
        "--observatory", str(folder), "--disclosure", str(rule), "--json", cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["licence"] == "CC-BY-SA-4.0"
    metadata = json.loads((out / "metadata.json").read_text(encoding="utf-8"))["metadata"]
    assert "< 5" in metadata["disclosure"]


def test_a_bad_disclosure_file_names_its_line(kb_path: Path, tmp_path: Path) -> None:
    rule = tmp_path / "disclosure.yaml"
    rule.write_text("threshold: 3\nindicator_groups:\n  POP_TOTAL: [pop_0_14]\n")
    run = cli(
        "publish", "2025", "--kb", str(kb_path), "--format", "csv",
        "--disclosure", str(rule), cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert "disclosure.yaml" in run.stderr and "pop_0_14" in run.stderr


def test_the_observatory_own_disclosure_rule_applies_without_the_option(
    kb_path: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "obs"
    folder.mkdir()
    (folder / "protection.yaml").write_text("threshold: 7\n", encoding="utf-8")
    (folder / "observatory.yaml").write_text(
        "id: biella\nname: {it: Prova}\nedition: '2025'\n"
        "territory: {code: '096', reference_date: 2024-01-01}\n"
        "indicators: {add: [POP_0_14]}\ndisclosure: protection.yaml\n",
        encoding="utf-8",
    )
    out = tmp_path / "open"
    run = cli(
        "publish", "2025", "--kb", str(kb_path), "--format", "csv", "--out", str(out),
        "--observatory", str(folder), cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    metadata = json.loads((out / "metadata.json").read_text(encoding="utf-8"))["metadata"]
    assert "< 7" in metadata["disclosure"]


def test_without_an_edition_the_latest_is_published(kb_path: Path, tmp_path: Path) -> None:
    run = cli("publish", "--kb", str(kb_path), "--format", "csv", "--json", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["edition"] == "2025"
    assert (tmp_path / "open-data" / "2025" / "observations.csv").exists()
