"""Analyses: progress assessment, composite indices, benchmarks, trends and early warnings.

Public API (stable names, used by other tools and by the report)::

    from welfare_observatory.analyze import assess_progress, ampi, benchmark, trend

Every function is vectorized over whole frames; see ``docs/methods.md`` for the formulas,
thresholds, windows and the publications they come from. Importing this package imports
pandas and numpy, so the CLI imports it only inside its commands.
"""

from welfare_observatory.analyze.benchmark import WORDING, benchmark
from welfare_observatory.analyze.classes import (
    IstatCategory,
    ProgressCategory,
    classify_eurostat,
    classify_eurostat_ratio,
    classify_istat,
)
from welfare_observatory.analyze.composite import ampi, ampi_components, ampi_normalized, mpi
from welfare_observatory.analyze.domain_composite import domain_composites
from welfare_observatory.analyze.early_warning import MAD_SCALE, early_warnings
from welfare_observatory.analyze.levels import territory_levels
from welfare_observatory.analyze.progress import (
    HORIZONS,
    MIN_SPAN,
    Assessment,
    assess_progress,
    cagr,
    cagr_array,
)
from welfare_observatory.analyze.progress_table import progress_table
from welfare_observatory.analyze.trend import trend

__all__ = [
    "HORIZONS",
    "MAD_SCALE",
    "MIN_SPAN",
    "WORDING",
    "Assessment",
    "IstatCategory",
    "ProgressCategory",
    "ampi",
    "ampi_components",
    "ampi_normalized",
    "assess_progress",
    "benchmark",
    "cagr",
    "cagr_array",
    "classify_eurostat",
    "classify_eurostat_ratio",
    "classify_istat",
    "domain_composites",
    "early_warnings",
    "mpi",
    "progress_table",
    "territory_levels",
    "trend",
]
