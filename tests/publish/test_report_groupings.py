"""Declared groupings get a page in the report, like a social district's.

The Biella example is copied, given two groupings (the short list form, named from its id,
and the long form with a name per language) and one declared district, built offline and
published in Italian and English.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from welfare_observatory.config import load_config, readable_id
from welfare_observatory.errors import ConfigError
from welfare_observatory.observatory import load_observatory
from welfare_observatory.publish.report import build_report
from welfare_observatory.store import KnowledgeBase

BIELLA = Path(__file__).resolve().parents[2] / "examples" / "biella" / "src" / "osserva_biella"
COMPARISONS = '  comparisons: ["01", ITC, IT]      # Piemonte, Nord-ovest, Italy\n'
TERRITORY = """  groupings:
    valle_cervo: ["096004", "096055", "096048"]
    alta_valle:
      name: {it: Alta Valle del Cervo, en: Upper Cervo Valley}
      members: ["096055", "096048"]
  districts:
    T01024: ["096004", "096055"]
"""


def declare(folder: Path, territory: str = TERRITORY) -> Path:
    """A copy of the Biella example with ``territory`` added under ``territory:``."""
    shutil.copytree(BIELLA, folder)
    config = folder / "observatory.yaml"
    text = config.read_text(encoding="utf-8")
    assert COMPARISONS in text
    config.write_text(text.replace(COMPARISONS, COMPARISONS + territory), encoding="utf-8")
    return folder


def link_checker() -> Callable[[Path], list[str]]:
    """``broken_links`` of the report link test (one walker for every report test)."""
    spec = importlib.util.spec_from_file_location(
        "_report_link_walker", Path(__file__).with_name("test_report_links.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    found: Callable[[Path], list[str]] = module.broken_links
    return found


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("groupings")
    observatory = load_observatory(declare(root / "obs"))
    observatory.build(out=root / "kb", offline=True)
    sites = {"kb": root / "kb"}
    for lang in ("it", "en"):
        sites[lang] = root / f"site-{lang}"
        build_report(root / "kb", None, sites[lang], observatory=observatory, lang=lang)
    return sites


def page(site: Path, name: str) -> str:
    return (site / "territories" / name).read_text(encoding="utf-8")


def test_each_grouping_gets_a_page_beside_the_districts(built: dict[str, Path]) -> None:
    names = {p.name for p in (built["it"] / "territories").glob("*.html") if p.name[0] != "0"}
    assert names == {
        "index.html",
        "district_T01024.html",
        "grouping_valle_cervo.html",
        "grouping_alta_valle.html",
    }


def test_the_territories_index_lists_the_groupings_by_name_with_links(
    built: dict[str, Path],
) -> None:
    italian = page(built["it"], "index.html")
    assert "Aree dell&#39;osservatorio" in italian
    assert '<a href="../territories/grouping_valle_cervo.html">Valle Cervo</a>' in italian
    assert '<a href="../territories/grouping_alta_valle.html">Alta Valle del Cervo</a>' in italian
    english = page(built["en"], "index.html")
    assert '<a href="../territories/grouping_alta_valle.html">Upper Cervo Valley</a>' in english


def test_a_grouping_page_compares_with_the_territory_region_and_italy(
    built: dict[str, Path],
) -> None:
    html = page(built["it"], "grouping_valle_cervo.html")
    assert "<h1>Valle Cervo</h1>" in html
    head = re.search(r"<thead>(.*?)</thead>", html, re.S)
    assert head is not None
    columns = re.findall(r'<th scope="col" class="num">([^<]*)</th>', head.group(1))
    assert columns == ["Anno", "Valore", "Biella (provincia)", "Piemonte", "Nord-ovest", "Italia"]
    # The members, each linked to its municipality page, in declared order.
    members = re.search(r"Comuni dell&#39;area</h2>(.*?)</ul>", html, re.S)
    assert members is not None
    assert re.findall(r'href="\.\./territories/(\d+)\.html">([^<]+)<', members.group(1)) == [
        ("096004", "Biella"),
        ("096055", "Rosazza"),
        ("096048", "Portula"),
    ]
    assert "<svg" in html  # sparklines, as on a district's page


def test_the_grouping_value_shown_is_the_sum_the_build_stored(built: dict[str, Path]) -> None:
    kb = KnowledgeBase.open(built["kb"])

    def latest(territory: str) -> int:
        rows = kb.observations(indicator="POP_TOTAL", territory=territory)
        rows = rows[rows["sex"].astype(str) == "_T"] if "sex" in rows.columns else rows
        rows = rows.assign(period=rows["period"].astype(str)).sort_values("period")
        return int(rows["value"].iloc[-1])

    members = ("096004", "096055", "096048")
    assert latest("grouping:valle_cervo") == sum(latest(m) for m in members)
    shown = f"{latest('grouping:valle_cervo'):,}".replace(",", ".")  # Italian separator
    html = page(built["it"], "grouping_valle_cervo.html")
    row = re.search(r'href="\.\./indicators/POP_TOTAL\.html">.*?</tr>', html, re.S)
    assert row is not None and f">{shown}<" in row.group(0)


def test_district_pages_gain_the_comparison_columns_and_municipal_pages_do_not(
    built: dict[str, Path],
) -> None:
    assert '<th scope="col" class="num">Italia</th>' in page(built["it"], "district_T01024.html")
    assert '<th scope="col" class="num">Italia</th>' not in page(built["it"], "096004.html")


def test_every_link_of_the_report_with_groupings_resolves(built: dict[str, Path]) -> None:
    broken_links = link_checker()
    assert broken_links(built["it"]) == []
    assert broken_links(built["en"]) == []


@pytest.mark.parametrize(
    ("key", "name"),
    [
        ("valle_cervo", "Valle Cervo"),
        ("valle_del_cervo", "Valle del Cervo"),
        ("unione-montana_2", "Unione Montana 2"),
        ("di_qua", "Di Qua"),
    ],
)
def test_an_id_made_readable(key: str, name: str) -> None:
    assert readable_id(key) == name


def write(folder: Path, territory: str) -> Path:
    folder.mkdir()
    (folder / "observatory.yaml").write_text(
        "id: valle\nname: {it: Valle, en: Valley}\nedition: '2025'\nterritory:\n"
        '  code: "096"\n  reference_date: 2024-01-01\n'
        + territory
        + "indicators: {profile: first_report}\nsources: {}\n",
        encoding="utf-8",
    )
    return folder


def test_both_forms_load_and_the_build_sees_id_to_members(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path / "obs",
            '  groupings:\n    valle_cervo: ["096004"]\n'
            "    alta: {name: Alta Valle, members: ['096055', '096048']}\n",
        )
    )
    assert config.territory.groupings == {
        "valle_cervo": ("096004",),
        "alta": ("096055", "096048"),
    }
    assert config.territory.groupings["valle_cervo"].name is None
    assert config.territory.grouping_name("valle_cervo").get("en") == "Valle Cervo"
    assert config.territory.grouping_name("alta").get("it") == "Alta Valle"


@pytest.mark.parametrize(
    ("territory", "line", "field", "message"),
    [
        (
            "  groupings:\n    alta:\n      name: {it: Alta}\n      members: []\n",
            10,
            "territory.groupings.alta.members",
            "at least 1 item",
        ),
        (
            "  groupings:\n    alta:\n      name: {fr: Haute}\n      members: ['096055']\n",
            9,
            "territory.groupings.alta.name.fr",
            "Extra inputs",
        ),
        (
            "  groupings:\n    alta:\n      name: {it: A}\n      members: ['096055', '096999']\n",
            10,
            "territory.groupings.alta.members.1",
            "unknown territory code '096999'",
        ),
        (
            "  groupings:\n    alta: '096055'\n",
            8,
            "territory.groupings.alta",
            "a list of municipality codes or",
        ),
    ],
)
def test_a_bad_grouping_names_its_line_and_field(
    tmp_path: Path, territory: str, line: int, field: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)) as info:
        load_config(write(tmp_path / "obs", territory))
    assert info.value.location is not None
    assert (info.value.location.line, info.value.location.field) == (line, field)
