"""The registry and the history share equal values and one field set among their objects:
each object is still what building it on its own gives, and the start-up cache keeps the
sharing (the memory a process saves is the restored registry's)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from welfare_observatory import _startup_cache
from welfare_observatory.model.territory import Territory, TerritoryLevel
from welfare_observatory.territory import _store
from welfare_observatory.territory._registry import TerritoryRegistry
from welfare_observatory.territory.history import EventKind, TerritoryEvent


def _columns(name: str) -> dict[str, list[object]]:
    table = _store.read(name)
    return {
        n: (c.cast(pa.string()) if pa.types.is_dictionary(c.type) else c).to_pylist()
        for n, c in zip(table.column_names, table.columns, strict=True)
    }


def _one_by_one() -> dict[str, Territory]:
    """Each territory built on its own from its row, as the registry did before sharing."""
    columns = _columns("territories.parquet")
    fields = [f for f in columns if f in Territory.model_fields]
    out = {}
    for values in zip(*(columns[f] for f in fields), strict=True):
        record = dict(zip(fields, values, strict=True))
        record["level"] = TerritoryLevel(record["level"])
        out[str(record["code"])] = Territory.model_construct(**record)
    return out


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "startup"
    monkeypatch.setenv(_startup_cache.ENV, str(folder))
    return folder


def _distinct(values: list[object]) -> int:
    return len({id(v) for v in values})


def test_registry_territories_equal_those_built_one_by_one(cache: Path) -> None:
    expected = _one_by_one()
    built = TerritoryRegistry.load()  # builds and stores
    restored = TerritoryRegistry.load()  # from the cache
    assert list(cache.glob("territories-*.pickle"))
    for reg in (built, restored):
        assert list(reg._by_code) == list(expected)
        for code, territory in reg._by_code.items():
            alone = expected[code]
            assert territory == alone
            assert territory.model_fields_set == alone.model_fields_set
            assert territory.model_dump() == alone.model_dump()
        territories = list(reg)
        assert _distinct([t.model_fields_set for t in territories]) == 1
        parents = [t.parent for t in territories if t.parent]
        assert _distinct(parents) == len(set(parents))


def test_a_copy_never_changes_the_shared_field_set(cache: Path) -> None:
    reg = TerritoryRegistry.load()
    first, second = list(reg)[:2]
    shared = set(first.model_fields_set)
    copy = first.model_copy(update={"members": ("001001",)})
    assert "members" in copy.model_fields_set
    assert first.model_fields_set == shared == second.model_fields_set
    with pytest.raises(ValueError, match="frozen"):
        first.name = "other"


def test_history_events_equal_those_validated_one_by_one(cache: Path) -> None:
    columns = _columns("events.parquet")
    expected = [
        TerritoryEvent(old=o, new=n, date=d, kind=EventKind(k), evidence=e)  # type: ignore[arg-type]
        for o, n, d, k, e in zip(
            columns["old"],
            columns["new"],
            columns["date"],
            columns["kind"],
            columns["evidence"],
            strict=True,
        )
    ]
    built = TerritoryRegistry.load().history  # builds and stores
    restored = TerritoryRegistry.load().history  # from the cache
    assert list(cache.glob("territory_history-*.pickle"))
    for history in (built, restored):
        assert history.events == expected
        assert [e.model_fields_set for e in history.events] == [
            e.model_fields_set for e in expected
        ]
        assert _distinct([e.model_fields_set for e in history.events]) == 1
        dates = [e.date for e in history.events]
        assert _distinct(dates) == len(set(dates))  # type: ignore[arg-type]
