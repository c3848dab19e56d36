"""The hierarchy table in the start-up cache: what a process restores equals the table built
from the registry for the same date, and a date or a data file of its own is its own entry."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from welfare_observatory import _startup_cache
from welfare_observatory.territory import _store, tables
from welfare_observatory.territory._registry import TerritoryRegistry

DATES = [None, date(2024, 1, 1), date(2015, 6, 30), date(1995, 1, 1)]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "startup"
    monkeypatch.setenv(_startup_cache.ENV, str(folder))
    return folder


def _built(reg: TerritoryRegistry, at: date | None) -> object:
    return tables._build_hierarchy(reg, at)


def test_a_restored_hierarchy_equals_the_one_built_for_its_date(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = {at: _built(TerritoryRegistry.load(), at) for at in DATES}
    for at in DATES:  # builds and stores each date
        assert TerritoryRegistry.load().hierarchy(at).equals(expected[at])
    assert len(list(cache.glob("territory_hierarchy-*.pickle"))) == len(DATES)

    def fail(*_args: object) -> None:
        pytest.fail("built again instead of restored")

    monkeypatch.setattr(tables, "_build_hierarchy", fail)
    for at in DATES:
        restored = TerritoryRegistry.load().hierarchy(at)
        assert restored.equals(expected[at])
        assert restored.schema == expected[at].schema
    declared = {"district:T01024": ["096004"]}
    with_districts = TerritoryRegistry.load().hierarchy(date(2024, 1, 1), districts=declared)
    row = with_districts.filter(tables.pc.equal(with_districts["municipality"], "096004"))
    assert row["district"].to_pylist() == ["district:T01024"]


def test_a_damaged_entry_is_built_again(cache: Path) -> None:
    expected = _built(TerritoryRegistry.load(), None)
    TerritoryRegistry.load().hierarchy()
    [entry] = cache.glob("territory_hierarchy-*.pickle")
    entry.write_bytes(entry.read_bytes()[:-50])
    assert TerritoryRegistry.load().hierarchy().equals(expected)


def test_other_intervals_data_is_another_entry(cache: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(_store.DATA_DIR, data)
    at = date(2015, 6, 30)
    TerritoryRegistry.load(data).hierarchy(at)
    spans = _store.read("intervals.parquet", data)
    # a shorter intervals file: the same registry key, another hierarchy
    import pyarrow.parquet as pq

    pq.write_table(spans.slice(0, spans.num_rows // 2), data / "intervals.parquet")
    changed = TerritoryRegistry.load(data).hierarchy(at)
    assert changed.equals(_built(TerritoryRegistry.load(data), at))
    assert len(list(cache.glob("territory_hierarchy-*.pickle"))) == 2
