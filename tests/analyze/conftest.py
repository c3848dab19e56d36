"""A small built edition for the analysis tests: synthetic values, real territory codes.

Eight municipalities of the province of Biella (Istat codes 096001-096008), the province
(096) and Italy (IT), 2016-2023. Values are synthetic, chosen so that the expected results
follow from the formulas in docs/methods.md: municipality 096008 has much more land
consumed than its peers and more every year (an early warning); residents are counts, so
a benchmark of the province against Italy leaves them out. The province's residents are
given by the source (eight of 74 municipalities cannot make a complete aggregate).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from welfare_observatory.cli.main import cli

OBSERVATORY = """\
id: test_analysis
name: {it: Osservatorio di prova, en: Test observatory}
edition: "2025"
territory:
  code: "096"
  reference_date: 2024-01-01
  comparisons: [IT]
indicators:
  add: [POP_TOTAL, LAND_CONSUMED_SHARE, SEPARATE_COLLECTION_RATE]
report:
  progress_method: eurostat
sources:
  residents:
    type: table
    options: {path: data/residents.csv}
    rules:
      indicator: {value: POP_TOTAL}
      territory: {column: Codice, scheme: istat}
      period: {column: Anno, reference_date: jan_1}
      melt: {columns: [Maschi, Femmine, Totale], names_to: sesso, values_to: value}
      breakdowns:
        sex: {column: sesso, map: {Maschi: M, Femmine: F, Totale: _T}}
  environment:
    type: table
    options: {path: data/environment.csv}
    rules:
      indicator:
        column: Indicatore
        map: {suolo: LAND_CONSUMED_SHARE, differenziata: SEPARATE_COLLECTION_RATE}
      territory: {column: Codice, scheme: istat}
      period: {column: Anno}
      value: {column: Valore}
"""

MUNICIPALITIES = [f"09600{i}" for i in range(1, 9)]
YEARS = range(2016, 2024)


def land(code: str, k: int) -> float:
    """Percent of land consumed: 096008 starts high and grows 5 % a year; the others drift."""
    if code == "096008":
        return round(20.0 * 1.05**k, 4)
    return round(5.0 + _digit(code) * 0.2 + 0.01 * k, 4)


def collection(code: str, k: int) -> float:
    """Percent of waste collected separately, rising 1 point a year everywhere."""
    return round(50.0 + _digit(code) + k, 4)


def _digit(code: str) -> int:
    """The last digit of a municipality's code; 5 for the province, 9 for Italy."""
    return int(code[-1]) if len(code) == 6 else 5 if code == "096" else 9


def write_observatory(folder: Path) -> Path:
    (folder / "data").mkdir(parents=True)
    (folder / "observatory.yaml").write_text(OBSERVATORY, encoding="utf-8")
    residents = ["Codice;Anno;Maschi;Femmine;Totale"]
    environment = ["Codice;Anno;Indicatore;Valore"]
    for k, year in enumerate(YEARS):
        for i, code in enumerate(MUNICIPALITIES):
            men, women = 1000 + 100 * i + k, 1050 + 100 * i + 2 * k
            residents.append(f"{code};{year};{men};{women};{men + women}")
        residents.append(f"096;{year};80000;84000;164000")
        residents.append(f"IT;{year};28900000;30100000;59000000")
        for code in [*MUNICIPALITIES, "096", "IT"]:
            environment.append(f"{code};{year};suolo;{land(code, k)}")
            environment.append(f"{code};{year};differenziata;{collection(code, k)}")
    (folder / "data" / "residents.csv").write_text("\n".join(residents) + "\n", "utf-8")
    (folder / "data" / "environment.csv").write_text("\n".join(environment) + "\n", "utf-8")
    return folder


def build(folder: Path, out: Path) -> None:
    result = CliRunner().invoke(cli, ["build", str(folder), "--offline", "--out", str(out)])
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="session")
def build_edition() -> Callable[[Path], Path]:
    """Build the small observatory into ``<folder>/kb``; returns that knowledge base."""

    def run(folder: Path) -> Path:
        build(write_observatory(folder / "obs"), folder / "kb")
        return folder / "kb"

    return run


@pytest.fixture(scope="session")
def edition_kb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A knowledge base holding edition 2025 of the small observatory above."""
    root = tmp_path_factory.mktemp("analysis_kb")
    build(write_observatory(root / "obs"), root / "kb")
    return root / "kb"
