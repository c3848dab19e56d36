"""When a rate is too small to read: thresholds on its counted events and its denominator."""

from __future__ import annotations

from pydantic import Field

from welfare_observatory.model.common import Frozen

__all__ = ["DEFAULT_MIN_DENOMINATOR", "DEFAULT_MIN_EVENTS", "Reliability", "ReliabilitySettings"]

DEFAULT_MIN_EVENTS = 20.0
"""A rate whose numerator counts fewer events is of low reliability. Read as a Poisson
count, n events have a relative standard error of 1/sqrt(n): 22 % at n = 20, 32 % at 10,
100 % at 1 (the convention of national vital statistics offices for rates over fewer than
20 events)."""

DEFAULT_MIN_DENOMINATOR = 100.0
"""A rate over fewer than 100 units (people, children aged 0-14, households) moves by at
least one percentage point, or 1 per 100, with each single unit: too coarse to compare."""


class Reliability(Frozen):
    """Thresholds for one indicator; a field left out keeps the broader setting, 0 turns the
    test off. Units are those of the operands (counts)."""

    min_events: float | None = Field(default=None, ge=0)
    """Numerator below this: low reliability."""
    min_denominator: float | None = Field(default=None, ge=0)
    """Denominator below this: low reliability."""


class ReliabilitySettings(Frozen):
    """An observatory's thresholds (``reliability:`` in observatory.yaml): defaults for every
    rate, and per indicator (which win over the catalogue's ``reliability``)."""

    min_events: float = Field(default=DEFAULT_MIN_EVENTS, ge=0)
    min_denominator: float = Field(default=DEFAULT_MIN_DENOMINATOR, ge=0)
    indicators: dict[str, Reliability] = Field(default_factory=dict)
