"""The analysis stage: trends, progress, benchmarks, composites and early warnings.

Runs between derive and store (see :mod:`welfare_observatory.build.derive`); each analysis that
cannot run becomes a warning finding, never a failed build. Every stored table comes out in
a fixed row order (sorted by its key columns) so two builds of the same data write
identical files.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from welfare_observatory.build.derive import plain
from welfare_observatory.errors import WelfareObservatoryError
from welfare_observatory.model.finding import Finding, Severity

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from welfare_observatory.build.environment import BuildEnvironment
    from welfare_observatory.model import Indicator

__all__ = ["ANALYSES", "SORT_KEYS", "analyze_stage", "composite_analysis", "storable"]

ANALYSES = ("trend", "progress", "benchmark", "composite", "early_warnings")
"""The tables an edition stores under ``analyses/``, by name."""

SORT_KEYS: dict[str, list[str]] = {
    "trend": ["indicator", "territory"],
    "progress": ["indicator", "territory"],
    "benchmark": ["indicator", "against"],
    "composite": ["domain", "territory", "year"],
}
"""Leading sort columns of each table; breakdown columns follow, then ``horizon``.
``early_warnings`` keeps its own order (rank, then every key: see ``early_warnings``)."""


def analyze_stage(
    observations: pa.Table, env: BuildEnvironment
) -> tuple[dict[str, pa.Table], list[Finding]]:
    """Every analysis of :data:`ANALYSES` over the edition's observations.

    ``progress`` uses ``report.progress_method`` of the observatory (short and long
    horizons); ``benchmark`` leaves out counts that grow with the size of a territory;
    ``composite`` is the AMPI of each domain with the observatory's territory (else Italy)
    as reference; ``early_warnings`` compares municipalities with municipalities.
    """
    import pyarrow as pa

    from welfare_observatory import analyze
    from welfare_observatory.analyze._common import breakdowns, stable_order

    analyses: dict[str, pa.Table] = {}
    findings: list[Finding] = []
    if observations.num_rows == 0:
        return analyses, findings
    indicators = env.indicators
    # Only the columns analyses read: the text columns they do not (lineage, source, flags,
    # unit) doubled the peak memory of a build as pandas objects.
    unread = {"domain", "unit", "conf_status", "flags", "source", "lineage"}
    frame = plain(observations.drop_columns(unread & set(observations.column_names))).to_pandas()
    polarity = {k: v.polarity for k, v in indicators.items()}
    config = env.config
    method: Literal["istat", "eurostat"] = (
        "istat" if config.report.progress_method == "istat" else "eurostat"
    )
    focus = config.territory.code
    # Low-reliability values (obs_status U) are kept, but never compared or ranked.
    reliable = frame[frame["obs_status"] != "U"] if "obs_status" in frame else frame
    references = list(dict.fromkeys([focus, "IT"]))
    jobs: dict[str, Callable[[], Any]] = {
        "trend": lambda: analyze.trend(frame, polarity=polarity, method=method),
        "progress": lambda: analyze.progress_table(frame, polarity=polarity, method=method),
        "benchmark": lambda: analyze.benchmark(
            reliable,
            territory=focus,
            against=list(config.territory.comparisons),
            polarity=indicators,
        ),
        "composite": lambda: composite_analysis(frame, indicators, references, findings),
        "early_warnings": lambda: analyze.early_warnings(
            reliable[analyze.territory_levels(reliable["territory"]) == "municipality"],
            catalog=polarity,
        ),
    }
    extra = breakdowns(frame)
    for name, job in jobs.items():
        try:
            result = job()
        except (WelfareObservatoryError, ValueError, KeyError) as exc:
            findings.append(
                Finding(
                    code="analysis-failed",
                    severity=Severity.WARNING,
                    message=f"analysis {name!r} could not run: {exc}",
                )
            )
            continue
        ordered = (
            stable_order(result, [*SORT_KEYS[name], *extra, "horizon", "period", "year"])
            if name in SORT_KEYS
            else result.reset_index(drop=True)
        )
        analyses[name] = pa.Table.from_pandas(storable(ordered), preserve_index=False)
    return analyses, findings


def composite_analysis(
    frame: pd.DataFrame,
    indicators: Mapping[str, Indicator],
    references: list[str],
    findings: list[Finding],
) -> pd.DataFrame:
    from welfare_observatory.analyze import domain_composites

    if "obs_status" in frame:
        frame = frame[frame["obs_status"] != "U"]  # low reliability: never in a composite
    table, notes = domain_composites(frame, indicators=indicators, references=references)
    findings.extend(
        Finding(
            code="composite-skipped",
            severity=Severity.INFO,
            message=note,
            hint="a composite needs at least two indicators of the domain with a polarity "
            "(positive or negative) and values for the reference territory",
        )
        for note in notes
    )
    return table


def storable(frame: Any) -> Any:
    """Categoricals as text and objects as text, so Parquet stores plain columns."""
    out = frame.copy()
    for name in out.columns:
        if str(out[name].dtype) in ("category", "object"):
            out[name] = out[name].astype("string")
    return out
