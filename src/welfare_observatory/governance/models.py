"""``governance.yaml``: who sits at the observatory's tables, what they agreed, what they do.

Typed, frozen models. Only organisations are named: a validator refuses anything that looks
like an e-mail address or a phone number in any text, because governance data is published
with the report and personal contacts must never be.
"""

from __future__ import annotations

import re
from collections import Counter
from enum import StrEnum
from pathlib import Path
from typing import Any, Self

from pydantic import Field, ValidationError, field_validator, model_validator

from welfare_observatory.errors import ConfigError, Location
from welfare_observatory.model.common import Frozen, Text
from welfare_observatory.yamlfile import load_yaml, validation_error

__all__ = [
    "Action",
    "ActionIndicator",
    "Baseline",
    "Governance",
    "Priority",
    "Stakeholder",
    "StakeholderType",
    "Target",
    "ThematicTable",
    "load_governance",
    "personal_contact",
]

_ID = r"^[a-z][a-z0-9_-]*$"
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
# Italian phone numbers: an optional +39/0039, then a landline (7 to 11 digits from a 0)
# or a mobile (3 and 8 or 9 more digits), digits optionally split by spaces, dots, dashes or
# slashes. Dates (2022-01-01), year ranges (2019-2023), Istat codes (096004) and amounts
# (35.000.000) do not match.
_PHONE = re.compile(
    r"(?<![\w.,/+-])"
    r"(?:(?:\+|00)39[\s./-]?)?"
    r"(?:0\d(?:[\s./-]?\d){5,9}|3\d(?:[\s./-]?\d){7,8})"
    r"(?![\w])"
)


class StakeholderType(StrEnum):
    PUBLIC_BODY = "public_body"
    HEALTH_AUTHORITY = "health_authority"
    FOUNDATION = "foundation"
    THIRD_SECTOR = "third_sector"
    UNION = "union"
    EMPLOYERS = "employers"
    UNIVERSITY = "university"
    RELIGIOUS_BODY = "religious_body"
    SCHOOL = "school"
    OTHER = "other"


def personal_contact(text: str) -> str | None:
    """The e-mail address or phone number found in ``text``, if any."""
    for pattern in (_EMAIL, _PHONE):
        found = pattern.search(text)
        if found:
            return found.group(0)
    return None


class _NoContacts(Frozen):
    """Refuses e-mail addresses and phone numbers in every text of the model."""

    @model_validator(mode="before")
    @classmethod
    def _no_personal_contacts(cls, data: Any) -> Any:
        for text in _texts(data):
            found = personal_contact(text)
            if found:
                raise ValueError(
                    f"personal contact data is not allowed ({found!r}): name organisations only"
                )
        return data


def _texts(data: Any) -> list[str]:
    if isinstance(data, str):
        return [data]
    if isinstance(data, dict):
        return [t for value in data.values() for t in _texts(value)]
    if isinstance(data, list | tuple):
        return [t for value in data for t in _texts(value)]
    return []


class Stakeholder(_NoContacts):
    """An organisation taking part: a name and a type, never a person's contact."""

    id: str = Field(pattern=_ID)
    name: str = Field(min_length=2)
    type: StakeholderType
    note: Text = Text()


class ThematicTable(_NoContacts):
    """A thematic table (tavolo): its member organisations and the indicators it follows."""

    id: str = Field(pattern=_ID)
    name: Text
    members: tuple[str, ...] = ()
    """Stakeholder ids."""
    indicators: tuple[str, ...] = ()
    """Catalogue ids the table reads in each edition."""


class Priority(_NoContacts):
    """A priority (a social risk) the tables agreed on reading an edition."""

    id: str = Field(pattern=_ID)
    edition: str
    rank: int = Field(ge=1)
    title: Text
    rationale: Text = Text()
    indicators: tuple[str, ...] = ()
    tables: tuple[str, ...] = ()


class Baseline(Frozen):
    """The value an action starts from: an observation of a named edition.

    ``value`` may be left out; monitoring then reads it from the knowledge base at
    ``period``. ``edition`` records which edition published it.
    """

    period: str
    edition: str
    value: float | None = None


class Target(Frozen):
    """The value the action aims at, by 1 January of ``year`` (or in ``year`` for flows)."""

    value: float
    year: int = Field(ge=2000, le=2100)


class ActionIndicator(Frozen):
    """One indicator an action is monitored on, for one territory and breakdown."""

    indicator: str
    territory: str
    breakdowns: dict[str, str] = Field(default_factory=dict)
    baseline: Baseline
    target: Target


class Action(_NoContacts):
    """A co-designed action with its target group and the indicators it should move."""

    id: str = Field(pattern=_ID)
    title: Text
    description: Text = Text()
    table: str | None = None
    """The thematic table that co-designs it."""
    promoters: tuple[str, ...] = ()
    """Stakeholder ids."""
    target_group: Text
    age_range: tuple[int, int] | None = None
    """Ages of the target group in completed years, both included (``[17, 25]``)."""
    started: str | None = None
    """The edition in which the tables started the action."""
    indicators: tuple[ActionIndicator, ...] = ()

    @field_validator("age_range")
    @classmethod
    def _ordered(cls, value: tuple[int, int] | None) -> tuple[int, int] | None:
        if value is not None and not 0 <= value[0] <= value[1] <= 120:
            raise ValueError("age_range is [youngest, oldest], with 0 <= youngest <= oldest")
        return value


class Governance(Frozen):
    """The whole ``governance.yaml``; ids refer to each other and are checked."""

    stakeholders: tuple[Stakeholder, ...] = ()
    tables: tuple[ThematicTable, ...] = ()
    priorities: tuple[Priority, ...] = ()
    actions: tuple[Action, ...] = ()

    @model_validator(mode="after")
    def _references(self) -> Self:
        for kind, items in (
            ("stakeholder", self.stakeholders),
            ("table", self.tables),
            ("priority", self.priorities),
            ("action", self.actions),
        ):
            duplicated = [key for key, n in Counter(i.id for i in items).items() if n > 1]
            if duplicated:
                raise ValueError(f"{kind} id {duplicated[0]!r} is used twice")
        members = {s.id for s in self.stakeholders}
        tables = {t.id for t in self.tables}
        for table in self.tables:
            _known(members, table.members, f"table {table.id!r} member")
        for priority in self.priorities:
            _known(tables, priority.tables, f"priority {priority.id!r} table")
        for action in self.actions:
            _known(members, action.promoters, f"action {action.id!r} promoter")
            if action.table is not None:
                _known(tables, (action.table,), f"action {action.id!r} table")
        return self

    def indicator_ids(self) -> set[str]:
        """Every catalogue id the file names (tables, priorities, actions)."""
        ids = {i for t in self.tables for i in t.indicators}
        ids |= {i for p in self.priorities for i in p.indicators}
        ids |= {link.indicator for a in self.actions for link in a.indicators}
        return ids

    def stakeholders_by_type(self) -> dict[str, int]:
        """Number of stakeholders of each type, in the order of :class:`StakeholderType`."""
        counts = Counter(s.type for s in self.stakeholders)
        return {t.value: counts[t] for t in StakeholderType if counts[t]}


def _known(known: set[str], used: tuple[str, ...], what: str) -> None:
    for key in used:
        if key not in known:
            from welfare_observatory.errors import closest

            near = closest(key, known)
            raise ValueError(
                f"{what} {key!r} is not declared"
                + (f" (did you mean {near[0]!r}?)" if near else "")
            )


def load_governance(path: Path, *, catalog: Any = None) -> Governance:
    """Read and validate ``governance.yaml``; errors name the file, the line and the field.

    With ``catalog`` (a :class:`~welfare_observatory.catalog.Catalog`), every indicator id
    must exist in it.
    """
    document = load_yaml(path)
    data = document.data if document.data is not None else {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path.name} must be a mapping (stakeholders, tables, priorities, actions)",
            location=Location(file=str(path), line=1),
        )
    try:
        governance = Governance.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, document, model=Governance) from exc
    if catalog is not None:
        _check_indicators(governance, catalog, document, path)
    return governance


def _check_indicators(governance: Governance, catalog: Any, document: Any, path: Path) -> None:
    from welfare_observatory.errors import UnknownIdError

    places: list[tuple[tuple[str | int, ...], str]] = []
    for i, table in enumerate(governance.tables):
        places += [(("tables", i, "indicators", j), x) for j, x in enumerate(table.indicators)]
    for i, priority in enumerate(governance.priorities):
        places += [
            (("priorities", i, "indicators", j), x) for j, x in enumerate(priority.indicators)
        ]
    for i, action in enumerate(governance.actions):
        places += [
            (("actions", i, "indicators", j, "indicator"), link.indicator)
            for j, link in enumerate(action.indicators)
        ]
    for loc, indicator in places:
        try:
            catalog.get(indicator)
        except UnknownIdError as exc:
            field = ".".join(str(p) for p in loc)
            raise ConfigError(
                f"{field}: {exc.message}",
                location=Location(file=str(path), line=document.line_of(loc), field=field),
                hint=exc.hint,
            ) from None
