"""Composite indices: the Mazziotta-Pareto Index (MPI) and its adjusted form (AMPI).

AMPI is how Istat builds the BES composites: units are (territory, year) rows, so scores are
comparable over time. Missing values: a row with any missing indicator gets NaN (never a score
from the indicators that happen to be there, which would be silently biased); the goalposts
(min and max) are taken over the values present.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Literal

import numpy as np
import pandas as pd

from welfare_observatory.analyze._common import PolarityLike, as_polarity
from welfare_observatory.errors import AnalysisError, Location, closest

__all__ = ["ampi", "ampi_components", "ampi_normalized", "mpi"]

Penalty = Literal["negative", "positive"]


def _check_frame(frame: pd.DataFrame, polarity: Mapping[str, PolarityLike]) -> np.ndarray:
    """The signs (+1/-1) of ``frame``'s columns; typed errors for an unusable frame."""
    if frame.shape[1] < 2:
        raise AnalysisError(
            f"a composite needs at least two indicators, got {frame.shape[1]}",
            hint="pass one column per indicator",
        )
    if frame.index.has_duplicates:
        key = frame.index[frame.index.duplicated()][0]
        raise AnalysisError(
            f"row {key!r} appears more than once",
            location=Location(key=str(key)),
            hint="one row per (territory, year): filter breakdowns to totals first",
        )
    signs = []
    for column in frame.columns:
        if column not in polarity:
            hint = closest(str(column), [str(k) for k in polarity])
            raise AnalysisError(
                f"no polarity for indicator {column!r}",
                location=Location(column=str(column)),
                hint=f"did you mean {hint[0]!r}?" if hint else "map every column to +1 or -1",
            )
        sign = as_polarity(polarity[column], key=str(column)).sign
        if sign == 0:
            raise AnalysisError(
                f"indicator {column!r} has neutral polarity",
                location=Location(column=str(column)),
                hint="a composite needs a direction for every indicator: +1 or -1",
            )
        signs.append(sign)
    non_numeric = [c for c, t in frame.dtypes.items() if not pd.api.types.is_numeric_dtype(t)]
    if non_numeric:
        raise AnalysisError(
            f"indicator {non_numeric[0]!r} is not numeric",
            location=Location(column=str(non_numeric[0])),
        )
    return np.asarray(signs, dtype="float64")


def _penalty_sign(penalty: str) -> float:
    if penalty not in ("negative", "positive"):
        raise AnalysisError(
            f"unknown penalty {penalty!r}",
            hint="'negative' (AMPI-/MPI-: higher is better, the BES default) or 'positive'",
        )
    return -1.0 if penalty == "negative" else 1.0


def ampi_normalized(
    frame: pd.DataFrame,
    *,
    polarity: Mapping[str, PolarityLike],
    reference: tuple[Hashable, Hashable],
) -> pd.DataFrame:
    """Each indicator rescaled so the reference row is 100 and the goalposts are 70 and 130.

    ``Delta_j = (max_j - min_j) / 2`` over all rows; ``r = 100 + sign_j * 30 * (x - ref_j) /
    Delta_j``, which equals ``(x - Min_j) / (Max_j - Min_j) * 60 + 70`` with the goalposts
    ``Min_j, Max_j = ref_j -/+ Delta_j`` (reversed for negative polarity).
    """
    signs = _check_frame(frame, polarity)
    if reference not in frame.index:
        _reference_missing(frame, reference)
    values = frame.to_numpy(dtype="float64", na_value=np.nan)
    ref = frame.loc[[reference]].to_numpy(dtype="float64", na_value=np.nan)[0]
    if np.isnan(ref).any():
        column = frame.columns[int(np.flatnonzero(np.isnan(ref))[0])]
        raise AnalysisError(
            f"the reference row {reference!r} has no value for {column!r}",
            location=Location(key=str(reference), column=str(column)),
            hint="the reference scores 100 on every indicator, so it needs every value",
        )
    with np.errstate(all="ignore"):
        delta = (np.nanmax(values, axis=0) - np.nanmin(values, axis=0)) / 2.0
    if not np.all(delta > 0):
        column = frame.columns[int(np.flatnonzero(~(delta > 0))[0])]
        raise AnalysisError(
            f"indicator {column!r} has the same value in every row",
            location=Location(column=str(column)),
            hint="a constant indicator cannot be normalised; leave it out of the composite",
        )
    normalized = 100.0 + signs * 30.0 * (values - ref) / delta
    return pd.DataFrame(normalized, index=frame.index, columns=frame.columns)


def _reference_missing(frame: pd.DataFrame, reference: tuple[Hashable, Hashable]) -> None:
    labels = [str(k) for k in frame.index]
    suggestions = closest(str(reference), labels)
    hint = "reference is the (territory, year) row that scores 100, e.g. ('IT', 2010)"
    if suggestions:
        hint = f"did you mean {suggestions[0]}? " + hint
    raise AnalysisError(
        f"reference row {reference!r} is not in the frame",
        location=Location(key=str(reference)),
        hint=hint,
    )


def _components(normalized: pd.DataFrame, penalty_sign: float) -> pd.DataFrame:
    """Mean, population sd, cv and penalty of each row; NaN for a row with a missing value."""
    r = normalized.to_numpy(dtype="float64")
    mean = r.mean(axis=1)  # NaN propagates: a row with a gap gets no score
    sd = r.std(axis=1, ddof=0)
    cv = sd / mean
    return pd.DataFrame(
        {"mean": mean, "sd": sd, "cv": cv, "penalty": sd * cv, "_sign": penalty_sign},
        index=normalized.index,
    )


def ampi_components(
    frame: pd.DataFrame,
    *,
    polarity: Mapping[str, PolarityLike],
    reference: tuple[Hashable, Hashable],
    penalty: Penalty = "negative",
) -> pd.DataFrame:
    """Per row: ``mean`` (M), ``sd`` (S, divide by the number of indicators), ``cv`` (S/M),
    ``penalty`` (S*cv) and ``ampi`` (M -/+ S*cv)."""
    sign = _penalty_sign(penalty)
    parts = _components(ampi_normalized(frame, polarity=polarity, reference=reference), sign)
    parts["ampi"] = parts["mean"] + sign * parts["penalty"]
    return parts.drop(columns="_sign")


def ampi(
    frame: pd.DataFrame,
    *,
    polarity: Mapping[str, PolarityLike],
    reference: tuple[Hashable, Hashable],
    penalty: Penalty = "negative",
) -> pd.Series:
    """The Adjusted Mazziotta-Pareto Index of each (territory, year) row of ``frame``.

    ``penalty="negative"`` gives AMPI- = M - S*cv (composites where higher is better, Istat's
    BES default); ``"positive"`` gives AMPI+ = M + S*cv (higher is worse). The reference row
    scores exactly 100 when it is the reference on every indicator.
    """
    parts = ampi_components(frame, polarity=polarity, reference=reference, penalty=penalty)
    return parts["ampi"].rename("ampi")


def mpi(
    frame: pd.DataFrame,
    *,
    polarity: Mapping[str, PolarityLike],
    penalty: Penalty = "negative",
) -> pd.Series:
    """The (cross-section) Mazziotta-Pareto Index of each row of ``frame``.

    ``z = 100 + sign_j * 10 * (x - mean_j) / sd_j`` with the population standard deviation
    (divide by the number of rows) of each indicator; ``MPI = M_z * (1 - cv_z**2)`` with
    ``penalty="negative"`` (higher is better), ``M_z * (1 + cv_z**2)`` with ``"positive"``;
    ``cv_z`` uses the population sd of the row's z values. Rows with a gap get NaN.
    """
    signs = _check_frame(frame, polarity)
    sign = _penalty_sign(penalty)
    values = frame.to_numpy(dtype="float64", na_value=np.nan)
    with np.errstate(all="ignore"):
        mean = np.nanmean(values, axis=0)
        sd = np.nanstd(values, axis=0, ddof=0)
    if not np.all(sd > 0):
        column = frame.columns[int(np.flatnonzero(~(sd > 0))[0])]
        raise AnalysisError(
            f"indicator {column!r} has no variation across the rows",
            location=Location(column=str(column)),
            hint="a constant indicator cannot be standardised; leave it out",
        )
    z = 100.0 + signs * 10.0 * (values - mean) / sd
    m = z.mean(axis=1)
    cv = z.std(axis=1, ddof=0) / m
    return pd.Series(m * (1.0 + sign * cv**2), index=frame.index, name="mpi")
