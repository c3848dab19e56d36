"""A plugin source type's options are validated when observatory.yaml loads (issue 16, item 4):
a wrong option names the file, the line and the field, before any build starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from welfare_observatory import load_observatory
from welfare_observatory.errors import ConfigError

pytest.importorskip("welfare_observatory_eurostat_tsv")

CONFIG = """\
id: biella
name: {it: OsservaBiella, en: Biella observatory}
edition: "2025"
territory:
  code: 096
  reference_date: 2024-01-01
indicators:
  profile: mature
sources:
  unemployment:
    type: eurostat_tsv
    options:
      %s
"""


def test_a_wrong_plugin_option_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "observatory.yaml").write_text(CONFIG % "datset: lfst_r_lfu3rt", "utf-8")
    with pytest.raises(ConfigError) as info:
        load_observatory(tmp_path)
    location = info.value.location
    assert location is not None
    assert location.file is not None and location.file.endswith("observatory.yaml")
    assert location.line == 13
    assert "datset" in str(info.value)


def test_contradictory_plugin_options_are_refused_at_load(tmp_path: Path) -> None:
    text = CONFIG % "{dataset: lfst_r_lfu3rt, url: 'https://example.org/x.tsv'}"
    (tmp_path / "observatory.yaml").write_text(text, "utf-8")
    with pytest.raises(ConfigError) as info:
        load_observatory(tmp_path)
    assert info.value.location is not None and info.value.location.line is not None


def test_good_plugin_options_load_and_the_plugins_are_kept(tmp_path: Path) -> None:
    (tmp_path / "observatory.yaml").write_text(CONFIG % "dataset: lfst_r_lfu3rt", "utf-8")
    observatory = load_observatory(tmp_path)
    assert "plugins" in observatory.__dict__  # loaded once, at load, not again at build
    assert "eurostat_tsv" in observatory.plugins.sources()
