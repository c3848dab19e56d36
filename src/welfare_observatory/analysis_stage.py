"""The analysis stage: trends, benchmarks and early warnings of a built edition.

Runs between derive and store (see :mod:`welfare_observatory.stages`); each analysis that
cannot run becomes a warning finding, never a failed build.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from welfare_observatory.errors import WelfareObservatoryError
from welfare_observatory.model.finding import Finding, Severity
from welfare_observatory.stages import plain

if TYPE_CHECKING:
    import pyarrow as pa

    from welfare_observatory.model import Indicator
    from welfare_observatory.observatory import Observatory

__all__ = ["analyze_stage"]


def analyze_stage(
    observations: pa.Table, observatory: Observatory, indicators: Mapping[str, Indicator]
) -> tuple[dict[str, pa.Table], list[Finding]]:
    """Trends, benchmarks of the territory against its comparisons, early warnings."""
    import pandas as pd
    import pyarrow as pa

    from welfare_observatory import analyze

    analyses: dict[str, pa.Table] = {}
    findings: list[Finding] = []
    if observations.num_rows == 0:
        return analyses, findings
    frame = plain(observations.drop_columns(["domain"])).to_pandas()
    polarity = {k: v.polarity for k, v in indicators.items()}
    config = observatory.config
    method: Literal["istat", "eurostat"] = (
        "istat" if config.report.progress_method == "istat" else "eurostat"
    )
    jobs: dict[str, Callable[[], Any]] = {
        "trend": lambda: analyze.trend(frame, polarity=polarity, method=method),
        "benchmark": lambda: analyze.benchmark(
            frame,
            territory=config.territory.code,
            against=list(config.territory.comparisons),
            polarity=polarity,
        ),
        "early_warnings": lambda: analyze.early_warnings(
            frame[frame["territory"].str.len() == 6], catalog=polarity
        ),
    }
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
        if isinstance(result, pd.DataFrame):
            analyses[name] = pa.Table.from_pandas(_storable(result), preserve_index=False)
    return analyses, findings


def _storable(frame: Any) -> Any:
    """Categoricals as text and objects as text, so Parquet stores plain columns."""
    out = frame.copy()
    for name in out.columns:
        if str(out[name].dtype) in ("category", "object"):
            out[name] = out[name].astype("string")
    return out
