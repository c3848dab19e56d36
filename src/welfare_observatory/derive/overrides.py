"""Hand corrections (the observatory's overrides file) as canonical rows.

Each correction keeps its reason in ``flags`` and points at one ``override`` lineage step.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
from pydantic import ValidationError

from welfare_observatory.errors import ConfigError, Location
from welfare_observatory.lineage import StepRecord
from welfare_observatory.model.indicator import Indicator
from welfare_observatory.model.observation import TOTAL
from welfare_observatory.model.override import Override

__all__ = ["Override", "corrections"]


def corrections(
    path: Path, indicators: Mapping[str, Indicator], breakdowns: Sequence[str]
) -> tuple[pa.Table, StepRecord, int]:
    """The overrides file at ``path`` as rows (absent breakdowns are totals), its step and
    the number of corrections. Errors name the file, the line and the field."""
    from welfare_observatory.harmonize import parse_period
    from welfare_observatory.yamlfile import load_yaml, validation_error

    document = load_yaml(path)
    items = document.data or []
    if not isinstance(items, list):
        raise ConfigError(
            "the overrides file must be a list of corrections",
            location=Location(file=str(path), line=1),
        )
    overrides = []
    for index, item in enumerate(items):
        try:
            overrides.append(Override.model_validate(item))
        except ValidationError as exc:
            raise validation_error(exc, document, model=Override, prefix=(index,)) from exc
    step = StepRecord.create(
        "override", [], {"overrides": [o.model_dump(mode="json") for o in overrides]}
    )
    rows = []
    for index, override in enumerate(overrides):  # a handful of corrections, not data rows
        if override.indicator not in indicators:
            raise ConfigError(
                f"override of unknown indicator {override.indicator!r}",
                location=Location(file=str(path), line=document.line_of((index, "indicator"))),
            )
        label, start = parse_period(override.period)
        row: dict[str, Any] = {
            "indicator": override.indicator,
            "territory": override.territory,
            "period": label,
            "period_start": start,
            "value": override.value,
            "unit": indicators[override.indicator].unit,
            "obs_status": override.obs_status if override.value is not None else "O",
            "conf_status": "F",
            "flags": f"override: {override.reason}",
            "source": "override",
            "lineage": step.id,
        }
        for name in breakdowns:
            row[name] = override.breakdowns.get(name, TOTAL)
        rows.append(row)
    return pa.Table.from_pylist(rows), step, len(overrides)
