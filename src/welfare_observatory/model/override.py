"""A value the analyst corrects by hand (the observatory's overrides file)."""

from __future__ import annotations

from pydantic import Field

from welfare_observatory.model.common import Frozen

__all__ = ["Override"]


class Override(Frozen):
    """A value the analyst corrects by hand, with the reason (kept in lineage and the report)."""

    indicator: str
    territory: str
    period: str
    value: float | None
    reason: str = Field(min_length=5)
    breakdowns: dict[str, str] = Field(default_factory=dict)
    obs_status: str = "A"
