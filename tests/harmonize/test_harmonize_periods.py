"""Period texts -> SDMX periods and their first day; impossible periods are refused."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from welfare_observatory.harmonize import PeriodError, parse_period


@pytest.mark.parametrize(
    ("text", "fmt", "reference", "period", "start"),
    [
        ("2023", "auto", None, "2023", date(2023, 1, 1)),
        ("2023", "year", "jan_1", "2023-01-01", date(2023, 1, 1)),
        # a stock on 31 December 2023 is the stock on 1 January 2024
        ("2023", "year", "dec_31", "2024-01-01", date(2024, 1, 1)),
        ("2023-12-31", "date", "dec_31", "2024-01-01", date(2024, 1, 1)),
        ("31/12/2023", "auto", None, "2023-12-31", date(2023, 12, 31)),
        ("2024-Q1", "auto", None, "2024-Q1", date(2024, 1, 1)),
        ("Q3-2024", "auto", None, "2024-Q3", date(2024, 7, 1)),
        ("2024Q4", "quarter", None, "2024-Q4", date(2024, 10, 1)),
        ("2024-03", "auto", None, "2024-03", date(2024, 3, 1)),
        ("2024M11", "auto", None, "2024-11", date(2024, 11, 1)),
        ("03/2024", "month", None, "2024-03", date(2024, 3, 1)),
        ("2023/24", "auto", None, "2023-09-01/P1Y", date(2023, 9, 1)),
        ("2023/2024", "school_year", None, "2023-09-01/P1Y", date(2023, 9, 1)),
        ("2023-24", "auto", None, "2023-09-01/P1Y", date(2023, 9, 1)),
        ("1999/00", "auto", None, "1999-09-01/P1Y", date(1999, 9, 1)),
    ],
)
def test_period_forms(text: str, fmt: str, reference: str | None, period: str, start: date) -> None:
    assert parse_period(text, fmt, reference) == (period, start)


@pytest.mark.parametrize(
    "text", ["2023-13", "2024-Q5", "2023-02-30", "2023/25", "23", "2023-00", "next year", ""]
)
def test_impossible_periods(text: str) -> None:
    with pytest.raises(PeriodError):
        parse_period(text)


def test_a_declared_format_is_enforced() -> None:
    with pytest.raises(PeriodError):
        parse_period("2024-Q1", "year")


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31)))
def test_parsing_a_canonical_period_gives_it_back(day: date) -> None:
    for text in (str(day.year), f"{day.year}-{day.month:02d}", day.isoformat()):
        period, start = parse_period(text)
        assert period == text and start <= day
        assert parse_period(period) == (period, start)
