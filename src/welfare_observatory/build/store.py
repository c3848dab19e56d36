"""The store stage: the edition on disk, with its coverage and findings tables."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from welfare_observatory.build.derive import plain

if TYPE_CHECKING:
    import pyarrow as pa

    from welfare_observatory.build.environment import BuildEnvironment
    from welfare_observatory.build.report import SourceReport
    from welfare_observatory.lineage import LineageGraph
    from welfare_observatory.model.finding import Finding
    from welfare_observatory.store.edition import AnalysisLinks, PartLinks

__all__ = ["coverage_table", "findings_table", "store_stage"]


def store_stage(
    kb_root: Path,
    env: BuildEnvironment,
    *,
    observations: pa.Table,
    graph: LineageGraph,
    findings: Sequence[Finding],
    analyses: Mapping[str, pa.Table],
    sources: Mapping[str, tuple[SourceReport, tuple[str, ...]]],
    versions: Mapping[str, str],
    selection: Sequence[str],
    coverage: pa.Table | None = None,
    links: PartLinks | None = None,
    environment: str | None = None,
    analysis_links: AnalysisLinks | None = None,
) -> str:
    """Write the edition; returns the build id (deterministic from the content's lineage).

    ``coverage`` (from :func:`derive_with_coverage`) is stored as the analysis ``coverage``
    inside the same atomic write, so it is hashed in the manifest with the rest.
    ``links`` names the earlier builds' observation files known to hold exactly the rows of
    one of this build's (and the sha256 each was written with): they are linked instead of
    written again; it is told of every observation file written. ``analysis_links`` is the
    same of the analyses' part files. ``environment`` is ``env.fingerprint()`` when the
    caller has it.
    """
    from welfare_observatory.store.edition import write_build
    from welfare_observatory.store.partitioned import build_manifest

    manifest = build_manifest(
        env.config,
        # The text the build's saved results digested already (made once per configuration).
        config_json=env.config_json,
        graph=graph,
        overrides=sum(f.count for f in findings if f.code == "override-applied"),
        sources=sources,
        versions=versions,
        selection=selection,
        disclosure=env.disclosure,
        inputs=env.edition_inputs(environment),
    )
    build_id = manifest.build
    write_build(
        kb_root,
        manifest,
        observations=observations,
        # Made only when the build is written, beside the observations.
        lineage=graph.to_arrow,
        findings=findings_table(findings),
        analyses={**analyses, "coverage": coverage_table(coverage)},
        links=links,
        analysis_links=analysis_links,
    )
    return build_id


def coverage_table(coverage: pa.Table | None) -> pa.Table:
    """Coverage of every aggregate, sorted by key, with ``emitted`` (coverage reached 1)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if coverage is None:
        coverage = pa.table(
            {
                "indicator": pa.array([], pa.string()),
                "territory": pa.array([], pa.string()),
                "period": pa.array([], pa.string()),
                "members": pa.array([], pa.int64()),
                "reported": pa.array([], pa.int64()),
                "coverage": pa.array([], pa.float64()),
            }
        )
    table = plain(coverage)
    # An aggregate below full coverage is not emitted (see derive.aggregation).
    emitted = pc.fill_null(pc.greater_equal(table.column("coverage"), 1.0 - 1e-12), False)
    table = table.append_column("emitted", emitted)
    keys = [n for n in table.column_names if n not in ("members", "reported", "coverage")]
    return table.sort_by([(k, "ascending") for k in keys if k != "emitted"])


def findings_table(findings: Sequence[Finding]) -> pa.Table:
    import pyarrow as pa

    schema = pa.schema(
        [
            ("code", pa.string()),
            ("severity", pa.string()),
            ("message", pa.string()),
            ("hint", pa.string()),
            ("source", pa.string()),
            ("indicator", pa.string()),
            ("territory", pa.string()),
            ("period", pa.string()),
            ("column", pa.string()),
            ("row", pa.int64()),
            ("count", pa.int64()),
        ]
    )
    rows = [f.model_dump(mode="json") for f in findings]
    return pa.Table.from_pylist(rows, schema=schema)
