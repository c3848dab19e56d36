"""The indicator: what is measured, how it reads, where it comes from, which SDGs it serves.

Cross-checks that need other registries (the unit parses in pint, the SDG ids exist in the
framework, formula operands exist in the catalogue) are done by the catalogue loader.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Self

from pydantic import Field, StringConstraints, field_validator, model_validator

from welfare_observatory.model.common import Frozen, Text
from welfare_observatory.model.reliability import Reliability
from welfare_observatory.model.territory import TerritoryLevel

IndicatorId = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$")]
"""UPPER_SNAKE, e.g. ``OLD_AGE_INDEX``."""

_SDG_ID = re.compile(r"^(1[0-7]|[1-9])(\.([0-9]{1,2}|[a-z])(\.[0-9]{1,2})?)?$")


class Polarity(StrEnum):
    """Whether a higher value is better (positive), worse (negative) or neither (neutral)."""

    POSITIVE = "positive"
    NEGATIVE = "negative"
    NEUTRAL = "neutral"

    @property
    def sign(self) -> int:
        """+1, -1 or 0: multiply a growth rate by it to read it as improvement."""
        return {"positive": 1, "negative": -1, "neutral": 0}[self.value]


class Domain(StrEnum):
    DEMOGRAPHY = "demography"
    HEALTH = "health"
    ENVIRONMENT = "environment"
    EDUCATION = "education"
    LABOUR = "labour"
    INCOME_POVERTY = "income_poverty"
    HOUSING = "housing"
    SOCIAL_SERVICES = "social_services"
    SAFETY = "safety"
    PARTICIPATION = "participation"
    THIRD_SECTOR = "third_sector"
    ECONOMY = "economy"


class MeasureKind(StrEnum):
    """A stock is measured at a point in time; a flow over a period; a ratio relates two."""

    STOCK = "stock"
    FLOW = "flow"
    RATIO = "ratio"


class ReferencePoint(StrEnum):
    JAN_1 = "jan_1"
    DEC_31 = "dec_31"
    YEAR_AVERAGE = "year_average"
    CALENDAR_YEAR = "calendar_year"
    SCHOOL_YEAR = "school_year"
    CENSUS_DATE = "census_date"
    OTHER = "other"


class Periodicity(StrEnum):
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    ANNUAL = "annual"
    BIENNIAL = "biennial"
    TRIENNIAL = "triennial"
    CENSUS = "census"
    IRREGULAR = "irregular"


class Aggregation(StrEnum):
    """How a value for a larger territory is obtained from its parts."""

    SUM = "sum"
    """Counts: add the parts."""
    FORMULA = "formula"
    """Rates: add numerator and denominator, then re-derive; never average rates."""
    NONE = "none"
    """Not aggregable (medians, indices): only published values are used."""


class Relation(StrEnum):
    """How a measure relates to a UN SDG indicator, in the terms of Istat's SDG report."""

    IDENTICAL = "identical"
    SIMILAR = "similar"
    PARTIAL = "partial"
    CONTEXT = "context"


class SdgLink(Frozen):
    """A link to a goal (``"8"``), target (``"8.5"``) or indicator (``"8.5.2"``)."""

    id: str
    relation: Relation = Relation.CONTEXT
    framework: str = "2023"
    """Version of the UN global indicator framework the id refers to."""

    @field_validator("id")
    @classmethod
    def _sdg_id_shape(cls, value: str) -> str:
        value = value.strip().replace("-", ".")
        if not _SDG_ID.match(value):
            raise ValueError(f"{value!r} is not an SDG goal, target or indicator id like 8.5.2")
        return value

    @property
    def goal(self) -> int:
        return int(self.id.split(".")[0])


class Formula(Frozen):
    """value = numerator / denominator * multiplier; operands are indicator ids."""

    numerator: IndicatorId
    denominator: IndicatorId
    multiplier: float = Field(default=1.0, gt=0)


class Provenance(Frozen):
    """Who publishes the figures and where the definition was read."""

    publisher: str = Field(min_length=1)
    dataset: str | None = None
    """The publisher's own dataset id (an Istat dataflow such as ``22_289``); never invented."""
    agency: str | None = Field(default=None, pattern=r"^[A-Z][A-Z0-9_]*$")
    """SDMX agency that owns ``dataset`` (``IT1`` Istat, ``ESTAT`` Eurostat), which may differ
    from ``publisher`` (a ministry page read for a definition of an Istat dataflow)."""
    url: str | None = None
    document: str | None = None
    page: str | None = None
    verified: bool = False
    """True only when the definition and the source were checked on the publisher's material."""
    note: str | None = None

    @model_validator(mode="after")
    def _has_a_reference(self) -> Self:
        if not (self.url or self.document):
            raise ValueError("provenance needs a url or a document")
        return self


class Indicator(Frozen):
    """One entry of the catalogue."""

    id: IndicatorId
    aliases: tuple[IndicatorId, ...] = ()
    label: Text
    definition: Text = Text()
    how_to_read: Text = Text()
    unit: str = Field(min_length=1)
    """Unit text that the library's pint registry parses, multiplier applied (``percent``)."""
    polarity: Polarity
    domain: Domain
    measure: MeasureKind
    reference_point: ReferencePoint
    periodicity: Periodicity = Periodicity.ANNUAL
    release_lag_months: int | None = Field(default=None, ge=0, le=120)
    breakdowns: tuple[str, ...] = ()
    """Breakdown dimensions the indicator is published with (``sex``, ``age``, ...)."""
    finest_level: TerritoryLevel = TerritoryLevel.MUNICIPALITY
    aggregation: Aggregation
    formula: Formula | None = None
    source: Provenance
    sdg: tuple[SdgLink, ...] = ()
    tags: tuple[str, ...] = ()
    reliability: Reliability | None = None
    """Low-reliability thresholds of a rate, where the library default does not fit."""

    @field_validator("breakdowns")
    @classmethod
    def _breakdowns_unique(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError("breakdown dimensions must be unique")
        for name in value:
            if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
                raise ValueError(f"breakdown {name!r} must be lower_snake_case")
        return value

    @model_validator(mode="after")
    def _formula_fits_aggregation(self) -> Self:
        if self.aggregation is Aggregation.FORMULA and self.formula is None:
            raise ValueError("aggregation 'formula' needs a formula (numerator, denominator)")
        if self.formula is not None and self.id in (
            self.formula.numerator,
            self.formula.denominator,
        ):
            raise ValueError("a formula cannot refer to its own indicator")
        if self.id in self.aliases:
            raise ValueError("an indicator cannot be its own alias")
        return self

    @property
    def sdg_goals(self) -> frozenset[int]:
        return frozenset(link.goal for link in self.sdg)
