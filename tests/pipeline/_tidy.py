"""A small observatory of tidy CSV sources for the tests of the sources' run: indicators
``T_IND_1`` and ``T_IND_2`` (and ``T_IND_3`` when a source reads it), one file each
(``data/t1.csv``, ``data/t2.csv``, ...: three municipalities of Brescia, 2020-2022)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

CODES = ("017001", "017002", "017003")


def tidy_observatory(folder: Path, sources: Mapping[str, int], *, document: str) -> Path:
    """The observatory in ``folder``: a ``table`` source per entry of ``sources`` (its id:
    the indicator it reads, 1, 2 or 3, with that indicator's file and rules); ``document``
    names the test in the indicators' provenance."""
    (folder / "data").mkdir(parents=True)
    (folder / "indicators").mkdir()
    entries = []
    numbers = sorted({1, 2, *sources.values()})
    for i in numbers:
        rows = ["Year,GeoCode,Value"] + [
            f"{year},{code},{10 * i + n + (year - 2020) / 4}"
            for n, code in enumerate(CODES)
            for year in (2020, 2021, 2022)
        ]
        (folder / "data" / f"t{i}.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
        entries.append(
            f"- id: T_IND_{i}\n  label: {{it: Indicatore {i}, en: Indicator {i}}}\n"
            "  unit: year\n  polarity: neutral\n  domain: health\n  measure: ratio\n"
            "  reference_point: calendar_year\n  aggregation: none\n"
            f"  source: {{publisher: Test, document: {document}}}\n"
        )
    listed = [
        f"  {name}:\n    type: table\n    options:\n      path: data/t{i}.csv\n"
        "      value_columns: [Value]\n      layout: tidy\n"
        f"    rules:\n      indicator: {{value: T_IND_{i}}}\n"
        "      territory: {column: GeoCode, scheme: istat}\n"
        "      period: {column: Year}\n      value: {column: Value}\n"
        for name, i in sources.items()
    ]
    (folder / "indicators" / "own.yaml").write_text("".join(entries), encoding="utf-8")
    (folder / "observatory.yaml").write_text(
        "id: steps\nname: {it: Passi, en: Steps}\nedition: '2024'\n"
        "territory:\n  code: '017'\n  reference_date: 2024-01-01\n"
        f"indicators:\n  add: [{', '.join(f'T_IND_{i}' for i in numbers)}]\n"
        "  catalog: [indicators/own.yaml]\n"
        "sources:\n" + "".join(listed),
        encoding="utf-8",
    )
    return folder
