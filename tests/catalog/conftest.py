"""Small catalogue files written on the fly, good and bad."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

BASE = """\
- id: POP_TOTAL
  label: {it: Popolazione residente, en: Resident population}
  unit: person
  polarity: neutral
  domain: demography
  measure: stock
  reference_point: jan_1
  aggregation: sum
  source: {publisher: Istat, url: "https://example.org/pop", verified: true}
- id: POP_65_PLUS
  aliases: [POP_OVER_64]
  label: {it: Popolazione di 65 anni e più, en: Population aged 65 and over}
  unit: person
  polarity: neutral
  domain: demography
  measure: stock
  reference_point: jan_1
  aggregation: sum
  source: {publisher: Istat, url: "https://example.org/pop", verified: true}
- id: SHARE_65_PLUS
  label: {it: Quota di anziani, en: Share of older people}
  definition: {it: Residenti di 65 anni e più per 100 residenti (età media esclusa)}
  unit: percent
  polarity: neutral
  domain: demography
  measure: ratio
  reference_point: jan_1
  aggregation: formula
  formula: {numerator: POP_65_PLUS, denominator: POP_TOTAL, multiplier: 100}
  source: {publisher: Istat, document: "Istat, Annuario", page: "12"}
  sdg:
    - {id: "10.2", relation: context}
"""


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], Path]:
    """write(name, text) -> path of a file in a fresh folder."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return _write


@pytest.fixture
def base(write: Callable[[str, str], Path]) -> Path:
    """A valid three-entry file: two counts and a share with a formula."""
    return write("base.yaml", BASE)
