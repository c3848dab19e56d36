"""The outlier check keyed by integer group and series ids (issue 19) finds what the query
keyed by the texts found: same findings, same worst territory and period, with several code
shapes, sources, breakdowns with missing cells, ratios and counts."""

from __future__ import annotations

from datetime import date
from typing import Any

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from welfare_observatory.model import Finding, Severity
from welfare_observatory.model.observation import observation_schema
from welfare_observatory.validate import CheckContext, builtin
from welfare_observatory.validate.builtin import SOURCE_COLUMN, check_outliers

TERRITORIES = ["096004", "096012", "096025", "096", "097", "01", "ITC", "ITC1"]


def text_keyed(table: pa.Table, ctx: CheckContext) -> list[Finding]:
    """The check as it was written before the integer keys (the reference)."""
    b = builtin._breakdowns(table)
    shape = "regexp_replace(regexp_replace(territory, '[0-9]', '9', 'g'), '[A-Za-z]', 'A', 'g')"
    src = builtin._src(table)
    keys = ["src", "indicator", "period", "shape", *b]
    on = " AND ".join(f"x.{k} IS NOT DISTINCT FROM y.{k}" for k in keys)
    series = f"{src}, indicator, territory" + "".join(f", {x}" for x in b)
    rows = builtin._sql(
        f"""
        WITH r AS (
            SELECT {src} AS src, indicator, territory, period, value, unit,
                   {shape} AS shape{"".join(f", {x}" for x in b)}
            FROM t WHERE value IS NOT NULL AND indicator NOT IN (SELECT id FROM c)),
        stats AS (SELECT {", ".join(keys)}, median(value) AS med, count(*) AS n
                  FROM r GROUP BY ALL HAVING count(*) >= 10),
        dev AS (SELECT x.*, y.med FROM r x JOIN stats y ON {on}),
        mad AS (SELECT {", ".join(keys)}, median(abs(value - med)) AS mad FROM dev GROUP BY ALL),
        z AS (SELECT x.src, x.indicator, x.territory, x.period,
                     0.6745 * (x.value - x.med) / nullif(y.mad, 0) AS z
              FROM dev x JOIN mad y ON {on}
              WHERE x.unit NOT IN (SELECT unit FROM cu))
        SELECT src, 'outlier' AS kind, indicator, count(*) AS n,
               arg_max(territory, (abs(z), territory, period)) AS territory,
               arg_max(period, (abs(z), territory, period)) AS period, max(abs(z)) AS size
        FROM z WHERE abs(z) > {ctx.outlier_z} GROUP BY src, indicator
        UNION ALL
        SELECT src, 'jump', indicator, count(*), arg_max(territory, (abs(ch), territory, period)),
               arg_max(period, (abs(ch), territory, period)), max(abs(ch))
        FROM (SELECT {src} AS src, indicator, territory, period, value, unit,
                     value / lag(value) OVER s - 1 AS ch,
                     year(period_start) - year(lag(period_start) OVER s) AS gap,
                     lag(value) OVER s AS prev
              FROM t WHERE period_start IS NOT NULL AND obs_status IS DISTINCT FROM 'U'
              WINDOW s AS (PARTITION BY {series}, length(period) ORDER BY period_start))
        WHERE gap = 1 AND prev > 0 AND abs(ch) > {ctx.max_yearly_change}
          AND NOT (unit IN (SELECT unit FROM cu) AND least(prev, value) < {ctx.min_events})
        GROUP BY src, indicator ORDER BY 1, 2, 3
        """,
        t=builtin._with_source(
            table,
            ["indicator", "territory", "period", "period_start", "value", "unit", "obs_status", *b],
        ),
        c=pa.table({"id": pa.array([], pa.string())}),
        cu=pa.table({"unit": pa.array(sorted(builtin._COUNT_UNITS), pa.string())}),
    )
    return [
        Finding(
            code="outlier" if r["kind"] == "outlier" else "implausible-jump",
            severity=Severity.WARNING,
            message=f"{r['n']} {r['size']:.6f}",
            indicator=r["indicator"],
            territory=r["territory"],
            period=r["period"],
            count=r["n"],
            source=builtin._source(r, ctx),
        )
        for r in rows
    ]


def key(findings: list[Finding]) -> list[tuple[Any, ...]]:
    return [(f.code, f.source, f.indicator, f.territory, f.period, f.count) for f in findings]


_row = st.tuples(
    st.sampled_from(["A", "B"]),  # indicator
    st.sampled_from(TERRITORIES),
    st.integers(min_value=2018, max_value=2023),
    st.one_of(st.none(), st.sampled_from(["F", "M"])),  # sex, with missing cells
    st.one_of(st.none(), st.floats(min_value=0.0, max_value=200.0)),
    st.sampled_from(["s1", "s2"]),  # source
    st.sampled_from(["A", "U"]),
)


@settings(max_examples=40, deadline=None)
@given(st.lists(_row, min_size=1, max_size=80), st.sampled_from(["percent", "person"]))
def test_integer_keys_find_what_text_keys_found(rows: list[Any], unit: str) -> None:
    seen: set[tuple[Any, ...]] = set()
    unique = []
    for r in rows:  # one value per key, as harmonize guarantees
        k = (r[0], r[1], r[2], r[3], r[5])
        if k not in seen:
            seen.add(k)
            unique.append(r)
    n = len(unique)
    schema = observation_schema(("sex",))
    data = pa.table(
        {
            "indicator": [r[0] for r in unique],
            "territory": [r[1] for r in unique],
            "period": [str(r[2]) for r in unique],
            "period_start": [date(r[2], 1, 1) for r in unique],
            "sex": ["_T"] * n,
            "value": [r[4] for r in unique],
            "unit": [unit] * n,
            "obs_status": [r[6] for r in unique],
            "conf_status": ["F"] * n,
            "flags": pa.nulls(n, pa.string()),
            "source": [r[5] for r in unique],
            "lineage": ["x"] * n,
        }
    )
    table = data.select(schema.names).cast(schema)
    # Missing breakdown cells, as when sources with and without the breakdown are checked
    # together (the canonical schema has none within one source).
    position = table.column_names.index("sex")
    sex = pa.array([r[3] for r in unique], pa.string()).dictionary_encode()
    table = table.set_column(position, pa.field("sex", sex.type), sex)
    batch = table.append_column(SOURCE_COLUMN, table.column("source").cast(pa.string()))
    ctx = CheckContext(min_events=1)
    for t, context in ((batch, ctx), (table, CheckContext(source="s1", min_events=1))):
        assert key(check_outliers(t, context)) == key(text_keyed(t, context))


def test_a_table_with_outliers_and_jumps_gives_the_same_findings() -> None:
    rows = [
        ("A", f"0960{i:02d}", year, sex, 10.0 + i % 3 + (90.0 if i == 5 and year == 2023 else 0))
        for i in range(1, 15)
        for year in (2022, 2023)
        for sex in ("F", None)
    ]
    n = len(rows)
    schema = observation_schema(())
    table = (
        pa.table(
            {
                "indicator": [r[0] for r in rows],
                "territory": [r[1] for r in rows],
                "period": [str(r[2]) for r in rows],
                "period_start": [date(r[2], 1, 1) for r in rows],
                "value": [r[4] for r in rows],
                "unit": ["percent"] * n,
                "obs_status": ["A"] * n,
                "conf_status": ["F"] * n,
                "flags": pa.nulls(n, pa.string()),
                "source": ["s1"] * n,
                "lineage": ["x"] * n,
            }
        )
        .select(schema.names)
        .cast(schema)
        .append_column("sex", pa.array([r[3] for r in rows], pa.string()))
    )
    batch = table.append_column(SOURCE_COLUMN, table.column("source").cast(pa.string()))
    found = check_outliers(batch, CheckContext(min_events=1))
    assert {f.code for f in found} == {"outlier", "implausible-jump"}
    assert key(found) == key(text_keyed(batch, CheckContext(min_events=1)))
