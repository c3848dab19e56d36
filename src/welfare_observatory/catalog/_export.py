"""Flattened views of the catalogue for review in a spreadsheet: rows, CSV, XLSX, JSON."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from welfare_observatory.model.indicator import Indicator

COLUMNS: tuple[str, ...] = (
    "id",
    "aliases",
    "label_it",
    "label_en",
    "definition_it",
    "definition_en",
    "how_to_read_it",
    "how_to_read_en",
    "unit",
    "polarity",
    "domain",
    "measure",
    "reference_point",
    "periodicity",
    "release_lag_months",
    "breakdowns",
    "finest_level",
    "aggregation",
    "formula",
    "publisher",
    "dataset",
    "agency",
    "url",
    "document",
    "page",
    "verified",
    "source_note",
    "sdg",
    "tags",
)
"""One column per field; lists are joined with ``;``, the formula reads ``A / B * 100``."""

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def row(ind: Indicator) -> dict[str, Any]:
    """One flat row for ``ind`` (values are str, int, bool or None)."""
    formula = None
    if ind.formula is not None:
        formula = f"{ind.formula.numerator} / {ind.formula.denominator}"
        if ind.formula.multiplier != 1:
            formula += f" * {ind.formula.multiplier:g}"
    src = ind.source
    return {
        "id": ind.id,
        "aliases": ";".join(ind.aliases),
        "label_it": ind.label.it,
        "label_en": ind.label.en,
        "definition_it": ind.definition.it,
        "definition_en": ind.definition.en,
        "how_to_read_it": ind.how_to_read.it,
        "how_to_read_en": ind.how_to_read.en,
        "unit": ind.unit,
        "polarity": ind.polarity.value,
        "domain": ind.domain.value,
        "measure": ind.measure.value,
        "reference_point": ind.reference_point.value,
        "periodicity": ind.periodicity.value,
        "release_lag_months": ind.release_lag_months,
        "breakdowns": ";".join(ind.breakdowns),
        "finest_level": ind.finest_level.value,
        "aggregation": ind.aggregation.value,
        "formula": formula,
        "publisher": src.publisher,
        "dataset": src.dataset,
        "agency": src.agency,
        "url": src.url,
        "document": src.document,
        "page": src.page,
        "verified": src.verified,
        "source_note": src.note,
        "sdg": ";".join(f"{link.id} ({link.relation.value})" for link in ind.sdg),
        "tags": ";".join(ind.tags),
    }


def safe_cell(value: Any) -> Any:
    """``value``, with text that a spreadsheet would run as a formula turned into plain text.

    A leading ``= + - @`` (or tab, carriage return) is prefixed with an apostrophe, as OWASP
    recommends against CSV injection; numbers and booleans pass unchanged.
    """
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def to_csv(indicators: Iterable[Indicator]) -> str:
    """UTF-8 CSV text, header first, cells neutralised with :func:`safe_cell`."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for ind in indicators:
        writer.writerow({k: safe_cell(v) for k, v in row(ind).items()})
    return out.getvalue()


def to_json(indicators: Iterable[Indicator]) -> str:
    """A JSON list of full entries (the same shape as the YAML files)."""
    data = [ind.model_dump(mode="json", exclude_defaults=True) for ind in indicators]
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def write_xlsx(indicators: Sequence[Indicator], path: Path) -> None:
    """An XLSX workbook with one sheet ``catalogue``; every text cell is stored as text."""
    from openpyxl import Workbook
    from openpyxl.cell.cell import TYPE_STRING

    workbook = Workbook(write_only=False)
    sheet = workbook.active
    sheet.title = "catalogue"
    sheet.append(list(COLUMNS))
    for ind in indicators:
        values = row(ind)
        sheet.append([safe_cell(values[c]) for c in COLUMNS])
    for cells in sheet.iter_rows(min_row=2):
        for cell in cells:
            if isinstance(cell.value, str):
                cell.data_type = TYPE_STRING  # never let openpyxl read '=...' as a formula
    sheet.freeze_panes = "B2"
    from welfare_observatory._atomic import atomic_path

    with atomic_path(path) as tmp:
        workbook.save(tmp)
