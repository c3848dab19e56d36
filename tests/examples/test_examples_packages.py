"""The three example observatories: real data with provenance, shipped, and they build."""

from __future__ import annotations

import html
import importlib.util
import re
import sys
import tomllib
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest
import yaml

from welfare_observatory.build.report import BuildReport
from welfare_observatory.catalog import catalog
from welfare_observatory.governance import load_governance
from welfare_observatory.observatory import load_observatory
from welfare_observatory.publish.report import build_report
from welfare_observatory.publish.report.deepdive import REFERENCE, Reference
from welfare_observatory.store import KnowledgeBase

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
NAMES = ("biella", "brescia", "trento")
LANGUAGES = ("it", "en")
META_KEYS = {"publisher", "source_file", "origin", "transformation", "licence"}
MAX_DATA_BYTES = 600_000


def package(name: str) -> Path:
    return EXAMPLES / name / "src" / f"osserva_{name}"


def data_files(name: str) -> list[Path]:
    folder = package(name) / "data"
    return sorted(
        p for p in folder.iterdir() if p.name != "README.md" and not p.name.endswith(".meta.yaml")
    )


def missing_provenance(file: Path) -> list[str]:
    """What the provenance of a data file lacks (empty when complete)."""
    sidecar = file.with_name(file.name + ".meta.yaml")
    readme = file.parent / "README.md"
    if sidecar.exists():
        record = yaml.safe_load(sidecar.read_text("utf-8")) or {}
        return sorted(k for k in META_KEYS if not str(record.get(k) or "").strip())
    if readme.exists() and f"`{file.name}`" in readme.read_text("utf-8"):
        return []
    return ["a <file>.meta.yaml sidecar or a data/README.md entry"]


@pytest.mark.parametrize("name", NAMES)
def test_every_data_file_says_where_it_comes_from(name: str) -> None:
    files = data_files(name)
    assert files, f"{name} ships no data"
    for file in files:
        assert missing_provenance(file) == [], file.name
    assert sum(f.stat().st_size for f in files) < MAX_DATA_BYTES


def test_a_data_file_without_provenance_is_caught(tmp_path: Path) -> None:
    (tmp_path / "numbers.csv").write_text("a;b\n1;2\n", "utf-8")
    assert missing_provenance(tmp_path / "numbers.csv") != []
    (tmp_path / "numbers.csv.meta.yaml").write_text("publisher: Istat\n", "utf-8")
    assert "licence" in missing_provenance(tmp_path / "numbers.csv")


@pytest.mark.parametrize("name", NAMES)
def test_the_package_ships_every_file_of_the_observatory(name: str) -> None:
    config = tomllib.loads((EXAMPLES / name / "pyproject.toml").read_text("utf-8"))
    entry = config["project"]["entry-points"]["welfare_observatory.observatories"]
    assert entry == {name: f"osserva_{name}"}
    patterns = config["tool"]["setuptools"]["package-data"][f"osserva_{name}"]
    root = package(name)
    for file in root.rglob("*"):
        if file.is_file() and file.suffix != ".py" and "__pycache__" not in file.parts:
            relative = file.relative_to(root).as_posix()
            assert any(fnmatch(relative, p) for p in patterns), f"{relative} is not shipped"


@pytest.mark.parametrize("name", NAMES)
def test_configuration_governance_and_deepdive_are_valid(name: str) -> None:
    observatory = load_observatory(package(name))
    assert observatory.config.id == name
    cat = catalog()
    # the tables follow ids of the observatory's catalogue (the national baseline's included)
    governance = load_governance(package(name) / "governance.yaml", catalog=observatory.catalog)
    assert governance.stakeholders and governance.tables
    assert governance.indicator_ids()
    for lang in LANGUAGES:
        for reference in deepdive_references(name, lang):
            cat.get(reference.indicator)


def deepdive_file(name: str, lang: str) -> Path:
    report = load_observatory(package(name)).config.report
    relative = report.deepdive_for(lang)
    assert relative is not None, f"{name} has no deep-dive"
    return package(name) / relative


def deepdive_references(name: str, lang: str) -> list[Reference]:
    text = deepdive_file(name, lang).read_text("utf-8")
    return [Reference.parse(match) for match in REFERENCE.finditer(text)]


@pytest.mark.parametrize("name", NAMES)
def test_each_language_has_its_own_deepdive_with_the_same_references(name: str) -> None:
    files = {lang: deepdive_file(name, lang) for lang in LANGUAGES}
    assert files["it"] != files["en"]
    # the English text is a translation: it cites the same series, in the same order
    assert deepdive_references(name, "en") == deepdive_references(name, "it")
    assert deepdive_references(name, "it"), f"{name}'s deep-dive cites no indicator"


def test_trento_reports_every_two_years_and_brescia_ranks_its_risks() -> None:
    assert load_observatory(package("trento")).config.periodicity == "biennial"
    risks = load_governance(package("brescia") / "governance.yaml").priorities
    assert [p.rank for p in sorted(risks, key=lambda p: p.rank)] == [1, 2, 3]


def _maker() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "make_example_data", EXAMPLES / "make_example_data.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", NAMES)
def test_the_data_are_the_public_figures_reshaped(name: str, shared_data: Path) -> None:
    """Re-running the extraction on the public files gives the shipped files exactly."""
    maker = _maker()
    example = next(e for e in maker.EXAMPLES if e.package == name)
    code = example.province
    folder = package(name) / "data"
    assert maker.municipal_table(shared_data, code) == (
        folder / f"popolazione_classi_eta_{code}_2022_2023.csv"
    ).read_text("utf-8")
    assert maker.foreigners_table(shared_data, example.itter107) == (
        folder / f"stranieri_bilancio_{code}_2019_2023.csv"
    ).read_text("utf-8")
    assert maker.eurostat_excerpt(shared_data, example.eurostat) == (
        folder / f"eurostat_demo_r_gind3_{code}.tsv"
    ).read_text("utf-8")
    # the labour-force export has no provinces: its NUTS 1 area and Italy, layout kept
    extract = maker.employment_of_foreigners(shared_data, example.employment)
    shipped = folder / "occupazione_stranieri_15_64_2019_2023.csv"
    assert extract.encode("utf-8") == shipped.read_bytes()
    assert {"ITC": "Nord-ovest", "ITD": "Nord-est"}[example.employment[0]] in example.area


def test_brescias_municipal_extras_are_the_public_figures_reshaped(shared_data: Path) -> None:
    """The bs_* files re-made from ../shared/data/more are the shipped ones, byte for byte."""
    folder = package("brescia") / "data"
    extras = _maker().brescia_extras(shared_data / "more")
    assert len(extras) == 6
    for name, (body, meta) in extras.items():
        assert body == (folder / name).read_bytes(), name
        assert meta == (folder / f"{name}.meta.yaml").read_text("utf-8"), name
    shipped = {p.name for p in folder.glob("bs_*") if not p.name.endswith(".meta.yaml")}
    assert shipped == set(extras)


def test_brescias_income_classes_are_summed_only_when_complete(shared_data: Path) -> None:
    """A municipality missing a suppressed class gets no total (never a partial sum)."""
    frame = _maker().brescia_income_classes(shared_data / "more")
    totals = frame[frame["indicator"] == "BS_IRPEF_TAXPAYERS"].set_index(["territory", "period"])
    # Acquafredda 2012: the class above 120,000 euro is suppressed, so no total that year
    assert ("017001", "2012") not in totals.index
    assert totals.loc[("017001", "2023"), "value"] == 1085.0
    low = frame[frame["indicator"] == "BS_IRPEF_TAXPAYERS_UP_TO_10K"]
    low = low.set_index(["territory", "period"])["value"]
    raw = pd.read_csv(
        shared_data / "more" / "bs_istat_mef_redditi_classi_comuni_2012_2023.csv",
        dtype={"codice_istat": str},
    )
    city = raw[(raw["codice_istat"] == "017029") & (raw["anno"] == 2021)]
    counts = city[city["codice_indicatore"] == "AGGINCF"].set_index("codice_classe")["valore"]
    assert low[("017029", "2021")] == counts["E_UN0"] + counts["E0-10000"]
    assert totals.loc[("017029", "2021"), "value"] == counts.sum()
    # every municipal total is at least its low-income part
    both = totals.join(low.rename("low"), how="inner")
    assert (both["value"] >= both["low"]).all()


EXPECTED_BUILT = {
    "POP_TOTAL",
    "POP_FEMALE",
    "POP_65_PLUS",
    "POP_FOREIGN",
    "OLD_AGE_INDEX",
    "OLD_AGE_DEPENDENCY_RATIO",
    "DEPENDENCY_RATIO",
    "SHARE_65_PLUS",
    "SHARE_80_PLUS",
    "SHARE_FOREIGN",
    "FOREIGN_BIRTHS",
}


@dataclass(frozen=True)
class Built:
    kb: Path
    report: BuildReport


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Built]:
    """Each example built offline once (about 2.5 s each), shared by the tests below."""
    out = {}
    for name in NAMES:
        kb = tmp_path_factory.mktemp(name) / "kb"
        result = load_observatory(package(name)).build(out=kb, offline=True)
        out[name] = Built(kb, result.report)
    return out


@pytest.mark.parametrize("name", NAMES)
def test_an_example_builds_offline_and_says_why_the_rest_is_skipped(
    name: str, built: dict[str, Built]
) -> None:
    report = built[name].report
    assert report.ok, [s for s in report.sources if s.status != "ok"]
    assert set(report.built) >= EXPECTED_BUILT
    assert len(report.built) + len(report.skipped) == report.selected
    assert all(s.reason for s in report.skipped)
    kb = KnowledgeBase.open(built[name].kb)
    code = load_observatory(package(name)).config.territory.code
    # the province's 2022 total, summed from its municipalities, is Istat's published figure
    total = kb.observations("POP_TOTAL", code, "2022-01-01", sex="_T")["value"].tolist()
    assert total == [{"096": 170027.0, "017": 1253157.0, "022": 540958.0}[code]]


NOT_BUILT_FOLLOWED = {
    "biella": {"GENDER_EMPLOYMENT_GAP", "RESIDENTIAL_CARE_FACILITIES_RATE"},
    "brescia": {"AT_RISK_OF_POVERTY_OR_EXCLUSION", "IN_WORK_POVERTY_RATE"},
    "trento": {
        "CHILDREN_UNDER_3_FORMAL_CHILDCARE",
        "GENDER_EMPLOYMENT_GAP",
        "RESIDENTIAL_CARE_FACILITIES_RATE",
        "YOUTH_UNEMPLOYMENT_RATE_15_24",
    },
}
"""Indicators a governance table follows that no shipped source provides (the others are
followed under the id the national baseline delivers them with, e.g. BES_02IST006 for
the NEET rate of BES dei territori)."""


@pytest.mark.parametrize("name", NAMES)
def test_what_governance_follows_is_built_or_the_report_says_why_not(
    name: str, built: dict[str, Built]
) -> None:
    from types import SimpleNamespace

    from welfare_observatory.governance import governance_section

    observatory = load_observatory(package(name))
    governance = load_governance(package(name) / "governance.yaml", catalog=observatory.catalog)
    report = built[name].report
    missing = governance.indicator_ids() - set(report.built)
    assert missing == NOT_BUILT_FOLLOWED[name]
    assert missing <= {s.id for s in report.skipped}  # selected, and the build says why
    kb = KnowledgeBase.open(built[name].kb)
    section = SimpleNamespace(
        lang="en",
        config=observatory.config,
        folder=str(observatory.folder),
        observations=kb.query("SELECT * FROM observations"),
    )
    page = html.unescape(governance_section(section))
    assert "Indicators followed with no data in this edition" in page
    for indicator in missing:
        assert f"({indicator}): not built: no source of this observatory provides it" in page
    for indicator in governance.indicator_ids() - missing:
        label = observatory.catalog.get(indicator).label.get("en")
        assert label in page and f"({indicator}): not built" not in page


MINIMUM_LOCAL = {"biella": 130, "brescia": 100, "trento": 100}
"""Issue 13: indicators with a value for the province or its municipalities (lower bounds)."""


def local_indicators(kb: KnowledgeBase, code: str) -> set[str]:
    """Indicators with a value (not a missing marker) for the province or its municipalities."""
    rows = kb.query(
        "SELECT DISTINCT indicator FROM observations WHERE value IS NOT NULL AND "
        f"(territory = '{code}' OR (length(territory) = 6 AND territory LIKE '{code}%'))"
    )
    return {str(i) for i in rows["indicator"]}


@pytest.mark.parametrize("name", NAMES)
def test_an_example_is_at_the_size_of_the_real_observatory(
    name: str, built: dict[str, Built]
) -> None:
    """At least 130 (Biella) or 100 indicators the territory itself has, in 8+ domains."""
    observatory = load_observatory(package(name))
    selected = {i.id: i for i in observatory.selection()}
    kb = KnowledgeBase.open(built[name].kb)
    local = local_indicators(kb, observatory.config.territory.code) & set(selected)
    assert len(local) >= MINIMUM_LOCAL[name], len(local)
    domains = {str(selected[i].domain) for i in local}
    assert len(domains) >= 8, domains
    # what is selected and not built says why (the build report's skipped list)
    report = built[name].report
    assert set(selected) - set(report.built) == {s.id for s in report.skipped}


@pytest.mark.parametrize("name", NAMES)
def test_every_analysis_shows_on_the_examples_real_data(name: str, built: dict[str, Built]) -> None:
    """40+ indicators with a direction, 60 %+ of them with a progress class and its window;
    AMPI per domain; ranks among provinces; early warnings on municipal series."""
    observatory = load_observatory(package(name))
    code = observatory.config.territory.code
    selected = {i.id: i for i in observatory.selection()}
    kb = KnowledgeBase.open(built[name].kb)
    local = local_indicators(kb, code) & set(selected)
    polar = {i for i in local if selected[i].polarity.value != "neutral"}
    assert len(polar) >= 40, len(polar)
    progress = kb.analysis("progress")
    mine = progress[(progress["territory"] == code) & (progress["sex"] == "_T")]
    mine = mine[mine["indicator"].isin(polar)]
    assessed = mine[mine["category"] != "not_assessable"]
    assert len(set(assessed["indicator"])) >= 0.6 * len(polar)
    assert (assessed["end_year"] > assessed["start_year"]).all()  # each with its window
    composite = kb.analysis("composite")
    domains = set(composite[composite["territory"] == code]["domain"])
    assert len(domains) >= 8 and composite["ampi"].notna().any(), domains
    benchmark = kb.analysis("benchmark")
    assert benchmark[benchmark["territory"] == code]["rank"].notna().any()
    warnings = kb.analysis("early_warnings")
    assert len(warnings) >= 1
    assert (warnings["territory"].str.len() == 6).all()  # municipalities only
    assert (warnings["robust_z"] >= 2).all() and (warnings["adjusted_cagr"] < 0).all()
    assert (warnings["year"] - warnings["start_year"] >= 3).all()


UNRESOLVED = re.compile(r'class="(?:ref|indicator) missing"')
"""What the report writes for a reference that found nothing (value_missing.html.j2 and
figure_missing.html.j2)."""


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("name", NAMES)
def test_every_deepdive_reference_resolves_on_the_offline_edition(
    name: str, lang: str, built: dict[str, Built], tmp_path: Path
) -> None:
    """The deep-dive cites only what the shipped data give: no "not available" anywhere."""
    result = build_report(
        built[name].kb, None, tmp_path / "site", observatory=package(name), lang=lang
    )
    page = (result.out / "deepdive.html").read_text("utf-8")
    heading = deepdive_file(name, lang).read_text("utf-8").splitlines()[0].lstrip("# ")
    assert html.escape(heading, quote=False) in page  # this language's file, not the other
    missing = UNRESOLVED.findall(page)
    assert not missing, re.findall(r'class="(?:ref|indicator) missing".{0,200}', page)
    # every inline reference became a value linked to the edition, and every figure a chart
    text = deepdive_file(name, lang).read_text("utf-8")
    shown = page.count('class="ref"') + page.count('<figure class="indicator">')
    assert shown == len(REFERENCE.findall(text))


@pytest.mark.parametrize("name", NAMES)
def test_coverage_lists_what_the_installed_sources_build_and_why_the_rest_is_missing(
    name: str, built: dict[str, Built]
) -> None:
    from welfare_observatory.selection_coverage import selection_coverage

    observatory = load_observatory(package(name))
    code = observatory.config.territory.code
    report = built[name].report
    reasons = {s.id: s.reason for s in report.skipped}
    rows = selection_coverage(observatory, built[name].kb, reasons=reasons)
    assert [r.indicator for r in rows] == [i.id for i in observatory.selection()]
    kb = KnowledgeBase.open(built[name].kb)
    local = {r.indicator for r in rows if r.status == "local"}
    assert local == local_indicators(kb, code) & {r.indicator for r in rows}
    for row in rows:
        if row.status == "missing":
            assert row.reason == reasons[row.indicator] and not row.levels
        elif row.status == "context":
            assert row.local_years is None and code in row.reason and row.levels
        else:
            assert row.local_years is not None and row.local_years[0] <= row.local_years[1]
            assert row.reason == "" and row.sources
    # the regional SDG measures are context for Biella and Brescia (no provincial series)
    if name != "trento":
        assert {r.status for r in rows if r.indicator == "SDG_SDG6"} == {"context"}


def test_catalog_coverage_of_an_observatory_on_the_command_line(
    built: dict[str, Built],
) -> None:
    import json

    from click.testing import CliRunner

    from welfare_observatory.cli.main import cli

    args = ["catalog", "coverage", "--observatory", str(package("brescia"))]
    result = CliRunner().invoke(cli, [*args, "--kb", str(built["brescia"].kb), "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    by_id = {r["indicator"]: r for r in rows}
    assert by_id["BS_IRPEF_LOW_INCOME_SHARE"]["status"] == "local"
    assert by_id["BS_IRPEF_LOW_INCOME_SHARE"]["levels"] == ["municipality"]
    assert by_id["BS_IRPEF_LOW_INCOME_SHARE"]["local_years"] == [2012, 2023]
    assert by_id["BS_CRIMES_TOTAL"]["local_years"] == [2006, 2024]
    kb = str(built["brescia"].kb)
    missing = CliRunner().invoke(cli, [*args, "--kb", kb, "--missing", "--json"])
    assert missing.exit_code == 0, missing.output
    ids = {r["indicator"] for r in json.loads(missing.output)}
    assert "EMPLOYMENT_RATE_20_64" in ids and "SDG_SDG6" in ids and "BS_CRIMES_TOTAL" not in ids
    table = CliRunner().invoke(cli, [*args, "--kb", kb, "--missing"])
    assert table.exit_code == 0, table.output
    summary = re.search(r"brescia: (\d+) local, (\d+) context only, (\d+) missing", table.output)
    assert summary is not None, table.output
    # the counts agree with the JSON listing
    counts = [sum(r["status"] == s for r in rows) for s in ("local", "context", "missing")]
    assert [int(n) for n in summary.groups()] == counts
    assert counts[0] >= 190


@pytest.mark.parametrize("name", NAMES)
def test_the_front_page_shows_progress_composites_ranks_and_warnings_with_reasons(
    name: str, built: dict[str, Built], tmp_path: Path
) -> None:
    """What a reader sees: improving/worsening counts per domain, early warnings with their
    reason, AMPI values on the composite page, a rank on a card, maps."""
    site = build_report(built[name].kb, None, tmp_path / "site", observatory=package(name)).out
    home = (site / "index.html").read_text("utf-8")
    domains = re.search(r"<h3[^>]*>Per dominio</h3>.*?</table>", home, flags=re.S)
    assert domains is not None
    cells = [int(c) for c in re.findall(r'<td class="num">(\d+)</td>', domains.group(0))]
    assert sum(cells) > 0
    warnings = home[home.index('id="warnings"') : home.index('id="territories"')]
    reasons = re.findall(r"<td>(mediana dei comuni [^<]+)</td>", warnings)
    assert reasons, "no early warning on the front page"
    assert all(" % l" in r and "dal 20" in r for r in reasons)  # change a year, window
    composite = (site / "composite.html").read_text("utf-8")
    assert composite.count("Indice non calcolato") < 5  # most domains have an index
    card = (site / "indicators" / "BES_03LAV001.html").read_text("utf-8")
    assert re.search(r"<dt>Posizione</dt><dd>\d+ª su 10\d province \(20\d\d\)", card)
    assert card.count("<svg") >= 2  # chart and maps
