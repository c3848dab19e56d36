"""Low reliability: rates over too few counted events or too small a denominator.

A rate whose numerator counts fewer than ``min_events`` events, or whose denominator is
below ``min_denominator``, keeps its value and gets obs_status ``U`` (SDMX: low
reliability). Defaults: 20 events and a denominator of 100
(:data:`~welfare_observatory.model.reliability.DEFAULT_MIN_EVENTS`, reasoning there);
an indicator's ``reliability`` in the catalogue overrides them, and an observatory's
``reliability`` settings override both (its per-indicator entries first). ``U`` wins over
every other status except the missing ones (``O``, ``M``, ``L``): a provisional value too
small to read is reported as low reliability. Only rates whose operands are in the table
are judged; a published rate without its parts is left as published. Marked values stay in
every export; ranks, composites, early warnings and the jump check leave them out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pyarrow as pa
import pyarrow.compute as pc

from welfare_observatory.derive._common import (
    Derived,
    breakdowns_of,
    connect,
    indicator_map,
    on_values,
    plain,
    query,
    to_canonical,
)
from welfare_observatory.derive._parts import FindingPart, combine
from welfare_observatory.model.finding import Finding, Severity
from welfare_observatory.model.indicator import Indicator
from welfare_observatory.model.reliability import Reliability, ReliabilitySettings

__all__ = ["LOW_RELIABILITY", "mark_low_reliability", "thresholds"]

LOW_RELIABILITY = "U"
"""The SDMX OBS_STATUS code the rule sets."""

_MISSING = ("O", "M", "L")


def thresholds(
    indicator: Indicator, settings: ReliabilitySettings | None = None
) -> tuple[float, float]:
    """``(min_events, min_denominator)`` for one indicator: the observatory's entry for it,
    else the catalogue's, else the observatory's (or the library's) defaults."""
    settings = settings or ReliabilitySettings()
    own = settings.indicators.get(indicator.id) or Reliability()
    catalogue = indicator.reliability or Reliability()
    events = _first(own.min_events, catalogue.min_events, settings.min_events)
    denominator = _first(own.min_denominator, catalogue.min_denominator, settings.min_denominator)
    return events, denominator


def _first(*values: float | None) -> float:
    return next(float(v) for v in values if v is not None)


def mark_low_reliability(
    observations: pa.Table,
    indicators: Mapping[str, Indicator] | Iterable[Indicator],
    settings: ReliabilitySettings | None = None,
) -> Derived:
    """``observations`` with every rate below its thresholds marked ``U``; one ``low-
    reliability`` finding per indicator (count, the smallest denominator as example)."""
    catalog = indicator_map(indicators)
    breakdowns = breakdowns_of(observations)
    rules = []
    for indicator in catalog.values():
        if indicator.formula is None:
            continue
        events, denominator = thresholds(indicator, settings)
        if events <= 0 and denominator <= 0:
            continue
        rules.append(
            {
                "target": indicator.id,
                "numerator": indicator.formula.numerator,
                "denominator": indicator.formula.denominator,
                "min_events": events,
                "min_denominator": denominator,
            }
        )
    if not rules or observations.num_rows == 0:
        return Derived(observations)
    targets = pa.array([r["target"] for r in rules], pa.string())
    is_rate = on_values(observations.column("indicator"), lambda v: pc.is_in(v, value_set=targets))
    if not pc.any(is_rate).as_py():
        return Derived(observations)
    con = connect()
    con.register("obs", observations)
    con.register("rates", observations.filter(is_rate))
    con.register("r", pa.Table.from_pylist(rules))
    keys = ["territory", "period", *breakdowns]
    group = ", ".join(keys)
    on_n = " AND ".join(f"n.{k} = o.{k}" for k in keys)
    on_d = " AND ".join(f"d.{k} = o.{k}" for k in keys)
    columns = ", ".join(f"o.{c}" for c in observations.column_names if c != "obs_status")
    # Operands are taken once per key (min over duplicates) so a join never repeats a rate.
    marked = query(
        con,
        f"""
        WITH operands AS (
            SELECT indicator, {group}, min(value) AS value
            FROM obs WHERE indicator IN (SELECT numerator FROM r UNION SELECT denominator FROM r)
            GROUP BY ALL),
        judged AS (
            SELECT o.*, n.value AS events, d.value AS base,
                   o.value IS NOT NULL AND o.obs_status NOT IN {_MISSING}
                   AND ((r.min_events > 0 AND n.value < r.min_events)
                        OR (r.min_denominator > 0 AND d.value < r.min_denominator)) AS low
            FROM rates o JOIN r ON r.target = o.indicator
            LEFT JOIN operands n ON n.indicator = r.numerator AND {on_n}
            LEFT JOIN operands d ON d.indicator = r.denominator AND {on_d})
        SELECT {columns},
               CASE WHEN low THEN '{LOW_RELIABILITY}' ELSE o.obs_status END AS obs_status,
               coalesce(low, FALSE) AS low, events, base
        FROM judged o
        """,  # noqa: S608 (identifiers are checked names; data goes in as tables)
    )
    parts = _findings(marked)
    table = pa.concat_tables(
        [
            to_canonical(observations.filter(pc.invert(is_rate)), breakdowns),
            to_canonical(marked, breakdowns),
        ]
    )
    return Derived(table, combine(parts), parts=parts)


def _findings(marked: pa.Table) -> list[FindingPart]:
    """One finding per indicator (a part each, in indicator order)."""
    low = marked.filter(marked.column("low"))
    if low.num_rows == 0:
        return []
    con = connect()
    con.register("low", plain(low.select(["indicator", "territory", "period", "events", "base"])))
    # The example is the smallest denominator, ties broken by key: two builds name the same.
    order = "(coalesce(base, 'inf'::DOUBLE), territory, period, coalesce(events, 'inf'::DOUBLE))"
    rows = query(
        con,
        f"""SELECT indicator, count(*) AS n, arg_min(territory, {order}) AS territory,
                   arg_min(period, {order}) AS period, arg_min(events, {order}) AS events,
                   arg_min(base, {order}) AS base
            FROM low GROUP BY indicator ORDER BY indicator""",  # noqa: S608 (a constant)
    ).to_pylist()
    findings = [
        Finding(
            code="low-reliability",
            severity=Severity.INFO,
            message=f"{row['n']} values are of low reliability (obs_status U): too few "
            f"counted events or too small a denominator; e.g. {_number(row['events'])} "
            f"over {_number(row['base'])}",
            indicator=str(row["indicator"]),
            territory=str(row["territory"]),
            period=str(row["period"]),
            count=int(row["n"]),
            hint="they are kept and flagged, and left out of ranks, composites and early "
            "warnings; thresholds: 'reliability' in observatory.yaml or the catalogue",
        )
        for row in rows
    ]
    return [FindingPart((0,), "item", f, f.indicator) for f in findings]


def _number(value: object) -> str:
    if value is None:
        return "?"
    return f"{float(str(value)):g}"
