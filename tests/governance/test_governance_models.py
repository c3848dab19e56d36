"""governance.yaml: organisations only, ids that refer to each other, errors with a line."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from welfare_observatory.catalog import catalog
from welfare_observatory.errors import ConfigError
from welfare_observatory.governance import StakeholderType, load_governance, personal_contact

GOOD = """\
stakeholders:
  - {id: comune, name: Comune di Biella, type: public_body}
  - {id: asl, name: ASL BI, type: health_authority}
  - {id: caritas, name: Caritas diocesana, type: religious_body}
tables:
  - id: giovani
    name: {it: Giovani, en: Young people}
    members: [comune, caritas]
    indicators: [NEET_15_29]
priorities:
  - {id: neet, edition: "2025", rank: 1, title: {it: NEET}, tables: [giovani]}
actions:
  - id: wantobi
    title: {it: WantoBI}
    table: giovani
    promoters: [comune]
    target_group: {it: giovani di 17-25 anni, en: young people aged 17-25}
    age_range: [17, 25]
    indicators:
      - indicator: NEET_15_29
        territory: "01"
        baseline: {period: "2023", edition: "2025", value: 14.2}
        target: {value: 10, year: 2030}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "governance.yaml"
    path.write_text(text, "utf-8")
    return path


def test_a_governance_file_loads_into_frozen_models(tmp_path: Path) -> None:
    governance = load_governance(write(tmp_path, GOOD), catalog=catalog())
    assert governance.stakeholders_by_type() == {
        "public_body": 1,
        "health_authority": 1,
        "religious_body": 1,
    }
    [action] = governance.actions
    assert action.age_range == (17, 25)
    assert action.indicators[0].target.year == 2030
    assert governance.indicator_ids() == {"NEET_15_29"}
    with pytest.raises(ValueError, match="frozen"):
        action.table = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("contact", "where"),
    [
        ("mario.rossi@comune.biella.it", "name: mario.rossi@comune.biella.it"),
        ("015 3507 111", "name: Comune di Biella, tel. 015 3507 111"),
        ("+39 333 1234567", "note: {it: chiamare +39 333 1234567}"),
    ],
)
def test_personal_contacts_are_refused_in_any_field(
    tmp_path: Path, contact: str, where: str
) -> None:
    line = "  - {id: comune, type: public_body, " + where.replace(": ", ": '", 1) + "'}\n"
    if where.startswith("note"):
        line = "  - {id: comune, name: Comune, type: public_body, " + where + "}\n"
    with pytest.raises(ConfigError, match="personal contact") as caught:
        load_governance(write(tmp_path, "stakeholders:\n" + line))
    assert contact in caught.value.message
    assert caught.value.location is not None and caught.value.location.line == 2


def test_contacts_are_found_but_codes_dates_and_amounts_are_not() -> None:
    assert personal_contact("scrivere a info@osserva.it") == "info@osserva.it"
    assert personal_contact("tel. 015/2521234") == "015/2521234"
    assert personal_contact("0039 015 252 1234") == "0039 015 252 1234"
    for text in (
        "Distretto T01024, edizione 2025, 17-25 anni",
        "codice 096004, baseline 2022-01-01, anni 2019-2023",
        "35.000.000 euro, 1253157 residenti, 3.500 posti",
    ):
        assert personal_contact(text) is None, text


@given(
    prefix=st.sampled_from(["", "+39 ", "0039 "]),
    number=st.one_of(
        st.integers(6, 10)
        .flatmap(lambda n: st.text("0123456789", min_size=n, max_size=n))
        .map(lambda rest: "0" + rest),
        st.integers(8, 9)
        .flatmap(lambda n: st.text("0123456789", min_size=n, max_size=n))
        .map(lambda rest: "3" + rest),
    ),
)
def test_any_italian_phone_number_is_caught(prefix: str, number: str) -> None:
    assert personal_contact(f"tel {prefix}{number}") == prefix + number


def test_an_action_with_dated_periods_is_not_taken_for_a_phone_number(tmp_path: Path) -> None:
    text = GOOD.replace('period: "2023"', 'period: "2023-01-01"')
    assert load_governance(write(tmp_path, text)).actions[0].indicators[0].baseline.period == (
        "2023-01-01"
    )


@pytest.mark.parametrize(
    ("broken", "message", "line"),
    [
        (GOOD.replace("members: [comune, caritas]", "members: [comune, carita]"), "carita", None),
        (GOOD.replace("type: religious_body", "type: church"), "type", 4),
        (GOOD.replace("table: giovani\n", "tavolo: giovani\n"), "tavolo", 15),
        (GOOD.replace("age_range: [17, 25]", "age_range: [25, 17]"), "age_range", None),
        (GOOD.replace("id: asl,", "id: comune,"), "used twice", None),
    ],
)
def test_errors_name_the_file_the_line_and_the_field(
    tmp_path: Path, broken: str, message: str, line: int | None
) -> None:
    path = write(tmp_path, broken)
    with pytest.raises(ConfigError, match=message) as caught:
        load_governance(path)
    assert caught.value.location is not None
    assert caught.value.location.file == str(path)
    if line is not None:
        assert caught.value.location.line == line


def test_unknown_indicators_are_named_with_a_hint(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("indicators: [NEET_15_29]", "indicators: [NEET_1529]"))
    with pytest.raises(ConfigError, match="NEET_1529") as caught:
        load_governance(path, catalog=catalog())
    assert caught.value.location is not None and caught.value.location.line == 9
    assert caught.value.hint and "NEET_15_29" in caught.value.hint


def test_every_stakeholder_type_of_the_brief_exists() -> None:
    assert {t.value for t in StakeholderType} == {
        "public_body",
        "health_authority",
        "foundation",
        "third_sector",
        "union",
        "employers",
        "university",
        "religious_body",
        "school",
        "other",
    }
