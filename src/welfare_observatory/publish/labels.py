"""Label columns for people reading an export: the territory's name and the indicator's
label, in the export's language, as the last two columns.

Codes stay the key (and the only thing SDMX carries: its code lists hold the names); the
labels are for the CSV opened in a spreadsheet, the XLSX, Parquet and the data package.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

    from welfare_observatory.model.indicator import Indicator

__all__ = ["LABEL_COLUMNS", "with_labels"]

LABEL_COLUMNS = ("indicator_label", "territory_name")
"""Label columns an export adds; they are neither keys nor breakdown dimensions."""

# Names the territory registry holds in Italian only, in English (NUTS names stay Italian).
_ENGLISH_NAMES = {"IT": "Italy"}


def with_labels(
    view: pa.Table, indicators: Mapping[str, Indicator] | Iterable[Indicator], lang: str
) -> pa.Table:
    """``view`` with ``indicator_label`` and ``territory_name`` appended (last, so the
    columns before them keep their places), in ``lang`` (``it`` or ``en``). A code with no
    label gets an empty cell, never an invented name. Labels are looked up once per
    distinct code."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from welfare_observatory.territory import registry

    known = indicators.values() if isinstance(indicators, Mapping) else indicators
    labels = {i.id: i.label.get(lang) for i in known}
    reg = registry()
    table = view
    for code_column, label_column in (
        ("indicator", "indicator_label"),
        ("territory", "territory_name"),
    ):
        if code_column not in table.column_names or label_column in table.column_names:
            continue
        codes = table[code_column]
        if pa.types.is_dictionary(codes.type):
            codes = codes.cast(codes.type.value_type)
        distinct = [c for c in pc.unique(codes).to_pylist() if c is not None]
        if code_column == "indicator":
            names = {c: labels.get(c) for c in distinct}
        else:
            names = {c: _territory_name(reg, c, lang) for c in distinct}
        keys = pa.array(list(names), pa.string())
        values = pa.array(list(names.values()), pa.string())
        column = pc.take(values, pc.index_in(codes, value_set=keys))
        table = table.append_column(pa.field(label_column, pa.string()), column)
    return table


def _territory_name(reg: object, code: str, lang: str) -> str | None:
    if lang == "en" and code in _ENGLISH_NAMES:
        return _ENGLISH_NAMES[code]
    if code in reg:  # type: ignore[operator]
        return str(reg.get(code).name)  # type: ignore[attr-defined]
    return None
