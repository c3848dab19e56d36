"""Invariants, checked with hypothesis: code round-trips and the name key."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from welfare_observatory.model.territory import OPEN_END, TerritoryLevel
from welfare_observatory.territory import normalize_name
from welfare_observatory.territory._registry import TerritoryRegistry, registry

_REG = registry()
MUNICIPALITIES = sorted(
    t.code for t in _REG if t.level == TerritoryLevel.MUNICIPALITY and t.valid_to == OPEN_END
)
PROVINCES = sorted(t.code for t in _REG if t.level == TerritoryLevel.PROVINCE)
NAMES = sorted({t.name for t in _REG if t.valid_to == OPEN_END})


@given(st.sampled_from(MUNICIPALITIES))
def test_municipality_code_round_trips_through_belfiore(code: str) -> None:
    reg: TerritoryRegistry = _REG
    territory = reg.get(code)
    assert territory.belfiore is not None
    assert reg.by_belfiore(territory.belfiore).code == code
    assert reg.get(code.lstrip("0")).code == code if len(code.lstrip("0")) >= 4 else True


@given(st.sampled_from(MUNICIPALITIES))
def test_municipality_nuts3_names_its_province(code: str) -> None:
    territory = _REG.get(code)
    assert territory.nuts3 is not None
    assert _REG.by_nuts(territory.nuts3).code == territory.parent


@given(st.sampled_from(PROVINCES))
def test_province_round_trips_through_nuts_and_abbreviation(code: str) -> None:
    province = _REG.get(code)
    assert province.nuts3 is not None and province.abbreviation is not None
    assert _REG.by_nuts(province.nuts3).code == code
    assert _REG.find(province.nuts3).code == code
    if province.istat_code:
        assert _REG.by_nuts(province.istat_code).code == code


@given(st.sampled_from(NAMES))
def test_every_current_name_is_found(name: str) -> None:
    assert name in {t.name for t in _REG.by_name(name)}


@given(st.text())
def test_normalize_name_is_idempotent(text: str) -> None:
    key = normalize_name(text)
    assert normalize_name(key) == key


def _strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


@given(st.sampled_from(NAMES))
def test_normalize_name_ignores_case_accents_and_apostrophes(name: str) -> None:
    key = normalize_name(name)
    assert normalize_name(name.upper()) == key
    assert normalize_name(name.lower()) == key
    assert normalize_name(_strip_accents(name)) == key
    assert normalize_name(name.replace("'", "’")) == key
    assert normalize_name(name.replace("'", " ")) == key


def test_normalize_name_abbreviations() -> None:
    same = {"Sant'Antonino", "S. Antonino", "SANT ANTONINO", "San Antonino", "S.Antonino"}
    assert len({normalize_name(s) for s in same}) == 1
    assert normalize_name("Santa Maria") == normalize_name("S. Maria")
    assert normalize_name("Reggio nell'Emilia") == "reggio nell emilia"
    assert normalize_name("Bolzano/Bozen") == "bolzano bozen"
    assert normalize_name("Santena") == "santena"  # a prefix is not an abbreviation
