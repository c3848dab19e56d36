"""The README that ``new`` writes: the report step, and each language in its own words."""

from __future__ import annotations

from pathlib import Path

from welfare_observatory.scaffold.observatory import new_observatory


def test_the_readmes_mention_the_report_and_speak_one_language(tmp_path: Path) -> None:
    new_observatory("vercelli", "002", tmp_path)
    english = (tmp_path / "vercelli" / "README.md").read_text("utf-8")
    italian = (tmp_path / "vercelli" / "README.it.md").read_text("utf-8")
    for text in (english, italian):
        assert "welfare-observatory report --out site --kb kb --observatory vercelli" in text
        assert "site/index.html" in text
    assert "2022 and 2023" in english and " e 2023" not in english
    assert "2022 e 2023" in italian
    # the count is said once, not "5 indicators (5 indicators)"
    assert "indicators (" not in english and "indicatori (5 indicatori)" not in italian
