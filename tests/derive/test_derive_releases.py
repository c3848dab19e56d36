"""Two sources, one value: the declared source wins and the build says what the other said."""

from __future__ import annotations

import itertools
from datetime import date

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from welfare_observatory._arrow import plain
from welfare_observatory.derive import aggregate, derive_rates
from welfare_observatory.derive.releases import SourceRank, resolve_releases

Y = "2023-01-01"


def _with_sources(table: pa.Table, sources: list[str]) -> pa.Table:
    index = table.schema.get_field_index("source")
    column = pa.array(sources, pa.string()).dictionary_encode()
    return table.set_column(
        index, table.schema.field(index), column.cast(table.schema.field(index).type)
    )


def _pair(obs, first: str, second: str, status=None) -> pa.Table:
    # Biella's province on 1 January 2023: the municipal file's earlier release and
    # Eurostat's final figure (README of the Biella example).
    table = obs(
        [("POP_TOTAL", "096", Y, 168823.0), ("POP_TOTAL", "096", Y, 169106.0)], status=status
    )
    return _with_sources(table, [first, second])


@pytest.mark.parametrize("order", [("istat_comuni", "eurostat"), ("eurostat", "istat_comuni")])
def test_the_higher_priority_wins_whatever_the_order(obs, by_key, order) -> None:
    table = _pair(obs, "istat_comuni", "eurostat")
    if order[0] == "eurostat":
        table = table.take([1, 0])
    ranks = {"eurostat": SourceRank(priority=10), "istat_comuni": SourceRank()}
    result = resolve_releases(table, ranks)
    assert by_key(result.table) == {("POP_TOTAL", "096", Y): 169106.0}
    (conflict,) = [f for f in result.findings if f.code == "release-conflict"]
    assert "169,106" in conflict.message and "168,823" in conflict.message
    assert "-283" in conflict.message
    assert not [f for f in result.findings if f.code == "release-undeclared"]


def test_on_equal_priority_the_later_release_wins(obs, by_key) -> None:
    table = _pair(obs, "istat_comuni", "eurostat")
    ranks = {
        "istat_comuni": SourceRank(release=date(2024, 3, 1)),
        "eurostat": SourceRank(release=date(2023, 6, 1)),
    }
    assert by_key(resolve_releases(table, ranks).table) == {("POP_TOTAL", "096", Y): 168823.0}


def test_a_final_value_wins_over_a_provisional_one(obs, by_key) -> None:
    table = _pair(obs, "istat_comuni", "eurostat", status=["P", "A"])
    result = resolve_releases(table, {})
    assert by_key(result.table) == {("POP_TOTAL", "096", Y): 169106.0}


def test_an_undeclared_tie_is_a_warning_not_an_accident(obs, by_key) -> None:
    table = _pair(obs, "b_source", "a_source")
    for ordered in (table, table.take([1, 0])):
        result = resolve_releases(ordered, {})
        assert by_key(result.table) == {("POP_TOTAL", "096", Y): 169106.0}
        assert "release-undeclared" in {f.code for f in result.findings}


def test_one_source_alone_is_left_as_it_is(obs) -> None:
    table = obs([("POP_TOTAL", "096", Y, 1.0), ("POP_TOTAL", "096", "2022-01-01", 2.0)])
    result = resolve_releases(table, {})
    assert result.table is table and result.findings == []


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.permutations([0, 1, 2]), st.lists(st.integers(-5, 5), min_size=3, max_size=3))
def test_the_winner_does_not_depend_on_row_order(obs, by_key, order, priorities) -> None:
    table = _with_sources(
        obs(
            [
                ("POP_TOTAL", "096", Y, 1.0),
                ("POP_TOTAL", "096", Y, 2.0),
                ("POP_TOTAL", "096", Y, 3.0),
            ]
        ),
        ["s0", "s1", "s2"],
    )
    ranks = {f"s{i}": SourceRank(priority=p) for i, p in enumerate(priorities)}
    shuffled = resolve_releases(table.take(list(order)), ranks).table
    assert by_key(shuffled) == by_key(resolve_releases(table, ranks).table)
    assert shuffled.num_rows == 1


CONFLICT = st.tuples(
    st.sampled_from(["POP_TOTAL", "BIRTHS", "POP_65_PLUS"]),
    st.sampled_from(["096", "096004", "001", "017029"]),
    st.sampled_from(["2021-01-01", "2022-01-01", "2023-01-01"]),
    st.sampled_from([1.0, 2.0, None]),
    st.sampled_from([1.0, 3.0, None]),
)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(CONFLICT, min_size=1, max_size=30), st.randoms(use_true_random=False))
def test_release_findings_of_each_indicator_combine_into_the_whole(obs, rows, rng) -> None:
    """A rebuild of some indicators, or an out-of-core partition of them, resolves their
    releases alone: their parts, combined with the others', are the whole's findings,
    whatever the order of rows and of each column's dictionary (listed in text order)."""
    from welfare_observatory.derive._parts import combine

    keys = {r[:3]: r for r in rows}  # one conflict per key: two sources, two values
    table = _with_sources(
        obs(
            [(i, t, p, a) for i, t, p, a, _ in keys.values()]
            + [(i, t, p, b) for i, t, p, _, b in keys.values()]
        ),
        ["a"] * len(keys) + ["b"] * len(keys),
    )
    order = list(range(table.num_rows))
    rng.shuffle(order)
    whole = resolve_releases(table, {})
    parts = []
    shuffled = plain(table.take(order))
    for indicator in sorted({k[0] for k in keys}, key=lambda _: rng.random()):
        mine = shuffled.filter(pa.compute.equal(shuffled.column("indicator"), indicator))
        # Encoded again: each column's dictionary in the order of the shuffled rows.
        parts += resolve_releases(mine.cast(table.schema), {}).parts
    assert combine(parts) == whole.findings
    assert combine(whole.parts) == whole.findings
    listed = [
        (f.indicator, f.territory, f.period) for f in whole.findings if f.code == "release-conflict"
    ]
    assert listed == sorted(listed)


def test_a_published_total_that_differs_from_its_parts_is_listed(catalog, obs, hierarchy) -> None:
    municipal = obs(
        [
            ("POP_TOTAL", "096004", Y, 43000.0),
            ("POP_TOTAL", "096021", Y, 2000.0),
            ("POP_TOTAL", "096025", Y, 1000.0),
        ]
    )
    published = pa.concat_tables([municipal, obs([("POP_TOTAL", "096", Y, 46283.0)])])
    result = aggregate(municipal, catalog, hierarchy, levels=["province"], published=published)
    # the published total wins (the aggregate is not emitted) and the gap is listed
    assert ("POP_TOTAL", "096") not in {
        (r["indicator"], r["territory"]) for r in result.table.to_pylist()
    }
    (conflict,) = [f for f in result.findings if f.code == "release-conflict"]
    assert conflict.territory == "096" and "-283" in conflict.message


def test_a_rate_over_operands_of_two_releases_says_so(catalog, obs) -> None:
    table = obs(
        [("POP_65_PLUS", "096", Y, 45000.0), ("POP_TOTAL", "096", Y, 169106.0)], status=["P", "A"]
    )
    result = derive_rates(table, catalog, targets=["OLD_AGE_SHARE"])
    assert result.table.column("obs_status").to_pylist() == ["P"]
    assert "mixed-release" in {f.code for f in result.findings}


def test_priority_and_release_date_are_read_from_the_declarations(tmp_path) -> None:
    from welfare_observatory.config import ObservatoryConfig
    from welfare_observatory.derive.releases import source_ranks
    from welfare_observatory.observatory import Observatory

    (tmp_path / "data").mkdir()
    for name, released in (("early.csv", "2023-03-31"), ("final.csv", None)):
        (tmp_path / "data" / name).write_text("a\n1\n", encoding="utf-8")
        meta = "publisher: Istat\n" + (f"release_date: {released}\n" if released else "")
        (tmp_path / "data" / f"{name}.meta.yaml").write_text(meta, encoding="utf-8")
    config = ObservatoryConfig.model_validate(
        {
            "id": "test",
            "name": {"en": "test"},
            "edition": "2025",
            "territory": {"code": "096", "reference_date": "2024-01-01"},
            "indicators": {"add": ["POP_TOTAL"]},
            "sources": {
                "early": {"type": "table", "options": {"path": "data/early.csv"}},
                "final": {"type": "table", "priority": 10, "options": {"path": "data/final.csv"}},
            },
        }
    )
    ranks = source_ranks(Observatory(config, tmp_path).config, tmp_path)
    assert ranks == {
        "early": SourceRank(priority=0, release=date(2023, 3, 31)),
        "final": SourceRank(priority=10, release=None),
    }


RIVAL = st.tuples(
    st.sampled_from(["POP_TOTAL", "BIRTHS"]),
    st.sampled_from(["096", "096004"]),
    st.sampled_from(["2022-01-01", "2023-01-01"]),
    st.sampled_from(["T", "F"]),
    st.sampled_from(["a", "b", "c", "d"]),
    st.sampled_from([1.0, 2.0, 2.5, None]),
    st.sampled_from(["A", "P", "E"]),
)
DECLARED = st.dictionaries(
    st.sampled_from(["a", "b", "c"]),
    st.builds(
        SourceRank,
        st.integers(-1, 1),
        st.sampled_from([None, date(2023, 6, 1), date(2024, 3, 1)]),
    ),
)


def _declared_order(table: pa.Table, ranks: dict[str, SourceRank], keys: list[str]) -> tuple:
    """The rule as SQL states it (the query releases ran in DuckDB): the rows of each key
    more than one source gives, ranked by priority, release date (latest first, none last),
    status (final, provisional, none) and source; each loser paired with its key's winner."""
    import duckdb

    con = duckdb.connect()
    numbered = plain(table).append_column("row", pa.array(range(table.num_rows), pa.int64()))
    con.register("obs", numbered)
    con.register(
        "ranks",
        pa.table(
            {
                "source": pa.array(list(ranks), pa.string()),
                "priority": pa.array([r.priority for r in ranks.values()], pa.int64()),
                "release": pa.array([r.release for r in ranks.values()], pa.date32()),
            }
        ),
    )
    by = ", ".join(f"o.{k}" for k in keys)
    con.execute(
        f"CREATE TABLE dup AS SELECT {', '.join(keys)} FROM obs GROUP BY ALL "
        "HAVING count(DISTINCT source) > 1"
    )
    con.execute(
        f"""CREATE TABLE ranked AS
        SELECT o.*, coalesce(r.priority, 0) AS priority, r.release,
               row_number() OVER (PARTITION BY {by} ORDER BY coalesce(r.priority, 0) DESC,
                   r.release DESC NULLS LAST, (o.obs_status = 'P'), o.source, o.row) AS place,
               count(*) OVER (PARTITION BY {by}, coalesce(r.priority, 0), r.release,
                   o.obs_status = 'P') AS tied
        FROM obs o SEMI JOIN dup d ON {" AND ".join(f"o.{k} = d.{k}" for k in keys)}
        LEFT JOIN ranks r ON r.source = o.source"""
    )
    pairs = con.sql(
        f"""SELECT {", ".join(f"w.{k}" for k in keys)}, w.source AS winner, w.value AS kept,
               l.source AS loser, l.value AS dropped, l.value - w.value AS difference,
               w.tied > 1 AS undeclared, w.priority AS p_w, l.priority AS p_l,
               w.release AS r_w, l.release AS r_l, w.obs_status AS s_w, l.obs_status AS s_l
        FROM ranked w JOIN ranked l
          ON {" AND ".join(f"w.{k} = l.{k}" for k in keys)} AND w.place = 1 AND l.place > 1
        ORDER BY {", ".join(f"w.{k}" for k in keys)}, l.source, l.row"""
    ).to_arrow_table()
    rows = con.sql("SELECT row FROM ranked").fetchall()
    kept = con.sql("SELECT row FROM ranked WHERE place = 1").fetchall()
    return pairs, {r for (r,) in rows}, {r for (r,) in kept}


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(RIVAL, min_size=1, max_size=40), DECLARED)
def test_conflicts_are_ranked_as_the_declared_order_says(obs, rows, ranks) -> None:
    # Every way a key may be given: by one source or several, by a source twice, by
    # sources nothing declares, with missing values, final and provisional; ranked on
    # integer codes, the conflicts and pairs are those the rule's SQL gives.
    from welfare_observatory.derive.releases import _ranked_conflicts

    table = _with_sources(
        obs(
            [(i, t, p, v) for i, t, p, _, _, v, _ in rows],
            breakdowns={"sex": [s for _, _, _, s, _, _, _ in rows]},
            status=[st_ for *_, st_ in rows],
        ),
        [src for _, _, _, _, src, _, _ in rows],
    )
    keys = ["indicator", "territory", "period", "sex"]
    expected, ranked_rows, kept_rows = _declared_order(table, ranks, keys)
    pairs, ranked, kept = _ranked_conflicts(table, ranks, keys, ["BIRTHS", "POP_TOTAL"])
    assert set(ranked.tolist()) == ranked_rows
    assert set(kept.tolist()) == kept_rows
    if not expected.num_rows:
        assert not pairs.num_rows
        return
    assert plain(pairs).to_pylist() == expected.to_pylist()


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 2**40), st.integers(0, 7), st.integers(0, 2**40)),
        min_size=1,
        max_size=30,
    )
)
def test_packed_keys_sort_and_compare_as_their_parts(rows) -> None:
    # Wide parts overflow 64 bits: the key is numbered densely again, in order.
    import numpy as np

    from welfare_observatory.derive.releases import _appended

    key, width = np.zeros(len(rows), dtype=np.int64), 1
    for i in range(3):
        key, width = _appended(key, width, np.array([r[i] for r in rows], dtype=np.int64))
    for a, b in itertools.combinations(range(len(rows)), 2):
        assert (key[a] < key[b]) == (rows[a] < rows[b])
        assert (key[a] == key[b]) == (rows[a] == rows[b])
