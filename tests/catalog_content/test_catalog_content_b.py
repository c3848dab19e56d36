"""Content checks for the catalogue files of helper B, independent of the catalogue loader.

Files: health, education, labour, income_poverty, housing, social_services. Each entry must
validate as :class:`Indicator`, sit in its file's domain, use a parsable unit, refer in
formulas only to catalogue ids, link only SDG ids of the shipped framework and be honest
about provenance (``verified: true`` only with a url).
"""

from __future__ import annotations

import copy
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from welfare_observatory.model import Indicator
from welfare_observatory.sdg import framework
from welfare_observatory.units import check_unit

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "src" / "welfare_observatory" / "catalog" / "data"

#: Minimum number of entries per file (the brief of helper B).
MINIMA: dict[str, int] = {
    "health": 50,
    "education": 40,
    "labour": 45,
    "income_poverty": 35,
    "housing": 25,
    "social_services": 40,
}
MIN_TOTAL = 235
MIN_VERIFIED = 65
"""70 before seven entries read only in third-party copies (fdocumenti.com, EIGE) were set
back to unverified; raise it again as those are checked on the publishers' own sites."""
FILES = tuple(MINIMA)

ISTAT_FLOW = re.compile(r"^\d+_\d+$")


def _entries(stem: str) -> list[dict[str, Any]]:
    data = yaml.safe_load((DATA / f"{stem}.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, list), f"{stem}.yaml must be a YAML list"
    return data


@pytest.fixture(scope="module")
def entries() -> dict[str, list[dict[str, Any]]]:
    """Raw entries of helper B's files, by file stem."""
    return {stem: _entries(stem) for stem in FILES}


@pytest.fixture(scope="module")
def all_ids() -> list[str]:
    """Ids and aliases of every file in the catalogue folder (all helpers)."""
    names: list[str] = []
    for path in sorted(DATA.glob("*.yaml")):
        for item in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
            names.append(str(item["id"]))
            names.extend(str(alias) for alias in item.get("aliases") or [])
    return names


@pytest.mark.parametrize("stem", FILES)
def test_entries_validate_and_match_domain(stem: str) -> None:
    for item in _entries(stem):
        indicator = Indicator.model_validate(item)
        assert str(indicator.domain) == stem, indicator.id


@pytest.mark.parametrize("stem", FILES)
def test_counts_reach_minimum(stem: str) -> None:
    assert len(_entries(stem)) >= MINIMA[stem]


def test_totals_and_verified_share(entries: dict[str, list[dict[str, Any]]]) -> None:
    items = [item for stem in FILES for item in entries[stem]]
    assert len(items) >= MIN_TOTAL
    assert sum(1 for item in items if item["source"].get("verified")) >= MIN_VERIFIED


def test_ids_and_aliases_unique_across_folder(all_ids: list[str]) -> None:
    duplicates = sorted(name for name, n in Counter(all_ids).items() if n > 1)
    assert duplicates == []


@pytest.mark.parametrize("stem", FILES)
def test_units_parse(stem: str) -> None:
    for item in _entries(stem):
        check_unit(item["unit"])


@pytest.mark.parametrize("stem", FILES)
def test_formula_operands_are_catalogue_ids(stem: str, all_ids: list[str]) -> None:
    known = set(all_ids)
    for item in _entries(stem):
        formula = item.get("formula")
        if formula is None:
            assert item["aggregation"] != "formula", item["id"]
            continue
        assert item["aggregation"] == "formula", item["id"]
        assert formula["numerator"] in known, (item["id"], formula["numerator"])
        assert formula["denominator"] in known, (item["id"], formula["denominator"])
        assert formula["multiplier"] > 0


@pytest.mark.parametrize("stem", FILES)
def test_sdg_ids_resolve(stem: str) -> None:
    sdg = framework()
    for item in _entries(stem):
        for link in item.get("sdg") or []:
            sdg.resolve(link["id"])


@pytest.mark.parametrize("stem", FILES)
def test_provenance_is_honest(stem: str) -> None:
    for item in _entries(stem):
        source = item["source"]
        assert source["publisher"].strip(), item["id"]
        # where the definition was read: source.definition (or, in old files, source itself)
        read = source.get("definition") or source
        assert read.get("url") or read.get("document"), item["id"]
        if source.get("verified"):
            assert str(read.get("url", "")).startswith("http"), item["id"]


@pytest.mark.parametrize("stem", FILES)
def test_labels_have_both_languages(stem: str) -> None:
    for item in _entries(stem):
        for key in ("label", "definition", "how_to_read"):
            assert item[key]["it"].strip() and item[key]["en"].strip(), (item["id"], key)
            assert item[key]["it"] != item[key]["en"], (item["id"], key)


@pytest.mark.shared
def test_istat_dataset_ids_exist(shared_data: Path) -> None:
    flows_file = shared_data / "sdmx_istat_dataflow_all.xml"
    if not flows_file.is_file():
        pytest.skip("Istat dataflow list not available")
    flows = set(re.findall(r'Dataflow[^>]*\sid="([^"]+)"', flows_file.read_text("utf-8")))
    assert flows, "no dataflow ids found in the Istat list"
    for stem in FILES:
        for item in _entries(stem):
            dataset = item["source"].get("dataset")
            if dataset and ISTAT_FLOW.match(dataset):
                assert dataset in flows, (item["id"], dataset)


def test_broken_entry_is_rejected() -> None:
    good = _entries("labour")[0]
    Indicator.model_validate(good)
    bad_polarity = copy.deepcopy(good) | {"polarity": "sideways"}
    with pytest.raises(ValidationError):
        Indicator.model_validate(bad_polarity)
    lower_id = copy.deepcopy(good) | {"id": "employed_persons"}
    with pytest.raises(ValidationError):
        Indicator.model_validate(lower_id)
    no_provenance = copy.deepcopy(good)
    no_provenance["source"] = {"publisher": "Istat"}
    with pytest.raises(ValidationError):
        Indicator.model_validate(no_provenance)
