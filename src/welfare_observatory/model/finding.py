"""Validation findings: what is wrong with the data, where, and what to do about it."""

from __future__ import annotations

from enum import StrEnum

from welfare_observatory.model.common import Frozen


class Severity(StrEnum):
    """``error`` stops the source it concerns; ``warning`` and ``info`` are reported."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class Finding(Frozen):
    """One problem found in a table. ``code`` is a stable kebab-case id (``duplicate-key``)."""

    code: str
    severity: Severity
    message: str
    hint: str | None = None
    source: str | None = None
    indicator: str | None = None
    territory: str | None = None
    period: str | None = None
    column: str | None = None
    row: int | None = None
    count: int = 1
    """How many rows share this finding (findings are grouped, never one per row)."""

    def __str__(self) -> str:
        where = ", ".join(
            f"{name} {value}"
            for name in ("source", "indicator", "territory", "period", "column", "row")
            if (value := getattr(self, name)) is not None
        )
        text = f"{self.severity.value}: {self.message}"
        if where:
            text += f" ({where})"
        if self.hint:
            text += f"; hint: {self.hint}"
        return text
