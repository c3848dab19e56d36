"""Relations between indicators: a hidden age class must not be the difference of published ones."""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from welfare_observatory.catalog import catalog
from welfare_observatory.model.indicator import Indicator
from welfare_observatory.model.observation import observation_schema
from welfare_observatory.protect import DisclosureRule, protect, publishable_view
from welfare_observatory.protect.groups import age_partitions, groups_for, standard_groups
from welfare_observatory.protect.rule import IndicatorGroup, parse_member

CATALOG = {i.id: i for i in catalog()}
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
AGES = ("POP_0_14", "POP_15_64", "POP_65_PLUS")
# Written out by hand, independently of the library's derivation.
AGE_GROUPS = [
    ("POP_TOTAL", ["POP_0_14", "POP_15_64", "POP_65_PLUS"]),
    ("POP_NON_WORKING_AGE", ["POP_0_14", "POP_65_PLUS"]),
    ("POP_TOTAL", ["POP_NON_WORKING_AGE", "POP_15_64"]),
]


def row(indicator: str, territory: str, value: float | None, sex: str = "_T") -> dict[str, Any]:
    unit = CATALOG[indicator].unit
    return {
        "indicator": indicator,
        "territory": territory,
        "period": "2022-01-01",
        "period_start": date(2022, 1, 1),
        "sex": sex,
        "value": value,
        "unit": unit,
        "obs_status": "A" if value is not None else "O",
        "conf_status": "F",
        "flags": None,
        "source": "test",
        "lineage": "s1",
    }


def table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=observation_schema(("sex",)))


ONE_MUNICIPALITY = pa.table({"municipality": ["017098"]})


def status(out: pa.Table) -> dict[tuple[str, str], str]:
    return {(r["indicator"], r["sex"]): r["conf_status"] for r in out.to_pylist()}


def test_the_brescia_leak_is_closed_on_its_own_numbers() -> None:
    # 017098 on 1 January 2022: 1 child (confidential), 57 aged 15-64, 49 aged 65+.
    rows = [
        row("POP_TOTAL", "017098", 107),
        row("POP_0_14", "017098", 1),
        row("POP_15_64", "017098", 57),
        row("POP_65_PLUS", "017098", 49),
        row("POP_NON_WORKING_AGE", "017098", 50),
        row("DEPENDENCY_RATIO", "017098", 100 * 50 / 57),
        row("OLD_AGE_INDEX", "017098", 100 * 49 / 1),
    ]
    out = protect(
        table(rows), rule=DisclosureRule(), indicators=CATALOG, hierarchy=ONE_MUNICIPALITY
    )
    hidden = {k[0]: v for k, v in status(out).items() if v != "F"}
    # 0-14 + 65+ = 50 is published: the smaller of the two published cells of that relation
    # (49 aged 65+) goes, which also leaves two cells hidden in 107 = 0-14 + 15-64 + 65+.
    # The old-age index (65+ / 0-14) is a rate of hidden cells; the dependency ratio is not.
    assert hidden == {"POP_0_14": "C", "POP_65_PLUS": "D", "OLD_AGE_INDEX": "D"}
    without = protect(
        table(rows),
        rule=DisclosureRule(standard_groups=False),
        indicators=CATALOG,
        hierarchy=ONE_MUNICIPALITY,
    )
    assert status(without)[("POP_65_PLUS", "_T")] == "F", "the leak the groups close"


def test_a_relation_across_a_breakdown_protects_a_secondary_cell() -> None:
    # One man: confidential. Women (40) go to protect him in 41 = 40 + 1, so POP_FEMALE,
    # the same 40 people under another id, must go as well.
    rows = [
        row("POP_TOTAL", "017098", 41),
        row("POP_TOTAL", "017098", 40, "F"),
        row("POP_TOTAL", "017098", 1, "M"),
        row("POP_FEMALE", "017098", 40),
        row("POP_MALE", "017098", 1),
    ]
    out = protect(
        table(rows), rule=DisclosureRule(), indicators=CATALOG, hierarchy=ONE_MUNICIPALITY
    )
    assert status(out) == {
        ("POP_TOTAL", "_T"): "F",
        ("POP_TOTAL", "F"): "D",
        ("POP_TOTAL", "M"): "C",
        ("POP_FEMALE", "_T"): "D",
        ("POP_MALE", "_T"): "C",
    }


def test_a_group_with_a_member_missing_from_the_table_hides_nothing_more() -> None:
    rows = [
        row("POP_TOTAL", "017098", 107),
        row("POP_0_14", "017098", 1),
        row("POP_15_64", "017098", 57),
    ]
    out = protect(
        table(rows), rule=DisclosureRule(), indicators=CATALOG, hierarchy=ONE_MUNICIPALITY
    )
    # 65+ is not published at all, so 107 - 57 does not give the children away.
    assert {k[0]: v for k, v in status(out).items() if v != "F"} == {"POP_0_14": "C"}


def test_declared_groups_cover_indicators_the_library_does_not_know() -> None:
    rows = [
        {**row("POP_TOTAL", "017098", 30), "indicator": "CARE_ALL", "unit": "person"},
        {**row("POP_TOTAL", "017098", 2), "indicator": "CARE_HOME", "unit": "person"},
        {**row("POP_TOTAL", "017098", 28), "indicator": "CARE_DAY", "unit": "person"},
    ]
    rule = DisclosureRule.model_validate(
        {"indicator_groups": {"CARE_ALL": ["CARE_HOME", "CARE_DAY"]}}
    )
    home = {**CATALOG["POP_TOTAL"].model_dump(), "id": "CARE_HOME", "aliases": ()}
    indicators = {"CARE_HOME": Indicator.model_validate(home)}
    out = protect(table(rows), rule=rule, indicators=indicators, hierarchy=ONE_MUNICIPALITY)
    assert status(out) == {
        ("CARE_ALL", "_T"): "F",
        ("CARE_HOME", "_T"): "C",
        ("CARE_DAY", "_T"): "D",
    }


def test_the_rule_reads_groups_in_long_and_short_form_and_rejects_bad_ones() -> None:
    short = DisclosureRule.model_validate(
        {
            "indicator_groups": {
                "POP_TOTAL": [["POP_0_17", "POP_18_PLUS"], ["POP_FEMALE", "POP_MALE"]],
                "POP_FEMALE": ["POP_TOTAL[sex=F]"],
            }
        }
    )
    long = DisclosureRule.model_validate(
        {
            "indicator_groups": [
                {"total": "POP_TOTAL", "parts": ["POP_0_17", "POP_18_PLUS"]},
                {"total": "POP_TOTAL", "parts": ["POP_FEMALE", "POP_MALE"]},
                {"total": "POP_FEMALE", "parts": ["POP_TOTAL[sex=F]"]},
            ]
        }
    )
    assert short == long
    assert [m.pins for m in long.indicator_groups[2].members] == [(("sex", "_T"),), (("sex", "F"),)]
    assert parse_member("X_1[sex=F, age=Y_GE65]").pins == (("age", "Y_GE65"), ("sex", "F"))
    for bad in ("pop_total", "POP[sex]", "POP[sex=F,sex=M]"):
        with pytest.raises(ValueError, match=r"not (an indicator id|a single)"):
            parse_member(bad)
    with pytest.raises(ValidationError, match="twice"):
        IndicatorGroup(total="POP_TOTAL", parts=("POP_MALE", "POP_MALE"))
    with pytest.raises(ValidationError):
        IndicatorGroup(total="POP_TOTAL", parts=())


def test_age_classes_partition_each_other_as_their_ids_say() -> None:
    ids = ["POP_TOTAL", "POP_0_14", "POP_15_64", "POP_65_PLUS", "POP_0_17", "POP_18_PLUS"]
    ids += ["POP_15_24", "POP_25_64", "POP_75_PLUS", "POP_FEMALE_15_49"]
    found = sorted(g.text for g in age_partitions(ids))
    assert found == [
        "POP_15_64 = POP_15_24 + POP_25_64",
        "POP_TOTAL = POP_0_14 + POP_15_24 + POP_25_64 + POP_65_PLUS",
        "POP_TOTAL = POP_0_14 + POP_15_64 + POP_65_PLUS",
        "POP_TOTAL = POP_0_17 + POP_18_PLUS",
    ]
    # Every shipped identity names catalogue counts, so a renamed id cannot drop silently.
    for group in standard_groups(CATALOG):
        for member in group.members:
            assert CATALOG[member.indicator].unit == "person", group.text
    rule = DisclosureRule(indicator_groups=(IndicatorGroup(total="POP_TOTAL", parts=AGES),))
    assert len(groups_for(rule, ["POP_TOTAL", *AGES])) == 1, "a declared copy is not doubled"


def _hierarchy(sizes: list[int]) -> pa.Table:
    return pa.Table.from_pylist(
        [
            {"municipality": f"{p:03d}{m:03d}", "province": f"{p:03d}", "region": "01"}
            for p, n in enumerate(sizes, start=1)
            for m in range(1, n + 1)
        ]
    )


def _population(h: pa.Table, counts: list[int]) -> pa.Table:
    """Age classes by sex for every municipality, and every total above, adding up."""
    leaves = itertools.product(h.to_pylist(), ("F", "M"), AGES)
    sums: dict[tuple[str, str, str], float] = defaultdict(float)
    for (place, sex, age), count in zip(leaves, counts, strict=True):
        for level in ("municipality", "province", "region"):
            for s in (sex, "_T"):
                for ind in (age, "POP_TOTAL"):
                    sums[(ind, place[level], s)] += count
                if age != "POP_15_64":
                    sums[("POP_NON_WORKING_AGE", place[level], s)] += count
    return table([row(i, t, v, s) for (i, t, s), v in sorted(sums.items())])


def _relations(h: pa.Table, cells: dict[tuple[str, str, str], Any]) -> list[list[Any]]:
    """Territorial, sex and indicator relations of the generated table, listed by hand."""
    out: list[list[Any]] = []
    places = h.to_pylist()
    children: dict[str, set[str]] = defaultdict(set)
    for place in places:
        children[place["province"]].add(place["municipality"])
        children[place["region"]].add(place["province"])
    indicators = {k[0] for k in cells}
    territories = {k[1] for k in cells}
    for ind, sex in itertools.product(indicators, ("F", "M", "_T")):
        for total, parts in children.items():
            out.append([cells[(ind, t, sex)] for t in (total, *sorted(parts))])
    for ind, territory in itertools.product(indicators, territories):
        out.append([cells[(ind, territory, s)] for s in ("_T", "F", "M")])
    for (total, parts), territory, sex in itertools.product(
        AGE_GROUPS, territories, ("F", "M", "_T")
    ):
        out.append([cells[(i, territory, sex)] for i in (total, *parts)])
    return out


populations = st.lists(st.integers(1, 3), min_size=1, max_size=3).flatmap(
    lambda sizes: st.tuples(
        st.just(sizes),
        st.lists(st.integers(0, 9), min_size=6 * sum(sizes), max_size=6 * sum(sizes)),
    )
)


@settings(deadline=None, max_examples=40)
@given(populations)
def test_no_territorial_or_indicator_relation_has_exactly_one_hidden_cell(
    case: tuple[list[int], list[int]],
) -> None:
    sizes, counts = case
    h = _hierarchy(sizes)
    out = protect(_population(h, counts), rule=DisclosureRule(), indicators=CATALOG, hierarchy=h)
    cells = {(r["indicator"], r["territory"], r["sex"]): r for r in out.to_pylist()}
    for relation in _relations(h, cells):
        assert sum(c["value"] is None for c in relation) != 1, relation


@pytest.fixture(scope="module")
def brescia(tmp_path_factory: pytest.TempPathFactory) -> pa.Table:
    from welfare_observatory.observatory import load_observatory
    from welfare_observatory.store import KnowledgeBase

    folder = EXAMPLES / "brescia" / "src" / "osserva_brescia"
    if not folder.exists():
        pytest.skip("the Brescia example is not in this checkout")
    out = tmp_path_factory.mktemp("brescia") / "kb"
    load_observatory(folder).build(out=out, offline=True)
    return publishable_view(KnowledgeBase.open(out), "2025")


def test_brescia_hides_no_cell_that_an_indicator_relation_gives_away(brescia: pa.Table) -> None:
    rows = brescia.select(["indicator", "territory", "period", "sex", "value", "conf_status"])
    cells = {(r["indicator"], r["territory"], r["period"], r["sex"]): r for r in rows.to_pylist()}
    keys = {k[1:] for k in cells}
    checked = 0
    for group in standard_groups({k[0] for k in cells}):
        members = group.members
        for territory, period, sex in keys:
            found = [
                cells.get((m.indicator, territory, period, dict(m.pins).get("sex", sex)))
                for m in members
            ]
            if any(c is None for c in found) or (any(m.pins for m in members) and sex != "_T"):
                continue
            checked += 1
            assert sum(c["value"] is None for c in found) != 1, (group.text, territory, period)
    assert checked > 10_000
    child = cells[("POP_0_14", "017098", "2022-01-01", "_T")]
    assert child["conf_status"] == "C"
    # Of 107 = 1 + 57 + 49 and 50 = 1 + 49, another cell is hidden in each.
    assert cells[("POP_65_PLUS", "017098", "2022-01-01", "_T")]["value"] is None
