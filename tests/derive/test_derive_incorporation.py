"""Incorporations (fusione per incorporazione): values dated before the change are combined.

The changes are real: every one is read from the registry's history and checked against
the ANPR archive of comuni in ``../shared/data`` (the absorbed comune ceased the day before
the change, its successor was in force on both sides of it).
"""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from welfare_observatory.derive import code_changes, reconcile
from welfare_observatory.lineage import LineageGraph, explain

AT = date(2024, 1, 1)

# (absorbed, successor, first day of the new state): four provinces, 2016 to 2020.
INCORPORATIONS = [
    ("017154", "017018", date(2016, 4, 24)),  # Prestine into Bienno (Brescia)
    ("096061", "096042", date(2017, 1, 1)),  # Selve Marcone into Pettinengo (Biella)
    ("004036", "004213", date(2019, 1, 1)),  # Camo into Santo Stefano Belbo (Cuneo)
    ("004048", "004158", date(2019, 1, 1)),  # Castellar into Pagno (Cuneo)
    ("022080", "022167", date(2020, 1, 1)),  # Faedo into San Michele all'Adige (Trento)
]


def _spans(archive: Path) -> dict[str, list[tuple[date, date]]]:
    spans: dict[str, list[tuple[date, date]]] = {}
    with archive.open(encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle):
            start = date.fromisoformat(row["DATAISTITUZIONE"])
            end = date.fromisoformat(row["DATACESSAZIONE"])
            spans.setdefault(row["CODISTAT"], []).append((start, end))
    return spans


def _valid(spans: dict[str, list[tuple[date, date]]], code: str, day: date) -> bool:
    return any(start <= day <= end for start, end in spans.get(code, ()))


def test_the_incorporations_are_real(shared_data: Path) -> None:
    spans = _spans(shared_data / "anpr_archivio_comuni.csv")
    for old, new, since in INCORPORATIONS:
        day_before = since - timedelta(days=1)
        assert _valid(spans, old, day_before) and not _valid(spans, old, since), old
        assert _valid(spans, new, day_before) and _valid(spans, new, since), new
    table = code_changes([c for o, n, _ in INCORPORATIONS for c in (o, n)], AT)
    got = {(r["code"], r["successor"], r["since"], r["kind"]) for r in table.to_pylist()}
    assert got == {(o, n, d, "incorporation") for o, n, d in INCORPORATIONS}


def test_counts_are_summed_and_rates_re_derived_before_the_change(catalog, obs, by_key) -> None:
    # Selve Marcone (096061) into Pettinengo (096042) on 1 January 2017.
    before, after = "2016-01-01", "2018-01-01"
    table = obs(
        [
            ("POP_TOTAL", "096061", before, 100.0),
            ("POP_TOTAL", "096042", before, 1500.0),
            ("POP_65_PLUS", "096061", before, 40.0),
            ("POP_65_PLUS", "096042", before, 440.0),
            ("OLD_AGE_SHARE", "096061", before, 40.0),
            ("OLD_AGE_SHARE", "096042", before, 29.3),
            ("MEDIAN_AGE", "096061", before, 58.0),
            ("MEDIAN_AGE", "096042", before, 50.0),
            ("POP_TOTAL", "096042", after, 1580.0),
            ("MEDIAN_AGE", "096042", after, 51.0),
        ]
    )
    changes = code_changes(["096061", "096042"], AT)
    result = reconcile(table, changes, catalog)
    assert by_key(result.table) == {
        ("POP_TOTAL", "096042", before): 1600.0,
        ("POP_65_PLUS", "096042", before): 480.0,
        ("OLD_AGE_SHARE", "096042", before): pytest.approx(30.0),
        # after the change the successor's own value is the whole territory
        ("POP_TOTAL", "096042", after): 1580.0,
        ("MEDIAN_AGE", "096042", after): 51.0,
    }
    codes = {f.code: f for f in result.findings}
    # a median cannot be combined: not invented for the successor, and said so
    assert codes["cannot-reconcile"].indicator == "MEDIAN_AGE"
    assert codes["reconciled"].count == 3
    assert result.step is not None
    assert result.step.parameters["combinations"] == [
        {"successor": "096042", "members": ["096042", "096061"], "before": "2017-01-01"}
    ]


def test_explain_shows_the_members_of_a_combination(catalog, obs) -> None:
    table = obs(
        [
            ("POP_TOTAL", "022080", "2019-01-01", 2000.0),
            ("POP_TOTAL", "022167", "2019-01-01", 3500.0),
        ]
    )
    result = reconcile(table, code_changes(["022080"], AT), catalog)
    graph = LineageGraph()
    assert result.step is not None
    graph.add(result.step)
    graph.add_rows(result.table)
    (record,) = [
        r for r in explain(graph, "POP_TOTAL", "022167", "2019-01-01") if r.kind == "reconcile"
    ]
    assert record.parameters["combinations"][0]["members"] == ["022080", "022167"]


def test_a_missing_part_is_reported_not_guessed(catalog, obs, by_key) -> None:
    # Prestine's value without Bienno's for the same year: half a territory, left out.
    table = obs([("POP_TOTAL", "017154", "2015-01-01", 400.0)])
    result = reconcile(table, code_changes(["017154"], AT), catalog)
    assert by_key(result.table) == {}
    assert "partial-merge" in {f.code for f in result.findings}


def test_a_successor_made_by_a_merger_then_absorbing_one_more(catalog, obs, by_key) -> None:
    # Castel Ivano (022240) was made on 1 January 2016 from three comuni and absorbed
    # Ivano-Fracena (022099) on 2 July 2016: for 2015 the four predecessors make it up.
    predecessors = ["022178", "022185", "022221"]
    changes = code_changes([*predecessors, "022099"], AT)
    merged = {r["code"] for r in changes.to_pylist() if r["successor"] == "022240"}
    assert merged == {*predecessors, "022099"}
    rows = [("POP_TOTAL", c, "2015-01-01", 1000.0) for c in merged]
    rows += [
        ("POP_TOTAL", "022240", "2016-01-01", 3000.0),
        ("POP_TOTAL", "022099", "2016-01-01", 350.0),
    ]
    result = reconcile(obs(rows), changes, catalog)
    assert by_key(result.table) == {
        ("POP_TOTAL", "022240", "2015-01-01"): 4000.0,
        ("POP_TOTAL", "022240", "2016-01-01"): 3350.0,
    }


_CODES = sorted({c for o, n, _ in INCORPORATIONS for c in (o, n)})
_PERIODS = ["2015-01-01", "2017-01-01", "2019-01-01", "2021-01-01"]


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=25)
@given(
    chosen=st.sets(st.sampled_from(INCORPORATIONS), min_size=1),
    values=st.lists(st.integers(min_value=0, max_value=10**6), min_size=40, max_size=40),
)
def test_the_territory_total_is_the_same_before_and_after(catalog, obs, chosen, values) -> None:
    # Every comune in force on each date has its value (absorbed ones until they ceased):
    # reconciliation moves values between codes but never adds or loses any.
    rows = []
    for i, (code, period) in enumerate((c, p) for c in _CODES for p in _PERIODS):
        ceased = [d for o, _, d in INCORPORATIONS if o == code]
        if ceased and date.fromisoformat(period) >= ceased[0]:
            continue
        rows.append(("POP_TOTAL", code, period, float(values[i % len(values)])))
    table = obs(rows)
    changes = code_changes([o for o, _, _ in chosen], AT)
    result = reconcile(table, changes, catalog)
    assert sum(result.table.column("value").to_pylist()) == sum(r[3] for r in rows)
    absorbed = {o for o, _, _ in chosen}
    assert not absorbed & set(result.table.column("territory").to_pylist())


def test_explain_names_the_members_and_the_date(catalog, obs) -> None:
    from welfare_observatory.derive.reconciliation import combination_of

    table = obs(
        [
            ("POP_TOTAL", "096061", "2016-01-01", 100.0),
            ("POP_TOTAL", "096042", "2016-01-01", 1500.0),
        ]
    )
    result = reconcile(table, code_changes(["096061"], AT), catalog)
    assert result.step is not None
    shown = combination_of(result.step.parameters, "096042")
    assert shown["members"] == "096042,096061"
    assert "2017-01-01" in shown["method"]
    assert combination_of(result.step.parameters, "001272") == {}


def test_italy_keeps_every_resident_through_the_changes_since_2022(shared_data, catalog) -> None:
    # Istat's resident population of every comune on 1 January 2022 and 2023, reconciled
    # to the list of 2025: mergers (Lombardia, Piemonte, Veneto) and one incorporation
    # (018002 into 018026, Pavia, 22 January 2024). Before the fix the absorbed comune's
    # residents vanished from both years.
    import pandas as pd

    from welfare_observatory.model.observation import observation_schema

    frame = pd.read_csv(
        shared_data / "istat_pop_total_all_municipalities_2022_2023.csv",
        dtype={"municipality_code": str},
    )
    n = len(frame)
    table = pa.table(
        {
            "indicator": ["POP_TOTAL"] * n,
            "territory": frame["municipality_code"],
            "period": frame["year"].astype(str) + "-01-01",
            "period_start": [date(int(y), 1, 1) for y in frame["year"]],
            "value": frame["tot"].astype(float),
            "unit": ["person"] * n,
            "obs_status": ["A"] * n,
            "conf_status": ["F"] * n,
            "flags": pa.nulls(n, pa.string()),
            "source": ["istat"] * n,
            "lineage": ["harmonize-0000000000000000"] * n,
        }
    )
    schema = observation_schema(())
    table = table.select(schema.names).cast(schema)
    changes = code_changes(sorted(set(frame["municipality_code"])), date(2025, 1, 1))
    assert ("018002", "018026", "incorporation") in {
        (r["code"], r["successor"], r["kind"]) for r in changes.to_pylist()
    }
    result = reconcile(table, changes, catalog)
    got = result.table.to_pandas().astype({"period": str}).groupby("period")["value"].sum()
    expected = frame.groupby("year")["tot"].sum()
    assert got.to_dict() == {f"{y}-01-01": float(v) for y, v in expected.items()}
    (combined,) = [f for f in result.findings if f.code == "reconciled"]
    assert combined.count == 2 and combined.territory == "018026"
