"""Selection profiles: verified entries only, sizes as promised, rebuilt by a written rule."""

from __future__ import annotations

from pathlib import Path

from welfare_observatory.catalog import Catalog, catalog
from welfare_observatory.catalog._profiles import FIRST_REPORT_SIZE, MATURE_SIZE, build, write


def test_shipped_profiles_exist_and_hold_verified_entries_only() -> None:
    cat = catalog()
    names = {p.id for p in cat.profiles()}
    assert {"mature", "first_report", "ageing", "youth_at_risk", "women_and_work"} <= names
    for profile in cat.profiles():
        assert profile.label.it and profile.label.en
        assert all(ind.source.verified for ind in cat.profile(profile.id))


def test_profile_sizes() -> None:
    cat = catalog()
    verified = sum(ind.source.verified for ind in cat)
    assert len(cat.profile("mature")) == min(MATURE_SIZE, verified)
    assert len(cat.profile("first_report")) <= FIRST_REPORT_SIZE
    assert set(cat.get_profile("first_report").indicators) <= set(
        cat.get_profile("mature").indicators
    )


def test_rebuilt_profiles_load(tmp_path: Path) -> None:
    cat = catalog()
    folder = tmp_path / "profiles"
    folder.mkdir()
    write(build(cat), folder)
    rebuilt = Catalog.load(folder)
    assert {p.id for p in rebuilt.profiles()} >= {"mature", "first_report"}


def test_every_domain_with_verified_entries_is_in_the_first_report() -> None:
    cat = catalog()
    domains = {ind.domain for ind in cat.profile("mature")}
    assert {ind.domain for ind in cat.profile("first_report")} == domains


def test_profile_entries_say_how_to_read_them_in_both_languages() -> None:
    """A report shows 'how to read it' on every card: profiles must not leave it empty."""
    cat = catalog()
    for name in ("mature", "first_report"):
        lacking = [i.id for i in cat.profile(name) if not (i.how_to_read.it and i.how_to_read.en)]
        assert not lacking, f"{name}: no how_to_read for {lacking}"
