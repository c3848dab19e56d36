"""Harmonization rules: frozen models read from the observatory's YAML, never executed.

One :class:`HarmonizeRule` turns one source table into canonical observations. It has one
section per concern (each optional except ``indicator``, ``territory``, ``period`` and the
value): filters, wide-to-long, indicator id, territory codes, period, breakdowns, units and
scale, statuses. Sections are applied in a fixed order (see ``docs/harmonization.md``):
filters on source columns, wide to long, remaining filters, then every column mapping.
"""

from __future__ import annotations

import re
from typing import Any, Literal, Self

from pydantic import Field, field_validator, model_validator

from welfare_observatory.model.common import Frozen
from welfare_observatory.model.observation import ConfStatus, ObsStatus
from welfare_observatory.model.territory import TerritoryLevel

__all__ = [
    "BreakdownRule",
    "Filter",
    "HarmonizeRule",
    "IndicatorRule",
    "MeltRule",
    "NameMapping",
    "PeriodRule",
    "StatusRule",
    "TerritoryRule",
    "UnitRule",
    "ValueRule",
]


class _ColumnOrConstant(Frozen):
    """Either a source ``column`` or a constant ``value``, never both."""

    column: str | None = None
    value: str | None = None

    @model_validator(mode="after")
    def _one_of(self) -> Self:
        if (self.column is None) == (self.value is None):
            raise ValueError("give either 'column' (a source column) or 'value' (a constant)")
        return self


class Filter(Frozen):
    """Keep rows whose ``column`` is in ``in`` and not in ``not_in`` (compared as text)."""

    column: str
    in_: tuple[str, ...] | None = Field(default=None, alias="in")
    not_in: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _something(self) -> Self:
        if self.in_ is None and not self.not_in:
            raise ValueError("a filter needs 'in' or 'not_in'")
        return self


class MeltRule(Frozen):
    """Wide to long: value columns listed in ``columns`` or matching ``pattern``.

    ``pattern`` is a regular expression matched against whole column names; its first
    group, if any, becomes the key (``"\\s*(\\d{4})\\s*"`` turns Eurostat's ``"2000 "``
    into ``2000``). The key goes to column ``names_to``, the cell to ``values_to``.
    """

    columns: tuple[str, ...] = ()
    pattern: str | None = None
    names_to: str = "period"
    values_to: str = "value"

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from exc
        return value

    @model_validator(mode="after")
    def _something(self) -> Self:
        if not self.columns and self.pattern is None:
            raise ValueError("wide to long needs 'columns' or 'pattern'")
        return self


class IndicatorRule(_ColumnOrConstant):
    """The catalogue id: a constant, or a source column mapped through ``map``.

    Source codes missing from ``map`` are errors unless ``drop_unmapped`` is true (then the
    rows are dropped and reported as information).
    """

    map: dict[str, str] = Field(default_factory=dict)
    drop_unmapped: bool = False


class NameMapping(Frozen):
    """An explicit territory mapping: source text -> canonical code, optionally per province."""

    source: str
    code: str
    province: str | None = None
    """Province code (``022``), NUTS 3 or abbreviation (``TN``) that scopes this entry."""


class TerritoryRule(_ColumnOrConstant):
    """How the source names territories.

    ``scheme``: ``istat`` (codes with or without leading zeros), ``belfiore``, ``nuts``
    (including Istat's legacy codes such as ``ITD20``), ``name`` (as the source writes it),
    or ``auto`` (each value tried as code, Belfiore, NUTS, then name). ``level`` pads
    digit-only codes unambiguously (``1`` is region ``01`` or province ``001``).
    """

    scheme: Literal["auto", "istat", "belfiore", "nuts", "name"] = "auto"
    level: TerritoryLevel | None = None
    province: str | None = None
    """A constant province scope for names (all rows are in this province)."""
    province_column: str | None = None
    """A source column with the province (code, NUTS 3, abbreviation or name) of each row."""
    mapping: tuple[NameMapping, ...] = ()

    @field_validator("mapping", mode="before")
    @classmethod
    def _dict_shorthand(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return tuple({"source": k, "code": v} for k, v in value.items())
        return value


class PeriodRule(_ColumnOrConstant):
    """How the source writes periods, and for stocks, the reference date.

    ``reference_date: jan_1`` turns a year ``2023`` into the date ``2023-01-01``;
    ``dec_31`` reads the year as "31 December" and moves it to the next 1 January
    (``2023`` -> ``2024-01-01``): canonical stocks are dated 1 January. Without it, a year
    stays a calendar year (flows).
    """

    format: Literal["auto", "year", "quarter", "month", "date", "school_year"] = "auto"
    reference_date: Literal["jan_1", "dec_31"] | None = None


class BreakdownRule(_ColumnOrConstant):
    """One breakdown dimension: a source column (or constant) mapped to SDMX-style codes.

    ``codes`` picks a built-in code list (``sex``, ``age``, ``citizenship``; by default the
    one named like the breakdown, if any) or a code list a plugin registered (by its name:
    its codes and labels are accepted); ``map`` adds or overrides source -> code pairs.
    """

    codes: str | None = Field(default=None, pattern=r"^[A-Za-z][A-Za-z0-9_.-]*$")
    map: dict[str, str] = Field(default_factory=dict)


class UnitRule(Frozen):
    """The unit of the source values and the scale to apply.

    ``unit`` is the source unit (pint text such as ``thousand_euro`` or ``percent``), or
    ``column`` names a column holding it, translated by ``map``. ``multiplier_column``
    holds SDMX UNIT_MULT exponents (value x 10**exponent). ``to`` is the canonical unit;
    by default the catalogue unit of each indicator.
    """

    unit: str | None = None
    column: str | None = None
    map: dict[str, str] = Field(default_factory=dict)
    multiplier_column: str | None = None
    to: str | None = None

    @model_validator(mode="after")
    def _one_of(self) -> Self:
        if (self.unit is None) == (self.column is None):
            raise ValueError("give either 'unit' (the source unit) or 'column'")
        return self


class Marker(Frozen):
    """What a marker cell means: no value, with this observation (and confidentiality)
    status."""

    obs_status: ObsStatus
    conf_status: ConfStatus | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        # ``"-": M`` is short for ``"-": {obs_status: M}``.
        return {"obs_status": data} if isinstance(data, str) else data

    @field_validator("obs_status")
    @classmethod
    def _no_value(cls, value: ObsStatus) -> ObsStatus:
        if value not in (ObsStatus.MISSING, ObsStatus.NOT_APPLICABLE, ObsStatus.NOT_COLLECTED):
            raise ValueError("a marker carries no value: its status is O, M or L")
        return value


class ValueRule(Frozen):
    """The value column; ``decimal: ","`` for text values written with a decimal comma.

    ``trailing_flags: true`` reads cells such as Eurostat's ``"175341 b"`` as a value and
    its flags (kept in ``flags``; set ``status.flags_scheme: eurostat`` to read them) and
    ``":"`` as not available. ``markers`` maps cells that stand for a missing value to its
    status: ``{"-": M, "....": O, "..": {obs_status: O, conf_status: C}}`` (cells compared
    after trimming spaces).
    """

    column: str = "value"
    decimal: Literal[".", ","] = "."
    trailing_flags: bool = False
    markers: dict[str, Marker] = Field(default_factory=dict)

    @field_validator("markers")
    @classmethod
    def _trimmed(cls, value: dict[str, Marker]) -> dict[str, Marker]:
        if any(not key.strip() for key in value):
            raise ValueError("a marker is a non-empty text such as '-' or '....'")
        return {key.strip(): marker for key, marker in value.items()}


class StatusRule(Frozen):
    """Map status and flag columns to ``obs_status``, ``conf_status`` and ``flags``.

    ``obs_status_column`` holds SDMX OBS_STATUS codes (any case); ``obs_status_map`` maps
    other codes. ``flags_column`` is kept verbatim in ``flags``; with
    ``flags_scheme: eurostat`` its letters also set the statuses (``p`` provisional, ``e``
    estimated, ``b`` break, ``u`` low reliability, ``c`` confidential...).
    """

    obs_status_column: str | None = None
    obs_status_map: dict[str, ObsStatus] = Field(default_factory=dict)
    conf_status_column: str | None = None
    conf_status_map: dict[str, ConfStatus] = Field(default_factory=dict)
    flags_column: str | None = None
    flags_scheme: Literal["eurostat", "verbatim"] = "verbatim"
    default_obs_status: ObsStatus = ObsStatus.NORMAL
    default_conf_status: ConfStatus = ConfStatus.FREE


class HarmonizeRule(Frozen):
    """All the rules that turn one source table into canonical observations."""

    name: str | None = None
    """A label for messages (``population by municipality``)."""
    filters: tuple[Filter, ...] = ()
    melt: MeltRule | None = None
    indicator: IndicatorRule
    territory: TerritoryRule
    period: PeriodRule
    value: ValueRule = ValueRule()
    breakdowns: dict[str, BreakdownRule] = Field(default_factory=dict)
    unit: UnitRule | None = None
    """Without it, values are taken to be in the catalogue unit of their indicator."""
    # A factory, not an instance: a default holding dicts is deep-copied for every rule
    # validated (0.1 ms each; a configuration of 160 sources validates 160 rules).
    status: StatusRule = Field(default_factory=StatusRule)

    @field_validator("breakdowns")
    @classmethod
    def _breakdown_names(cls, value: dict[str, BreakdownRule]) -> dict[str, BreakdownRule]:
        from welfare_observatory.model.observation import BASE_COLUMNS

        for name in value:
            if not re.fullmatch(r"[a-z][a-z0-9_]*", name) or name in BASE_COLUMNS:
                raise ValueError(
                    f"breakdown {name!r} must be lower_snake_case and not a canonical column"
                )
        return value

    def indicator_ids(self) -> list[str]:
        """Indicator ids the rule can produce: its constant, else its mapping targets."""
        if self.indicator.value is not None:
            return [self.indicator.value]
        return list(dict.fromkeys(self.indicator.map.values()))

    def source_columns(self) -> list[str]:
        """Source columns the rule reads after wide-to-long (for early, clear errors)."""
        names: list[str | None] = [
            self.indicator.column,
            self.territory.column,
            self.territory.province_column,
            self.period.column,
            self.value.column,
            self.status.obs_status_column,
            self.status.conf_status_column,
            self.status.flags_column,
            *(rule.column for rule in self.breakdowns.values()),
        ]
        if self.unit is not None:
            names += [self.unit.column, self.unit.multiplier_column]
        return list(dict.fromkeys(n for n in names if n is not None))
