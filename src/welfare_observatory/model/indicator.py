"""The indicator: what is measured, how it reads, where it comes from, which SDGs it serves.

Cross-checks that need other registries (the unit parses in pint, the SDG ids exist in the
framework, formula operands exist in the catalogue) are done by the catalogue loader.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, Self

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


class Coverage(StrEnum):
    """Which territories the cited dataset has values for.

    Anything but ``all`` means the values exist only for some units of ``finest_level``: they
    are never offered as a value for every province, and report cards say which units have one.
    """

    ALL = "all"
    """Every territory of ``finest_level`` and above has a value."""
    PROVINCIAL_CAPITALS = "provincial_capitals"
    """Only the provincial capitals (Istat, "Dati ambientali nelle città")."""
    MONITORING_STATIONS = "monitoring_stations"
    """Only where a monitoring station measures (air quality)."""
    SURVEY_DOMAINS = "survey_domains"
    """Only the domains a sample survey is designed to estimate (regions, some provinces)."""

    @property
    def complete(self) -> bool:
        """True when every territory of the level has a value."""
        return self is Coverage.ALL


class DefinitionSource(Frozen):
    """Where the definition was read: a document (and page), on the web or in print.

    ``publisher`` is the author of that document when it is not the publisher of the data
    (a Eurostat glossary page read for an Istat dataflow).
    """

    publisher: str | None = None
    document: str | None = None
    url: str | None = None
    page: str | None = None

    @model_validator(mode="after")
    def _has_a_reference(self) -> Self:
        if not (self.url or self.document):
            raise ValueError("the definition's source needs a url or a document")
        return self


_DEFINITION_KEYS = ("url", "document", "page")
"""Keys of the flat provenance of catalogue files written before the split (migrated)."""


class Provenance(Frozen):
    """Where the figures come from, and (``definition``) where their definition was read.

    ``publisher``, ``dataset``, ``agency`` and ``release`` name the data; ``finest_level`` of
    the entry is the level of that dataset. Files written before the split put ``url``,
    ``document`` and ``page`` directly here: they are still read, into ``definition``.
    """

    publisher: str = Field(min_length=1)
    """Who publishes the figures (``Istat``, ``Eurostat``, ``ISPRA``)."""
    dataset: str | None = None
    """The publisher's own dataset id (an Istat dataflow such as ``22_289``); never invented."""
    agency: str | None = Field(default=None, pattern=r"^[A-Z][A-Z0-9_]*$")
    """SDMX agency that owns ``dataset`` (``IT1`` Istat, ``ESTAT`` Eurostat)."""
    release: str | None = None
    """The publisher's release the figures are taken from, by title (``BES dei territori``),
    when it is not (only) ``dataset``."""
    definition: DefinitionSource | None = None
    """Where the definition was read; required (None only until validated, see below)."""
    verified: bool = False
    """True only when the definition and the source were checked on the publisher's material."""
    note: str | None = None
    """What was checked, or, for an unverified entry, what was not confirmed."""

    @model_validator(mode="before")
    @classmethod
    def _migrate_flat_reference(cls, data: Any) -> Any:
        """Old files: ``url``/``document``/``page`` beside ``publisher`` -> ``definition``."""
        if not isinstance(data, dict) or not any(k in data for k in _DEFINITION_KEYS):
            return data
        if "definition" in data:
            raise ValueError(
                "give url, document and page inside 'definition', not beside it as well"
            )
        data = dict(data)
        data["definition"] = {k: data.pop(k) for k in _DEFINITION_KEYS if k in data}
        return data

    @model_validator(mode="after")
    def _has_a_reference(self) -> Self:
        if self.definition is None:
            raise ValueError("provenance needs a url or a document (where the definition was read)")
        return self

    @property
    def read_at(self) -> DefinitionSource:
        """``definition``, never None once validated."""
        assert self.definition is not None  # the validator requires it
        return self.definition

    @property
    def url(self) -> str | None:
        """The page the definition was read on (``definition.url``)."""
        return self.read_at.url

    @property
    def document(self) -> str | None:
        """The document the definition was read in (``definition.document``)."""
        return self.read_at.document

    @property
    def page(self) -> str | None:
        return self.read_at.page

    @property
    def definition_publisher(self) -> str:
        """Who wrote the definition that was read: ``definition.publisher`` or ``publisher``."""
        return self.read_at.publisher or self.publisher


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
    """The finest level of the cited dataset (``source``), not of some other release."""
    coverage: Coverage = Coverage.ALL
    """Which territories of that level have values (provincial capitals, stations, ...)."""
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
    def province_values(self) -> bool:
        """True when the data give a value for every province (finest level and coverage)."""
        return self.coverage.complete and self.finest_level.rank >= TerritoryLevel.PROVINCE.rank

    @property
    def sdg_goals(self) -> frozenset[int]:
        return frozenset(link.goal for link in self.sdg)
