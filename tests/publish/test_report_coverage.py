"""A card says when the cited dataset covers only some territories (``Indicator.coverage``):
a value of the provincial capital is never read as the province's."""

from __future__ import annotations

import textwrap
from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest

from welfare_observatory.catalog import Catalog
from welfare_observatory.model.observation import observation_schema
from welfare_observatory.publish.report import build_report
from welfare_observatory.store.edition import Manifest, write_build

CAPITALS_ONLY = "CYCLE_LANE_DENSITY"  # Istat "Dati ambientali nelle città": capitals only
EVERYWHERE = "OLD_AGE_INDEX"


def test_the_shipped_entry_used_here_really_covers_capitals_only() -> None:
    catalog = Catalog.shipped()
    assert catalog.get(CAPITALS_ONLY).coverage.value == "provincial_capitals"
    assert catalog.get(EVERYWHERE).coverage.complete


def _edition(root: Path) -> None:
    catalog = Catalog.shipped()
    rows = []
    for indicator in (CAPITALS_ONLY, EVERYWHERE):
        for year in (2021, 2022, 2023):
            rows.append(
                {
                    "indicator": indicator,
                    "territory": "096",
                    "period": str(year),
                    "period_start": date(year, 1, 1),
                    "value": 10.0 + year - 2021,
                    "unit": catalog.get(indicator).unit,
                    "obs_status": "A",
                    "conf_status": "F",
                    "flags": None,
                    "source": "test",
                    "lineage": "s1",
                }
            )
    table = pa.Table.from_pylist(rows, schema=observation_schema())
    domains = [catalog.get(r["indicator"]).domain.value for r in rows]
    table = table.append_column("domain", pa.array(domains))
    manifest = Manifest(
        observatory="cov-obs",
        edition="2025",
        build="b-2025",
        created="2026-01-01T00:00:00",
        library_version="0.1.0",
        config_digest="c" * 64,
        reference_date="2024-01-01",
        territory="096",
        indicators=(CAPITALS_ONLY, EVERYWHERE),
    )
    empty = pa.table({"step": pa.array([], pa.string())})
    write_build(root, manifest, observations=table, lineage=empty, findings=empty)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("kb")
    _edition(root)
    folder = tmp_path_factory.mktemp("obs") / "cov-obs"
    folder.mkdir()
    (folder / "observatory.yaml").write_text(
        textwrap.dedent(
            f"""\
            id: cov-obs
            name: {{it: Osservatorio di prova, en: Test observatory}}
            edition: "2025"
            territory:
              code: "096"
              reference_date: 2024-01-01
              comparisons: ["01", "IT"]
            indicators:
              add: [{CAPITALS_ONLY}, {EVERYWHERE}]
            """
        ),
        encoding="utf-8",
    )
    out = tmp_path_factory.mktemp("site") / "report"
    build_report(root, "2025", out, observatory=folder)
    return out


def test_a_card_of_a_capitals_only_indicator_says_so(site: Path) -> None:
    card = (site / "indicators" / f"{CAPITALS_ONLY}.html").read_text(encoding="utf-8")
    assert "solo i comuni capoluogo di provincia" in card
    assert 'class="coverage"' in card


def test_a_card_of_a_complete_indicator_has_no_coverage_note(site: Path) -> None:
    card = (site / "indicators" / f"{EVERYWHERE}.html").read_text(encoding="utf-8")
    assert 'class="coverage"' not in card
