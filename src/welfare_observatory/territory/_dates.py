"""Reference dates as callers write them: ``date``, ``datetime`` or an ISO string."""

from __future__ import annotations

from datetime import date, datetime

from welfare_observatory.errors import Location, WelfareObservatoryError

__all__ = ["DateLike", "InvalidDateError", "as_date", "as_optional_date"]

DateLike = date | datetime | str
"""What every ``at=`` parameter of the territory API accepts."""


class InvalidDateError(WelfareObservatoryError, ValueError, TypeError):
    """A reference date that is neither a ``date`` nor an ISO string (``"2020-01-01"``).

    Also a ``TypeError``, so callers that caught the old raw error keep working.
    """


def as_date(value: object, *, field: str = "at") -> date:
    """``value`` as a ``date``: a ``datetime`` gives its day; ``"2020-01-01"`` is parsed.

    Raises :class:`InvalidDateError` (with the field name and an example) for anything else.
    """
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            # date.fromisoformat also takes "20200101"; a full timestamp gives its day
            return datetime.fromisoformat(text).date() if "T" in text else date.fromisoformat(text)
        except ValueError:
            pass
    raise InvalidDateError(
        f"invalid date {value!r} for {field!r}",
        location=Location(field=field),
        hint="give a datetime.date or an ISO date string such as '2020-01-01'",
    )


def as_optional_date(value: object, *, field: str = "at") -> date | None:
    """:func:`as_date`, with ``None`` passed through (meaning: the current list)."""
    return None if value is None else as_date(value, field=field)
