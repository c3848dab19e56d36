"""The registry and the history share equal values and one field set among their objects:
each object is still what building it on its own gives, and the start-up cache keeps the
sharing (the memory a process saves is the restored registry's)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from welfare_observatory import _startup_cache
from welfare_observatory.model.territory import OPEN_END, Territory, TerritoryLevel
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


# ------------------------------------------------- successors of a code in force


@pytest.fixture(scope="module")
def shared_reg() -> TerritoryRegistry:
    return TerritoryRegistry.load()


def _municipality_codes() -> list[str]:
    return sorted(
        {str(c) for c in _columns("intervals.parquet")["code"]}
        | {
            str(code)
            for code, level in zip(
                _columns("territories.parquet")["code"],
                _columns("territories.parquet")["level"],
                strict=True,
            )
            if level == "municipality"
        }
    )


MUNICIPALITY_CODES = _municipality_codes()


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(MUNICIPALITY_CODES),
    st.dates(min_value=date(1940, 1, 1), max_value=date(2030, 12, 31)),
)
def test_successors_answer_what_the_history_answers(
    shared_reg: TerritoryRegistry, code: str, at: date
) -> None:
    assert shared_reg.successors(code, at) == shared_reg.history.successors(code, at)


@pytest.mark.parametrize("at", [date(2024, 1, 1), date(2001, 6, 30), date(1991, 1, 1)])
def test_every_code_in_force_answers_itself_as_the_history_does(at: date) -> None:
    reg = TerritoryRegistry.load()
    answers = {code: reg.successors(code, at) for code in MUNICIPALITY_CODES}
    in_force = [code for code, found in answers.items() if found == [code]]
    assert len(in_force) > 7000
    history = reg.history
    for code, found in answers.items():
        assert found == history.successors(code, at), code


def test_codes_in_force_never_read_the_history(cache: Path) -> None:
    reg = TerritoryRegistry.load()
    at = date(2024, 1, 1)
    current = [
        t.code for t in reg if t.level == TerritoryLevel.MUNICIPALITY and t.valid_to == OPEN_END
    ]
    assert all(reg.successors(code, at) == [code] for code in current[:500])
    assert reg._history is None
    assert reg.successors("022014", at) == ["022229"]  # Bezzecca, merged into Ledro
    assert reg._history is not None
