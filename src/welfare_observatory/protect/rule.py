"""The disclosure rule: which counts are too small to publish, and where.

A rule is configuration (an observatory's ``publishing.disclosure`` section): a frozen
pydantic model, validated on load, never executed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Self

from pydantic import Field, model_validator

from welfare_observatory.model.common import Frozen
from welfare_observatory.model.territory import TerritoryLevel

__all__ = ["DEFAULT_COUNT_UNITS", "DisclosureRule"]

DEFAULT_COUNT_UNITS: tuple[str, ...] = ("person", "household", "event")
"""Units of the counts that describe people: the ones a small cell can disclose."""


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
    """

    enabled: bool = True
    threshold: float = Field(default=3, gt=0)
    """Counts strictly below this are confidential (persons, households, events)."""
    levels: tuple[TerritoryLevel, ...] = (TerritoryLevel.MUNICIPALITY,)
    """Territory levels whose small counts are suppressed."""
    max_population: int | None = Field(default=None, gt=0)
    """Also small: any territory with fewer inhabitants than this (baseline population)."""
    count_units: tuple[str, ...] = DEFAULT_COUNT_UNITS
    suppress_zeros: bool = True
    """A zero in a small territory discloses too ("nobody here receives ..."): suppress it."""
    code_groups: Mapping[str, Mapping[str, tuple[str, ...]]] = Field(default_factory=dict)

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
            "totals and rates are marked D"
        )
