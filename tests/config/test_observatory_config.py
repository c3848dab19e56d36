"""observatory.yaml: typed, safe, and precise about what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from welfare_observatory.config import load_config, safe_path
from welfare_observatory.errors import ConfigError

MINIMAL = """\
id: biella
name: {it: OsservaBiella, en: Biella observatory}
edition: "2025"
territory:
  code: 096
  reference_date: 2024-01-01
  comparisons: [01, ITC, IT]
indicators:
  profile: mature
  remove: [POP_FOREIGN]
sources:
  istat_population:
    type: sdmx
    options: {agency: IT1, flow: 22_289, key: A.096004.JAN.9.TOTAL.99}
"""


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "observatory.yaml").write_text(text, encoding="utf-8")
    return tmp_path


def test_codes_keep_their_leading_zeros_and_dates_parse(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL))
    assert config.territory.code == "096"
    assert config.territory.comparisons == ("01", "ITC", "IT")
    assert str(config.territory.reference_date) == "2024-01-01"
    assert config.sources["istat_population"].options["flow"] == "22_289"


def test_yaml_number_traps_do_not_corrupt_codes(tmp_path: Path) -> None:
    text = MINIMAL.replace("comparisons: [01, ITC, IT]", "comparisons: [017, 003, 01]")
    config = load_config(write(tmp_path, text))
    assert config.territory.comparisons == ("017", "003", "01")


def test_yaml_boolean_traps_stay_text_and_are_checked_as_codes(tmp_path: Path) -> None:
    # ``NO`` (Novara's abbreviation) would be ``False`` in plain YAML 1.1: it stays text and
    # is refused as a code it is not.
    text = MINIMAL.replace("comparisons: [01, ITC, IT]", "comparisons: [01, NO]")
    with pytest.raises(ConfigError, match="unknown territory code 'NO'") as info:
        load_config(write(tmp_path, text))
    assert info.value.location is not None
    assert info.value.location.field == "territory.comparisons.1"
    assert info.value.location.line == 7


def test_an_unknown_key_names_file_line_and_the_closest_key(tmp_path: Path) -> None:
    text = MINIMAL.replace("  profile: mature", "  profil: mature")
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    error = info.value
    assert error.location is not None
    assert error.location.line == 9
    assert error.location.field == "indicators.profil"
    assert error.hint == "did you mean 'profile'?"
    assert str(error).startswith("indicators.profil: Extra inputs are not permitted")


def test_a_wrong_value_names_its_line(tmp_path: Path) -> None:
    text = MINIMAL.replace("reference_date: 2024-01-01", "reference_date: 2024-13-01")
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    assert info.value.location is not None
    assert info.value.location.line == 6
    assert info.value.location.field == "territory.reference_date"


def test_yaml_syntax_errors_name_the_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="invalid YAML") as info:
        load_config(write(tmp_path, MINIMAL + "sources: [unclosed\n"))
    assert info.value.location is not None and info.value.location.line is not None


def test_missing_file_hints_at_new(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no observatory\.yaml") as info:
        load_config(tmp_path)
    assert "welfare-observatory new" in (info.value.hint or "")


@pytest.mark.parametrize("path", ["../secrets.yaml", "/etc/passwd", "data/../../x.csv"])
def test_paths_cannot_leave_the_observatory_folder(tmp_path: Path, path: str) -> None:
    text = MINIMAL + f"overrides: {path}\n"
    with pytest.raises(ConfigError, match=r"outside the observatory folder|is absolute") as info:
        load_config(write(tmp_path, text))
    assert info.value.location is not None and info.value.location.field == "overrides"
    assert info.value.location.line == 15


def test_a_declared_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(write(tmp_path, MINIMAL + "overrides: overrides.yaml\n"))
    (tmp_path / "overrides.yaml").write_text("[]\n")
    assert load_config(tmp_path).overrides == "overrides.yaml"


def test_safe_path_allows_nested_files(tmp_path: Path) -> None:
    assert safe_path(tmp_path, "data/pop.csv") == (tmp_path / "data" / "pop.csv").resolve()


def test_selection_needs_something(tmp_path: Path) -> None:
    text = MINIMAL.replace("  profile: mature\n", "")
    with pytest.raises(ConfigError, match="select indicators"):
        load_config(write(tmp_path, text))


def test_no_code_is_ever_executed(tmp_path: Path) -> None:
    text = MINIMAL + "report: !!python/object/apply:os.system ['echo pwned']\n"
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_config(write(tmp_path, text))
