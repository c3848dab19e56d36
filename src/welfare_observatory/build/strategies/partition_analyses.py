"""Analyses of an out-of-core build: per partition, then across partitions.

Trends, progress and benchmarks are per indicator, so a partition's are final. Early
warnings flag (territory, indicator) pairs per indicator but rank territories across
indicators: the partitions' rows are ranked again (:func:`ranked_warnings`). Composites
read every indicator of a domain: they are computed a domain at a time from the edition's
partition files (:func:`composites`). Coverage of aggregates is kept per owned indicator.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from welfare_observatory.model.finding import Finding
from welfare_observatory.model.observation import BASE_COLUMNS, TOTAL

if TYPE_CHECKING:
    import pyarrow as pa

    from welfare_observatory.build.environment import BuildEnvironment
    from welfare_observatory.model import Indicator

__all__ = [
    "PER_INDICATOR",
    "analyze_partition",
    "composites",
    "partition_findings",
    "ranked_frame",
    "ranked_warnings",
]


PER_INDICATOR = ("trend", "progress", "benchmark", "early_warnings")
"""Analyses a partition computes for its own indicators (early warnings are ranked across
indicators again by the out-of-core build; composites, per domain, are computed there)."""


def analyze_partition(
    owned: pa.Table,
    coverage: pa.Table | None,
    env: BuildEnvironment,
    indicators: dict[str, Indicator],
    owned_ids: Sequence[str],
    file: Path,
) -> list[Finding]:
    """The analyses and aggregate coverage of a partition's ``owned`` rows (indicators
    ``owned_ids``), written to ``file.parent/<name>/file.name``; returns the findings
    (without those of composites, computed per domain later)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from welfare_observatory.build.analyze import analyze_stage

    analyses, findings = analyze_stage(owned, env)
    if coverage is not None:
        names = coverage.column("indicator").cast(pa.string())
        analyses["coverage"] = coverage.filter(pc.is_in(names, pa.array(owned_ids, pa.string())))
    for name, table in analyses.items():
        if name in (*PER_INDICATOR, "coverage"):
            (file.parent / name).mkdir(parents=True, exist_ok=True)
            pq.write_table(table, file.parent / name / file.name)
    return [
        f
        for f in findings
        if f.code != "composite-skipped" and not f.message.startswith("analysis 'composite'")
    ]


def partition_findings(findings: Sequence[Finding], produced: set[str]) -> list[Finding]:
    """Findings of the partitions, without an analysis failure of one partition when the
    analysis ran on others (a benchmark fails on a partition where the observatory's
    territory has no values: over the whole edition it has some)."""
    kept = []
    for finding in findings:
        failed = finding.code == "analysis-failed"
        if failed and any(finding.message.startswith(f"analysis {n!r} ") for n in produced):
            continue
        kept.append(finding)
    return kept


def composites(
    env: BuildEnvironment,
    parts: Sequence[Path],
    work: Path,
    memory_limit: str,
    findings: list[Finding],
) -> pa.Table | None:
    """The composite (AMPI) of each domain, a domain at a time: a composite reads the
    totals of every indicator of its domain, so it cannot be computed per partition.
    Memory: one domain's totals. None when the edition has no observations."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from welfare_observatory.analyze._common import stable_order
    from welfare_observatory.build.analyze import SORT_KEYS, composite_analysis, storable

    # Imported here: the out-of-core module's task models cost an in-memory rebuild, which
    # reads this module's names only, a tenth of a second to define.
    from welfare_observatory.build.strategies.out_of_core import _connect, _quoted
    from welfare_observatory.errors import WelfareObservatoryError
    from welfare_observatory.model.finding import Severity

    if not parts or not sum(pq.read_metadata(p).num_rows for p in parts):
        return None
    names = pq.read_schema(parts[0]).names
    breakdowns = [n for n in names if n not in BASE_COLUMNS and n != "domain"]
    totals = "".join(f" AND \"{b}\" = '{TOTAL}'" for b in breakdowns)
    listing = "[" + ", ".join(_quoted(str(f)) for f in parts) + "]"
    indicators = env.indicators
    focus = env.config.territory.code
    references = list(dict.fromkeys([focus, "IT"]))
    con = _connect(memory_limit, work / "spill", 2)
    tables = []
    try:
        domains = con.sql(f"SELECT DISTINCT domain FROM read_parquet({listing}) ORDER BY 1")  # noqa: S608
        for (domain,) in domains.fetchall():
            frame = (
                con.sql(
                    f"SELECT * EXCLUDE (domain) FROM read_parquet({listing}) "  # noqa: S608
                    f"WHERE domain = {_quoted(str(domain))} AND value IS NOT NULL{totals}"
                )
                .to_arrow_table()
                .to_pandas()
            )
            try:
                tables.append(composite_analysis(frame, indicators, references, findings))
            except (WelfareObservatoryError, ValueError, KeyError) as exc:
                message = f"analysis 'composite' could not run for domain {domain!r}: {exc}"
                findings.append(
                    Finding(code="analysis-failed", severity=Severity.WARNING, message=message)
                )
    finally:
        con.close()
    # A domain without a composite (no indicator with a polarity) gives an empty frame of
    # untyped columns: concatenated, it would turn every number into text.
    filled = [t for t in tables if len(t)] or tables[:1]
    frame = pd.concat(filled, ignore_index=True) if filled else pd.DataFrame()
    ordered = stable_order(
        frame, [*SORT_KEYS["composite"], *breakdowns, "horizon", "period", "year"]
    )
    return pa.Table.from_pandas(storable(ordered), preserve_index=False)


def ranked_warnings(files: Sequence[Path]) -> pa.Table:
    """Early warnings of all partitions, ranked again across indicators as
    ``analyze.early_warnings`` ranks them: territories by number of signals, then by their
    largest robust z; a territory's signals are per indicator (small: warnings only)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    tables = [pq.read_table(f) for f in files]
    # An empty part has text columns where others have numbers: leave the empty ones out.
    filled = [t for t in tables if t.num_rows]
    if not filled:
        return tables[0]
    return ranked_frame(pa.concat_tables(filled, promote_options="permissive"))


def ranked_frame(table: pa.Table) -> pa.Table:
    """Early warnings of several parts (one table, not empty), ranked across indicators
    (see :func:`ranked_warnings`)."""
    import pyarrow as pa

    from welfare_observatory.analyze.early_warning import ranked, series_group
    from welfare_observatory.build.analyze import storable

    frame = table.to_pandas()
    frame = ranked(frame, series_group(frame)).reset_index(drop=True)
    return pa.Table.from_pandas(storable(frame), preserve_index=False)
