"""observatory.yaml against expansion bombs, deep nesting and duplicate keys (issue 18
items 8 and 13): refused fast, with a ConfigError naming the file and the line."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from welfare_observatory.config import load_config
from welfare_observatory.errors import ConfigError
from welfare_observatory.harmonize import parse_rules

BASE = """\
id: biella
name: {it: OsservaBiella, en: Biella observatory}
edition: "2025"
territory:
  code: "096"
  reference_date: 2024-01-01
indicators:
  profile: mature
"""

LAUGHS = "".join(
    f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]\n" if i else 'l0: &l0 ["lol"]\n'
    for i in range(10)
)


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "observatory.yaml").write_text(text, encoding="utf-8")
    return tmp_path


def test_nested_aliases_are_refused_before_they_expand(tmp_path: Path) -> None:
    started = time.perf_counter()
    with pytest.raises(ConfigError, match="aliases") as info:
        load_config(
            write(
                tmp_path,
                BASE + "x:\n" + "".join("  " + line + "\n" for line in LAUGHS.splitlines()),
            )
        )
    assert time.perf_counter() - started < 2
    assert info.value.location is not None
    assert info.value.location.file and info.value.location.file.endswith("observatory.yaml")
    assert info.value.location.line == 10  # the first anchor


def test_deep_nesting_is_refused_with_a_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="deeper") as info:
        load_config(write(tmp_path, BASE + "x: " + "[" * 10_000 + "]" * 10_000 + "\n"))
    assert info.value.location is not None and info.value.location.line == 9


def test_a_source_given_twice_is_an_error_naming_the_second_line(tmp_path: Path) -> None:
    text = BASE + (
        "sources:\n"
        "  pop:\n    type: sdmx\n    options: {path: a.xml}\n"
        "  pop:\n    type: table\n    options: {path: b.csv}\n"
    )
    with pytest.raises(ConfigError, match="'pop' is given twice") as info:
        load_config(write(tmp_path, text))
    assert info.value.location is not None
    assert info.value.location.line == 13
    assert "line 10" in str(info.value)


def test_rule_files_refuse_aliases_and_duplicate_keys_too() -> None:
    with pytest.raises(ConfigError, match="aliases"):
        parse_rules("indicator: &i {value: POP}\nterritory: *i\n", file="r.yaml")
    with pytest.raises(ConfigError, match="given twice") as info:
        parse_rules("indicator: {value: POP}\nindicator: {value: X}\n", file="r.yaml")
    assert info.value.location is not None and info.value.location.line == 2
