"""The disclosure rule: which counts are too small to publish, and where.

A rule is configuration (an observatory's ``publishing.disclosure`` section): a frozen
pydantic model, validated on load, never executed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Self

from pydantic import Field, field_validator, model_validator

from welfare_observatory.model.common import Frozen
from welfare_observatory.model.territory import TerritoryLevel

__all__ = [
    "DEFAULT_COUNT_UNITS",
    "DisclosureRule",
    "IndicatorGroup",
    "Member",
    "load_rule",
    "parse_member",
]

DEFAULT_COUNT_UNITS: tuple[str, ...] = ("person", "household", "event")
"""Units of the counts that describe people: the ones a small cell can disclose."""


_MEMBER = re.compile(r"^([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*)(?:\[([^\]]*)\])?$")
_PIN = re.compile(r"^([a-z][a-z0-9_]*)=([^,=\s]+)$")


class Member(Frozen):
    """One cell of an indicator group: an indicator, with some breakdown codes pinned."""

    indicator: str
    pins: tuple[tuple[str, str], ...] = ()
    """``(dimension, code)`` pairs, sorted: ``POP_TOTAL[sex=F]`` pins ``sex`` to ``F``."""


def parse_member(text: str) -> Member:
    """``POP_0_14`` or ``POP_TOTAL[sex=F]`` (several pins: ``X[sex=F,age=Y_GE65]``)."""
    match = _MEMBER.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not an indicator id, optionally with [dimension=code]")
    pins: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in (match.group(2) or "").split(","))):
        pin = _PIN.fullmatch(part)
        if pin is None or pin.group(1) in pins:
            raise ValueError(f"{text!r}: {part!r} is not a single dimension=code")
        pins[pin.group(1)] = pin.group(2)
    return Member(indicator=match.group(1), pins=tuple(sorted(pins.items())))


class IndicatorGroup(Frozen):
    """An additive relation between indicators: ``total = sum(parts)`` for every territory,
    period and breakdown code the cells share.

    Members are indicator ids, optionally with pinned breakdown codes for relations across
    a breakdown: ``POP_FEMALE = POP_TOTAL[sex=F]``. A dimension pinned by one member is
    ``_T`` for the members that do not pin it, and is left out of the shared key. A part
    may be a difference's operand turned around: ``BIRTHS = NATURAL_BALANCE + DEATHS``.
    """

    total: str
    parts: tuple[str, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _members_are_distinct(self) -> Self:
        members = self.members
        if len(set(members)) != len(members):
            raise ValueError(f"indicator group {self.total} lists a member twice")
        return self

    @property
    def members(self) -> tuple[Member, ...]:
        """Total first, then the parts; every dimension pinned anywhere pinned everywhere."""
        from welfare_observatory.model.observation import TOTAL

        parsed = [parse_member(text) for text in (self.total, *self.parts)]
        pinned = sorted({dim for member in parsed for dim, _ in member.pins})
        return tuple(
            Member(
                indicator=m.indicator,
                pins=tuple((dim, dict(m.pins).get(dim, TOTAL)) for dim in pinned),
            )
            for m in parsed
        )

    @property
    def text(self) -> str:
        return f"{self.total} = {' + '.join(self.parts)}"


def _groups_from_yaml(value: Any) -> Any:
    """``{TOTAL: [A, B]}`` or ``{TOTAL: [[A, B], [C, D]]}`` as a list of groups."""
    if not isinstance(value, Mapping):
        return value
    groups: list[dict[str, Any]] = []
    for total, parts in value.items():
        if (
            isinstance(parts, list | tuple)
            and parts
            and all(isinstance(p, list | tuple) for p in parts)
        ):
            groups += [{"total": total, "parts": list(p)} for p in parts]
        else:
            groups.append({"total": total, "parts": parts})
    return groups


class DisclosureRule(Frozen):
    """Primary suppression of small counts in small territories, plus what it implies.

    A *count* is an indicator with ``aggregation: sum`` whose unit is one of
    ``count_units``. A territory is *small* when its level is in ``levels`` or, with
    ``max_population`` set, when fewer people than that live in it (population baseline).
    A count of a small territory below ``threshold`` (``0 <= value < threshold``; zeros
    only with ``suppress_zeros``) is confidential (``conf_status`` C).

    ``code_groups`` declares additive relations among breakdown codes that do not simply
    partition the total, e.g. ``{"age": {"_T": ("Y_LT65", "Y_GE65"),
    "Y_GE65": ("Y65T74", "Y_GE75")}}``; a dimension without declared groups uses
    ``_T = sum of every other code``.

    ``indicator_groups`` declares additive relations among indicators (a total and its
    parts), e.g. ``{"POP_TOTAL": ["POP_0_14", "POP_15_64", "POP_65_PLUS"]}``; with
    ``standard_groups`` (the default) the library adds the relations it knows among
    catalogue indicators (age classes that partition another, women and men, ...: see
    :func:`welfare_observatory.protect.groups.standard_groups`).
    """

    enabled: bool = True
    threshold: float = Field(default=3, gt=0, allow_inf_nan=False)
    """Counts strictly below this are confidential (persons, households, events)."""
    levels: tuple[TerritoryLevel, ...] = (TerritoryLevel.MUNICIPALITY,)
    """Territory levels whose small counts are suppressed."""
    max_population: int | None = Field(default=None, gt=0)
    """Also small: any territory with fewer inhabitants than this (baseline population)."""
    count_units: tuple[str, ...] = DEFAULT_COUNT_UNITS
    suppress_zeros: bool = True
    """A zero in a small territory discloses too ("nobody here receives ..."): suppress it."""
    code_groups: Mapping[str, Mapping[str, tuple[str, ...]]] = Field(default_factory=dict)
    indicator_groups: tuple[IndicatorGroup, ...] = ()
    """Declared relations between indicators; a total may have several (one per list)."""
    standard_groups: bool = True
    """Also protect through the relations the library derives from the catalogue."""

    @field_validator("indicator_groups", mode="before")
    @classmethod
    def _indicator_groups_shorthand(cls, value: Any) -> Any:
        return _groups_from_yaml(value)

    @model_validator(mode="after")
    def _groups_are_relations(self) -> Self:
        for dimension, groups in self.code_groups.items():
            for total, parts in groups.items():
                if not parts:
                    raise ValueError(f"code group {dimension}.{total} lists no parts")
                if total in parts:
                    raise ValueError(f"code group {dimension}.{total} contains its own total")
        return self

    @property
    def describes(self) -> str:
        """One line for READMEs and metadata: what was suppressed."""
        if not self.enabled:
            return "no disclosure control applied"
        where = ", ".join(level.value for level in self.levels) or "no level"
        if self.max_population is not None:
            where += f" and territories under {self.max_population} inhabitants"
        zero = "0 <= value" if self.suppress_zeros else "0 < value"
        return (
            f"counts ({', '.join(self.count_units)}) with {zero} < {self.threshold:g} in "
            f"{where} are confidential (C); cells suppressed to protect them in additive "
            "totals (territorial, breakdown and indicator relations) and rates are marked D"
        )


def load_rule(path: Path, **overrides: Any) -> DisclosureRule:
    """A rule from a YAML file (the mapping of :class:`DisclosureRule` fields), with
    ``overrides`` (e.g. ``threshold=5``) applied on top; errors name file, line and field."""
    from pydantic import ValidationError

    from welfare_observatory.errors import ConfigError, Location
    from welfare_observatory.yamlfile import load_yaml, validation_error

    document = load_yaml(path)
    data = document.data if document.data is not None else {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path.name} must be a mapping of disclosure settings",
            location=Location(file=str(path), line=1),
            hint="e.g. threshold: 5 and indicator_groups: {POP_TOTAL: [POP_0_14, ...]}",
        )
    try:
        return DisclosureRule.model_validate({**data, **overrides})
    except ValidationError as exc:
        raise validation_error(exc, document, model=DisclosureRule) from exc
