"""Aggregation up the hierarchy: counts add, rates are re-derived, partial sums never pass."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from welfare_observatory.derive import aggregate
from welfare_observatory.validate.schema import validate_observations

Y = "2023-01-01"
MUNICIPALITIES = ["096004", "096021", "096025", "001272", "017029", "017001"]
AREAS = {
    "district:T01024": ["096004", "096021"],
    "096": ["096004", "096021", "096025"],
    "001": ["001272"],
    "017": ["017029", "017001"],
    "01": ["096004", "096021", "096025", "001272"],
    "03": ["017029", "017001"],
    "ITC": MUNICIPALITIES,
    "IT": MUNICIPALITIES,
}

counts = st.lists(
    st.integers(min_value=0, max_value=10**7), min_size=len(MUNICIPALITIES), max_size=6
)


@given(totals=counts, olds=counts)
def test_a_count_is_the_sum_of_its_parts_and_a_rate_is_re_derived_at_every_level(
    catalog, hierarchy, obs, by_key, totals: list[int], olds: list[int]
) -> None:
    olds = [min(o, t) for o, t in zip(olds, totals, strict=True)]
    rows = [("POP_TOTAL", m, Y, float(t)) for m, t in zip(MUNICIPALITIES, totals, strict=True)]
    rows += [("POP_65_PLUS", m, Y, float(o)) for m, o in zip(MUNICIPALITIES, olds, strict=True)]
    result = aggregate(obs(rows), catalog, hierarchy)
    got = by_key(result.table)
    total = dict(zip(MUNICIPALITIES, totals, strict=True))
    old = dict(zip(MUNICIPALITIES, olds, strict=True))
    for area, members in AREAS.items():
        t, o = sum(total[m] for m in members), sum(old[m] for m in members)
        assert got[("POP_TOTAL", area, Y)] == t
        assert got[("POP_65_PLUS", area, Y)] == o
        expected = None if t == 0 else o / t * 100
        assert got[("OLD_AGE_SHARE", area, Y)] == pytest.approx(expected)
    assert validate_observations(result.table) == []


def test_rates_are_never_averaged(catalog, hierarchy, obs, by_key) -> None:
    rows = [("POP_TOTAL", m, Y, 100.0) for m in MUNICIPALITIES]
    rows += [("POP_65_PLUS", m, Y, 10.0) for m in MUNICIPALITIES]
    rows[0] = ("POP_TOTAL", "096004", Y, 1000.0)
    # Published municipal rates (10% in 096021, 1% in 096004) are not averaged into 5.5%.
    rows += [("OLD_AGE_SHARE", "096004", Y, 1.0), ("OLD_AGE_SHARE", "096021", Y, 10.0)]
    got = by_key(aggregate(obs(rows), catalog, hierarchy, levels=("district",)).table)
    assert got[("OLD_AGE_SHARE", "district:T01024", Y)] == pytest.approx(20 / 1100 * 100)


def test_a_partial_sum_is_never_shown_as_a_total(catalog, hierarchy, obs, by_key) -> None:
    rows = [("POP_TOTAL", m, Y, 100.0) for m in MUNICIPALITIES if m != "096025"]
    result = aggregate(obs(rows), catalog, hierarchy)
    got = by_key(result.table)
    assert ("POP_TOTAL", "096", Y) not in got and ("POP_TOTAL", "IT", Y) not in got
    assert got[("POP_TOTAL", "017", Y)] == 200.0
    (finding,) = [f for f in result.findings if f.code == "partial-aggregate"]
    assert finding.count == 4  # 096, 01, ITC, IT
    coverage = {
        r["territory"]: r["coverage"]
        for r in result.coverage.to_pylist()
        if r["indicator"] == "POP_TOTAL"
    }
    assert coverage["096"] == pytest.approx(2 / 3)


def test_coverage_weighted_by_population_and_low_reliability(catalog, hierarchy, obs) -> None:
    import pyarrow as pa

    weights = pa.table(
        {
            "territory": MUNICIPALITIES,
            "year": [2023] * 6,
            "population": [900.0, 50.0, 50.0, 1000.0, 10.0, 10.0],
        }
    )
    rows = [("POP_TOTAL", m, Y, 1.0) for m in MUNICIPALITIES if m != "096025"]
    result = aggregate(obs(rows), catalog, hierarchy, weights=weights, min_coverage=0.9)
    coverage = {r["territory"]: r["coverage"] for r in result.coverage.to_pylist()}
    assert coverage["096"] == pytest.approx(0.95)
    status = {r["territory"]: r["obs_status"] for r in result.table.to_pylist()}
    assert status["096"] == "U" and status["017"] == "A"


def test_published_totals_win_and_none_is_left_alone(catalog, hierarchy, obs, by_key) -> None:
    rows = [("POP_TOTAL", m, Y, 1.0) for m in MUNICIPALITIES]
    rows += [("POP_TOTAL", "096", Y, 4.0), ("MEDIAN_AGE", "096004", Y, 47.0)]
    got = by_key(aggregate(obs(rows), catalog, hierarchy).table)
    assert ("POP_TOTAL", "096", Y) not in got  # the published 4.0 stays in the input
    assert not any(k[0] == "MEDIAN_AGE" for k in got)


def test_breakdowns_and_statuses_are_kept(catalog, hierarchy, obs) -> None:
    members = AREAS["017"]
    rows = [("POP_TOTAL", m, Y, 1.0) for m in members for _ in ("F", "M")]
    table = obs(rows, breakdowns={"sex": ["F", "M"] * 2}, status=["A", "A", "P", "A"])
    result = aggregate(table, catalog, hierarchy, levels=("province",))
    got = {r["sex"]: (r["value"], r["obs_status"]) for r in result.table.to_pylist()}
    assert got == {"F": (2.0, "P"), "M": (2.0, "A")}
