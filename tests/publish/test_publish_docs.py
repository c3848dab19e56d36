"""docs/publishing.md: its Python examples run as written against a small edition."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest

from welfare_observatory.model.observation import observation_schema
from welfare_observatory.store.edition import Manifest, write_build

DOC = Path(__file__).resolve().parents[2] / "docs" / "publishing.md"
EXAMPLE = re.compile(r"<!-- example: (?P<name>[\w-]+) -->\n```python\n(?P<code>.*?)```", re.S)


def examples() -> dict[str, str]:
    return {m["name"]: m["code"] for m in EXAMPLE.finditer(DOC.read_text(encoding="utf-8"))}


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with ``kb/``: edition 2025 with children aged 0-14 in two municipalities."""
    values = {("096001", "F"): 1.0, ("096001", "M"): 6.0, ("096002", "F"): 80.0}
    values[("096002", "M")] = 90.0
    rows = []
    for (territory, sex), value in values.items():
        rows.append((territory, sex, value))
    for sex in ("F", "M"):
        rows.append(("096", sex, values[("096001", sex)] + values[("096002", sex)]))
    records = [
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
        for territory, sex, value in rows
    ]
    table = pa.Table.from_pylist(records, schema=observation_schema(("sex",)))
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
    write_build(tmp_path / "kb", manifest, observations=table, lineage=empty, findings=empty)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_doc_has_its_examples_and_the_report_section() -> None:
    assert set(examples()) == {"protect", "export", "sdmx", "exporter"}
    text = DOC.read_text(encoding="utf-8")
    assert "## The report" in text and "welfare-observatory report" in text


def test_the_examples_run_in_order(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = examples()
    for name in ("export", "sdmx", "exporter", "protect"):
        exec(compile(code[name], f"docs/publishing.md:{name}", "exec"), {})
    printed = capsys.readouterr().out
    assert "CC-BY-4.0" in printed
    assert "cells hidden of 6" in printed
    assert (workdir / "open-data" / "2025" / "observations.tsv").is_file()
