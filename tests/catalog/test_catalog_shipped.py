"""The catalogue shipped with the library: it loads, it is large enough, its ids are real."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

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


ISTAT_DATAFLOW = re.compile(r"\d+_\d+")
"""How an Istat dataflow id looks (``22_289``), whoever's page the entry cites."""


@pytest.mark.shared
def test_every_istat_dataset_id_exists(shared_data: Path) -> None:
    """Every id shaped like an Istat dataflow, under any publisher, is in Istat's list."""
    flows = _istat_dataflows(shared_data / "sdmx_istat_dataflow_all.xml")
    assert "22_289" in flows and len(flows) > 400
    cited = {
        ind.id: ind.source.dataset
        for ind in catalog()
        if ind.source.dataset and ISTAT_DATAFLOW.fullmatch(ind.source.dataset)
    }
    assert len(cited) > 250, "the catalogue cites Istat dataflows"
    assert any(not catalog().get(i).source.definition_publisher.startswith("Istat") for i in cited)
    unknown = {ident: ds for ident, ds in cited.items() if ds not in flows}
    assert not unknown, f"Istat dataset ids not in the dataflow list: {unknown}"


def test_every_dataset_id_names_the_agency_that_owns_it() -> None:
    """The publisher may be a ministry whose page was read; the agency owns the dataset id."""
    for ind in catalog():
        src = ind.source
        if not src.dataset:
            assert src.agency is None, ind.id
            continue
        if ISTAT_DATAFLOW.fullmatch(src.dataset):
            assert src.agency == "IT1", f"{ind.id}: {src.dataset} is an Istat dataflow id"
        else:
            assert src.agency == "ESTAT", f"{ind.id}: {src.dataset} is not an Istat id"
            assert re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)*", src.dataset), ind.id


PUBLISHER_DOMAINS = {
    "istat": ("istat.it", "dati.statistiche-pa.it"),
    "eurostat": ("ec.europa.eu",),
    "european commission": ("ec.europa.eu", "op.europa.eu"),
    "ispra": ("isprambiente.gov.it", "isprambiente.it", "snpambiente.it"),
    "ministero del lavoro": ("lavoro.gov.it",),
}
"""Where each publisher's own material lives: a verified entry must cite one of these."""


def _publisher_domains(publisher: str) -> tuple[str, ...]:
    for name, domains in PUBLISHER_DOMAINS.items():
        if publisher.casefold().startswith(name):
            return domains
    return ()


def test_verified_urls_are_on_the_publishers_own_sites() -> None:
    """No mirror, proxy or third-party copy backs a verified entry (3-A of the review)."""
    offending = {}
    for ind in catalog():
        if not ind.source.verified:
            continue
        host = (urlsplit(ind.source.url or "").hostname or "").casefold()
        # the page read is the definition's publisher's (Eurostat's for an Istat dataflow)
        domains = _publisher_domains(ind.source.definition_publisher)
        if not any(host == d or host.endswith("." + d) for d in domains):
            offending[ind.id] = (ind.source.definition_publisher, host)
    assert not offending, (
        f"verified entries citing a page outside the publisher's site: {offending}"
    )


def test_the_allow_list_rejects_mirrors() -> None:
    for host in ("mdsite.deno.dev", "fdocumenti.com", "www.piemontesociale.it", "istat.it.example"):
        assert not any(host == d or host.endswith("." + d) for d in _publisher_domains("Istat"))


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
