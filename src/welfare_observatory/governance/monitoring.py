"""Monitoring co-designed actions: each linked indicator against its baseline and target.

**On track**, precisely: let ``b`` be the baseline value at date ``t0`` (the start of the
baseline period), ``T`` the target value at ``t1`` (1 January of the target year), and ``v``
the latest value at ``t`` (the start of the latest period after the baseline). The expected
value is on the straight line from ``(t0, b)`` to ``(t1, T)``::

    e(t) = b + (T - b) * min(1, (t - t0) / (t1 - t0))

The wanted direction ``d`` is the sign of ``T - b``. When the target equals the baseline
("hold the line"), the indicator's polarity gives it: ``+1`` for ``positive``, ``-1`` for
``negative``; for a ``neutral`` indicator only staying at the target is on track. The action
is **on track** when ``d * (v - e(t)) >= 0`` (as good as the line or better), **off track**
otherwise, and **no data** when the baseline value is unknown or no value after the
baseline period is published. Dates are compared in days.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

import pandas as pd

from welfare_observatory.governance.models import Action, ActionIndicator
from welfare_observatory.model.observation import BASE_COLUMNS, TOTAL

if TYPE_CHECKING:
    from welfare_observatory.catalog import Catalog

__all__ = ["MONITOR_COLUMNS", "NO_DATA", "OFF_TRACK", "ON_TRACK", "expected_value", "monitor"]

ON_TRACK = "on track"
OFF_TRACK = "off track"
NO_DATA = "no data"

MONITOR_COLUMNS = (
    "action",
    "indicator",
    "territory",
    "breakdowns",
    "baseline_period",
    "baseline_value",
    "target_year",
    "target_value",
    "latest_period",
    "latest_value",
    "expected_value",
    "direction",
    "status",
)

_BASE = (*BASE_COLUMNS, "domain")
"""Columns of a stored observation that are not breakdowns."""


def expected_value(baseline: float, target: float, t0: date, t1: date, t: date) -> float:
    """The value on the straight line from ``(t0, baseline)`` to ``(t1, target)`` at ``t``;
    ``target`` from ``t1`` on."""
    span = (t1 - t0).days
    if span <= 0:
        return target
    share = max(0.0, (t - t0).days / span)
    if share >= 1.0:
        return target
    return baseline + (target - baseline) * share


def monitor(
    actions: Sequence[Action],
    kb: Any,
    edition: str | None = None,
    *,
    catalog: Catalog | None = None,
) -> pd.DataFrame:
    """One row per (action, linked indicator): baseline, target, latest value, status.

    ``kb`` is a :class:`~welfare_observatory.store.KnowledgeBase` (read at ``edition``, the
    latest by default), or the observations themselves as a pyarrow Table or a DataFrame
    (for instance the publishable view the report reads).
    """
    if catalog is None:
        from welfare_observatory.catalog import catalog as shipped

        catalog = shipped()
    links = [(action, link) for action in actions for link in action.indicators]
    frame = _observations(kb, edition, sorted({link.indicator for _, link in links}))
    rows = [_row(action, link, frame, catalog) for action, link in links]
    return pd.DataFrame(rows, columns=list(MONITOR_COLUMNS))


def _observations(kb: Any, edition: str | None, indicators: list[str]) -> pd.DataFrame:
    import pyarrow as pa

    if not indicators:
        return pd.DataFrame(columns=list(_BASE))
    if isinstance(kb, pd.DataFrame):
        frame = kb
    elif isinstance(kb, pa.Table):
        frame = kb.to_pandas()
    else:
        frame = kb.observations(indicator=indicators, edition=edition, strict=False)
    frame = frame[frame["indicator"].astype(str).isin(indicators)]
    frame = frame.assign(
        indicator=frame["indicator"].astype(str),
        territory=frame["territory"].astype(str),
        period=frame["period"].astype(str),
        period_start=pd.to_datetime(frame["period_start"].astype("datetime64[ns]")).dt.date,
        value=frame["value"].astype("float64"),
    )
    return frame


def _select(frame: pd.DataFrame, link: ActionIndicator) -> pd.DataFrame:
    """The link's series: its territory, its breakdowns, every other breakdown at total."""
    mask = (frame["indicator"] == link.indicator) & (frame["territory"] == link.territory)
    for column in frame.columns:
        if column in _BASE:
            continue
        wanted = link.breakdowns.get(column, TOTAL)
        mask &= frame[column].astype(str) == wanted
    missing = set(link.breakdowns) - set(frame.columns)
    if missing:
        return frame.iloc[0:0]
    return frame[mask & frame["value"].notna()].sort_values("period_start")


def _row(
    action: Action, link: ActionIndicator, frame: pd.DataFrame, catalog: Any
) -> dict[str, Any]:
    series = _select(frame, link)
    baseline_value = link.baseline.value
    at_baseline = series[series["period"] == link.baseline.period]
    if baseline_value is None and not at_baseline.empty:
        baseline_value = float(at_baseline["value"].iloc[0])
    t0 = _period_start(link.baseline.period, at_baseline)
    later = series[series["period_start"] > t0] if t0 is not None else series.iloc[0:0]
    row: dict[str, Any] = {
        "action": action.id,
        "indicator": link.indicator,
        "territory": link.territory,
        "breakdowns": ",".join(f"{k}={v}" for k, v in sorted(link.breakdowns.items())),
        "baseline_period": link.baseline.period,
        "baseline_value": baseline_value,
        "target_year": link.target.year,
        "target_value": link.target.value,
        "latest_period": None,
        "latest_value": None,
        "expected_value": None,
        "direction": _direction(baseline_value, link.target.value, link.indicator, catalog),
        "status": NO_DATA,
    }
    if baseline_value is None or t0 is None or later.empty:
        return row
    latest = later.iloc[-1]
    t1 = date(link.target.year, 1, 1)
    expected = expected_value(baseline_value, link.target.value, t0, t1, latest["period_start"])
    value = float(latest["value"])
    direction = row["direction"]
    if direction == 0:
        on_track = math.isclose(value, link.target.value, rel_tol=1e-9, abs_tol=1e-9)
    else:
        on_track = direction * (value - expected) >= 0
    row.update(
        latest_period=str(latest["period"]),
        latest_value=value,
        expected_value=expected,
        status=ON_TRACK if on_track else OFF_TRACK,
    )
    return row


def _period_start(period: str, at_baseline: pd.DataFrame) -> date | None:
    if not at_baseline.empty:
        start = at_baseline["period_start"].iloc[0]
        return start if isinstance(start, date) else None
    from welfare_observatory.errors import WelfareObservatoryError
    from welfare_observatory.harmonize import parse_period

    try:
        _, start = parse_period(period)
    except (WelfareObservatoryError, ValueError):
        return None
    return start if isinstance(start, date) else None


def _direction(baseline: float | None, target: float, indicator: str, catalog: Any) -> int:
    """+1 when higher is wanted, -1 when lower is wanted, 0 when only the target will do."""
    if baseline is not None and target != baseline:
        return 1 if target > baseline else -1
    from welfare_observatory.errors import UnknownIdError

    try:
        polarity = str(catalog.get(indicator).polarity)
    except UnknownIdError:
        return 0
    return {"positive": 1, "negative": -1}.get(polarity.rsplit(".", 1)[-1].lower(), 0)
