"""The provenance split, the coverage qualifier and former ids (aliases) with deprecation."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from welfare_observatory.catalog import Catalog, DeprecatedIndicatorWarning, catalog
from welfare_observatory.model import Coverage, Indicator, Provenance, TerritoryLevel

OLD_SOURCE = {
    "publisher": "Istat",
    "dataset": "22_289",
    "agency": "IT1",
    "url": "https://www.istat.it/x",
    "document": "Istat, Noi Italia",
    "page": "12",
    "verified": True,
}


def _entry(**extra: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": "SOME_RATE",
        "label": {"it": "x", "en": "x"},
        "unit": "percent",
        "polarity": "neutral",
        "domain": "health",
        "measure": "ratio",
        "reference_point": "jan_1",
        "aggregation": "none",
        "source": dict(OLD_SOURCE),
    }
    entry.update(extra)
    return entry


def test_old_flat_keys_load_into_the_definition_source() -> None:
    source = Provenance.model_validate(OLD_SOURCE)
    assert source.definition is not None
    assert (source.definition.url, source.definition.document, source.definition.page) == (
        "https://www.istat.it/x",
        "Istat, Noi Italia",
        "12",
    )
    # the compatibility properties answer as before
    assert (source.url, source.document, source.page) == (
        "https://www.istat.it/x",
        "Istat, Noi Italia",
        "12",
    )
    assert source.definition_publisher == "Istat"


def test_new_shape_round_trips_and_names_the_definitions_author() -> None:
    new = {
        "publisher": "Istat",
        "dataset": "26_295",
        "agency": "IT1",
        "release": "Tavole di mortalità",
        "definition": {"publisher": "Eurostat", "url": "https://ec.europa.eu/eurostat/x"},
    }
    source = Provenance.model_validate(new)
    assert source.definition_publisher == "Eurostat"
    assert source.release == "Tavole di mortalità"
    assert Provenance.model_validate(source.model_dump()) == source


def test_keys_in_both_places_or_no_reference_are_errors() -> None:
    with pytest.raises(ValidationError, match="not beside it"):
        Provenance.model_validate({**OLD_SOURCE, "definition": {"url": "https://istat.it"}})
    with pytest.raises(ValidationError, match="url or a document"):
        Provenance.model_validate({"publisher": "Istat"})
    with pytest.raises(ValidationError, match="url or a document"):
        Provenance.model_validate({"publisher": "Istat", "definition": {"page": "3"}})


@pytest.mark.parametrize(
    ("coverage", "level", "expected"),
    [
        ("all", "municipality", True),
        ("all", "province", True),
        ("all", "region", False),
        ("provincial_capitals", "municipality", False),
        ("monitoring_stations", "municipality", False),
        ("survey_domains", "province", False),
    ],
)
def test_province_values_need_full_coverage(coverage: str, level: str, expected: bool) -> None:
    ind = Indicator.model_validate(_entry(coverage=coverage, finest_level=level))
    assert ind.coverage is Coverage(coverage)
    assert ind.finest_level is TerritoryLevel(level)
    assert ind.province_values is expected


def test_coverage_defaults_to_all_and_rejects_unknown_words() -> None:
    assert Indicator.model_validate(_entry()).coverage is Coverage.ALL
    with pytest.raises(ValidationError):
        Indicator.model_validate(_entry(coverage="some"))


def test_resolve_a_current_id_has_no_notice() -> None:
    found = catalog().resolve("POP_TOTAL")
    assert found.indicator.id == "POP_TOTAL"
    assert not found.deprecated and found.notice is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert found.warn().id == "POP_TOTAL"


def test_resolve_a_former_id_names_the_new_one(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(
        "- id: NEW_NAME\n  aliases: [OLD_NAME]\n  label: {it: x, en: x}\n  unit: person\n"
        "  polarity: neutral\n  domain: health\n  measure: stock\n  reference_point: jan_1\n"
        "  aggregation: sum\n  source: {publisher: Istat, document: a note}\n",
        encoding="utf-8",
    )
    cat = Catalog.load(path)
    found = cat.resolve("old_name")
    assert found.deprecated and found.indicator.id == "NEW_NAME"
    assert found.notice is not None and "'NEW_NAME'" in found.notice
    with pytest.warns(DeprecatedIndicatorWarning, match="NEW_NAME"):
        assert found.warn().id == "NEW_NAME"
    assert cat.aliases["OLD_NAME"] == "NEW_NAME"


def test_an_observatory_still_selecting_a_former_id_builds_with_a_warning(
    tmp_path: Path,
) -> None:
    from welfare_observatory.observatory import load_observatory

    (tmp_path / "mine.yaml").write_text(
        "- id: NEW_NAME\n  aliases: [OLD_NAME]\n  label: {it: x, en: x}\n  unit: person\n"
        "  polarity: neutral\n  domain: health\n  measure: stock\n  reference_point: jan_1\n"
        "  aggregation: sum\n  source: {publisher: Istat, document: a note}\n",
        encoding="utf-8",
    )
    (tmp_path / "observatory.yaml").write_text(
        "id: demo\nname: {it: Demo, en: Demo}\nedition: '2025'\n"
        "territory: {code: '096', reference_date: 2024-01-01}\n"
        "indicators:\n  catalog: [mine.yaml]\n  add: [POP_TOTAL, OLD_NAME]\n"
        "sources: {}\n",
        encoding="utf-8",
    )
    with pytest.warns(DeprecatedIndicatorWarning, match="use 'NEW_NAME'"):
        selected = load_observatory(tmp_path).selection()
    assert [i.id for i in selected] == ["POP_TOTAL", "NEW_NAME"]


@given(
    url=st.none() | st.just("https://www.istat.it/x"),
    document=st.none() | st.from_regex(r"[A-Za-z][A-Za-z ,]{0,18}[A-Za-z]", fullmatch=True),
    page=st.none() | st.sampled_from(["1", "12", "iv"]),
)
def test_old_and_new_provenance_shapes_load_the_same(
    url: str | None, document: str | None, page: str | None
) -> None:
    """Migration invariant: flat keys and ``definition`` give the same provenance."""
    read = {k: v for k, v in {"url": url, "document": document, "page": page}.items() if v}
    if not (url or document):
        with pytest.raises(ValidationError):
            Provenance.model_validate({"publisher": "Istat", **read})
        return
    old = Provenance.model_validate({"publisher": "Istat", **read})
    new = Provenance.model_validate({"publisher": "Istat", "definition": read})
    assert old == new
    assert (old.url, old.document, old.page) == (url, read.get("document"), page)


def test_an_observatory_whose_own_profile_lists_a_former_id_selects_the_new_one(
    tmp_path: Path,
) -> None:
    from welfare_observatory.observatory import load_observatory

    own = tmp_path / "own"
    (own / "profiles").mkdir(parents=True)
    (own / "mine.yaml").write_text(
        "- id: NEW_NAME\n  aliases: [OLD_NAME]\n  label: {it: x, en: x}\n  unit: person\n"
        "  polarity: neutral\n  domain: health\n  measure: stock\n  reference_point: jan_1\n"
        "  aggregation: sum\n"
        "  source: {publisher: Istat, url: 'https://www.istat.it/x', verified: true}\n",
        encoding="utf-8",
    )
    (own / "profiles" / "local.yaml").write_text(
        "id: local\nlabel: {it: Locale, en: Local}\nindicators: [POP_TOTAL, OLD_NAME]\n",
        encoding="utf-8",
    )
    (tmp_path / "observatory.yaml").write_text(
        "id: demo\nname: {it: Demo, en: Demo}\nedition: '2025'\n"
        "territory: {code: '096', reference_date: 2024-01-01}\n"
        "indicators:\n  catalog: [own]\n  profile: local\n  remove: [OLD_NAME]\n"
        "sources: {}\n",
        encoding="utf-8",
    )
    with pytest.warns(DeprecatedIndicatorWarning) as caught:
        selected = load_observatory(tmp_path).selection()
    messages = [str(w.message) for w in caught]
    assert any("local.yaml:3" in m and "use 'NEW_NAME'" in m for m in messages), messages
    assert [i.id for i in selected] == ["POP_TOTAL"]  # OLD_NAME removed = NEW_NAME removed


def test_the_new_model_names_are_public_at_the_top_level() -> None:
    import welfare_observatory
    from welfare_observatory.catalog import DeprecatedIndicatorWarning as Warned
    from welfare_observatory.model import Coverage, DefinitionSource

    assert welfare_observatory.Coverage is Coverage
    assert welfare_observatory.DefinitionSource is DefinitionSource
    assert welfare_observatory.DeprecatedIndicatorWarning is Warned
    assert {"Coverage", "DefinitionSource", "DeprecatedIndicatorWarning"} <= set(
        welfare_observatory.__all__
    )
