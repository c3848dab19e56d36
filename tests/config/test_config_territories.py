"""observatory.yaml: territories, comparisons, grouping members and source paths are
checked when the file is loaded, before any build."""

from __future__ import annotations

from pathlib import Path

import pytest

from welfare_observatory.config import ObservatoryConfig, load_config
from welfare_observatory.errors import ConfigError

BASE = """\
id: biella
name: {it: OsservaBiella}
edition: "2025"
territory:
  code: "096"
  reference_date: 2024-01-01
  comparisons: ["01", ITC, IT]
  groupings:
    valle_cervo: ["096004", "096055"]
indicators:
  add: [POP_TOTAL]
sources:
  population:
    type: table
    options: {path: data/pop.csv}
"""


def load(tmp_path: Path, text: str) -> ObservatoryConfig:
    (tmp_path / "observatory.yaml").write_text(text, encoding="utf-8")
    return load_config(tmp_path)


def test_declared_groupings_and_known_codes_load(tmp_path: Path) -> None:
    config = load(tmp_path, BASE)
    assert config.territory.groupings == {"valle_cervo": ("096004", "096055")}


def test_an_unknown_grouping_member_names_line_field_and_the_closest_codes(
    tmp_path: Path,
) -> None:
    with pytest.raises(ConfigError, match="unknown territory code '096999'") as info:
        load(tmp_path, BASE.replace('"096055"]', '"096999"]'))
    error = info.value
    assert error.location is not None
    assert error.location.line == 9
    assert error.location.field == "territory.groupings.valle_cervo.1"
    assert error.location.file is not None and error.location.file.endswith("observatory.yaml")
    # The closest codes are Biella's own municipalities (same province prefix).
    assert error.hint is not None and "closest known: 096" in error.hint


def test_a_grouping_member_must_be_a_municipality(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a municipality"):
        load(tmp_path, BASE.replace('"096055"]', '"096"]'))


def test_an_unknown_comparison_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown territory code 'ITX'") as info:
        load(tmp_path, BASE.replace("ITC, IT]", "ITX, IT]"))
    assert info.value.location is not None
    assert info.value.location.field == "territory.comparisons.1"
    assert (info.value.hint or "").startswith("closest known: IT")


def test_the_territory_may_be_a_declared_grouping_but_not_an_unknown_one(
    tmp_path: Path,
) -> None:
    config = load(tmp_path, BASE.replace('code: "096"', "code: grouping:valle_cervo"))
    assert config.territory.code == "grouping:valle_cervo"
    with pytest.raises(ConfigError, match="grouping:other"):
        load(tmp_path, BASE.replace('code: "096"', "code: grouping:other"))


@pytest.mark.parametrize("path", ["../outside.csv", "/etc/passwd", "data/../../x.csv"])
def test_a_source_path_outside_the_folder_is_refused_at_load(tmp_path: Path, path: str) -> None:
    with pytest.raises(ConfigError, match=r"sources\.population\.options\.path") as info:
        load(tmp_path, BASE.replace("data/pop.csv", path))
    assert info.value.location is not None
    assert info.value.location.line == 15
    assert "inside the observatory folder" in (info.value.hint or "")


def test_a_structure_path_is_checked_too(tmp_path: Path) -> None:
    text = BASE.replace("{path: data/pop.csv}", "{path: data/pop.csv, structure_path: ../dsd.xml}")
    with pytest.raises(ConfigError, match="structure_path"):
        load(tmp_path, text)


def test_declared_district_membership_is_checked(tmp_path: Path) -> None:
    ok = BASE.replace("  groupings:\n", '  districts:\n    T01024: ["096004"]\n  groupings:\n')
    config = load(tmp_path, ok)
    assert config.territory.districts == {"T01024": ("096004",)}
    with pytest.raises(ConfigError, match="unknown district 'T09999'") as info:
        load(tmp_path, ok.replace("T01024", "T09999"))
    assert info.value.location is not None
    assert info.value.location.field == "territory.districts.T09999"
    assert info.value.location.line == 9
    twice = ok.replace('T01024: ["096004"]', 'T01024: ["096004"]\n    T01025: ["096004"]')
    with pytest.raises(ConfigError, match="declared in two districts"):
        load(tmp_path, twice)
