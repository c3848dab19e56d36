"""Reading back a filled data request: every bad cell, named by sheet, row and column.

A value must obey the rule the sheet itself declares on its ``Valore`` column (the data
validation ``write_request_template`` put there: whole numbers for counts, bounds such as
``>= 0``). Excel enforces it while typing, but a file edited or pasted elsewhere does not,
so the rule is read back from the sheet and applied here; a sheet whose validation was lost
falls back to the catalogue's rule for the indicator the sheet is named after.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from welfare_observatory.errors import DataError, Location, ParseError
from welfare_observatory.scaffold.providers import COUNT_UNITS
from welfare_observatory.scaffold.request_template import (
    _INSTRUCTIONS,
    HEADER_ROW,
    STATUS_CHOICES,
)

__all__ = ["ValueRule", "check_filled", "filled_cells", "value_rule"]


@dataclass(frozen=True)
class ValueRule:
    """What a ``Valore`` cell may hold: a whole number or any number, within bounds."""

    whole: bool = False
    low: float | None = None
    high: float | None = None

    def describe(self) -> str:
        kind = "a whole number" if self.whole else "a number"
        if self.low is not None and self.high is not None:
            return f"{kind} between {self.low:g} and {self.high:g}"
        if self.low is not None:
            return f"{kind} >= {self.low:g}"
        return kind


def _number(text: object) -> float | None:
    try:
        return float(str(text).strip().lstrip("="))
    except ValueError:
        return None


def value_rule(sheet: Any, column: str) -> ValueRule | None:
    """The rule of the data validation that covers ``column`` below the header, if any."""
    cell = f"{column}{HEADER_ROW + 1}"
    for validation in sheet.data_validations.dataValidation:
        if validation.type not in ("whole", "decimal") or cell not in validation.sqref:
            continue
        low = high = None
        first, second = _number(validation.formula1), _number(validation.formula2)
        operator = validation.operator or "between"
        if operator == "between":
            low, high = first, second
        elif operator in ("greaterThanOrEqual", "greaterThan"):
            low = first
        elif operator in ("lessThanOrEqual", "lessThan"):
            high = first
        return ValueRule(whole=validation.type == "whole", low=low, high=high)
    return None


def _catalogue_rule(title: str) -> ValueRule | None:
    """The rule ``write_request_template`` would write for the indicator named ``title``."""
    from welfare_observatory.catalog import catalog

    shipped = catalog()
    if title not in shipped:
        return None
    indicator = shipped.get(title)
    if "balance" in indicator.tags:
        return ValueRule(whole=indicator.unit in COUNT_UNITS)
    return ValueRule(whole=indicator.unit in COUNT_UNITS, low=0.0)


def check_filled(path: Path | str) -> list[DataError]:
    """Every bad cell of a filled request: a value that is not a number, breaks the sheet's
    rule (negative or fractional count), or a ``Stato`` outside the list."""
    import zipfile

    from openpyxl import load_workbook
    from openpyxl.utils import get_column_letter
    from openpyxl.utils.exceptions import InvalidFileException

    file = Path(path)
    # not read-only: data validations are only loaded with the full workbook
    try:
        book = load_workbook(file, data_only=True)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, InvalidFileException) as exc:
        raise ParseError(
            f"cannot open the filled request: {type(exc).__name__}: {exc}",
            location=Location(file=str(file)),
            hint="give the .xlsx file the request template wrote, filled and saved as .xlsx",
        ) from None
    problems: list[DataError] = []
    try:
        for sheet in book.worksheets:
            if sheet.title == _INSTRUCTIONS:
                continue
            rows = sheet.iter_rows(min_row=HEADER_ROW, values_only=True)
            header = [str(c) if c is not None else "" for c in next(rows, ())]
            if "Valore" not in header:
                continue
            value_at, status_at = header.index("Valore"), header.index("Stato")
            rule = value_rule(sheet, get_column_letter(value_at + 1)) or _catalogue_rule(
                sheet.title
            )
            for offset, row in enumerate(rows, start=HEADER_ROW + 1):
                problems += _check_row(file, sheet.title, offset, row, value_at, status_at, rule)
    finally:
        book.close()
    return problems


def _check_row(
    file: Path,
    sheet: str,
    row_number: int,
    row: tuple[Any, ...],
    value_at: int,
    status_at: int,
    rule: ValueRule | None,
) -> list[DataError]:
    from openpyxl.utils import get_column_letter

    def where(column: int) -> Location:
        return Location(
            file=str(file), sheet=sheet, row=row_number, column=get_column_letter(column + 1)
        )

    problems = []
    value = row[value_at] if value_at < len(row) else None
    status = row[status_at] if status_at < len(row) else None
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
        problems.append(
            DataError(
                f"cell {value!r} is not a number",
                location=where(value_at),
                hint="write the number without units or text; leave it empty and set Stato "
                "to 'non disponibile' when the figure is not available",
            )
        )
    elif value is not None and rule is not None and _breaks(float(value), rule):
        problems.append(
            DataError(
                f"value {value!r} is not {rule.describe()}",
                location=where(value_at),
                hint="counts of people, events or bodies are whole numbers and never negative;"
                " correct the figure or leave it empty with Stato 'non disponibile'",
            )
        )
    if status is not None and str(status).strip() and str(status).strip() not in STATUS_CHOICES:
        problems.append(
            DataError(
                f"Stato {status!r} is not one of: {', '.join(STATUS_CHOICES)}",
                location=where(status_at),
            )
        )
    return problems


def _breaks(value: float, rule: ValueRule) -> bool:
    if not math.isfinite(value):
        return True
    if rule.whole and not value.is_integer():
        return True
    if rule.low is not None and value < rule.low:
        return True
    return rule.high is not None and value > rule.high


def filled_cells(path: Path | str) -> tuple[int, int]:
    """``(filled, total)`` ``Valore`` cells of a request, so an unfilled one is told apart
    from a valid one."""
    from openpyxl import load_workbook

    book = load_workbook(Path(path), read_only=True, data_only=True)
    filled = total = 0
    try:
        for sheet in book.worksheets:
            if sheet.title == _INSTRUCTIONS:
                continue
            rows = sheet.iter_rows(min_row=HEADER_ROW, values_only=True)
            header = [str(c) if c is not None else "" for c in next(rows, ())]
            if "Valore" not in header:
                continue
            at = header.index("Valore")
            for row in rows:
                total += 1
                value = row[at] if at < len(row) else None
                filled += value is not None and str(value).strip() != ""
    finally:
        book.close()
    return filled, total
