"""The analysis stage: trends, progress, benchmarks, composites and early warnings.

Runs between derive and store (see :mod:`welfare_observatory.build.derive`); each analysis that
cannot run becomes a warning finding, never a failed build. Every stored table comes out in
a fixed row order (sorted by its key columns) so two builds of the same data write
identical files.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal

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
    if observations.num_rows == 0:
        return {}, []
    # Only the columns analyses read: the text columns they do not (lineage, source, flags,
    # unit) doubled the peak memory of a build as pandas objects.
    unread = {"domain", "unit", "conf_status", "flags", "source", "lineage"}
    return _analyze_frame(
        _frame(observations.drop_columns(unread & set(observations.column_names))), env
    )


def _analyze_frame(
    frame: pd.DataFrame, env: BuildEnvironment
) -> tuple[dict[str, pa.Table], list[Finding]]:
    """:func:`analyze_stage` over the observations as a pandas frame (keys categorical or
    text: the stored tables are the same)."""
    import pandas as pd
    import pyarrow as pa

    from welfare_observatory import analyze
    from welfare_observatory.analyze._common import breakdowns, stable_order
    from welfare_observatory.analyze.progress_table import _once, _progress_table
    from welfare_observatory.analyze.trend import _trend

    analyses: dict[str, pa.Table] = {}
    findings: list[Finding] = []
    indicators = env.indicators
    polarity = {k: v.polarity for k, v in indicators.items()}
    config = env.config
    method: Literal["istat", "eurostat"] = (
        "istat" if config.report.progress_method == "istat" else "eurostat"
    )
    focus = config.territory.code

    # Low-reliability values (obs_status U) are kept, but never compared or ranked.
    # Filtered when a job runs, so no copy outlives it.
    def reliable(municipal: bool = False) -> pd.DataFrame:
        keep = frame["obs_status"] != "U" if "obs_status" in frame else None
        if municipal:
            level = _municipal(frame["territory"])
            keep = level if keep is None else keep & level
        return frame if keep is None else frame[keep]

    references = list(dict.fromkeys([focus, "IT"]))
    prepared = _once(frame)  # trends and progress read the same series
    jobs: dict[str, Callable[[], Any]] = {
        # The defaults of analyze.trend and analyze.progress_table, over series prepared once.
        "trend": lambda: _trend(
            frame, prepared, polarity=polarity, window=5, min_span=3, method=method
        ),
        "progress": lambda: _progress_table(
            frame,
            prepared,
            polarity=polarity,
            method=method,
            horizons=("short", "long"),
            targets=None,
        ),
        "benchmark": lambda: analyze.benchmark(
            reliable(),
            territory=focus,
            against=list(config.territory.comparisons),
            polarity=indicators,
        ),
        "composite": lambda: composite_analysis(frame, indicators, references, findings),
        "early_warnings": lambda: analyze.early_warnings(
            reliable(municipal=True),
            catalog=polarity,
        ),
    }
    extra = breakdowns(frame)
    keys = [c for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)]
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
        finally:
            if name == "progress":
                prepared.cache_clear()  # the series of every row: not needed any more
        ordered = (
            stable_order(result, [*SORT_KEYS[name], *extra, "horizon", "period", "year"])
            if name in SORT_KEYS
            else result.reset_index(drop=True)
        )
        analyses[name] = pa.Table.from_pandas(
            storable(_keys_as_text(ordered, keys)), preserve_index=False
        )
    return analyses, findings


def _municipal(territory: pd.Series) -> pd.Series:
    """Whether each territory is a municipality; a categorical's levels are found once per
    category and taken by code (no string per row)."""
    import numpy as np
    import pandas as pd

    from welfare_observatory.analyze import territory_levels

    if not isinstance(territory.dtype, pd.CategoricalDtype):
        return territory_levels(territory) == "municipality"
    of_category = territory_levels(pd.Series(territory.cat.categories)) == "municipality"
    is_municipal = np.append(of_category.to_numpy(dtype=bool), False)  # code -1: missing
    codes = territory.cat.codes.to_numpy()
    return pd.Series(is_municipal[codes], index=territory.index)


def _frame(table: pa.Table) -> pd.DataFrame:
    """``table`` as pandas without a Python object per row: dictionary keys become
    categoricals (integer codes, a few thousand strings), dates ``datetime64``. Analyses
    compare keys as text, so results are those of plain text columns."""
    import pyarrow as pa

    columns = [
        c
        if pa.types.is_dictionary(c.type) or not pa.types.is_string(c.type)
        else c.dictionary_encode()
        for c in table.columns
    ]
    frame: pd.DataFrame = pa.table(columns, names=table.column_names).to_pandas(
        date_as_object=False
    )
    return frame


def _keys_as_text(result: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """The key columns ``result`` carries over from the input frame, categorical there, as
    the text dtype they have when the frame is read without categoricals (so the stored
    tables and their pandas metadata do not depend on how the frame was read)."""
    import pandas as pd

    for name in keys:
        if name in result.columns and isinstance(result[name].dtype, pd.CategoricalDtype):
            result[name] = _decoded(result[name])
    return result


def _decoded(column: pd.Series) -> pd.Series:
    """``column.astype(column.cat.categories.dtype)``: the categories taken by code (pandas'
    astype of a categorical builds the values one by one)."""
    import pandas as pd

    codes = column.cat.codes.to_numpy()
    values = column.cat.categories.array.take(codes, allow_fill=True)
    return pd.Series(values, index=column.index, name=column.name)


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
    import pandas as pd

    from welfare_observatory.analyze._common import text

    out = frame.copy(deep=False)  # columns are replaced, never written into
    for name in out.columns:
        if isinstance(out[name].dtype, pd.CategoricalDtype):
            out[name] = text(out[name])  # categories converted once, taken by code
        elif str(out[name].dtype) == "object":
            out[name] = out[name].astype("string")
    return out
