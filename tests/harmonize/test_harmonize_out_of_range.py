"""Cells outside what harmonize can represent are findings, never a traceback nor a value
changed without a word (a second fuzz campaign, issue 19): periods outside the calendar,
unit multipliers beyond any publisher's, unit texts pint cannot parse, numbers with a
decimal comma whose dots are no thousands groups."""

from __future__ import annotations

import pyarrow as pa
import pytest

from welfare_observatory.harmonize import CodeTable, HarmonizeRule, harmonize
from welfare_observatory.harmonize.periods import PeriodError, parse_period

BASE = {
    "indicator": {"value": "POP"},
    "territory": {"column": "terr"},
    "period": {"column": "year"},
    "value": {"column": "v"},
    "unit": {"unit": "person"},
}


def run(
    codes: CodeTable, year: str, v: object, **rule: object
) -> tuple[list[dict[str, object]], list[str]]:
    """Rows and finding codes of one cell harmonized; ``m`` and ``u`` are the multiplier and
    unit columns' cells, the other keywords parts of the rule."""
    cells = {k: [w] for k, w in rule.items() if k in ("m", "u")}
    table = pa.table({"terr": ["096004"], "year": [year], "v": [v], **cells})
    parts = {k: w for k, w in rule.items() if k not in ("m", "u")}
    checked = HarmonizeRule.model_validate({**BASE, **parts})
    result = harmonize(table, checked, codes=codes, source="s")
    rows = result.table.select(["period", "value", "obs_status"]).to_pylist()
    return rows, [f.code for f in result.findings]


@pytest.mark.parametrize(
    ("year", "reference"),
    [("0000", None), ("0000-Q1", None), ("9999", "dec_31"), ("31/12/9999", "dec_31")],
)
def test_a_period_outside_the_calendar_is_an_invalid_period(
    codes: CodeTable, year: str, reference: str | None
) -> None:
    period = {"column": "year", **({"reference_date": reference} if reference else {})}
    rows, found = run(codes, year, 1.0, period=period)
    assert rows == [] and found == ["invalid-period"]
    with pytest.raises(PeriodError, match="outside the calendar"):
        parse_period(year, reference=reference)


def test_a_month_of_one_digit_needs_a_sign_before_it() -> None:
    assert parse_period("2024-3") == ("2024-03", parse_period("2024M03")[1])
    assert parse_period("2024M3")[0] == "2024-03"
    assert parse_period("202403")[0] == "2024-03"
    for text in ("20243", "99999"):
        with pytest.raises(PeriodError):
            parse_period(text)


@pytest.mark.parametrize("multiplier", ["400", "-400", "1e400", "inf", "2.5"])
def test_a_unit_multiplier_beyond_a_power_of_ten_in_range_is_refused(
    codes: CodeTable, multiplier: str
) -> None:
    rows, found = run(
        codes, "2023", 1.0, m=multiplier, unit={"unit": "person", "multiplier_column": "m"}
    )
    assert rows == [] and found == ["unit-mismatch"]


def test_a_unit_multiplier_in_range_scales_the_value(codes: CodeTable) -> None:
    rows, _ = run(codes, "2023", 1.5, m="3", unit={"unit": "person", "multiplier_column": "m"})
    assert rows[0]["value"] == 1500.0


@pytest.mark.parametrize("text", ["1/0", "person*", "(", "person + euro", "'x'", "{}"])
def test_a_unit_text_pint_cannot_parse_is_a_finding(codes: CodeTable, text: str) -> None:
    rows, found = run(codes, "2023", 1.0, u=text, unit={"column": "u", "to": "person"})
    assert rows == [] and found == ["unit-mismatch"]


@pytest.mark.parametrize(
    ("text", "value"), [("1.234,5", 1234.5), ("1234,5", 1234.5), ("-0,5", -0.5), ("12", 12.0)]
)
def test_a_decimal_comma_reads_thousands_groups(codes: CodeTable, text: str, value: float) -> None:
    rows, found = run(codes, "2023", text, value={"column": "v", "decimal": ","})
    assert rows[0]["value"] == value and "invalid-value" not in found


@pytest.mark.parametrize("text", ["1.5", "1.2.3", "+.5", "1.23,4"])
def test_dots_that_are_no_thousands_groups_are_invalid_values(codes: CodeTable, text: str) -> None:
    rows, found = run(codes, "2023", text, value={"column": "v", "decimal": ","})
    assert rows == [] or rows[0]["value"] is None
    assert "invalid-value" in found


def test_a_month_after_a_space_is_still_a_month() -> None:
    assert parse_period("2024 03")[0] == "2024-03"
    assert parse_period("2024 3")[0] == "2024-03"
