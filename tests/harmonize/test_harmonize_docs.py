"""The examples of docs/harmonization.md: every YAML rule loads, the Python runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from welfare_observatory.harmonize import parse_rules

DOC = Path(__file__).resolve().parents[2] / "docs" / "harmonization.md"
TEXT = DOC.read_text(encoding="utf-8")
YAML = re.findall(r"```yaml\n(.*?)```", TEXT, flags=re.S)
PYTHON = re.findall(r"```python\n(.*?)```", TEXT, flags=re.S)


def test_the_guide_has_examples() -> None:
    assert len(YAML) >= 8 and len(PYTHON) >= 3


@pytest.mark.parametrize("block", YAML, ids=[f"yaml-{i}" for i in range(len(YAML))])
def test_each_yaml_example_is_a_valid_rule(block: str) -> None:
    if not block.lstrip().startswith(("name:", "indicator:")):
        block = "indicator: {value: X}\nterritory: {column: t}\nperiod: {value: '2023'}\n" + block
    assert parse_rules(block)


def test_the_python_examples_run_in_order(capsys: pytest.CaptureFixture[str]) -> None:
    namespace: dict[str, object] = {}
    for block in PYTHON:
        exec(compile(block, str(DOC), "exec"), namespace)  # the guide's own examples
    printed = capsys.readouterr().out
    assert "'territory': '096004', 'period': '2023-01-01', 'value': 42619.0" in printed
    assert "partial-aggregate" in printed
