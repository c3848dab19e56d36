"""Every YAML rule shown in docs/harmonization.md loads as a rule."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from welfare_observatory.harmonize import parse_rules

DOC = Path(__file__).resolve().parents[2] / "docs" / "harmonization.md"
BLOCKS = re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


def test_the_guide_has_examples() -> None:
    assert len(BLOCKS) >= 8


@pytest.mark.parametrize("block", BLOCKS, ids=[f"yaml-{i}" for i in range(len(BLOCKS))])
def test_each_yaml_example_is_a_valid_rule(block: str) -> None:
    if not block.lstrip().startswith(("name:", "indicator:")):
        block = "indicator: {value: X}\nterritory: {column: t}\nperiod: {value: '2023'}\n" + block
    assert parse_rules(block)
