"""The checked catalogue in the start-up cache: what it restores equals a fresh check of the
same files, a deprecation still warns, and nothing with an error or a changed file is
served from it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from welfare_observatory import _startup_cache
from welfare_observatory.catalog import (
    Catalog,
    CatalogValidationError,
    DeprecatedIndicatorWarning,
    _load,
)

Write = Callable[[str, str], Path]
PROFILE = "id: tiny\nlabel: {it: Piccolo}\nindicators: [POP_TOTAL, POP_OVER_64]\n"


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "startup"
    monkeypatch.setenv(_startup_cache.ENV, str(folder))
    return folder


def _entries(cache: Path) -> list[Path]:
    return sorted(cache.glob("catalog_checked-*.pickle"))


def _state(catalog: Catalog) -> tuple[Any, ...]:
    return (
        list(catalog._indicators.items()),
        list(catalog._profiles.items()),
        catalog._origin,
        catalog.overridden,
        catalog._aliases,
    )


def _no_check(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*_args: object) -> None:
        pytest.fail("checked again instead of served from the cache")

    monkeypatch.setattr(_load, "_check_layers", fail)


def test_a_checked_catalogue_from_the_cache_equals_a_fresh_check(
    cache: Path, base: Path, write: Write, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the shipped layer, an own file redefining a shipped id and adding entries
    own = write("own.yaml", base.read_text(encoding="utf-8"))
    with monkeypatch.context() as m:
        m.setenv(_startup_cache.ENV, "off")
        fresh = Catalog.load(own)
    first = Catalog.load(own)  # checks and stores
    assert len(_entries(cache)) == 1
    with monkeypatch.context() as m:
        _no_check(m)
        cached = Catalog.load(own)
    assert _state(first) == _state(fresh)
    assert _state(cached) == _state(fresh)
    assert [i.model_dump() for i in cached] == [i.model_dump() for i in fresh]


def test_a_former_id_in_a_profile_warns_from_the_cache_too(
    cache: Path, base: Path, write: Write, monkeypatch: pytest.MonkeyPatch
) -> None:
    profile = write("p.yaml", PROFILE)
    with pytest.warns(DeprecatedIndicatorWarning) as first:
        Catalog.load(base, profile, shipped=False)
    assert len(_entries(cache)) == 1
    with monkeypatch.context() as m, pytest.warns(DeprecatedIndicatorWarning) as again:
        _no_check(m)
        cat = Catalog.load(base, profile, shipped=False)
    messages = [str(w.message) for w in first]
    assert [str(w.message) for w in again] == messages
    assert f"{profile}:3" in messages[0] and "use 'POP_65_PLUS'" in messages[0]
    assert cat.get_profile("tiny").indicators == ("POP_TOTAL", "POP_65_PLUS")


def test_a_catalogue_with_errors_is_never_cached(cache: Path, write: Write, base: Path) -> None:
    text = base.read_text(encoding="utf-8").replace("unit: percent", "unit: parsecs_per_cow")
    broken = write("broken.yaml", text)
    reports = []
    for _ in range(2):
        with pytest.raises(CatalogValidationError) as caught:
            Catalog.load(broken, shipped=False)
        reports.append([(e.message, e.location) for e in caught.value.errors])
        assert _entries(cache) == []
    assert reports[0] == reports[1]
    assert any(location and location.line == 23 for _, location in reports[0])


def test_an_edited_file_is_checked_again(cache: Path, base: Path) -> None:
    before = Catalog.load(base, shipped=False)
    text = base.read_text(encoding="utf-8")
    base.write_text(text.replace("Resident population", "Residents"), encoding="utf-8")
    after = Catalog.load(base, shipped=False)
    assert before.get("POP_TOTAL").label.en == "Resident population"
    assert after.get("POP_TOTAL").label.en == "Residents"
    assert len(_entries(cache)) == 2


def test_a_units_registry_of_the_caller_is_checked_every_time(cache: Path, base: Path) -> None:
    from welfare_observatory.units import make_registry

    Catalog.load(base, shipped=False, units=make_registry())
    assert _entries(cache) == []


@pytest.mark.parametrize("upgraded", ["pint", "yaml"])
def test_another_pint_or_pyyaml_checks_the_catalogue_again(
    cache: Path, base: Path, monkeypatch: pytest.MonkeyPatch, upgraded: str
) -> None:
    Catalog.load(base, shipped=False)
    installed = _startup_cache.distribution

    def after_an_upgrade(module: str, name: str) -> str:
        return f"{name}-99.0.dist-info" if module == upgraded else installed(module, name)

    monkeypatch.setattr(_startup_cache, "distribution", after_an_upgrade)
    checks: list[object] = []
    check = _load._check_layers

    def counted(*args: Any) -> Any:
        checks.append(args)
        return check(*args)

    monkeypatch.setattr(_load, "_check_layers", counted)
    Catalog.load(base, shipped=False)
    assert checks, f"a new {upgraded} was served the old check"
    assert len(_entries(cache)) == 2


def test_the_cached_definition_texts_are_the_definitions_serialised_again(
    cache: Path, base: Path, write: Write, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The canonical JSON the cache keeps for each indicator is exactly what serialising the
    restored indicator gives (the build fingerprints digest it in its place)."""
    from welfare_observatory.lineage import canonical_json

    own = write("own.yaml", base.read_text(encoding="utf-8"))
    with monkeypatch.context() as m:
        m.setenv(_startup_cache.ENV, "off")
        assert Catalog.load(own).definition_texts() == {}  # nothing kept: computed in place
    first = Catalog.load(own)
    with monkeypatch.context() as m:
        _no_check(m)
        cached = Catalog.load(own)
    for catalog in (first, cached):
        texts = catalog.definition_texts()
        assert sorted(texts) == sorted(i.id for i in catalog)
        for indicator in catalog:
            assert texts[indicator.id] == canonical_json(indicator.model_dump(mode="json"))
    # an own file redefining a shipped id: its text is the own definition's
    redefined = [i for i in cached.overridden if i in cached.definition_texts()]
    assert redefined
    for ident in redefined:
        assert cached.definition_texts()[ident] == canonical_json(
            cached.get(ident).model_dump(mode="json")
        )
