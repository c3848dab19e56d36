"""The report website: pages, links, languages, disclosure, deep-dive, sections, errors.

A small edition (province of Biella, Piemonte, Italy, four municipalities and a social
district, five indicators over six years) is written with the store's ``write_build``.
"""

from __future__ import annotations

import html
import re
import textwrap
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag

import pyarrow as pa
import pytest

from welfare_observatory.cli.main import cli
from welfare_observatory.errors import PluginError, PublishError
from welfare_observatory.model.common import Text
from welfare_observatory.model.observation import observation_schema
from welfare_observatory.publish.report import (
    MARKER,
    ReportSection,
    SectionInput,
    SectionRegistry,
    build_report,
)
from welfare_observatory.publish.report.i18n import STRINGS
from welfare_observatory.sources.collectors import Registration
from welfare_observatory.store.edition import Manifest, write_build

MUNICIPALITIES = ("096001", "096002", "096003", "096004")
DISTRICT = "district:T01024"
TERRITORIES = ("096", "01", "IT", DISTRICT, *MUNICIPALITIES)
YEARS = range(2018, 2024)
# indicator -> (domain, unit, base value, yearly step)
INDICATORS = {
    "ACTIVITY_RATE_15_64": ("labour", "percent", 70.0, 0.5),
    "CHILDREN_IN_JOBLESS_HOUSEHOLDS": ("labour", "percent", 9.0, -0.3),
    "EMPLOYMENT_RATE_20_64": ("labour", "percent", 65.0, 0.8),
    "FOSTER_CARE_CHILDREN": ("social_services", "person", 40.0, 1.0),
    "OLD_AGE_INDEX": ("demography", "percent", 220.0, 3.0),
}
SUPPRESSED_VALUE = 1.0
"""FOSTER_CARE_CHILDREN of Ailoche (096001) in 2023: a count below 3, confidential."""


def observations(shift: float = 0.0) -> pa.Table:
    rows: list[dict[str, Any]] = []
    for indicator, (domain, unit, base, step) in INDICATORS.items():
        for t_index, territory in enumerate(TERRITORIES):
            for y_index, year in enumerate(YEARS):
                value = base * (1 + 0.07 * t_index) + step * y_index + shift
                status = "A"
                if (indicator, territory, year) == ("EMPLOYMENT_RATE_20_64", "096", 2023):
                    status = "P"
                if (indicator, territory, year) == ("ACTIVITY_RATE_15_64", "096", 2020):
                    status = "B"
                if (indicator, territory, year) == ("FOSTER_CARE_CHILDREN", "096001", 2023):
                    value = SUPPRESSED_VALUE
                rows.append(
                    {
                        "indicator": indicator,
                        "territory": territory,
                        "period": str(year),
                        "period_start": date(year, 1, 1),
                        "value": round(value, 3),
                        "unit": unit,
                        "obs_status": status,
                        "conf_status": "F",
                        "flags": None,
                        "source": "test",
                        "lineage": "s1",
                        "domain": domain,
                    }
                )
    domains = [row.pop("domain") for row in rows]
    table = pa.Table.from_pylist(rows, schema=observation_schema())
    return table.append_column("domain", pa.array(domains))


def write_edition(root: Path, edition: str, created: str, shift: float = 0.0) -> None:
    manifest = Manifest(
        observatory="test-obs",
        edition=edition,
        build=f"b-{edition}",
        created=created,
        library_version="0.1.0",
        config_digest="c" * 64,
        reference_date="2024-01-01",
        territory="096",
        indicators=tuple(INDICATORS),
    )
    empty = pa.table({"step": pa.array([], pa.string())})
    write_build(root, manifest, observations=observations(shift), lineage=empty, findings=empty)


DEEPDIVE = """\
# Lavoro e famiglie

Il tasso di occupazione, {{ indicator: EMPLOYMENT_RATE_20_64 }}, cresce; la povertà assoluta,
{{ indicator: ABSOLUTE_POVERTY_INTENSITY }}, non ha dati. <script>alert("x")</script>

{{ indicator: EMPLOYMENT_RATE_20_64 }}

[un link pericoloso](javascript:alert(1))

```text
{{ indicator: NOT_A_FIGURE_INSIDE_CODE }}
```
"""


def write_observatory(folder: Path, deepdive: str = DEEPDIVE) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    ids = "\n".join(f"    - {i}" for i in INDICATORS)
    (folder / "observatory.yaml").write_text(
        textwrap.dedent(
            """\
            id: test-obs
            name: {it: Osservatorio di prova, en: Test observatory}
            edition: "2025"
            territory:
              code: "096"
              reference_date: 2024-01-01
              comparisons: ["01", "IT"]
            indicators:
              add:
            """
        )
        + ids
        + textwrap.dedent(
            """
            report:
              title: {it: Rapporto di prova, en: Test report}
              deepdive: deepdive.md
            """
        ),
        encoding="utf-8",
    )
    (folder / "deepdive.md").write_text(deepdive, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def kb_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("kb")
    write_edition(root, "2024", "2025-01-01T00:00:00", shift=-1.0)
    write_edition(root, "2025", "2026-01-01T00:00:00")
    return root


@pytest.fixture(scope="module")
def observatory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_observatory(tmp_path_factory.mktemp("obs") / "test-obs")


@pytest.fixture(scope="module")
def site(kb_root: Path, observatory: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site") / "report"
    build_report(kb_root, "2025", out, observatory=observatory)
    return out


class _Links(HTMLParser):
    """Collects links, resource references, ids, scripts and SVG accessibility attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.resources: list[str] = []
        self.ids: set[str] = set()
        self.scripts = 0
        self.svgs: list[dict[str, str | None]] = []
        self.images: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("id"):
            self.ids.add(found["id"])
        if tag == "a" and found.get("href"):
            self.hrefs.append(str(found["href"]))
        if tag in ("link", "img", "iframe", "source", "video", "audio") or "src" in found:
            self.resources.append(str(found.get("src") or found.get("href")))
        if tag == "img":
            self.images.append(found)
        if tag == "script":
            self.scripts += 1
        if tag == "svg":
            self.svgs.append(found)


def parse(file: Path) -> _Links:
    parser = _Links()
    parser.feed(file.read_text(encoding="utf-8"))
    return parser


def test_the_site_has_every_kind_of_page(site: Path) -> None:
    for page in (
        "index.html",
        "indicators/index.html",
        "indicators/EMPLOYMENT_RATE_20_64.html",
        "domains/labour.html",
        "territories/index.html",
        "territories/096001.html",
        "territories/district_T01024.html",
        "composite.html",
        "deepdive.html",
        "print.html",
    ):
        assert (site / page).is_file(), page
    assert (site / MARKER).exists()
    assert len(list((site / "indicators").glob("*.html"))) == len(INDICATORS) + 1


def test_every_link_resolves_and_nothing_is_loaded_from_elsewhere(site: Path) -> None:
    pages = sorted(site.rglob("*.html"))
    parsed = {page: parse(page) for page in pages}
    for page, links in parsed.items():
        assert links.scripts == 0, page
        assert links.resources == [], f"{page} loads {links.resources}"
        for href in links.hrefs:
            if href.startswith(("http://", "https://")):
                continue  # source links, followed only when a reader clicks them
            target, fragment = urldefrag(href)
            resolved = (page.parent / target).resolve() if target else page
            assert resolved.is_file(), f"{page.relative_to(site)} links to missing {href}"
            if fragment:
                assert fragment in parsed[resolved].ids, f"{page}: no #{fragment}"


def test_charts_are_inline_svg_with_a_text_alternative(site: Path) -> None:
    card = (site / "indicators" / "EMPLOYMENT_RATE_20_64.html").read_text(encoding="utf-8")
    links = parse(site / "indicators" / "EMPLOYMENT_RATE_20_64.html")
    assert links.svgs, "the card has no chart"
    for svg in links.svgs:
        assert svg.get("role") == "img"
        assert svg.get("aria-labelledby") or svg.get("aria-label")
    assert "<title id=" in card and "<desc id=" in card
    assert '<details class="chart-data">' in card  # the data table fallback
    municipality = parse(site / "territories" / "096002.html")
    assert municipality.svgs and all(s.get("aria-label") for s in municipality.svgs)


def test_a_card_shows_comparisons_rank_progress_and_metadata(site: Path) -> None:
    card = (site / "indicators" / "EMPLOYMENT_RATE_20_64.html").read_text(encoding="utf-8")
    for text in ("Biella", "Piemonte", "Italia", "Definizione", "Come leggerlo", "Fonte"):
        assert text in card
    assert re.search(r"\dª su 3", card), "rank among the comparison territories"
    assert "provvisorio" in card  # the 2023 value of Biella is provisional
    assert "8.5" in card  # SDG link with its title
    assert "miglioramento" in card  # Istat progress class of a rising positive indicator
    activity = (site / "indicators" / "ACTIVITY_RATE_15_64.html").read_text(encoding="utf-8")
    assert "interruzione di serie" in activity


def test_a_confidential_count_never_reaches_a_page(site: Path) -> None:
    page = (site / "territories" / "096001.html").read_text(encoding="utf-8")
    row = page.split("FOSTER_CARE_CHILDREN.html", 1)[1].split("</tr>", 1)[0]
    assert "n.d." in row and 'class="marker"' in row and ">s<" in row
    card = (site / "indicators" / "FOSTER_CARE_CHILDREN.html").read_text(encoding="utf-8")
    # Outside its map the card shows the province and its comparisons only; on the map the
    # confidential municipality is hatched and named confidential, never given its value.
    outside = re.sub(r'<figure class="map".*?</figure>', "", card, flags=re.DOTALL)
    assert "Ailoche" not in outside
    shown = re.findall(r"Ailoche(?:</a>)?</th><td[^>]*>([^<]*)<|Ailoche: ([^<]*)<", card)
    assert shown and all("riservato" in "".join(pair) for pair in shown)


def test_composites_say_when_a_domain_has_too_few_indicators(site: Path) -> None:
    page = (site / "composite.html").read_text(encoding="utf-8")
    labour = page.split('id="composite-labour"', 1)[1].split("</section>", 1)[0]
    assert "<svg" in labour and "AMPI" in labour
    social = page.split('id="composite-social_services"', 1)[1].split("</section>", 1)[0]
    assert "Indice non calcolato" in social and "<svg" not in social


def test_the_home_page_shows_changes_since_the_previous_edition(site: Path) -> None:
    home = html.unescape((site / "index.html").read_text(encoding="utf-8"))
    assert "Rispetto all'edizione 2024" in home
    assert "rivisto" in home
    assert "Il territorio in sintesi" in home and "Per obiettivo" in home


def test_the_deep_dive_renders_figures_and_no_injected_markup(site: Path) -> None:
    page = (site / "deepdive.html").read_text(encoding="utf-8")
    assert "<h1>Lavoro e famiglie</h1>" in page
    assert 'class="indicator"' in page and "<svg" in page
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert 'href="javascript' not in page
    assert "NOT_A_FIGURE_INSIDE_CODE" in page  # left as code text
    assert re.search(
        r'occupazione, <a class="ref" href="indicators/EMPLOYMENT_RATE_20_64.html">'
        r"[0-9]+,[0-9] %<span class=\"marker\">p</span> \(2023\)</a>, cresce",
        page,
    )
    # a catalogue indicator without data in the edition says so
    assert "(non disponibile: nessun dato in questa edizione)" in page


def test_a_deep_dive_reference_to_an_unknown_indicator_names_the_line(
    kb_root: Path, tmp_path: Path
) -> None:
    folder = write_observatory(tmp_path / "obs", "# T\n\n{{ indicator: EMPLOYMENT_RATE_20_46 }}\n")
    # an id the catalogue does not know (a catalogue id without data renders "not available")
    with pytest.raises(PublishError, match="EMPLOYMENT_RATE_20_46") as info:
        build_report(kb_root, "2025", tmp_path / "out", observatory=folder)
    assert info.value.location is not None and info.value.location.line == 3
    assert "EMPLOYMENT_RATE_20_64" in (info.value.hint or "")
    assert not (tmp_path / "out").exists(), "a failed build leaves no half-written site"


def test_a_misspelled_directive_is_an_error(kb_root: Path, tmp_path: Path) -> None:
    folder = write_observatory(tmp_path / "obs", "{{ indicatr: OLD_AGE_INDEX }}\n")
    with pytest.raises(PublishError, match="unknown directive"):
        build_report(kb_root, "2025", tmp_path / "out", observatory=folder)


def test_english_is_complete(kb_root: Path, observatory: Path, tmp_path: Path) -> None:
    out = tmp_path / "en"
    result = build_report(kb_root, "2025", out, observatory=observatory, lang="en")
    assert result.lang == "en"
    italian_only = {it for it, en in STRINGS.values() if it != en and len(it) > 4}
    for page in out.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert '<html lang="en">' in text
        ui = re.sub(
            r"<(article|figure) class=\"(deepdive|indicator)\".*?</\1>", "", text, flags=re.S
        )
        leaked = [word for word in italian_only if f">{word}<" in ui]
        assert not leaked, f"{page.name}: Italian interface text {leaked}"
    card = (out / "indicators" / "OLD_AGE_INDEX.html").read_text(encoding="utf-8")
    assert "Old-age index" in card and "Definition" in card


def test_every_interface_string_has_both_languages() -> None:
    for key, (it, en) in STRINGS.items():
        assert it.strip() and en.strip(), key


def test_an_earlier_report_is_replaced_but_other_folders_are_refused(
    kb_root: Path, tmp_path: Path
) -> None:
    out = tmp_path / "site"
    build_report(kb_root, "2025", out)
    (out / "stale.html").write_text("old", encoding="utf-8")
    build_report(kb_root, "2025", out)
    assert not (out / "stale.html").exists()
    other = tmp_path / "documents"
    other.mkdir()
    (other / "thesis.docx").write_text("mine", encoding="utf-8")
    with pytest.raises(PublishError, match="not empty") as info:
        build_report(kb_root, "2025", other)
    assert info.value.hint and (other / "thesis.docx").read_text(encoding="utf-8") == "mine"


def test_an_unknown_language_is_refused(kb_root: Path, tmp_path: Path) -> None:
    with pytest.raises(PublishError, match="language"):
        build_report(kb_root, "2025", tmp_path / "out", lang="fr")


def test_the_pdf_needs_chromium_and_says_how_to_install_it(kb_root: Path, tmp_path: Path) -> None:
    with pytest.raises(PublishError, match="Chromium") as info:
        build_report(kb_root, "2025", tmp_path / "out", pdf=True, chromium="/nowhere/chromium")
    assert "apt-get install chromium" in (info.value.hint or "")
    assert not (tmp_path / "out").exists()


def _governance(given: SectionInput) -> str:
    from markupsafe import escape

    return f"<p>{escape(given.edition)}: {given.observations.num_rows} rows &amp; tables</p>"


SECTION = ReportSection("governance", Text(it="Governance", en="Governance"), _governance)


def test_plugin_sections_get_a_page_and_a_menu_entry(kb_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = build_report(kb_root, "2025", out, sections=[SECTION])
    assert "sections/governance.html" in result.pages
    page = (out / "sections" / "governance.html").read_text(encoding="utf-8")
    assert "<p>2025:" in page and "&amp; tables" in page
    assert 'href="sections/governance.html"' in (out / "index.html").read_text(encoding="utf-8")


def test_a_section_with_a_script_or_an_error_fails_the_build(kb_root: Path, tmp_path: Path) -> None:
    bad = ReportSection("bad", Text(en="Bad"), lambda given: "<script>alert(1)</script>")
    with pytest.raises(PublishError, match="script"):
        build_report(kb_root, "2025", tmp_path / "a", sections=[bad])

    def broken(given: SectionInput) -> str:
        raise KeyError("missing table")

    failing = ReportSection("failing", Text(en="Failing"), broken)
    with pytest.raises(PublishError, match="'failing' failed: KeyError"):
        build_report(kb_root, "2025", tmp_path / "b", sections=[failing])


def test_section_ids_are_checked_and_unique() -> None:
    with pytest.raises(ValueError, match="lower_snake_case"):
        ReportSection("Bad Id", Text(en="x"), _governance)
    with pytest.raises(ValueError, match="title"):
        ReportSection("untitled", Text(), _governance)
    registry = SectionRegistry()
    registry.register(SECTION, origin="plugin-a")
    with pytest.raises(PluginError, match="already registered by 'plugin-a'"):
        registry.register(SECTION, origin="plugin-b")


def test_sections_registered_by_plugins_are_collected() -> None:
    class FakePlugins:
        def registrations(self, kind: str) -> list[Registration]:
            assert kind == "report_section"
            return [Registration(kind, SECTION.id, SECTION, "osserva_governance")]

    registry = SectionRegistry.from_plugins(FakePlugins())  # type: ignore[arg-type]
    assert [s.id for s in registry] == ["governance"]
    assert registry.origin("governance") == "osserva_governance"


def test_the_command_builds_the_site(kb_root: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    out = tmp_path / "cli"
    run = CliRunner().invoke(
        cli, ["report", "2025", "--out", str(out), "--kb", str(kb_root), "--lang", "en", "--json"]
    )
    assert run.exit_code == 0, run.output
    assert '"language": "en"' in run.output and (out / "index.html").exists()


def test_the_command_reports_an_unknown_edition_in_one_line(
    kb_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from welfare_observatory.cli.main import main

    with pytest.raises(SystemExit) as info:
        main(["report", "2052", "--out", str(tmp_path / "x"), "--kb", str(kb_root)])
    assert info.value.code == 1
    assert "2025" in capsys.readouterr().err  # the hint names the closest edition


def test_importing_the_section_api_is_light() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from welfare_observatory.publish.report import ReportSection, accept_section\n"
        "print(sorted({'pandas', 'pyarrow', 'jinja2', 'duckdb'} & set(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_without_an_edition_the_command_reports_the_latest(kb_root: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    out = tmp_path / "site"
    result = CliRunner().invoke(cli, ["report", "--out", str(out), "--kb", str(kb_root), "--json"])
    assert result.exit_code == 0, result.output
    assert (out / "index.html").exists()


def test_italy_is_italy_on_the_english_site_and_italia_on_the_italian_one(
    kb_root: Path, observatory: Path, tmp_path: Path
) -> None:
    english = build_report(kb_root, "2025", tmp_path / "en", observatory=observatory, lang="en")
    italian = build_report(kb_root, "2025", tmp_path / "it", observatory=observatory, lang="it")
    card = "indicators/OLD_AGE_INDEX.html"
    assert ">Italy<" in (english.out / card).read_text(encoding="utf-8")
    assert ">Italia<" in (italian.out / card).read_text(encoding="utf-8")
