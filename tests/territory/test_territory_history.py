"""Administrative changes: code changes, moves, mergers, and the tables built on them."""

from __future__ import annotations

from datetime import date

import pyarrow.compute as pc
import pytest

from welfare_observatory.errors import UnknownTerritoryError
from welfare_observatory.territory._registry import TerritoryRegistry
from welfare_observatory.territory.history import EventKind
from welfare_observatory.territory.tables import HIERARCHY_COLUMNS


def test_montecopiolo_and_sassofeltrio_moved_to_rimini(reg: TerritoryRegistry) -> None:
    for old, new in (("041033", "099030"), ("041060", "099031")):
        successors = reg.successors(old, at=date(2022, 1, 1))
        assert successors == [new]
        assert all(reg.get(code).parent == "099" for code in successors)
        (event,) = [e for e in reg.events(old) if e.date == date(2021, 6, 17)]
        assert (event.kind, event.evidence) == (EventKind.PROVINCE_CHANGE, "belfiore")
    # before the move the old code was in force and maps to itself
    assert reg.successors("041033", at=date(2020, 1, 1)) == ["041033"]
    assert reg.predecessors("099030") == ["041033"]


def test_prestine_merged_into_bienno(reg: TerritoryRegistry) -> None:
    prestine = reg.get("017154")
    assert prestine.valid_to == date(2016, 4, 23)
    assert reg.successors("017154", at=date(2016, 4, 24)) == ["017018"]
    assert reg.successors("017154", at=date(2016, 4, 23)) == ["017154"]
    # 1927-1947 Prestine was part of Bienno too, then re-established
    assert reg.successors("017154", at=date(1930, 1, 1)) == ["017018"]
    assert reg.successors("017154", at=date(1950, 1, 1)) == ["017154"]


@pytest.mark.parametrize(
    ("old", "new", "day"),
    [
        ("022004", "022237", date(2016, 1, 1)),  # Amblar -> Amblar-Don
        ("022076", "022237", date(2016, 1, 1)),  # Don -> Amblar-Don
        ("022055", "022241", date(2016, 1, 1)),  # Cembra -> Cembra Lisignago
        ("022140", "022234", date(2016, 1, 1)),  # Pieve di Bono -> Pieve di Bono-Prezzo
        ("022145", "022250", date(2018, 1, 1)),  # Pozza di Fassa -> San Giovanni di Fassa
        ("022225", "022251", date(2019, 1, 1)),  # Zambana -> Terre d'Adige
    ],
)
def test_trentino_mergers(reg: TerritoryRegistry, old: str, new: str, day: date) -> None:
    assert reg.successors(old, at=day) == [new]
    assert reg.get(new).parent == "022"
    assert old in reg.predecessors(new)
    assert reg.successors(old) == [new]  # still in force today


def test_unresolved_cessation_gives_no_successor(reg: TerritoryRegistry) -> None:
    # Capodistria (Koper) and the other comuni of the former Zone B went to Yugoslavia in
    # 1977 (Treaty of Osimo): there is no Italian successor, and none is guessed
    assert reg.successors("702709", at=date(2000, 1, 1)) == []
    (event,) = [e for e in reg.events("702709") if e.kind == EventKind.UNRESOLVED]
    assert (event.new, event.evidence) == (None, "none")


def test_an_older_merger_does_not_answer_for_a_later_one(reg: TerritoryRegistry) -> None:
    # Bolbeno merged into Tione in 1928, came back, and with Zuclo became Borgo Lares in 2016
    # (one of 17 comuni created in Trentino that day: evidence "declared")
    assert reg.successors("022019", at=date(2017, 1, 1)) == ["022239"]
    (event,) = [e for e in reg.events("022019") if e.date == date(2016, 1, 1)]
    assert (event.new, event.kind, event.evidence) == ("022239", EventKind.MERGER, "declared")


def test_changes_after_the_anpr_snapshot(reg: TerritoryRegistry) -> None:
    assert reg.successors("013199", at=date(2024, 6, 1)) == ["013256"]  # Ronago
    assert reg.successors("013199", at=date(2023, 12, 31)) == ["013199"]
    (event,) = [e for e in reg.events("018002") if e.new == "018026"]
    assert "date_bound" in event.evidence  # the legal date is not in the sources


def test_territories_without_history_map_to_themselves(reg: TerritoryRegistry) -> None:
    for code in ("IT", "ITC", "03", "096", "district:T01024", "096004"):
        assert reg.successors(code, at=date(2022, 1, 1)) == [code]


def test_history_of_unknown_code(reg: TerritoryRegistry) -> None:
    with pytest.raises(UnknownTerritoryError):
        reg.successors("123456")


def test_hierarchy_today(reg: TerritoryRegistry) -> None:
    table = reg.hierarchy()
    assert table.column_names == list(HIERARCHY_COLUMNS)
    assert table.num_rows == 7896
    assert table["municipality"].null_count == 0
    assert table["district"].null_count == 7896  # no membership in the sources
    row = table.filter(pc.equal(table["municipality"], "022205")).to_pylist()[0]
    assert row == {
        "municipality": "022205",
        "district": None,
        "province": "022",
        "region": "04",
        "nuts1": "ITH",
        "country": "IT",
    }
    assert reg.hierarchy() is table  # built once


def test_hierarchy_at_a_past_date(reg: TerritoryRegistry) -> None:
    before = reg.hierarchy(at=date(2021, 1, 1))
    row = before.filter(pc.equal(before["municipality"], "041033")).to_pylist()
    assert row and row[0]["province"] == "041" and row[0]["nuts1"] == "ITI"
    assert pc.sum(pc.equal(before["municipality"], "099030")).as_py() == 0
    codes = set(before["municipality"].to_pylist())
    assert "022239" in codes and "022019" not in codes  # after the 2016 mergers
    assert len(codes) == before.num_rows


def test_code_table_maps_every_code_form(reg: TerritoryRegistry) -> None:
    table = reg.code_table()

    def lookup(key: str, system: str) -> set[str]:
        mask = pc.and_(pc.equal(table["key"], key), pc.equal(table["system"], system))
        return set(table.filter(pc.and_(mask, table["current"]))["territory"].to_pylist())

    assert lookup("96004", "istat_unpadded") == {"096004"}
    assert lookup("A859", "belfiore") == {"096004"}
    assert lookup("ITH20", "nuts2024") == {"022"}
    assert lookup("ITD20", "itter107") == {"022"}
    assert lookup("ITI31", "nuts2024") == {"041"}
    assert lookup("ITC2", "nuts2024") == {"02"}  # the region; ITC20 is the province
    assert lookup("ITC20", "nuts2024") == {"007"}
    assert lookup("biella|BI", "name_province") == {"096004"}
    assert lookup("s antonio abate|063", "name_province") == {"063074"}
    # a Belfiore code outlives Istat codes: the old codes of Biella keep it
    everything = table.filter(pc.equal(table["key"], "A859"))
    assert set(everything["territory"].to_pylist()) == {"096004", "002012", "003919"}
    assert reg.code_table() is table
