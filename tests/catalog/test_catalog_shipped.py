"""The catalogue shipped with the library: it loads, it is large enough, its ids are real."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from welfare_observatory.catalog import Catalog, catalog
from welfare_observatory.catalog._load import SHIPPED_DATA, shipped_units
from welfare_observatory.catalog._units import CACHE_FILE, build_cache
from welfare_observatory.model.indicator import Aggregation, Domain

BASE_IDS = (
    "POP_TOTAL", "POP_FEMALE", "POP_MALE", "POP_0_14", "POP_15_64", "POP_65_PLUS",
    "POP_75_PLUS", "POP_0_17", "POP_15_29", "POP_18_PLUS", "POP_FOREIGN", "BIRTHS", "DEATHS",
    "HOUSEHOLDS",
)  # fmt: skip


def test_shipped_catalogue_loads_and_is_cached() -> None:
    cat = catalog()
    assert cat is catalog()
    assert len(cat) > 0
    assert isinstance(Catalog.load(), Catalog)


def test_base_ids_that_other_domains_divide_by() -> None:
    cat = catalog()
    for ident in BASE_IDS:
        ind = cat.get(ident)
        assert ind.domain is Domain.DEMOGRAPHY
        assert ind.aggregation is Aggregation.SUM, ident


def test_demography_size_and_verification() -> None:
    demography = catalog().by_domain("demography")
    assert len(demography) >= 80
    assert sum(ind.source.verified for ind in demography) >= 40


def test_catalogue_size_required_by_the_issue() -> None:
    """450 entries, 150 verified: passes once every domain file is in."""
    cat = catalog()
    assert len(cat) >= 450
    assert sum(ind.source.verified for ind in cat) >= 150


def test_every_entry_names_a_publisher_and_a_reference() -> None:
    for ind in catalog():
        assert ind.source.publisher
        assert ind.source.url or ind.source.document, ind.id
        if ind.source.verified:
            assert ind.source.url, f"{ind.id}: verified entries give the URL that was read"


def _istat_dataflows(path: Path) -> set[str]:
    text = path.read_text(encoding="utf-8")
    return set(re.findall(r'<structure:Dataflow id="([^"]+)"', text))


@pytest.mark.shared
def test_every_istat_dataset_id_exists(shared_data: Path) -> None:
    flows = _istat_dataflows(shared_data / "sdmx_istat_dataflow_all.xml")
    assert "22_289" in flows and len(flows) > 400
    cited = {
        ind.id: ind.source.dataset
        for ind in catalog()
        if ind.source.dataset and ind.source.publisher.casefold().startswith("istat")
    }
    assert cited, "the catalogue cites Istat dataflows"
    unknown = {ident: ds for ident, ds in cited.items() if ds not in flows}
    assert not unknown, f"Istat dataset ids not in the dataflow list: {unknown}"


def test_unit_cache_matches_pint() -> None:
    """The shipped unit cache is what pint says today; refresh with catalog._refresh."""
    shipped = json.loads(CACHE_FILE.read_text(encoding="utf-8"))
    assert shipped == json.loads(json.dumps(build_cache(shipped_units()))), (
        "run: python -m welfare_observatory.catalog._refresh"
    )


def test_data_folder_holds_only_domain_files() -> None:
    names = {p.stem for p in SHIPPED_DATA.glob("*.yaml")}
    assert names <= {d.value for d in Domain}


def test_loading_the_shipped_catalogue_needs_no_pint() -> None:
    code = (
        "import sys\n"
        "from welfare_observatory.catalog import catalog\n"
        "catalog()\n"
        "print('pint' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
