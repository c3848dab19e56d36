"""The analysis stage: trends, progress, benchmarks, composites and early warnings.

Runs between derive and store (see :mod:`welfare_observatory.build.derive`); each analysis that
cannot run becomes a warning finding, never a failed build. Every stored table comes out in
a fixed row order (sorted by its key columns) so two builds of the same data write
identical files.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Mapping
from typing import TYPE_CHECKING, Any, Literal

from welfare_observatory.errors import WelfareObservatoryError
from welfare_observatory.model.finding import Finding, Severity

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    from numpy.typing import NDArray

    from welfare_observatory.build.environment import BuildEnvironment
    from welfare_observatory.model import Indicator
    from welfare_observatory.model.indicator import Polarity

__all__ = [
    "ANALYSES",
    "SORT_KEYS",
    "analyze_stage",
    "analyze_tables",
    "composite_analysis",
    "storable",
]

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
    return analyze_tables(observations, env, ANALYSES)


def analyze_tables(
    observations: pa.Table, env: BuildEnvironment, names: Collection[str]
) -> tuple[dict[str, pa.Table], list[Finding]]:
    """The analyses of :data:`ANALYSES` named in ``names`` (and their findings), each as
    :func:`analyze_stage` makes it; the others are not computed (a rebuild computes the
    composites of its changed domains apart, over all their indicators)."""
    if observations.num_rows == 0:
        return {}, []
    # Only the columns analyses read: the text columns they do not (lineage, source, flags,
    # unit) doubled the peak memory of a build as pandas objects.
    unread = {"domain", "unit", "conf_status", "flags", "source", "lineage"}
    large = observations.num_rows >= _SMALL
    if large:
        release_unused(c_heap=False)  # Arrow's pages derive freed, for numpy to map again
    result = _analyze_frame(
        _frame(observations.drop_columns(unread & set(observations.column_names))), env, names
    )
    if large:
        # The frame (and the last analysis's temporaries) die with _analyze_frame: the C
        # heap trimmed here rather than after the last analysis, the store (which holds
        # the rows and the analyses) starts about 50 MiB lower at 3 million rows.
        release_unused()
    return result


def _analyze_frame(
    frame: pd.DataFrame, env: BuildEnvironment, names: Collection[str] = ANALYSES
) -> tuple[dict[str, pa.Table], list[Finding]]:
    """:func:`analyze_tables` over the observations as a pandas frame (keys categorical or
    text: the stored tables are the same)."""
    import pandas as pd
    import pyarrow as pa

    from welfare_observatory import analyze
    from welfare_observatory.analyze._common import breakdowns, stable_order, text_isin
    from welfare_observatory.analyze.early_warning import _early_warnings
    from welfare_observatory.analyze.progress_table import _once, _progress_table
    from welfare_observatory.analyze.trend import _latest, _trend

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
    # Filtered when a job runs, so no copy outlives it; no copy at all when every row stays.
    def reliable() -> pd.DataFrame:
        if "obs_status" not in frame:
            return frame
        keep = frame["obs_status"] != "U"
        return frame if bool(keep.all()) else frame[keep]

    judged = _judged(frame["indicator"], polarity) if "early_warnings" in names else None
    # Each series' latest row, kept by the trend job for early warnings while its series
    # are at hand (see warned).
    latest: list[pd.DataFrame] = []

    def warned() -> pd.DataFrame:
        """The rows early warnings read: reliable municipal values of indicators with a
        direction. One copy of them where the function would otherwise copy twice (once
        here, once for its own filter of the same rows). When every row is reliable and
        the trends ran, the latest row of each series stands for its rows: early warnings
        read the rows of each indicator's (and breakdown's) latest year only, and that
        year, the latest of the series of the indicator, is the latest of each series with
        a row in it (a few rows per series instead of every row)."""
        rows = latest[0] if latest and judged is not None else frame
        keep = _municipal(rows["territory"]) & rows["value"].notna()
        if "obs_status" in rows:
            keep &= rows["obs_status"] != "U"
        if judged is not None:
            keep &= text_isin(rows["indicator"], judged)
        return rows if bool(keep.all()) else rows[keep]

    # Early warnings read the trends of their series' reliable rows: those of the frame's
    # series when every row is reliable (classed again by Eurostat's rule, their own).
    every_row_reliable = "obs_status" not in frame or not bool((frame["obs_status"] == "U").any())
    references = list(dict.fromkeys([focus, "IT"]))
    prepared = _once(frame)  # trends and progress read the same series
    # The trend table is progress's short horizon (same window, span, polarity and method):
    # computed once, read by both, and by early warnings when it holds their trends.
    trends: dict[tuple[int, int], pd.DataFrame] = {}

    def trend() -> pd.DataFrame:
        table = _trend(frame, prepared, polarity=polarity, window=5, min_span=3, method=method)
        trends[(5, 3)] = table
        if every_row_reliable and "early_warnings" in names:
            latest.append(_latest(prepared()))
        return table

    jobs: dict[str, Callable[[], Any]] = {
        # The defaults of analyze.trend and analyze.progress_table, over series prepared once.
        "trend": trend,
        "progress": lambda: _progress_table(
            frame,
            prepared,
            polarity=polarity,
            method=method,
            horizons=("short", "long"),
            targets=None,
            known=trends,
            read=prepared.cache_clear,  # the series of every row: not needed any more
        ),
        "benchmark": lambda: analyze.benchmark(
            reliable(),
            territory=focus,
            against=list(config.territory.comparisons),
            polarity=indicators,
        ),
        "composite": lambda: composite_analysis(frame, indicators, references, findings),
        "early_warnings": lambda: _early_warnings(
            warned(),
            catalog=polarity,
            window=5,
            min_span=3,
            trends=trends.get((5, 3)) if every_row_reliable else None,
            trends_method=method,
        ),
    }
    jobs = {name: job for name, job in jobs.items() if name in names}
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
                prepared.cache_clear()  # also when progress failed
        # Trends and progress come out of their makers sorted by these very keys (series
        # keys, then horizon), each row's keys their own: not sorted again.
        ordered = (
            stable_order(result, [*SORT_KEYS[name], *extra, "horizon", "period", "year"])
            if name in SORT_KEYS and name not in _MADE_IN_ORDER
            else result.reset_index(drop=True)
        )
        if name == "early_warnings" and ordered.empty:
            # One schema for "no warning", however none was found (no row with a direction,
            # or rows none of which is flagged, whose columns come typed): a rebuild that
            # keeps an earlier build's empty table writes the bytes a full build writes.
            ordered = pd.DataFrame(columns=list(ordered.columns))
        # pyarrow converts a long frame's columns on a pool of threads it starts for the
        # call: for a rebuild's few rows, starting them costs more than they save.
        analyses[name] = pa.Table.from_pandas(
            storable(_keys_as_text(ordered, keys)),
            preserve_index=False,
            nthreads=1 if len(ordered) < _SMALL else None,
        )
        # Each analysis frees its temporaries before the next allocates (numpy on the C
        # heap, Arrow in its own pool): returned, they are not held twice. About 50 MiB
        # off the build's peak for 160 sources, for a few ms per analysis. The C heap is
        # trimmed once, by analyze_tables, when the frame is gone too.
        del result, ordered
        if len(frame) >= _SMALL:
            release_unused(c_heap=False)
    return analyses, findings


_MADE_IN_ORDER = frozenset({"trend", "progress"})
"""Tables whose maker sorts them as the stage does (see ``SORT_KEYS``)."""

_SMALL = 100_000
"""Analyses of fewer rows (a rebuild's changed indicators) free too little to hand back:
the memory is not trimmed after each (a few ms of walking the heap)."""


def release_unused(*, c_heap: bool = True) -> None:
    """Hand the memory freed so far back to the system: an Arrow pool of its own (mimalloc,
    jemalloc) keeps freed pages for its own later use and the C heap keeps what numpy freed
    below its top, so each of them held on to what the other then had to map again (the
    build's peak). ``c_heap``: trim the C heap too (glibc's ``malloc_trim``; a few ms, and
    pages the next allocations fault in again, so once per stage). Arrow's ``system`` pool
    is the C heap: nothing of its own to release (its release would be a trim)."""
    import pyarrow as pa

    pool = pa.default_memory_pool()
    if pool.backend_name != "system":
        pool.release_unused()
    trim = _malloc_trim() if c_heap else None
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None (another C library or platform)."""
    import ctypes
    import sys

    if not sys.platform.startswith("linux"):
        return None
    try:
        trim: Callable[[int], int] = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


def _judged(indicator: pd.Series, polarity: Mapping[str, Polarity]) -> list[str] | None:
    """The ids of ``indicator`` whose polarity has a direction; None when one of them has no
    polarity (early warnings then name it in their error, so their rows are kept)."""
    import pandas as pd

    ids = (
        indicator.cat.categories
        if isinstance(indicator.dtype, pd.CategoricalDtype)
        else indicator.dropna().unique()
    )
    if any(str(i) not in polarity for i in ids):
        return None
    return [str(i) for i in ids if polarity[str(i)].sign != 0]


def _municipal(territory: pd.Series) -> pd.Series:
    """Whether each territory is a municipality; a categorical's levels are found once per
    category and taken by code (no string per row)."""
    import numpy as np
    import pandas as pd

    from welfare_observatory.analyze import territory_levels
    from welfare_observatory.analyze._common import by_code

    if not isinstance(territory.dtype, pd.CategoricalDtype):
        return territory_levels(territory) == "municipality"
    of_category = territory_levels(pd.Series(territory.cat.categories)) == "municipality"
    is_municipal = np.append(of_category.to_numpy(dtype=bool), False)  # code -1: missing
    codes = np.asarray(territory.array.codes)
    return pd.Series(by_code(is_municipal, codes), index=territory.index)


def _frame(table: pa.Table) -> pd.DataFrame:
    """``table`` as pandas without a Python object per row: keys become categoricals
    (the smallest integer codes, categories in the order Arrow unifies the chunks'
    dictionaries, as ``to_pandas`` orders them), a ``period_start`` of dates without
    nulls becomes the integer ``year`` that analyses read of it (the only use they make of
    it; Arrow's ``year`` is ~25 times faster than numpy's conversion, and it is read three
    times), other columns as ``to_pandas`` converts them. Each column is converted on its
    own, so no whole-table copy is made. Analyses compare keys as text, so results are those
    of plain text columns."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    names = table.column_names
    columns: dict[str, Any] = {}
    for name, column in zip(names, table.columns, strict=True):
        if pa.types.is_dictionary(column.type) or pa.types.is_string(column.type):
            columns[name] = _categorical(column)
        elif (
            name == "period_start"
            and "year" not in names
            and pa.types.is_date32(column.type)
            and column.null_count == 0
            and _in_calendar(column)
        ):
            columns["year"] = pc.year(column).cast(pa.int16()).to_numpy()
        else:
            columns[name] = column.to_pandas(date_as_object=False)
    # Plain labels: pandas' text labels cost a copy of them per column added and more per
    # look-up (a tenth of a small analysis); the stored tables do not depend on them.
    frame = pd.DataFrame(columns, copy=False)
    frame.columns = pd.Index(list(frame.columns), dtype=object)
    return frame


def _in_calendar(dates: pa.ChunkedArray) -> bool:
    """Whether every date (``date32``) falls in years 1 to 9999, where Arrow's ``year``
    is numpy's (beyond them Arrow's wraps) and fits in 16 bits."""
    import pyarrow as pa
    import pyarrow.compute as pc

    bounds = pc.min_max(dates.cast(pa.int32()))
    low, high = bounds["min"].as_py(), bounds["max"].as_py()
    return low is None or (low >= _FIRST_DAY and high <= _LAST_DAY)


_FIRST_DAY, _LAST_DAY = -719_162, 2_932_896
"""0001-01-01 and 9999-12-31 as days since 1970-01-01."""


def _categorical(column: pa.ChunkedArray) -> pd.Categorical[Any]:
    """A dictionary or text column as a categorical: the chunks' dictionaries unified,
    their indices written once into codes of the smallest integer type (``to_pandas``
    makes 32-bit codes first and narrows them in a second copy)."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    if not pa.types.is_dictionary(column.type):
        column = column.dictionary_encode()
    column = pa.table({"c": column}).unify_dictionaries().column(0)  # any pyarrow >= 15
    if column.num_chunks == 0:
        dictionary = pa.array([], column.type.value_type)
    else:
        dictionary = column.chunk(0).dictionary
    # The categories as to_pandas makes them (their dtype is pandas' text dtype).
    empty = pa.DictionaryArray.from_arrays(pa.array([], column.type.index_type), dictionary)
    dtype = empty.to_pandas().dtype
    size = len(dictionary)
    narrow = next(t for t in (np.int8, np.int16, np.int32, np.int64) if size < np.iinfo(t).max)
    codes: NDArray[np.integer[Any]] = np.empty(len(column), dtype=narrow)
    at = 0
    for chunk in column.chunks:
        n = len(chunk)
        indices = chunk.indices
        if indices.null_count:  # missing keys: code -1, as pandas has them
            indices = indices.fill_null(-1)
        codes[at : at + n] = indices.to_numpy(zero_copy_only=False)
        at += n
    return pd.Categorical.from_codes(codes, dtype=dtype, validate=False)


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
        reliable = frame["obs_status"] != "U"  # low reliability: never in a composite
        frame = frame if bool(reliable.all()) else frame[reliable]
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
