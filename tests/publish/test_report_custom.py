"""Customising the report: template overrides, deep-dive references with filters, a deep-dive
per language, the progress method flag, locale numbers in the governance section, composites.

A small edition of Biella: OLD_AGE_INDEX and SHARE_65_PLUS for the province and four
municipalities (totals), EMPLOYMENT_RATE_15_64 only for the Nord-ovest (ITC) and Italy and
only for foreign citizens (``citizenship=FOR``), as in the real Istat labour-force data.
"""

from __future__ import annotations

import json
import textwrap
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

from welfare_observatory.cli.main import cli
from welfare_observatory.config import ReportSettings
from welfare_observatory.errors import ConfigError, PublishError
from welfare_observatory.model.observation import observation_schema
from welfare_observatory.publish.report import build_report
from welfare_observatory.publish.report.references import Picked, Unmatched, pick, view_frame
from welfare_observatory.store.edition import Manifest, write_build

MUNICIPALITIES = ("096004", "096005", "096006", "096007")
YEARS = range(2019, 2024)
EMPLOYMENT_FOR = {"ITC": 60.0, "IT": 58.0}
"""EMPLOYMENT_RATE_15_64 of foreign citizens in 2019; +1 point a year."""


def _row(
    indicator: str, territory: str, year: int, value: float, citizenship: str
) -> dict[str, Any]:
    return {
        "indicator": indicator,
        "territory": territory,
        "period": str(year),
        "period_start": date(year, 1, 1),
        "citizenship": citizenship,
        "value": value,
        "unit": "percent",
        "obs_status": "A",
        "conf_status": "F",
        "flags": None,
        "source": "test",
        "lineage": "s1",
    }


def observations(hidden: tuple[str, str, int] | None = None) -> pa.Table:
    """The edition's rows; ``hidden`` (indicator, territory, year) is marked confidential."""
    rows, domains = [], []
    for t_index, territory in enumerate(("096", *MUNICIPALITIES)):
        for y_index, year in enumerate(YEARS):
            for indicator, base, domain in (
                ("OLD_AGE_INDEX", 220.0, "demography"),
                ("SHARE_65_PLUS", 26.0, "demography"),
            ):
                value = base + 3 * t_index + y_index
                rows.append(_row(indicator, territory, year, value, "_T"))
                if (indicator, territory, year) == hidden:
                    rows[-1]["conf_status"] = "C"
                domains.append(domain)
    for territory, base in EMPLOYMENT_FOR.items():
        for y_index, year in enumerate(YEARS):
            rows.append(_row("EMPLOYMENT_RATE_15_64", territory, year, base + y_index, "FOR"))
            domains.append("labour")
    table = pa.Table.from_pylist(rows, schema=observation_schema(("citizenship",)))
    return table.append_column("domain", pa.array(domains))


def write_edition(
    root: Path,
    analyses: dict[str, pa.Table] | None = None,
    hidden: tuple[str, str, int] | None = None,
) -> Path:
    manifest = Manifest(
        observatory="custom",
        edition="2025",
        build="b-custom",
        created="2026-01-01T00:00:00",
        library_version="0.1.0",
        config_digest="c" * 64,
        reference_date="2024-01-01",
        territory="096",
        indicators=("OLD_AGE_INDEX", "SHARE_65_PLUS", "EMPLOYMENT_RATE_15_64"),
    )
    empty = pa.table({"step": pa.array([], pa.string())})
    write_build(
        root,
        manifest,
        observations=observations(hidden),
        lineage=empty,
        findings=empty,
        analyses=analyses or {},
    )
    return root


def write_observatory(folder: Path, report: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    text = textwrap.dedent(
        """\
        id: custom
        name: {it: Osservatorio di prova, en: Test observatory}
        edition: "2025"
        territory:
          code: "096"
          reference_date: 2024-01-01
          comparisons: ["01", "IT"]
        indicators:
          add: [OLD_AGE_INDEX, SHARE_65_PLUS, EMPLOYMENT_RATE_15_64]
        """
    )
    (folder / "observatory.yaml").write_text(text + report, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_edition(tmp_path_factory.mktemp("kb"))


def main_text(page: Path) -> str:
    html = page.read_text(encoding="utf-8")
    return html.split('<main id="main">', 1)[1].split("</main>", 1)[0]


# -- template overrides -----------------------------------------------------------------------


def test_an_observatory_template_replaces_the_page_footer_and_the_stylesheet(
    kb: Path, tmp_path: Path
) -> None:
    folder = write_observatory(tmp_path / "obs", "report:\n  templates: templates/\n")
    (folder / "templates").mkdir()
    package = Path(build_report.__code__.co_filename).parent / "templates"
    layout = (package / "layout.html.j2").read_text(encoding="utf-8")
    footer = layout[layout.index('<footer class="site">') : layout.index("</footer>")]
    # the footer of docs/publishing.md "Customising the report", plus an escaped text
    doc = (Path(__file__).resolve().parents[2] / "docs" / "publishing.md").read_text("utf-8")
    documented = doc.split("### Customising the report", 1)[1].split("```html\n", 1)[1]
    documented = documented.split("</footer>", 1)[0]
    custom = documented + '<p>Osservatorio {{ site_title }} {{ "<b>escaped</b>" }}</p>\n'

    (folder / "templates" / "layout.html.j2").write_text(
        layout.replace(footer, custom), encoding="utf-8"
    )
    (folder / "templates" / "style.css").write_text("body { color: #123456; }", "utf-8")
    build_report(kb, "2025", tmp_path / "site", observatory=folder)
    home = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    assert "<p>Osservatorio Osservatorio di prova &lt;b&gt;escaped&lt;/b&gt;</p>" in home
    assert "<p>Osservatorio di prova · Edizione 2025 · Licenza dei dati: CC-BY-4.0.</p>" in home
    assert '<a href="deepdive.html">Approfondimento</a>' in home
    assert "<style>body { color: #123456; }</style>" in home  # autoescape stays on above
    card = (tmp_path / "site" / "indicators" / "OLD_AGE_INDEX.html").read_text("utf-8")
    assert "Osservatorio Osservatorio di prova" in card and "<svg" in card  # package card


def test_a_templates_folder_that_does_not_exist_is_an_error(kb: Path, tmp_path: Path) -> None:
    # Caught when observatory.yaml loads, with the field and its line.
    folder = write_observatory(tmp_path / "obs", "report:\n  templates: templetes/\n")
    with pytest.raises(
        ConfigError, match=r"report\.templates: 'templetes/' does not exist"
    ) as info:
        build_report(kb, "2025", tmp_path / "site", observatory=folder)
    assert info.value.location is not None and info.value.location.field == "report.templates"


def test_a_templates_folder_outside_the_observatory_is_refused(kb: Path, tmp_path: Path) -> None:
    folder = write_observatory(tmp_path / "obs", "report:\n  templates: ../elsewhere\n")
    (tmp_path / "elsewhere").mkdir()
    with pytest.raises(ConfigError, match="outside the observatory folder"):
        build_report(kb, "2025", tmp_path / "site", observatory=folder)


def test_a_template_that_is_a_symbolic_link_is_refused_not_published(
    kb: Path, tmp_path: Path
) -> None:
    # A link would put whatever file it points at (a password file) into the public site.
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the website", encoding="utf-8")
    folder = write_observatory(tmp_path / "obs", "report:\n  templates: templates/\n")
    (folder / "templates").mkdir()
    (folder / "templates" / "style.css").symlink_to(secret)
    with pytest.raises(PublishError, match="symbolic link") as info:
        build_report(kb, "2025", tmp_path / "site", observatory=folder)
    assert info.value.location is not None and info.value.location.field == "report.templates"
    assert not (tmp_path / "site").exists() or "not for the website" not in "".join(
        p.read_text("utf-8") for p in (tmp_path / "site").rglob("*.html")
    )


def test_a_template_runs_in_the_sandbox_without_python_internals(kb: Path, tmp_path: Path) -> None:
    # An observatory folder may be someone else's: its templates run no code of their own.
    folder = write_observatory(tmp_path / "obs", "report:\n  templates: templates/\n")
    (folder / "templates").mkdir()
    package = Path(build_report.__code__.co_filename).parent / "templates"
    layout = (package / "layout.html.j2").read_text(encoding="utf-8")
    reach = '{{ lipsum.__globals__["os"].popen("echo ran").read() }}'
    (folder / "templates" / "layout.html.j2").write_text(
        layout.replace("</footer>", reach + "</footer>"), encoding="utf-8"
    )
    with pytest.raises(PublishError, match="SecurityError") as info:
        build_report(kb, "2025", tmp_path / "site", observatory=folder)
    assert info.value.location is not None and info.value.location.field == "report.templates"


# -- deep-dive references with filters --------------------------------------------------------

DEEPDIVE = """\
# Lavoro

Nel Nord-ovest {{ indicator: EMPLOYMENT_RATE_15_64 territory=ITC citizenship=FOR }}, nel 2019
{{ indicator: EMPLOYMENT_RATE_15_64 territory=ITC citizenship=FOR year=2019 }}.
Senza filtri: {{ indicator: EMPLOYMENT_RATE_15_64 }}.
Cittadini italiani: {{ indicator: EMPLOYMENT_RATE_15_64 territory=ITC citizenship=ITA }}.
Per sesso: {{ indicator: EMPLOYMENT_RATE_15_64 territory=ITC sex=F }}.
Anno: {{ indicator: EMPLOYMENT_RATE_15_64 territory=ITC citizenship=FOR year=2010 }}.

{{ indicator: EMPLOYMENT_RATE_15_64 territory=IT citizenship=FOR }}
"""


def test_filters_pick_the_territory_breakdown_and_year_and_misses_say_why(
    kb: Path, tmp_path: Path
) -> None:
    folder = write_observatory(tmp_path / "obs", "report:\n  deepdive: deepdive.md\n")
    (folder / "deepdive.md").write_text(DEEPDIVE, encoding="utf-8")
    build_report(kb, "2025", tmp_path / "site", observatory=folder)
    page = main_text(tmp_path / "site" / "deepdive.html")
    # no card (no total): the value is shown without a link to a card that does not exist
    assert 'Nel Nord-ovest <span class="ref">64,0 % (2023)</span>, nel 2019' in page
    assert '<span class="ref">60,0 % (2019)</span>' in page
    assert (
        "(non disponibile: nessun dato per territory=096 (implicito); l&#39;edizione ha: IT, ITC)"
        in page
    )
    assert "nessun dato per citizenship=ITA; l&#39;edizione ha: FOR" in page
    assert "nessun dato per sex=F; l&#39;edizione ha: citizenship" in page
    assert "nessun dato per year=2010; l&#39;edizione ha: 2019, 2020, 2021, 2022, 2023" in page
    # on a line of its own: a chart of the picked series with its data table
    assert "Tasso di occupazione (15-64 anni), Italia (stranieri)" in page
    assert "citizenship=FOR)" not in page
    assert "<svg" in page and "<td>62,0</td>" in page.replace('<td class="num">', "<td>")


def test_a_filter_given_twice_names_the_line(kb: Path, tmp_path: Path) -> None:
    folder = write_observatory(tmp_path / "obs", "report:\n  deepdive: deepdive.md\n")
    text = "# T\n\nX {{ indicator: OLD_AGE_INDEX territory=IT territory=01 }}.\n"
    (folder / "deepdive.md").write_text(text, encoding="utf-8")
    with pytest.raises(PublishError, match="twice") as info:
        build_report(kb, "2025", tmp_path / "site", observatory=folder)
    assert info.value.location is not None and info.value.location.line == 3


def test_pick_defaults_to_the_focus_and_every_total() -> None:
    frame = view_frame(observations())
    found = pick(frame, "OLD_AGE_INDEX", (), "096")
    assert isinstance(found, Picked)
    assert (found.territory, found.years[found.index], found.values[-1]) == ("096", 2023, 224.0)
    missing = pick(frame, "EMPLOYMENT_RATE_15_64", (("territory", "ITC"),), "096")
    assert missing == Unmatched("citizenship", "_T", ("FOR",), True)
    assert pick(frame, "NEET_15_29", (), "096") == Unmatched("indicator", "NEET_15_29", (), False)


# -- deep-dive per language -------------------------------------------------------------------


def test_the_english_site_uses_the_english_deep_dive(kb: Path, tmp_path: Path) -> None:
    folder = write_observatory(
        tmp_path / "obs", "report:\n  deepdive: {it: dd.it.md, en: dd.en.md}\n"
    )
    (folder / "dd.it.md").write_text("# Invecchiamento\n", encoding="utf-8")
    (folder / "dd.en.md").write_text("# Ageing\n\n{{ indicator: OLD_AGE_INDEX }}\n", "utf-8")
    build_report(kb, "2025", tmp_path / "it", observatory=folder, lang="it")
    build_report(kb, "2025", tmp_path / "en", observatory=folder, lang="en")
    assert "<h1>Invecchiamento</h1>" in main_text(tmp_path / "it" / "deepdive.html")
    english = main_text(tmp_path / "en" / "deepdive.html")
    assert "<h1>Ageing</h1>" in english and "Old-age index" in english


def test_the_deep_dive_setting_takes_a_file_or_a_mapping_by_language() -> None:
    single = ReportSettings(deepdive="dd.md")
    assert single.deepdive_for("en") == single.deepdive_for("it") == "dd.md"
    mapped = ReportSettings(languages=("en", "it"), deepdive={"it": "a.md", "en": "b.md"})
    assert (mapped.deepdive, mapped.deepdive_for("it"), mapped.deepdive_for("en")) == (
        "b.md",
        "a.md",
        "b.md",
    )
    only_it = ReportSettings(deepdive={"it": "a.md"})
    assert only_it.deepdive_for("en") == "a.md"  # falls back to the one file there is
    with pytest.raises(ValueError, match="mapping"):
        ReportSettings(deepdive={"fr": "c.md"})
    assert ReportSettings(templates="tpl").templates == "tpl"


# -- progress method, governance numbers, composites ------------------------------------------


def test_the_progress_method_flag_overrides_the_observatory(kb: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    folder = write_observatory(tmp_path / "obs", "report:\n  progress_method: istat\n")
    args = ["report", "2025", "--kb", str(kb), "--observatory", str(folder), "--json"]
    result = CliRunner().invoke(
        cli, [*args, "--out", str(tmp_path / "site"), "--progress-method", "eurostat"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["progress_method"] == "eurostat"
    assert "Classi di progresso Eurostat" in (tmp_path / "site" / "index.html").read_text("utf-8")
    default = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "site2")])
    assert json.loads(default.output)["progress_method"] == "istat"
    bad = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "s3"), "--progress-method", "x"])
    assert bad.exit_code == 2 and "istat" in bad.output


def test_governance_numbers_use_the_language_of_the_report() -> None:
    from welfare_observatory.governance import load_governance, monitor
    from welfare_observatory.governance.report_section import render_governance

    folder = Path(__file__).resolve().parents[2] / "examples" / "brescia" / "src"
    governance = load_governance(folder / "osserva_brescia" / "governance.yaml")
    frame = pd.DataFrame(
        {
            "indicator": ["ACQUISITIONS_OF_CITIZENSHIP"],
            "territory": ["017"],
            "period": ["2023"],
            "period_start": pd.to_datetime(["2023-01-01"]),
            "value": [6790.0],
        }
    )
    monitoring = monitor(governance.actions, frame)
    assert "6.790,00" in render_governance(governance, monitoring, lang="it")
    english = render_governance(governance, monitoring, lang="en")
    assert "6,790.00" in english and "6.790,00" not in english


def test_a_page_without_composites_never_says_in_dash(kb: Path, tmp_path: Path) -> None:
    build_report(kb, "2025", tmp_path / "site", lang="en")
    page = main_text(tmp_path / "site" / "composite.html")
    assert " in -" not in page and "in the domain&#39;s reference year" in page


def test_a_stored_composite_analysis_is_shown(tmp_path: Path) -> None:
    stored = pa.table(
        {
            "domain": ["demography"] * 3,
            "territory": ["096", "096004", "096005"],
            "year": [2023, 2023, 2023],
            "ampi": [100.0, 97.5, 104.26],
            "indicators": ["OLD_AGE_INDEX,SHARE_65_PLUS"] * 3,
        }
    )
    root = write_edition(tmp_path / "kb", {"composite": stored})
    build_report(root, "2025", tmp_path / "site", lang="en")
    page = main_text(tmp_path / "site" / "composite.html")
    assert "100 = Biella (province) in 2023" in page.replace("&#39;", "'")
    assert "<td>104.3</td>" in page.replace('<td class="num">', "<td>")
    assert 'href="indicators/OLD_AGE_INDEX.html"' in page


def test_a_stored_composite_names_its_reference_and_hides_scores_of_suppressed_inputs(
    tmp_path: Path,
) -> None:
    stored = pa.table(
        {
            "domain": ["demography"] * 3,
            "territory": ["096", "096004", "096005"],
            "year": [2023, 2023, 2023],
            "ampi": [101.0, 97.5, 104.26],
            "reference_territory": ["IT"] * 3,
            "reference_year": [2019] * 3,
            "indicators": ["OLD_AGE_INDEX,SHARE_65_PLUS"] * 3,
        }
    )
    hidden = ("SHARE_65_PLUS", "096005", 2023)
    root = write_edition(tmp_path / "kb", {"composite": stored}, hidden=hidden)
    build_report(root, "2025", tmp_path / "site", lang="en")
    page = main_text(tmp_path / "site" / "composite.html").replace('<td class="num">', "<td>")
    assert "100 = Italia in 2019." in page and "given under each domain" in page
    assert "100 = Biella" not in page
    assert "<td>97.5</td>" in page and "104.3" not in page
