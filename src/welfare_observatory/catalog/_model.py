"""The selection profile and the aggregated validation error of the catalogue."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field

from welfare_observatory.errors import CatalogError
from welfare_observatory.model.common import Frozen, Text
from welfare_observatory.model.indicator import IndicatorId


class DeprecatedIndicatorWarning(UserWarning):
    """An observatory names an indicator by a former id (merged or renamed): use the new one."""


MAX_LISTED = 20
"""How many problems an aggregated error spells out in its message."""


class Profile(Frozen):
    """A named selection of catalogue indicators (``mature``, ``ageing``, ...).

    Profiles list only entries whose provenance is verified, in reading order.
    """

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: Text
    description: Text = Text()
    indicators: tuple[IndicatorId, ...] = Field(min_length=1)


class CatalogValidationError(CatalogError):
    """Several problems found while loading catalogue files, each with its own location.

    ``errors`` holds every problem as a :class:`CatalogError` (file, line, field); the
    message lists the first :data:`MAX_LISTED`. With a single problem, the error reads and
    locates exactly like that problem.
    """

    def __init__(self, errors: Sequence[CatalogError]) -> None:
        self.errors = tuple(errors)
        if len(self.errors) == 1:
            only = self.errors[0]
            super().__init__(only.message, location=only.location, hint=only.hint)
            return
        lines = [f"{len(self.errors)} problems in the indicator catalogue:"]
        lines += [f"  - {error}" for error in self.errors[:MAX_LISTED]]
        if len(self.errors) > MAX_LISTED:
            lines.append(f"  ... and {len(self.errors) - MAX_LISTED} more")
        super().__init__(
            "\n".join(lines),
            location=self.errors[0].location,
            hint="fix them from the top: later problems may follow from earlier ones",
        )

    def __str__(self) -> str:
        if len(self.errors) == 1:
            return str(self.errors[0])
        return self.message

    def as_dict(self) -> dict[str, object]:
        out = super().as_dict()
        out["problems"] = [error.as_dict() for error in self.errors]
        return out
