"""Fixtures of the derive tests: a few catalogue indicators, a hierarchy, an observation maker."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

import pyarrow as pa
import pytest

from welfare_observatory.model import Indicator
from welfare_observatory.model.observation import observation_schema


def make_indicator(id_: str, aggregation: str, unit: str = "person", **extra: Any) -> Indicator:
    return Indicator.model_validate(
        {
            "id": id_,
            "label": {"en": id_},
            "unit": unit,
            "polarity": "neutral",
            "domain": "demography",
            "measure": "ratio" if aggregation == "formula" else "stock",
            "reference_point": "jan_1",
            "aggregation": aggregation,
            "source": {"publisher": "Istat", "url": "https://demo.istat.it"},
            **extra,
        }
    )


@pytest.fixture(scope="session")
def catalog() -> dict[str, Indicator]:
    items = [
        make_indicator("POP_TOTAL", "sum"),
        make_indicator("POP_65_PLUS", "sum"),
        make_indicator("BIRTHS", "sum", "birth"),
        make_indicator(
            "OLD_AGE_SHARE",
            "formula",
            "percent",
            formula={"numerator": "POP_65_PLUS", "denominator": "POP_TOTAL", "multiplier": 100},
        ),
        make_indicator(
            "BIRTH_RATE",
            "formula",
            "per_thousand",
            formula={"numerator": "BIRTHS", "denominator": "POP_TOTAL", "multiplier": 1000},
        ),
        make_indicator("MEDIAN_AGE", "none", "year"),
    ]
    return {i.id: i for i in items}


@pytest.fixture(scope="session")
def hierarchy() -> pa.Table:
    """Two provinces of Piemonte, one of Lombardia; a district inside Biella."""
    rows = [
        ("096004", "district:T01024", "096", "01"),
        ("096021", "district:T01024", "096", "01"),
        ("096025", None, "096", "01"),
        ("001272", None, "001", "01"),
        ("017029", None, "017", "03"),
        ("017001", None, "017", "03"),
    ]
    return pa.table(
        {
            "municipality": [r[0] for r in rows],
            "district": [r[1] for r in rows],
            "province": [r[2] for r in rows],
            "region": [r[3] for r in rows],
            "nuts1": ["ITC"] * len(rows),
            "country": ["IT"] * len(rows),
        }
    )


Row = tuple[str, str, str, float | None]


def observations(
    rows: Sequence[Row],
    breakdowns: dict[str, Sequence[str]] | None = None,
    status: Sequence[str] | None = None,
) -> pa.Table:
    """A canonical table from (indicator, territory, period, value) tuples."""
    n = len(rows)
    periods = [r[2] for r in rows]
    data: dict[str, Any] = {
        "indicator": [r[0] for r in rows],
        "territory": [r[1] for r in rows],
        "period": periods,
        "period_start": [date(int(p[:4]), 1, 1) for p in periods],
        **{name: list(values) for name, values in (breakdowns or {}).items()},
        "value": [r[3] for r in rows],
        "unit": ["person"] * n,
        "obs_status": list(status) if status else ["A" if r[3] is not None else "O" for r in rows],
        "conf_status": ["F"] * n,
        "flags": pa.nulls(n, pa.string()),
        "source": ["test"] * n,
        "lineage": ["harmonize-0000000000000000"] * n,
    }
    schema = observation_schema(tuple(breakdowns or ()))
    return pa.table(data).select(schema.names).cast(schema)


@pytest.fixture(scope="session")
def obs() -> Callable[..., pa.Table]:
    return observations


def values_by_key(table: pa.Table) -> dict[tuple[str, str, str], float | None]:
    return {(r["indicator"], r["territory"], r["period"]): r["value"] for r in table.to_pylist()}


@pytest.fixture(scope="session")
def by_key() -> Callable[[pa.Table], dict[tuple[str, str, str], float | None]]:
    return values_by_key
