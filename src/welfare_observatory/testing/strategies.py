"""Hypothesis strategies: canonical observation tables, territory codes, indicators.

Every table :func:`observations` draws passes ``validate_observations`` (unique keys,
a value exactly when the status says there is one, known status codes, the Arrow schema
of ``observation_schema``), so a property test can start from valid data and break one
thing on purpose.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import pyarrow as pa
from hypothesis import strategies as st

from welfare_observatory.model import (
    Aggregation,
    DefinitionSource,
    Domain,
    Formula,
    Indicator,
    MeasureKind,
    ObsStatus,
    Polarity,
    Provenance,
    ReferencePoint,
    SdgLink,
    Text,
)
from welfare_observatory.model.observation import (
    MISSING_STATUSES,
    TOTAL,
    ConfStatus,
    observation_schema,
)

__all__ = ["indicator_ids", "indicators", "observations", "territory_codes"]

UNITS: tuple[str, ...] = ("person", "percent", "euro", "per_thousand", "household", "year")
"""Unit texts the library's pint registry parses."""

BREAKDOWN_CODES: dict[str, tuple[str, ...]] = {
    "sex": ("F", "M", TOTAL),
    "age": ("Y_LT15", "Y15T64", "Y_GE65", "Y_GE75", TOTAL),
    "citizenship": ("IT", "FRGN", TOTAL),
}
_OTHER_CODES = ("A", "B", "C", TOTAL)
_SDG_IDS = ("1", "3.4", "4.2.2", "8.5.2", "10.2.1", "11.1", "1.a.1", "17.18")
_NUTS1 = ("ITC", "ITF", "ITG", "ITH", "ITI")


def indicator_ids() -> st.SearchStrategy[str]:
    """UPPER_SNAKE catalogue ids such as ``OLD_AGE_INDEX``."""
    return st.from_regex(r"\A[A-Z][A-Z0-9]{1,7}(_[A-Z0-9]{1,6}){0,2}\Z")


def territory_codes(
    levels: Sequence[str] = ("country", "nuts1", "region", "province", "municipality"),
    *,
    codes: Sequence[str] | None = None,
) -> st.SearchStrategy[str]:
    """Territory ids shaped as the library writes them, or drawn from ``codes`` when given
    (e.g. ``[t.code for t in registry().municipalities()]``)."""
    if codes is not None:
        return st.sampled_from(sorted(codes))
    province = st.integers(1, 111).map(lambda n: f"{n:03d}")
    shapes: dict[str, st.SearchStrategy[str]] = {
        "country": st.just("IT"),
        "nuts1": st.sampled_from(_NUTS1),
        "region": st.integers(1, 20).map(lambda n: f"{n:02d}"),
        "province": province,
        "municipality": st.tuples(province, st.integers(1, 399)).map(lambda t: f"{t[0]}{t[1]:03d}"),
        "district": st.integers(1, 99999).map(lambda n: f"district:T{n:05d}"),
    }
    unknown = set(levels) - set(shapes)
    if unknown:
        raise ValueError(f"unknown levels {sorted(unknown)}; use {sorted(shapes)}")
    return st.one_of([shapes[level] for level in levels])


@st.composite
def observations(
    draw: st.DrawFn,
    breakdowns: Sequence[str] = (),
    *,
    min_rows: int = 0,
    max_rows: int = 30,
    indicators: Sequence[str] | None = None,
    territories: st.SearchStrategy[str] | None = None,
    years: tuple[int, int] = (2010, 2025),
) -> pa.Table:
    """A canonical observation table with these breakdown columns (annual periods)."""
    ids = st.sampled_from(list(indicators)) if indicators else indicator_ids()
    places = territories if territories is not None else territory_codes()
    key = st.tuples(
        ids,
        places,
        st.integers(*years),
        *(st.sampled_from(BREAKDOWN_CODES.get(b, _OTHER_CODES)) for b in breakdowns),
    )
    keys = draw(st.lists(key, min_size=min_rows, max_size=max_rows, unique=True))
    n = len(keys)
    statuses = draw(st.lists(st.sampled_from(list(ObsStatus)), min_size=n, max_size=n))
    values = [
        None
        if status in MISSING_STATUSES
        else draw(st.floats(-1e9, 1e9, allow_nan=False, allow_infinity=False))
        for status in statuses
    ]
    columns: dict[str, list[Any]] = {
        "indicator": [k[0] for k in keys],
        "territory": [k[1] for k in keys],
        "period": [str(k[2]) for k in keys],
        "period_start": [date(k[2], 1, 1) for k in keys],
    }
    for i, name in enumerate(breakdowns):
        columns[name] = [k[3 + i] for k in keys]
    columns["value"] = values
    columns["unit"] = draw(st.lists(st.sampled_from(UNITS), min_size=n, max_size=n))
    columns["obs_status"] = [s.value for s in statuses]
    confs = [ConfStatus.FREE.value, ConfStatus.CONFIDENTIAL.value, ConfStatus.SECONDARY.value]
    columns["conf_status"] = draw(st.lists(st.sampled_from(confs), min_size=n, max_size=n))
    flags = st.one_of(st.none(), st.sampled_from(["b", "e", "p", "bep", "u"]))
    columns["flags"] = draw(st.lists(flags, min_size=n, max_size=n))
    columns["source"] = ["test_source"] * n
    columns["lineage"] = ["step:" + "0" * 12] * n
    schema = observation_schema(tuple(breakdowns))
    return pa.table({f.name: pa.array(columns[f.name], type=f.type) for f in schema}, schema=schema)


_WORDS = (
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz àèéìòù", min_size=3, max_size=40)
    .map(str.strip)
    .filter(bool)
)


@st.composite
def indicators(draw: st.DrawFn, *, ids: st.SearchStrategy[str] | None = None) -> Indicator:
    """Valid :class:`Indicator` models (formula indicators have distinct operands)."""
    own = draw(ids if ids is not None else indicator_ids())
    aggregation = draw(st.sampled_from(list(Aggregation)))
    formula = None
    if aggregation is Aggregation.FORMULA:
        operands = indicator_ids().filter(lambda x: x != own)
        numerator = draw(operands)
        denominator = draw(operands.filter(lambda x: x != numerator))
        formula = Formula(
            numerator=numerator,
            denominator=denominator,
            multiplier=draw(st.sampled_from([1.0, 100.0, 1000.0])),
        )
    breakdowns = draw(st.lists(st.sampled_from(sorted(BREAKDOWN_CODES)), unique=True, max_size=2))
    sdg = draw(st.lists(st.sampled_from(_SDG_IDS), unique=True, max_size=3))
    return Indicator(
        id=own,
        label=Text(it=draw(_WORDS), en=draw(_WORDS)),
        unit=draw(st.sampled_from(UNITS)),
        polarity=draw(st.sampled_from(list(Polarity))),
        domain=draw(st.sampled_from(list(Domain))),
        measure=draw(st.sampled_from(list(MeasureKind))),
        reference_point=draw(st.sampled_from(list(ReferencePoint))),
        breakdowns=tuple(breakdowns),
        aggregation=aggregation,
        formula=formula,
        source=Provenance(
            publisher="Istat",
            definition=DefinitionSource(url="https://esploradati.istat.it/databrowser/"),
        ),
        sdg=tuple(SdgLink(id=s) for s in sdg),
    )
