"""Disclosure control: small counts are hidden, and so is whatever would let one recompute them."""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from welfare_observatory.errors import ConfigError, DataError
from welfare_observatory.model.indicator import Indicator
from welfare_observatory.model.observation import observation_schema
from welfare_observatory.protect import DisclosureRule, protect, publishable_view
from welfare_observatory.store import KnowledgeBase
from welfare_observatory.store.edition import Manifest, write_build
from welfare_observatory.validate.schema import validate_observations

LEVELS = ("municipality", "province", "region", "nuts1", "country")


def indicator(id: str, unit: str, aggregation: str, **extra: Any) -> Indicator:
    return Indicator.model_validate(
        {
            "id": id,
            "label": {"en": id},
            "unit": unit,
            "polarity": "neutral",
            "domain": "demography",
            "measure": "ratio" if aggregation == "formula" else "stock",
            "reference_point": "jan_1",
            "aggregation": aggregation,
            "breakdowns": ["sex"],
            "source": {"publisher": "test", "document": "test"},
            **extra,
        }
    )


INDICATORS = {
    i.id: i
    for i in (
        indicator("CARERS", "person", "sum"),
        indicator("POP", "person", "sum"),
        indicator("SPEND", "euro", "sum"),
        indicator(
            "CARERS_RATE",
            "per_thousand",
            "formula",
            formula={"numerator": "CARERS", "denominator": "POP", "multiplier": 1000},
        ),
    )
}


def hierarchy(provinces: list[int]) -> pa.Table:
    """Region 01 with provinces of ``n`` municipalities each."""
    rows = [
        {
            "municipality": f"{p:03d}{m:03d}",
            "province": f"{p:03d}",
            "region": "01",
            "nuts1": "ITC",
            "country": "IT",
        }
        for p, n in enumerate(provinces, start=1)
        for m in range(1, n + 1)
    ]
    return pa.Table.from_pylist(rows)


def row(indicator: str, territory: str, sex: str, value: float | None, unit: str) -> dict[str, Any]:
    return {
        "indicator": indicator,
        "territory": territory,
        "period": "2023",
        "period_start": date(2023, 1, 1),
        "sex": sex,
        "value": value,
        "unit": unit,
        "obs_status": "A" if value is not None else "O",
        "conf_status": "F",
        "flags": None,
        "source": "test",
        "lineage": "s1",
    }


def consistent_table(h: pa.Table, leaves: dict[tuple[str, str, str], float]) -> pa.Table:
    """Counts for municipalities by sex, and every total above them, adding up exactly."""
    units = {"CARERS": "person", "POP": "person", "SPEND": "euro"}
    sums: dict[tuple[str, str, str], float] = defaultdict(float)
    for record in h.to_pylist():
        for (ind, municipality, sex), value in leaves.items():
            if municipality != record["municipality"]:
                continue
            for level in LEVELS:
                for s in (sex, "_T"):
                    sums[(ind, record[level], s)] += value
    rows = [row(ind, t, s, v, units[ind]) for (ind, t, s), v in sorted(sums.items())]
    for (ind, t, s), v in sorted(sums.items()):
        if ind == "CARERS":
            pop = sums[("POP", t, s)]
            rows.append(row("CARERS_RATE", t, s, 1000 * v / pop if pop else None, "per_thousand"))
    return pa.Table.from_pylist(rows, schema=observation_schema(("sex",)))


def relations(h: pa.Table, table: pa.Table) -> list[list[dict[str, Any]]]:
    """Every additive relation present in ``table``, written out independently of the code."""
    cells = {(r["indicator"], r["territory"], r["sex"]): r for r in table.to_pylist()}
    out = []
    parents: dict[tuple[str, str], set[str]] = defaultdict(set)
    for record in h.to_pylist():
        for fine, coarse in itertools.pairwise(LEVELS):
            parents[(coarse, record[coarse])].add(record[fine])
    for ind in ("CARERS", "POP", "SPEND"):
        for sex in ("F", "M", "_T"):
            for (_, total), parts in parents.items():
                group = [cells.get((ind, c, sex)) for c in (total, *sorted(parts))]
                if group[0] is not None:
                    out.append([c for c in group if c is not None])
        for territory in {t for (_, t, _) in cells}:
            group = [cells.get((ind, territory, s)) for s in ("_T", "F", "M")]
            if group[0] is not None:
                out.append([c for c in group if c is not None])
    return [g for g in out if len(g) >= 2]


def hidden(cell: dict[str, Any]) -> bool:
    return cell["value"] is None


small_observatories = st.lists(st.integers(1, 4), min_size=1, max_size=3).flatmap(
    lambda provinces: st.tuples(
        st.just(provinces),
        st.lists(
            st.integers(0, 12),
            min_size=3 * 2 * sum(provinces),
            max_size=3 * 2 * sum(provinces),
        ),
    )
)


def generated(provinces: list[int], values: list[int]) -> tuple[pa.Table, pa.Table]:
    h = hierarchy(provinces)
    keys = [
        (ind, m, s)
        for ind in ("CARERS", "POP", "SPEND")
        for m in h["municipality"].to_pylist()
        for s in ("F", "M")
    ]
    # Populations are larger than carers, so rates exist; spending is never suppressed.
    leaves = {
        k: float(v * (10 if k[0] == "POP" else 1)) + (1 if k[0] == "POP" else 0)
        for k, v in zip(keys, values, strict=True)
    }
    return h, consistent_table(h, leaves)


@given(small_observatories)
def test_no_relation_has_exactly_one_hidden_cell(case: tuple[list[int], list[int]]) -> None:
    h, table = generated(*case)
    out = protect(table, rule=DisclosureRule(), indicators=INDICATORS, hierarchy=h)
    for group in relations(h, out):
        assert sum(hidden(c) for c in group) != 1, group


@given(small_observatories)
def test_no_published_count_of_a_municipality_is_below_the_threshold(
    case: tuple[list[int], list[int]],
) -> None:
    h, table = generated(*case)
    out = protect(table, rule=DisclosureRule(threshold=5), indicators=INDICATORS, hierarchy=h)
    for r in out.to_pylist():
        if len(r["territory"]) == 6 and r["unit"] == "person" and r["value"] is not None:
            assert r["value"] >= 5
        if r["value"] is None and r["conf_status"] == "C":
            assert len(r["territory"]) == 6, "only municipalities are primary-suppressed"


@given(small_observatories)
def test_protecting_twice_changes_nothing_and_the_result_stays_canonical(
    case: tuple[list[int], list[int]],
) -> None:
    h, table = generated(*case)
    once = protect(table, rule=DisclosureRule(), indicators=INDICATORS, hierarchy=h)
    twice = protect(once, rule=DisclosureRule(), indicators=INDICATORS, hierarchy=h)
    assert twice.equals(once)
    assert once.schema == table.schema
    assert validate_observations(once) == []


@given(small_observatories)
def test_a_rate_is_hidden_when_its_numerator_or_denominator_is(
    case: tuple[list[int], list[int]],
) -> None:
    h, table = generated(*case)
    out = protect(table, rule=DisclosureRule(), indicators=INDICATORS, hierarchy=h)
    cells = {(r["indicator"], r["territory"], r["sex"]): r for r in out.to_pylist()}
    for (ind, territory, sex), cell in cells.items():
        if ind != "CARERS_RATE":
            continue
        operands = [cells[("CARERS", territory, sex)], cells[("POP", territory, sex)]]
        if any(o["conf_status"] in ("C", "D") for o in operands):
            assert cell["value"] is None and cell["conf_status"] == "D"


def test_a_worked_example_picks_the_smallest_cells_to_protect_a_small_count() -> None:
    h = hierarchy([3])
    leaves = {
        ("CARERS", "001001", "F"): 1.0,
        ("CARERS", "001001", "M"): 10.0,
        ("CARERS", "001002", "F"): 20.0,
        ("CARERS", "001002", "M"): 30.0,
        ("CARERS", "001003", "F"): 40.0,
        ("CARERS", "001003", "M"): 50.0,
    }
    table = consistent_table(h, leaves).filter(
        pa.compute.equal(pa.compute.field("indicator"), "CARERS")
    )
    out = protect(table, rule=DisclosureRule(), indicators=INDICATORS, hierarchy=h)
    status = {(r["territory"], r["sex"]): r["conf_status"] for r in out.to_pylist()}
    hidden_cells = {k: v for k, v in status.items() if v != "F"}
    # 1 woman in 001001: confidential. Its sex total would give it away, so the next
    # smallest cell of that relation (the 10 men) goes too; the province total of women
    # would give it away, so the next smallest woman cell (20 in 001002) goes, and then
    # the men of 001002 to protect that one within its own sex total.
    assert hidden_cells == {
        ("001001", "F"): "C",
        ("001001", "M"): "D",
        ("001002", "F"): "D",
        ("001002", "M"): "D",
    }


def test_suppressed_rows_lose_their_value_and_status_but_keep_everything_else() -> None:
    h = hierarchy([2])
    table = consistent_table(
        h,
        {
            ("POP", "001001", "F"): 2.0,
            ("POP", "001001", "M"): 5.0,
            ("POP", "001002", "F"): 7.0,
            ("POP", "001002", "M"): 9.0,
        },
    ).filter(pa.compute.equal(pa.compute.field("indicator"), "POP"))
    out = protect(table, rule=DisclosureRule(), indicators=INDICATORS, hierarchy=h)
    [first] = [r for r in out.to_pylist() if (r["territory"], r["sex"]) == ("001001", "F")]
    assert first["value"] is None
    assert (first["conf_status"], first["obs_status"], first["unit"]) == ("C", "O", "person")


def test_counts_of_larger_territories_and_non_counts_are_published_as_they_are() -> None:
    h = hierarchy([1])
    table = consistent_table(
        h, {("SPEND", "001001", "F"): 1.0, ("SPEND", "001001", "M"): 2.0}
    ).filter(pa.compute.equal(pa.compute.field("indicator"), "SPEND"))
    out = protect(table, rule=DisclosureRule(), indicators=INDICATORS, hierarchy=h)
    assert out.equals(table)
    province_only = consistent_table(
        h, {("POP", "001001", "F"): 1.0, ("POP", "001001", "M"): 1.0}
    ).filter(pa.compute.not_equal(pa.compute.field("territory"), "001001"))
    assert protect(province_only, rule=DisclosureRule(), indicators=INDICATORS, hierarchy=h).equals(
        province_only
    )


def test_a_population_limit_makes_any_small_territory_subject_to_the_rule() -> None:
    h = hierarchy([1])
    table = consistent_table(h, {("POP", "001001", "F"): 1.0, ("POP", "001001", "M"): 1.0})
    table = table.filter(pa.compute.equal(pa.compute.field("indicator"), "POP"))
    rule = DisclosureRule(levels=(), max_population=100)
    population = pa.table(
        {"territory": ["001001", "001", "01", "ITC", "IT"], "population": [50, 50, 99, 500, 900]}
    )
    out = protect(table, rule=rule, indicators=INDICATORS, hierarchy=h, population=population)
    status = {r["territory"]: r["conf_status"] for r in out.to_pylist() if r["sex"] == "F"}
    # Under 100 inhabitants: primary. ITC and IT have one part each, equal to region 01,
    # so they must go too (secondary), whatever their size.
    assert status == {"001001": "C", "001": "C", "01": "C", "ITC": "D", "IT": "D"}
    with pytest.raises(ConfigError, match="max_population"):
        protect(table, rule=rule, indicators=INDICATORS, hierarchy=h)


def test_declared_code_groups_replace_the_default_breakdown_relation() -> None:
    rule = DisclosureRule(code_groups={"sex": {"_T": ("F", "M")}})
    h = hierarchy([2])
    leaves = {("POP", m, s): 5.0 for m in ("001001", "001002") for s in ("F", "M")}
    leaves[("POP", "001001", "F")] = 1.0
    table = consistent_table(h, leaves).filter(
        pa.compute.equal(pa.compute.field("indicator"), "POP")
    )
    out = protect(table, rule=rule, indicators=INDICATORS, hierarchy=h)
    for group in relations(h, out):
        assert sum(hidden(c) for c in group) != 1
    with pytest.raises(ValidationError, match="its own total"):
        DisclosureRule(code_groups={"age": {"_T": ("_T", "Y0")}})


def test_a_disabled_rule_and_bad_tables() -> None:
    h = hierarchy([1])
    table = consistent_table(h, {("POP", "001001", "F"): 1.0, ("POP", "001001", "M"): 1.0})
    assert (
        protect(table, rule=DisclosureRule(enabled=False), indicators=INDICATORS, hierarchy=h)
        is table
    )
    with pytest.raises(DataError, match="'value'"):
        protect(
            table.drop_columns(["value"]), rule=DisclosureRule(), indicators=INDICATORS, hierarchy=h
        )
    with pytest.raises(ValidationError):
        DisclosureRule(threshold=0)


def test_the_publishable_view_reads_an_edition(tmp_path: Path) -> None:
    h = hierarchy([2])
    leaves = {("CARERS", m, s): 4.0 for m in ("001001", "001002") for s in ("F", "M")}
    leaves[("CARERS", "001001", "F")] = 1.0
    table = consistent_table(h, leaves)
    table = table.append_column("domain", pa.array(["demography"] * table.num_rows))
    manifest = Manifest(
        observatory="test",
        edition="2025",
        build="b-1",
        created="2026-01-01T00:00:00",
        library_version="0",
        config_digest="c" * 64,
        reference_date="2024-01-01",
        territory="001",
    )
    empty = pa.table({"step": pa.array([], pa.string())})
    write_build(tmp_path, manifest, observations=table, lineage=empty, findings=empty)
    kb = KnowledgeBase.open(tmp_path)
    view = publishable_view(kb, "2025", indicators=INDICATORS, hierarchy=h)
    assert view.num_rows == table.num_rows
    confidential = [r for r in view.to_pylist() if r["conf_status"] == "C"]
    assert [(r["territory"], r["sex"], r["value"]) for r in confidential] == [("001001", "F", None)]
    assert publishable_view(kb, rule=DisclosureRule(enabled=False)).equals(kb.to_arrow())


def test_equal_cells_are_picked_by_key_order_whatever_the_row_order() -> None:
    """The second cell hidden in a relation is the smallest value, ties broken by the keys
    (territory code here), not by where the rows happen to sit in the table."""
    h = hierarchy([3])
    leaves = {
        ("CARERS", "001001", "F"): 1.0,
        ("CARERS", "001001", "M"): 30.0,
        ("CARERS", "001002", "F"): 20.0,
        ("CARERS", "001002", "M"): 30.0,
        ("CARERS", "001003", "F"): 20.0,
        ("CARERS", "001003", "M"): 30.0,
    }
    table = consistent_table(h, leaves).filter(
        pa.compute.equal(pa.compute.field("indicator"), "CARERS")
    )
    outcomes = []
    for rows in (table, table.take(list(range(table.num_rows))[::-1])):
        out = protect(rows, rule=DisclosureRule(), indicators=INDICATORS, hierarchy=h)
        outcomes.append(
            {(r["territory"], r["sex"]) for r in out.to_pylist() if r["conf_status"] == "D"}
        )
    # Among the women of the province, 001002 and 001003 tie at 20: 001002 comes first.
    assert ("001002", "F") in outcomes[0] and ("001003", "F") not in outcomes[0]
    assert outcomes[0] == outcomes[1]
