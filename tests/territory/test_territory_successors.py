"""Successors of ceased municipalities, date parameters, name preference and districts."""

from __future__ import annotations

from datetime import date, datetime

import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from welfare_observatory.errors import ConfigError, UnknownTerritoryError
from welfare_observatory.model.territory import OPEN_END, TerritoryLevel
from welfare_observatory.territory import InvalidDateError, normalize_name
from welfare_observatory.territory._aliases import NAME_ALIASES
from welfare_observatory.territory._registry import TerritoryRegistry, registry
from welfare_observatory.territory.history import EventKind

SINCE = date(2000, 1, 1)


def _ceased_since(reg: TerritoryRegistry, since: date) -> list[str]:
    return sorted(
        t.code
        for t in reg
        if t.level == TerritoryLevel.MUNICIPALITY and since <= t.valid_to < OPEN_END
    )


# ------------------------------------------------------------------ successors


@pytest.mark.parametrize(
    ("old", "new", "last_day"),
    [
        ("022014", "022229", date(2009, 12, 31)),  # Bezzecca -> Ledro
        ("022107", "022228", date(2009, 12, 31)),  # Lomaso -> Comano Terme (same day)
        # Alice Superiore went to Val di Chy (with Lugnacco and Pecco), not to Valchiusa,
        # which Meugliano, Trausella and Vico Canavese formed the same day
        ("001005", "001317", date(2018, 12, 31)),
        ("001151", "001318", date(2018, 12, 31)),  # Meugliano -> Valchiusa
        ("096073", "096088", date(2018, 12, 31)),  # Valle Mosso -> Valdilana
        ("096061", "096042", date(2016, 12, 31)),  # Selve Marcone into Pettinengo
    ],
)
def test_same_day_mergers_resolve(
    reg: TerritoryRegistry, old: str, new: str, last_day: date
) -> None:
    assert reg.successors(old, at=last_day) == [old]  # its last day in force
    day_after = date.fromordinal(last_day.toordinal() + 1)
    assert reg.successors(old, at=day_after) == [new]
    assert reg.successors(old, at="2024-06-01") == [new]
    assert old in reg.predecessors(new)


def test_every_municipality_ceased_since_2000_has_a_successor(reg: TerritoryRegistry) -> None:
    ceased = _ceased_since(reg, SINCE)
    assert len(ceased) == 682
    missing = [code for code in ceased if not reg.successors(code, at="2024-06-01")]
    assert missing == []
    # no event since 2000 is left unresolved
    late = [e for e in reg.history.events if e.date >= SINCE and e.kind == EventKind.UNRESOLVED]
    assert late == []


def test_the_only_post_war_losses_without_successor_are_named(reg: TerritoryRegistry) -> None:
    # since 1978 none; 1950-1977 a few dozen, among them the comuni of the former Zone B
    # (7027xx, no province) that went to Yugoslavia in 1977
    lost = [c for c in _ceased_since(reg, date(1950, 1, 1)) if not reg.successors(c)]
    assert all(reg.get(c).valid_to < date(1978, 1, 1) for c in lost)
    assert {c for c in lost if c.startswith("702")} and len(lost) == 33


def test_declared_events_are_consistent_with_the_intervals(reg: TerritoryRegistry) -> None:
    declared = [e for e in reg.history.events if e.evidence == "declared"]
    assert len(declared) == 133
    for event in declared:
        assert event.old is not None and event.new is not None
        before = date.fromordinal(event.date.toordinal() - 1)
        assert reg.history.valid(event.old, before) and not reg.history.valid(event.old, event.date)
        assert reg.history.valid(event.new, event.date)
        assert reg.get(event.old).parent == reg.get(event.new).parent  # same province
        assert event.kind in (EventKind.MERGER, EventKind.INCORPORATION)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_successors_are_in_force_on_the_date_asked(data: st.DataObject) -> None:
    reg = registry()
    code = data.draw(st.sampled_from(_ceased_since(reg, SINCE)))
    ceased = reg.get(code).valid_to
    day = data.draw(st.dates(min_value=ceased, max_value=date(2030, 12, 31)))
    heirs = reg.successors(code, at=day)
    if day == ceased:
        assert heirs == [code]
    assert heirs
    assert all(reg.history.valid(h, day) for h in heirs)
    assert reg.successors(code, at=day.isoformat()) == heirs


# ------------------------------------------------------------------ dates


def test_date_parameters_accept_iso_strings_and_datetimes(reg: TerritoryRegistry) -> None:
    assert reg.successors("037004", "2020-01-01") == reg.successors("037004", date(2020, 1, 1))
    assert reg.successors("037004", datetime(2020, 1, 1, 12)) == ["037061"]
    assert reg.predecessors("099030", at="2022-01-01") == ["041033"]
    iso = reg.hierarchy(at="2021-01-01")
    assert iso.equals(reg.hierarchy(at=date(2021, 1, 1)))
    in_force = reg.municipalities("096", at="2018-06-01")
    assert "096073" in {t.code for t in in_force}  # Valle Mosso, before Valdilana


@pytest.mark.parametrize("bad", ["2020-13-01", "yesterday", "", 20200101, 2020.0, ["2020"]])
def test_bad_dates_raise_a_typed_error_with_a_hint(reg: TerritoryRegistry, bad: object) -> None:
    with pytest.raises(InvalidDateError) as caught:
        reg.successors("037004", bad)  # type: ignore[arg-type]
    error = caught.value
    assert isinstance(error, ValueError) and isinstance(error, TypeError)
    assert error.hint and "2020-01-01" in error.hint
    assert error.location is not None and error.location.field == "at"
    with pytest.raises(InvalidDateError):
        reg.hierarchy(at=bad)  # type: ignore[arg-type]


# ------------------------------------------------------------------ names


def test_a_name_prefers_the_territory_in_force(reg: TerritoryRegistry) -> None:
    assert reg.find("Aoste").code == "007003"  # not 001875, ceased in 1927
    assert reg.find("Aoste", at="1920-01-01").code == "001875"
    assert reg.find("Aosta").code == "007003"
    # only ceased records: one answer per comune (022014 and its Austrian-era code 802030)
    assert reg.find("Bezzecca").code == "022014"


def test_common_short_forms_resolve(reg: TerritoryRegistry) -> None:
    assert reg.find("Reggio Emilia").code == "035"  # the province first, like every name
    assert "035033" in {t.code for t in reg.by_name("reggio emilia")}
    official = reg.find("Reggio nell'Emilia (RE)").code
    assert reg.find("Reggio Emilia (RE)").code == official
    assert reg.find("Monza e Brianza").code == "108"
    assert reg.find("Südtirol").code == "021"
    assert reg.get("04").name_other == "Trentino-Südtirol"
    assert reg.find("Trentino-Südtirol").code == "04"


def test_every_alias_is_unambiguous(reg: TerritoryRegistry) -> None:
    official = {key for t in reg if t.valid_to == OPEN_END for key in reg._name_keys[t.code]}
    for alias, (codes, why) in NAME_ALIASES.items():
        assert why, alias
        assert all(reg.get(code).valid_to == OPEN_END for code in codes), alias
        if normalize_name(alias) in official:  # only where it names the same territories
            current = {t.code for t in reg.by_name(alias, include_ceased=False)}
            assert current == set(codes), alias


# ------------------------------------------------------------------ districts


def test_shipped_districts_have_no_members(reg: TerritoryRegistry) -> None:
    assert reg.children("district:T01024") == []
    assert reg.municipalities("district:T01024") == []
    assert reg.hierarchy()["district"].null_count == 7896


def test_declared_districts_fill_the_hierarchy(reg: TerritoryRegistry) -> None:
    declared = {"district:T01024": ["096004", "96055"], "T01025": ["096020"]}
    table = reg.hierarchy("2024-06-01", districts=declared)
    inside = table.filter(pc.is_valid(table["district"]))
    municipality, district = inside["municipality"].to_pylist(), inside["district"].to_pylist()
    pairs = dict(zip(municipality, district, strict=True))
    assert pairs == {
        "096004": "district:T01024",
        "096055": "district:T01024",
        "096020": "district:T01025",
    }
    assert table.column_names == reg.hierarchy().column_names
    assert reg.hierarchy()["district"].null_count == 7896  # the cached table is untouched


def test_a_ceased_member_counts_as_its_successor(reg: TerritoryRegistry) -> None:
    table = reg.hierarchy(date(2024, 6, 1), districts={"T01025": ["096073"]})  # Valle Mosso
    inside = table.filter(pc.is_valid(table["district"]))
    assert inside["municipality"].to_pylist() == ["096088"]  # Valdilana


@pytest.mark.parametrize(
    ("declared", "error", "text"),
    [
        ({"district:T99999": ["096004"]}, UnknownTerritoryError, "unknown district"),
        ({"096": ["096004"]}, UnknownTerritoryError, "unknown district"),
        ({"T01024": ["999999"]}, UnknownTerritoryError, "999999"),
        ({"T01024": ["096"]}, ConfigError, "not a municipality"),
        ({"T01024": "096004"}, ConfigError, "not a string"),
        ({"T01024": ["096004"], "T01025": ["096004"]}, ConfigError, "two districts"),
    ],
)
def test_bad_district_declarations_are_refused(
    reg: TerritoryRegistry, declared: dict[str, object], error: type[Exception], text: str
) -> None:
    with pytest.raises(error, match=text):
        reg.hierarchy(districts=declared)  # type: ignore[arg-type]
