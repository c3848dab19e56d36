"""One exception hierarchy for the whole library.

Every error carries an optional :class:`Location` (file, line, column, field, source id,
row, key) and a hint. The classes also subclass the built-in exception that fits, so
``except KeyError`` or ``except ValueError`` in a caller's code keeps working.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "AnalysisError",
    "CatalogError",
    "ConfigError",
    "DataError",
    "EditionError",
    "FetchError",
    "HarmonizeError",
    "IncompatibleUnitsError",
    "KnowledgeBaseBusyError",
    "Location",
    "NewerFormatError",
    "OfflineError",
    "ParseError",
    "PluginError",
    "PublishError",
    "SourceError",
    "StoreError",
    "UndefinedUnitError",
    "UnitError",
    "UnknownIdError",
    "UnknownIndicatorError",
    "UnknownSdgError",
    "UnknownTerritoryError",
    "WelfareObservatoryError",
    "closest",
]


@dataclass(frozen=True, slots=True)
class Location:
    """Where a problem is: any subset of file, line, column, field, source, row, key."""

    file: str | None = None
    line: int | None = None
    column: str | int | None = None
    field: str | None = None
    source: str | None = None
    row: int | None = None
    key: str | None = None
    sheet: str | None = None

    def __str__(self) -> str:
        parts: list[str] = []
        if self.source:
            parts.append(f"source {self.source!r}")
        if self.file:
            where = self.file
            if self.line is not None:
                where += f":{self.line}"
            parts.append(where)
        elif self.line is not None:
            parts.append(f"line {self.line}")
        if self.sheet:
            parts.append(f"sheet {self.sheet!r}")
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column is not None:
            parts.append(f"column {self.column!r}")
        if self.field:
            parts.append(f"field {self.field!r}")
        if self.key:
            parts.append(f"key {self.key!r}")
        return ", ".join(parts)

    def as_dict(self) -> dict[str, str | int]:
        return {
            name: value
            for name in ("file", "line", "column", "field", "source", "row", "key", "sheet")
            if (value := getattr(self, name)) is not None
        }


class WelfareObservatoryError(Exception):
    """Root of every error the library raises on purpose."""

    def __init__(
        self, message: str, *, location: Location | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.location = location
        self.hint = hint

    def __str__(self) -> str:
        text = self.message
        if self.location is not None and str(self.location):
            text = f"{text} ({self.location})"
        return text

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready description, as the CLI prints it with ``--json``."""
        out: dict[str, object] = {"error": type(self).__name__, "message": self.message}
        if self.location is not None:
            out["location"] = self.location.as_dict()
        if self.hint:
            out["hint"] = self.hint
        return out


class ConfigError(WelfareObservatoryError, ValueError):
    """An observatory file, a rule file or options are invalid."""


class CatalogError(WelfareObservatoryError, ValueError):
    """An indicator catalogue file is invalid."""


class DataError(WelfareObservatoryError, ValueError):
    """Data does not fit the schema or the rules (and cannot be used as it is)."""


class HarmonizeError(DataError):
    """A harmonization rule cannot be applied to a source table."""


class AnalysisError(WelfareObservatoryError, ValueError):
    """An analysis was asked something its method does not allow."""


class UnknownIdError(WelfareObservatoryError, LookupError):
    """An id (indicator, SDG, territory, source, ...) that does not exist."""

    kind = "id"

    def __init__(
        self,
        value: str,
        *,
        candidates: Iterable[str] = (),
        location: Location | None = None,
        hint: str | None = None,
        message: str | None = None,
    ) -> None:
        self.value = value
        self.suggestions = closest(value, candidates)
        if hint is None and self.suggestions:
            hint = "did you mean " + ", ".join(repr(s) for s in self.suggestions) + "?"
        super().__init__(message or f"unknown {self.kind} {value!r}", location=location, hint=hint)


class UnknownIndicatorError(UnknownIdError):
    kind = "indicator"


class UnknownSdgError(UnknownIdError):
    kind = "SDG goal, target or indicator"


class UnknownTerritoryError(UnknownIdError):
    kind = "territory"


class UnitError(WelfareObservatoryError, ValueError):
    """A unit problem."""


class UndefinedUnitError(UnitError):
    """A unit text that the registry cannot parse."""


class IncompatibleUnitsError(UnitError):
    """A conversion between units of different dimensions (persons to euro)."""


class PluginError(WelfareObservatoryError, RuntimeError):
    """A plugin failed to load or registered something invalid."""


class SourceError(WelfareObservatoryError, RuntimeError):
    """A source could not deliver its table."""


class FetchError(SourceError, OSError):
    """A network or file fetch failed (names the URL or path and the status)."""


class OfflineError(SourceError):
    """Offline mode needs a payload that is not in the cache."""


class ParseError(SourceError, ValueError):
    """A raw payload is malformed."""


class StoreError(WelfareObservatoryError, OSError):
    """The knowledge base cannot be read or written."""


class KnowledgeBaseBusyError(StoreError):
    """Another process is writing to the knowledge base (only one writer at a time)."""


class EditionError(StoreError):
    """An edition is missing, frozen or of an unsupported format."""


class NewerFormatError(EditionError):
    """The knowledge base was written by a newer library (upgrade to read it)."""


class PublishError(WelfareObservatoryError, RuntimeError):
    """An export or the report could not be produced."""


def closest(value: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """The candidates closest to ``value`` (case-insensitive), best first; the same for the
    same candidates in any order (a hint must not change with a set's iteration order)."""
    pool = list(dict.fromkeys(candidates))
    if not pool:
        return []
    by_folded: dict[str, str] = {}
    for candidate in sorted(pool):  # of candidates equal but for case, the same one each time
        by_folded.setdefault(candidate.casefold(), candidate)
    matches = difflib.get_close_matches(value.casefold(), list(by_folded), n=n, cutoff=0.6)
    if not matches:
        # Shortest first (the least added to what was typed), then alphabetical.
        prefixed = sorted(
            (c for c in pool if c.casefold().startswith(value.casefold())),
            key=lambda c: (len(c), c),
        )
        return prefixed[:n]
    return [by_folded[m] for m in matches]
