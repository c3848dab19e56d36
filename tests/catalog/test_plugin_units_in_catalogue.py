"""An observatory's own catalogue entry may use a unit a plugin registers (issues 16 and 14):
the catalogue of an observatory is checked against the plugin-aware unit registry."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import pytest

from welfare_observatory.catalog import Catalog, CatalogValidationError
from welfare_observatory.observatory import load_observatory
from welfare_observatory.sources import manager

FIXTURE_PLUGIN = Path(__file__).parents[1] / "fixtures" / "plugins" / "wo_fixture_units"

CONFIG = """\
id: hundreds
name: {it: Osservatorio di prova, en: Test observatory}
edition: "2025"
territory:
  code: "096"
  reference_date: 2024-01-01
indicators:
  catalog: [own.yaml]
  add: [TEST_RESIDENTS_HUNDREDS]
"""

OWN = """\
- id: TEST_RESIDENTS_HUNDREDS
  label: {it: Residenti (centinaia), en: Residents (hundreds)}
  definition: {it: Popolazione residente in centinaia., en: Residents in hundreds.}
  unit: hundred_persons
  polarity: neutral
  domain: demography
  measure: stock
  reference_point: jan_1
  aggregation: sum
  source: {publisher: Istat, dataset: test, url: "https://demo.istat.it/"}
"""


@pytest.fixture
def fixture_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fixture plugin package (it registers ``hundred_persons``), found through its
    entry point as if installed."""
    monkeypatch.syspath_prepend(str(FIXTURE_PLUGIN / "src"))
    monkeypatch.delenv(manager.ENV_ALLOW, raising=False)
    real = metadata.entry_points

    def entry_points(*, group: str) -> list[metadata.EntryPoint]:
        found = list(real(group=group))
        if group == "welfare_observatory":
            found.append(metadata.EntryPoint("fixture_units", "wo_fixture_units", group))
        return found

    monkeypatch.setattr(manager.metadata, "entry_points", entry_points)


def write(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "observatory.yaml").write_text(CONFIG, encoding="utf-8")
    (folder / "own.yaml").write_text(OWN, encoding="utf-8")
    return folder


def test_an_own_entry_may_use_a_plugin_unit(tmp_path: Path, fixture_plugin: None) -> None:
    observatory = load_observatory(write(tmp_path / "obs"))
    entry = observatory.catalog.get("TEST_RESIDENTS_HUNDREDS")
    assert entry.unit == "hundred_persons"
    assert [i.id for i in observatory.selection()] == ["TEST_RESIDENTS_HUNDREDS"]


def test_without_the_plugin_the_unit_is_refused_with_file_and_line(tmp_path: Path) -> None:
    folder = write(tmp_path / "obs")
    with pytest.raises(CatalogValidationError) as info:
        Catalog.load(folder / "own.yaml")
    (error,) = info.value.errors
    assert "hundred_persons" in str(error)
    assert error.location is not None and error.location.line == 4


def test_catalog_load_takes_the_registry_to_check_against(tmp_path: Path) -> None:
    from welfare_observatory.units import make_registry

    folder = write(tmp_path / "obs")
    registry = make_registry(["hundred_persons = 100 * person"])
    loaded = Catalog.load(folder / "own.yaml", units=registry)
    assert loaded.get("TEST_RESIDENTS_HUNDREDS").unit == "hundred_persons"
