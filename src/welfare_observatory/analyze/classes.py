"""Progress classes and their thresholds: Eurostat's EU SDG monitoring and Istat's SDG report.

Thresholds are on the *polarity-adjusted* compound annual growth rate (the CAGR with its sign
turned for indicators where lower is better), as fractions (0.01 = 1 % a year). Rates are
rounded to 10 decimals before comparison (see ``_common.DECIMALS``). The classifiers are
vectorized (numpy) so trends over whole frames use the same code as a single assessment.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

import numpy as np

from welfare_observatory.analyze._common import round_rates

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

__all__ = [
    "EUROSTAT_LABELS",
    "EUROSTAT_RATIO_MODERATE",
    "EUROSTAT_RATIO_SIGNIFICANT",
    "EUROSTAT_THRESHOLD",
    "ISTAT_CLEAR",
    "ISTAT_LABELS",
    "ISTAT_STABLE",
    "IstatCategory",
    "ProgressCategory",
    "classify_eurostat",
    "classify_eurostat_ratio",
    "classify_istat",
    "eurostat_codes",
    "istat_codes",
]


class ProgressCategory(StrEnum):
    """Eurostat's classes (EU SDG monitoring report)."""

    SIGNIFICANT_PROGRESS = "significant_progress"
    MODERATE_PROGRESS = "moderate_progress"
    INSUFFICIENT_PROGRESS = "insufficient_progress"
    """With a quantified target only: the ratio of observed to required growth is 0-60 %."""
    MOVEMENT_AWAY = "movement_away"
    """With a quantified target only: growth in the direction opposite to the target."""
    MODERATE_MOVEMENT_AWAY = "moderate_movement_away"
    """Without a target only: adjusted CAGR in [-1 %, 0 %]."""
    SIGNIFICANT_MOVEMENT_AWAY = "significant_movement_away"
    """Without a target only: adjusted CAGR below -1 %."""
    NOT_ASSESSABLE = "not_assessable"


class IstatCategory(StrEnum):
    """Istat's five classes (Rapporto SDGs 2019, pp. 37-38)."""

    CLEAR_IMPROVEMENT = "clear_improvement"
    SLIGHT_IMPROVEMENT = "slight_improvement"
    STABLE = "stable"
    SLIGHT_WORSENING = "slight_worsening"
    CLEAR_WORSENING = "clear_worsening"
    NOT_ASSESSABLE = "not_assessable"


EUROSTAT_THRESHOLD = 0.01
"""Without a target: > 1 % significant progress, < -1 % significant movement away."""
EUROSTAT_RATIO_SIGNIFICANT = 0.95
"""With a target: observed / required growth >= 95 % is significant progress."""
EUROSTAT_RATIO_MODERATE = 0.60
"""With a target: 60 % <= ratio < 95 % is moderate progress; 0 <= ratio < 60 % insufficient."""
ISTAT_CLEAR = 0.05
"""Istat: adjusted CAGR > 5 % clear improvement, <= -5 % clear worsening."""
ISTAT_STABLE = 0.01
"""Istat: adjusted CAGR in (-1 %, 1 %] is stable."""


EUROSTAT_LABELS: tuple[str, ...] = (
    ProgressCategory.NOT_ASSESSABLE.value,
    ProgressCategory.SIGNIFICANT_PROGRESS.value,
    ProgressCategory.MODERATE_PROGRESS.value,
    ProgressCategory.MODERATE_MOVEMENT_AWAY.value,
    ProgressCategory.SIGNIFICANT_MOVEMENT_AWAY.value,
)
"""Labels of :func:`eurostat_codes` (code i is ``EUROSTAT_LABELS[i]``)."""

ISTAT_LABELS: tuple[str, ...] = (
    IstatCategory.NOT_ASSESSABLE.value,
    IstatCategory.CLEAR_IMPROVEMENT.value,
    IstatCategory.SLIGHT_IMPROVEMENT.value,
    IstatCategory.STABLE.value,
    IstatCategory.SLIGHT_WORSENING.value,
    IstatCategory.CLEAR_WORSENING.value,
)
"""Labels of :func:`istat_codes`."""


def eurostat_codes(adjusted: ArrayLike) -> NDArray[np.int64]:
    """Codes into :data:`EUROSTAT_LABELS` for polarity-adjusted CAGRs (see classify_eurostat)."""
    g = round_rates(np.asarray(adjusted, dtype="float64"))
    t = EUROSTAT_THRESHOLD
    codes: NDArray[np.int64] = np.select(
        [np.isnan(g), g > t, g > 0, g >= -t], [0, 1, 2, 3], default=4
    ).astype("int64")
    return codes


def classify_eurostat(adjusted: ArrayLike) -> NDArray[np.str_]:
    """Eurostat classes without a target for polarity-adjusted CAGRs (NaN: not assessable).

    ``g > 1 %`` significant progress; ``0 < g <= 1 %`` moderate progress;
    ``-1 % <= g <= 0`` moderate movement away; ``g < -1 %`` significant movement away.
    """
    labels: NDArray[np.str_] = np.asarray(EUROSTAT_LABELS)[eurostat_codes(adjusted)]
    return labels


def classify_eurostat_ratio(ratio: ArrayLike) -> NDArray[np.str_]:
    """Eurostat classes with a target for ratios observed / required growth (NaN: n.a.).

    ``r >= 95 %`` significant; ``60 % <= r < 95 %`` moderate; ``0 <= r < 60 %`` insufficient;
    ``r < 0`` movement away. A target already met is decided before the ratio (significant).
    """
    r = round_rates(np.asarray(ratio, dtype="float64"))
    conditions = [
        np.isnan(r),
        r >= EUROSTAT_RATIO_SIGNIFICANT,
        r >= EUROSTAT_RATIO_MODERATE,
        r >= 0,
    ]
    choices = [
        ProgressCategory.NOT_ASSESSABLE.value,
        ProgressCategory.SIGNIFICANT_PROGRESS.value,
        ProgressCategory.MODERATE_PROGRESS.value,
        ProgressCategory.INSUFFICIENT_PROGRESS.value,
    ]
    result: NDArray[np.str_] = np.select(
        conditions, choices, default=ProgressCategory.MOVEMENT_AWAY.value
    )
    return result


def istat_codes(adjusted: ArrayLike) -> NDArray[np.int64]:
    """Codes into :data:`ISTAT_LABELS` for polarity-adjusted CAGRs (see classify_istat)."""
    g = round_rates(np.asarray(adjusted, dtype="float64"))
    conditions = [
        np.isnan(g),
        g > ISTAT_CLEAR,
        g > ISTAT_STABLE,
        g > -ISTAT_STABLE,
        g > -ISTAT_CLEAR,
    ]
    codes: NDArray[np.int64] = np.select(conditions, [0, 1, 2, 3, 4], default=5).astype("int64")
    return codes


def classify_istat(adjusted: ArrayLike) -> NDArray[np.str_]:
    """Istat's five classes for polarity-adjusted CAGRs (NaN: not assessable).

    ``g > 5 %`` clear improvement; ``1 % < g <= 5 %`` slight improvement;
    ``-1 % < g <= 1 %`` stable; ``-5 % < g <= -1 %`` slight worsening; ``g <= -5 %`` clear
    worsening (the boundaries of Istat's method as the Bolzano statistics office publishes it).
    """
    labels: NDArray[np.str_] = np.asarray(ISTAT_LABELS)[istat_codes(adjusted)]
    return labels
