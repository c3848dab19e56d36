"""Files named in observatory.yaml exist inside the folder when it loads, not when used."""

from __future__ import annotations

from pathlib import Path

import pytest

from welfare_observatory.config import load_config
from welfare_observatory.errors import ConfigError
from welfare_observatory.observatory import load_observatory

BASE = """\
id: biella
name: {it: OsservaBiella}
edition: "2025"
territory: {code: "096", reference_date: 2024-01-01}
indicators: {add: [POP_TOTAL]}
"""


def folder(tmp_path: Path, extra: str) -> Path:
    (tmp_path / "observatory.yaml").write_text(BASE + extra, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    ("extra", "field", "line"),
    [
        ("disclosure: protection.yaml\n", "disclosure", 6),
        ("report:\n  templates: my-templates\n", "report.templates", 7),
        ("report:\n  deepdive: {it: focus.md, en: focus.en.md}\n", "report.deepdive.it", 7),
    ],
)
def test_a_missing_file_is_named_with_its_field_and_line(
    tmp_path: Path, extra: str, field: str, line: int
) -> None:
    with pytest.raises(ConfigError, match="does not exist") as info:
        load_config(folder(tmp_path, extra))
    assert info.value.location is not None
    assert (info.value.location.field, info.value.location.line) == (field, line)


def test_the_english_deep_dive_is_checked_too(tmp_path: Path) -> None:
    (tmp_path / "focus.md").write_text("# Focus\n", encoding="utf-8")
    extra = "report:\n  deepdive: {it: focus.md, en: focus.en.md}\n"
    with pytest.raises(ConfigError, match=r"focus\.en\.md") as info:
        load_config(folder(tmp_path, extra))
    assert info.value.location is not None and info.value.location.field == "report.deepdive.en"


def test_a_disclosure_file_outside_the_folder_is_refused(tmp_path: Path) -> None:
    obs = tmp_path / "obs"
    obs.mkdir()
    (tmp_path / "rule.yaml").write_text("threshold: 5\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="outside"):
        load_config(folder(obs, "disclosure: ../rule.yaml\n"))


def test_the_observatory_rule_is_read_and_overrides_apply_on_top(tmp_path: Path) -> None:
    (tmp_path / "protection.yaml").write_text("threshold: 5\nmax_population: 300\n", "utf-8")
    observatory = load_observatory(folder(tmp_path, "disclosure: protection.yaml\n"))
    rule = observatory.disclosure_rule()
    assert (rule.threshold, rule.max_population) == (5, 300)
    assert observatory.disclosure_rule(threshold=10).threshold == 10


def test_without_a_rule_file_the_default_rule_applies(tmp_path: Path) -> None:
    from welfare_observatory.protect import DisclosureRule

    assert load_observatory(folder(tmp_path, "")).disclosure_rule() == DisclosureRule()
