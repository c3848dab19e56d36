"""Looking territories up by code, Belfiore, NUTS and name; the hierarchy; bad input."""

from __future__ import annotations

import pytest

from welfare_observatory.errors import UnknownTerritoryError
from welfare_observatory.model.territory import OPEN_END, TerritoryLevel
from welfare_observatory.territory._registry import TerritoryRegistry


def current(reg: TerritoryRegistry, level: TerritoryLevel) -> list[str]:
    return [t.code for t in reg if t.level == level and t.valid_to == OPEN_END]


def test_counts_match_the_istat_list(reg: TerritoryRegistry) -> None:
    assert len(current(reg, TerritoryLevel.MUNICIPALITY)) == 7896
    assert len(reg.municipalities()) == 7896
    assert len(current(reg, TerritoryLevel.PROVINCE)) == 107
    assert len(current(reg, TerritoryLevel.REGION)) == 20
    assert sorted(current(reg, TerritoryLevel.NUTS1)) == ["ITC", "ITF", "ITG", "ITH", "ITI"]
    assert len(reg.children("096")) == 74
    assert len(reg.children("017")) == 205
    assert len(reg.children("022")) == 166


def test_get_by_canonical_code(reg: TerritoryRegistry) -> None:
    biella = reg.get("096004")
    assert (biella.name, biella.level, biella.parent, biella.belfiore) == (
        "Biella",
        TerritoryLevel.MUNICIPALITY,
        "096",
        "A859",
    )
    assert reg.get("96004") == biella  # leading zeros dropped by a spreadsheet
    assert reg.get("IT").level == TerritoryLevel.COUNTRY
    assert reg.get("ITC").name == "Nord-ovest"
    assert reg.get("01").name == "Piemonte"


def test_province_codes_uts_and_abbreviation(reg: TerritoryRegistry) -> None:
    torino = reg.get("001")
    assert (torino.uts_code, torino.abbreviation, torino.nuts3) == ("201", "TO", "ITC11")
    assert reg.get("096").abbreviation == "BI"


def test_bilingual_names(reg: TerritoryRegistry) -> None:
    bolzano = reg.get("021008")
    assert (bolzano.name, bolzano.name_other) == ("Bolzano", "Bozen")
    assert reg.get("021").name_other == "Bozen"
    assert reg.get("032001").name_other == "Devin Nabrežina"  # cp1252 byte 0x9E
    assert reg.get("031022").name_other == "Sovodnje ob Soči"  # repaired from ANPR
    assert reg.by_name("Bozen", province="BZ")[0].code == "021"


def test_trento_resolves_from_nuts_and_istat_legacy_codes(reg: TerritoryRegistry) -> None:
    assert reg.by_nuts("ITH20").code == "022"
    assert reg.by_nuts("ITD20").code == "022"
    assert reg.find("ITD20").code == "022"
    trento = reg.get("022")
    assert (trento.nuts3, trento.istat_code) == ("ITH20", "ITD20")
    assert reg.by_nuts("ITC13").code == "096"
    assert reg.by_nuts("ITC47").code == "017"
    assert reg.by_nuts("itc4").code == "03"


def test_nuts_2021_codes_are_kept_where_they_differ(reg: TerritoryRegistry) -> None:
    montecopiolo = reg.get("099030")
    assert montecopiolo.nuts3 == "ITH59"
    assert reg.nuts_2021("099030")["nuts3"] == "ITI31"
    assert reg.nuts_2021("096004") == {}


def test_by_belfiore(reg: TerritoryRegistry) -> None:
    assert reg.by_belfiore("A859").code == "096004"
    assert reg.by_belfiore("l378").code == "022205"  # Trento, case-insensitive
    assert reg.by_belfiore("H050").code == "017154"  # Prestine, ceased


@pytest.mark.parametrize(
    "text", ["Sant'Antonio Abate", "S. Antonio Abate", "SANT ANTONIO ABATE", "santantonio abate"]
)
def test_by_name_ignores_case_accents_apostrophes_abbreviations(
    reg: TerritoryRegistry, text: str
) -> None:
    if text == "santantonio abate":  # a run-together word is another name
        assert reg.by_name(text) == []
    else:
        assert [t.code for t in reg.by_name(text)] == ["063074"]


def test_by_name_with_province_filter(reg: TerritoryRegistry) -> None:
    assert {t.parent for t in reg.by_name("Samone")} >= {"001", "022"}
    in_trento = reg.by_name("Samone", province="TN")
    assert in_trento[0].code == "022165"  # in force first; 802417 is the 1920s code
    assert [t.code for t in reg.by_name("Samone", province="022", include_ceased=False)] == [
        "022165"
    ]
    assert reg.by_name("Cefalù") == reg.by_name("CEFALU'")


def test_find_tries_every_code_system(reg: TerritoryRegistry) -> None:
    assert reg.find("096004").code == "096004"
    assert reg.find("A859").code == "096004"
    assert reg.find("ITC13").code == "096"
    assert reg.find("Brescia").code == "017"  # a name: the largest territory first
    assert reg.find("Samone (TN)").code == "022165"
    assert reg.find("T01024").code == "district:T01024"


def test_find_ambiguous_name_asks_for_the_province(reg: TerritoryRegistry) -> None:
    with pytest.raises(UnknownTerritoryError) as info:
        reg.find("Samone")
    assert "ambiguous" in info.value.message
    assert info.value.hint is not None and "(TN)" in info.value.hint + info.value.message


@pytest.mark.parametrize(
    ("call", "value"),
    [
        ("get", "999999"),
        ("get", "Biela"),
        ("by_belfiore", "Z999"),
        ("by_nuts", "ITX99"),
        ("find", "Bielaa"),
        ("find", "   "),
    ],
)
def test_unknown_input_raises_with_hint(reg: TerritoryRegistry, call: str, value: str) -> None:
    with pytest.raises(UnknownTerritoryError) as info:
        getattr(reg, call)(value)
    assert isinstance(info.value, LookupError)


def test_unknown_name_suggests_close_names(reg: TerritoryRegistry) -> None:
    with pytest.raises(UnknownTerritoryError) as info:
        reg.find("Bielle")
    assert "Biella" in info.value.suggestions


def test_unknown_province_filter(reg: TerritoryRegistry) -> None:
    with pytest.raises(UnknownTerritoryError):
        reg.by_name("Samone", province="XX")


def test_parents_ancestors_children(reg: TerritoryRegistry) -> None:
    assert [a.code for a in reg.ancestors("096004")] == ["096", "01", "ITC", "IT"]
    parent = reg.parent("096004")
    assert parent is not None and parent.code == "096"
    assert reg.parent("IT") is None
    assert [t.code for t in reg.children("IT")] == ["ITC", "ITF", "ITG", "ITH", "ITI"]
    assert len(reg.children("03", level="municipality")) == 1502
    assert len(reg.children("IT", level=TerritoryLevel.PROVINCE)) == 107
    assert reg.children("096004") == []


def test_municipalities_of_a_territory(reg: TerritoryRegistry) -> None:
    assert len(reg.municipalities(of="096")) == 74
    assert len(reg.municipalities(of="ITC")) == sum(
        len(reg.children(r.code, "municipality")) for r in reg.children("ITC")
    )
    assert [t.code for t in reg.municipalities(of="096004")] == ["096004"]


def test_districts_are_namespaced_groupings(reg: TerritoryRegistry) -> None:
    biella = reg.get("district:T01024")
    assert (biella.name, biella.level, biella.parent, biella.istat_code) == (
        "Consorzio Biella",
        TerritoryLevel.DISTRICT,
        "096",
        "T01024",
    )
    assert biella.members == ()  # membership is not in the sources
    assert "district:T03021" in {t.code for t in reg.districts("BS")}
    assert all(t.code.startswith("district:T") for t in reg.districts())
    assert "T01024" not in reg  # never a bare Istat-like code
    assert "members not published" in (reg.derivation("district:T01024") or "")


def test_search_lists_matches(reg: TerritoryRegistry) -> None:
    found = [t.code for t in reg.search("s. antonio")]
    assert "063074" in found
    assert reg.search("zzzz") == []
    assert reg.search("096004")[0].code == "096004"


def test_territory_data_validates(reg: TerritoryRegistry) -> None:
    """The registry skips per-row validation at load; the shipped data must pass it."""
    from welfare_observatory.model.territory import Territory

    for territory in reg:
        assert Territory.model_validate(territory.model_dump()) == territory
