"""Content rules of ``catalog validate``: provenance, levels, SDG relations, reading text."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from welfare_observatory.catalog._load import shipped_layer
from welfare_observatory.catalog._rules import check_rules, eurostat_tables, sentences

GOOD_READING = {
    "it": "Quota di residenti con il servizio; nei comuni piccoli oscilla da un anno all'altro.",
    "en": "Share of residents with the service; in small municipalities it swings yearly.",
}


def entry(ident: str = "OWN_SHARE", **changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "id": ident,
        "label": {"it": "Quota locale", "en": "Local share"},
        "definition": {
            "it": "Residenti serviti per 100 residenti, al 31 dicembre.",
            "en": "Residents served per 100 residents, on 31 December.",
        },
        "how_to_read": dict(GOOD_READING),
        "unit": "percent",
        "polarity": "positive",
        "domain": "social_services",
        "measure": "ratio",
        "reference_point": "dec_31",
        "aggregation": "none",
        "source": {"publisher": "Comune", "document": "Delibera 12/2024", "note": "local data"},
    }
    base.update(changes)
    return base


def write(tmp_path: Path, *entries: dict[str, object], name: str = "own.yaml") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(list(entries), ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def only(path: Path) -> list[str]:
    return [e.message for e in check_rules([path], against=shipped_layer()).errors]


def test_a_good_entry_passes(tmp_path: Path) -> None:
    report = check_rules([write(tmp_path, entry())], against=shipped_layer())
    assert report.errors == [] and report.warnings == []


def test_a_verified_entry_read_on_a_mirror_fails_with_location_and_hint(tmp_path: Path) -> None:
    source = {
        "publisher": "Eurostat",
        "url": "https://ec.europa.eu/eurostat/x",
        "verified": True,
        "note": "Read on a web proxy of the Eurostat page.",
    }
    path = write(tmp_path, entry("OTHER", source=source))
    errors = check_rules([path], against=shipped_layer()).errors
    assert len(errors) == 1
    error = errors[0]
    assert "mirror or proxy" in error.message and "'OTHER'" in error.message
    assert error.location is not None and error.location.file == str(path)
    assert error.location.field == "source.verified" and error.location.line is not None
    assert error.hint and "publisher's own site" in error.hint


@pytest.mark.parametrize("code", ["trng_lfs_4w", "tran_sf_road"])
def test_a_verified_folder_or_metadata_code_fails(tmp_path: Path, code: str) -> None:
    assert eurostat_tables()[code]["kind"] != "table"
    source = {"publisher": "Eurostat", "dataset": code, "agency": "ESTAT",
              "url": "https://ec.europa.eu/eurostat/x", "verified": True}  # fmt: skip
    messages = only(write(tmp_path, entry(source=source)))
    assert any("not a table" in m for m in messages), messages


def test_an_unconfirmed_verified_code_fails_but_unverified_passes(tmp_path: Path) -> None:
    source = {"publisher": "Eurostat", "dataset": "abc_def", "agency": "ESTAT",
              "url": "https://ec.europa.eu/eurostat/x", "verified": True}  # fmt: skip
    assert any("not confirmed" in m for m in only(write(tmp_path, entry(source=source))))
    unverified = {**source, "verified": False, "note": "code not confirmed"}
    assert only(write(tmp_path, entry(source=unverified))) == []


def test_a_level_finer_than_the_cited_table_fails(tmp_path: Path) -> None:
    source = {"publisher": "Eurostat", "dataset": "tessi190", "agency": "ESTAT",
              "url": "https://ec.europa.eu/eurostat/x", "note": "x"}  # fmt: skip
    messages = only(write(tmp_path, entry(source=source, finest_level="province")))
    assert any("finer than the cited table tessi190 (country)" in m for m in messages)
    assert only(write(tmp_path, entry(source=source, finest_level="country"))) == []


def test_a_count_claiming_identical_to_a_rate_fails(tmp_path: Path) -> None:
    count = entry(
        "OWN_COUNT",
        unit="person",
        measure="stock",
        aggregation="sum",
        sdg=[{"id": "16.1.1", "relation": "identical"}],
    )
    messages = only(write(tmp_path, count))
    assert any("a count claims 'identical' to 16.1.1" in m for m in messages)
    count["sdg"] = [{"id": "16.1.1", "relation": "partial"}]
    assert only(write(tmp_path, count)) == []


def test_a_long_reading_sentence_in_two_entries_fails(tmp_path: Path) -> None:
    path = write(tmp_path, entry("FIRST_ONE"), entry("SECOND_ONE"))
    errors = check_rules([path], against=shipped_layer()).errors
    assert {e.location.field for e in errors if e.location} == {"how_to_read.it", "how_to_read.en"}
    assert all("'FIRST_ONE'" in e.message and "SECOND_ONE" in e.message for e in errors)
    short = {"it": "Più alto è meglio.", "en": "Higher is better."}
    assert only(write(tmp_path, entry("FIRST_ONE", how_to_read=short),
                      entry("SECOND_ONE", how_to_read=short))) == []  # fmt: skip


def test_profile_entries_need_real_definition_and_reading(tmp_path: Path) -> None:
    bare = entry(
        "BARE_ONE",
        definition={"it": "Quota locale", "en": "Local share"},
        how_to_read={"it": "Più alto è meglio.", "en": "Higher is better."},
    )
    write(tmp_path, bare)
    profile = tmp_path / "profiles" / "mine.yaml"
    profile.parent.mkdir()
    profile.write_text(
        textwrap.dedent("""\
            id: mine
            label: {it: Mio, en: Mine}
            indicators: [BARE_ONE]
            """),
        encoding="utf-8",
    )
    errors = check_rules([tmp_path / "own.yaml", profile], against=shipped_layer()).errors
    fields = sorted(e.location.field for e in errors if e.location)
    assert fields == ["definition.en", "definition.it", "how_to_read.en", "how_to_read.it"]
    assert all("profile 'mine'" in e.message for e in errors)


def test_unverified_without_a_note_is_a_warning(tmp_path: Path) -> None:
    quiet = entry(source={"publisher": "Comune", "document": "Delibera 12/2024"})
    report = check_rules([write(tmp_path, quiet)], against=shipped_layer())
    assert report.errors == [] and len(report.warnings) == 1


def test_sentences_split_after_stops_only() -> None:
    assert sentences("One; two. Three? Four") == ["One; two.", "Three?", "Four"]


def test_validate_command_reports_rule_problems(tmp_path: Path) -> None:
    from welfare_observatory.cli.main import cli as main

    path = write(tmp_path, entry("FIRST_ONE"), entry("SECOND_ONE"))
    result = CliRunner().invoke(main, ["catalog", "validate", str(path)])
    assert result.exit_code == 1
    assert f"{path}:" in result.output and "hint:" in result.output
    result = CliRunner().invoke(main, ["catalog", "validate", str(path), "--json"])
    assert result.exit_code == 1
    problems = json.loads(result.stdout)["problems"]
    assert problems[0]["location"]["file"] == str(path)


def test_the_shipped_catalogue_follows_every_rule() -> None:
    report = check_rules(shipped_layer())
    assert [str(e) for e in report.errors] == []
    assert [str(e) for e in report.warnings] == []


def test_validate_warns_about_a_former_id_in_a_profile(tmp_path: Path) -> None:
    """Issue 14 point 6: the profile still loads; validate names the id to write instead."""
    from welfare_observatory.cli.main import cli as main

    folder = tmp_path / "own"
    (folder / "profiles").mkdir(parents=True)
    (folder / "profiles" / "mine.yaml").write_text(
        "id: mine\nlabel: {it: Mio, en: Mine}\nindicators:\n  - POP_TOTAL\n  - ELET\n",
        encoding="utf-8",
    )
    report = check_rules([folder / "profiles" / "mine.yaml"], against=shipped_layer())
    assert report.errors == []
    (warning,) = report.warnings
    assert warning.location is not None and warning.location.line == 5
    assert "'ELET'" in warning.message and "'EARLY_LEAVERS_EDUCATION_TRAINING'" in warning.message
    from welfare_observatory.catalog import DeprecatedIndicatorWarning

    with pytest.warns(DeprecatedIndicatorWarning, match="mine.yaml:5"):
        result = CliRunner().invoke(main, ["catalog", "validate", str(folder)])
    assert result.exit_code == 0, result.output
    assert "warning: " in result.output and "EARLY_LEAVERS_EDUCATION_TRAINING" in result.output
