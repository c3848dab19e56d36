"""Period texts as sources write them -> SDMX time periods and their first day.

Applied to distinct values only (a table has a few dozen periods), so plain Python is fine.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

__all__ = ["PeriodError", "parse_period"]


class PeriodError(ValueError):
    """A text that is not a period of the expected format."""


_YEAR = re.compile(r"^(\d{4})(?:\.0+)?$")
_QUARTER = re.compile(r"^(?:(\d{4})\s*-?\s*[Qq]([1-9])|[Qq]([1-9])\s*-?\s*(\d{4}))$")
# A month of one digit needs something before it ("2024-3", "2024M3", "2024 3"): "20243"
# is no month.
_MONTH = re.compile(
    r"^(?:(\d{4})(?:\s*-\s*M?|\s*M|\s+)(\d{1,2})|(\d{4})(\d{2})|(\d{1,2})\s*/\s*(\d{4}))$"
)
_DATE_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_DATE_IT = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_SCHOOL = re.compile(r"^(\d{4})\s*[/-]\s*(\d{2}|\d{4})$")

_FORMATS = ("year", "quarter", "month", "date", "school_year")


def _year(text: str, reference: str | None) -> tuple[str, date]:
    m = _YEAR.match(text)
    if not m:
        raise PeriodError("expected a year such as 2023")
    year = int(m.group(1))
    if reference == "jan_1":
        return f"{year:04d}-01-01", date(year, 1, 1)
    if reference == "dec_31":
        # A stock on 31 December is the stock on 1 January of the next year.
        return f"{year + 1:04d}-01-01", date(year + 1, 1, 1)
    return f"{year:04d}", date(year, 1, 1)


def _quarter(text: str, reference: str | None) -> tuple[str, date]:
    m = _QUARTER.match(text)
    if not m:
        raise PeriodError("expected a quarter such as 2024-Q1 or Q1-2024")
    year = int(m.group(1) or m.group(4))
    quarter = int(m.group(2) or m.group(3))
    if not 1 <= quarter <= 4:
        raise PeriodError(f"quarter {quarter} does not exist")
    return f"{year:04d}-Q{quarter}", date(year, 3 * quarter - 2, 1)


def _month(text: str, reference: str | None) -> tuple[str, date]:
    m = _MONTH.match(text)
    if not m:
        raise PeriodError("expected a month such as 2024-03, 2024M03 or 03/2024")
    year = int(m.group(1) or m.group(3) or m.group(6))
    month = int(m.group(2) or m.group(4) or m.group(5))
    if not 1 <= month <= 12:
        raise PeriodError(f"month {month} does not exist")
    return f"{year:04d}-{month:02d}", date(year, month, 1)


def _date(text: str, reference: str | None) -> tuple[str, date]:
    m = _DATE_ISO.match(text)
    if m:
        year, month, day = int(m.group(1)), int(m.group(2)), int(m.group(3))
    elif m := _DATE_IT.match(text):
        day, month, year = int(m.group(1)), int(m.group(2)), int(m.group(3))
    else:
        raise PeriodError("expected a date such as 2024-01-01 or 01/01/2024")
    try:
        when = date(year, month, day)
    except ValueError as exc:
        raise PeriodError(str(exc)) from exc
    if reference == "dec_31" and (when.month, when.day) == (12, 31):
        when += timedelta(days=1)
    return when.isoformat(), when


def _school_year(text: str, reference: str | None) -> tuple[str, date]:
    m = _SCHOOL.match(text)
    if not m:
        raise PeriodError("expected a school year such as 2023/24 or 2023/2024")
    start = int(m.group(1))
    end_text = m.group(2)
    # "1999/00": a two-digit end is the year after the start modulo 100.
    end = int(end_text) if len(end_text) == 4 else start + (int(end_text) - start) % 100
    if end != start + 1:
        raise PeriodError(f"a school year spans two consecutive years, not {start} and {end}")
    return f"{start:04d}-09-01/P1Y", date(start, 9, 1)


_PARSERS = {
    "year": _year,
    "quarter": _quarter,
    "month": _month,
    "date": _date,
    "school_year": _school_year,
}


def parse_period(text: str, fmt: str = "auto", reference: str | None = None) -> tuple[str, date]:
    """``(period, period_start)`` for one period text; raises :class:`PeriodError`.

    ``reference`` (``jan_1`` or ``dec_31``) dates yearly stocks, see ``PeriodRule``. A
    period outside the calendar Python can date (year 0, a stock on 31 December 9999) is a
    PeriodError too.
    """
    try:
        return _parse(text, fmt, reference)
    except PeriodError:
        raise
    except (ValueError, OverflowError) as exc:
        raise PeriodError(f"{text.strip()!r} is outside the calendar: {exc}") from None


def _parse(text: str, fmt: str, reference: str | None) -> tuple[str, date]:
    value = text.strip()
    if fmt != "auto":
        return _PARSERS[fmt](value, reference)
    # Order matters: "2023-24" is a school year, "2023-12" a month, "2023-13" neither.
    if _YEAR.match(value):
        return _year(value, reference)
    if _DATE_ISO.match(value) or _DATE_IT.match(value):
        return _date(value, reference)
    if _QUARTER.match(value):
        return _quarter(value, reference)
    m = _SCHOOL.match(value)
    school = m is not None and (
        "/" in value or (len(m.group(2)) == 2 and int(m.group(2)) == (int(m.group(1)) + 1) % 100)
    )
    if m is not None and school and (not _MONTH.match(value) or int(m.group(2)) > 12):
        return _school_year(value, reference)
    if _MONTH.match(value):
        return _month(value, reference)
    raise PeriodError(
        "not a year, quarter, month, date or school year: formats are " + ", ".join(_FORMATS)
    )
