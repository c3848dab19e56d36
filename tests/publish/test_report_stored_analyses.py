"""The report shows the analyses the build stored in the edition, not a second computation.

Two editions: a small one whose stored analyses deliberately disagree with what the data
would give (so a report that recomputed would show other words and numbers), with one
confidential municipal value that must hide the analyses built on it; and a real build of
the Brescia example, where every analysis number on every card is checked against the
stored tables.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
from click.testing import CliRunner

from welfare_observatory.model.observation import observation_schema
from welfare_observatory.publish.report import build_report
from welfare_observatory.publish.report.i18n import STRINGS
from welfare_observatory.store import KnowledgeBase
from welfare_observatory.store.edition import Manifest, write_build

MUNICIPALITIES = ("096004", "096005", "096006", "096007")
YEARS = range(2018, 2024)
INDICATOR = "EMPLOYMENT_RATE_20_64"
HIDDEN = (INDICATOR, "096005", 2023)


def _observations(sexes: tuple[str, ...] = ()) -> pa.Table:
    """The edition's rows; with ``sexes`` also a ``sex`` breakdown (``_T`` and those)."""
    rows: list[dict[str, Any]] = []
    for t_index, territory in enumerate(("096", "01", "IT", *MUNICIPALITIES)):
        for y_index, year in enumerate(YEARS):
            for sex in ("_T", *sexes) if sexes else (None,):
                rows.append(
                    {
                        **({"sex": sex} if sex is not None else {}),
                        "indicator": INDICATOR,
                        "territory": territory,
                        "period": str(year),
                        "period_start": date(year, 1, 1),
                        "value": 60.0 + t_index + 0.5 * y_index,  # rising everywhere
                        "unit": "percent",
                        "obs_status": "A",
                        "conf_status": "C" if (INDICATOR, territory, year) == HIDDEN else "F",
                        "flags": None,
                        "source": "test",
                        "lineage": "s1",
                    }
                )
    schema = observation_schema(("sex",)) if sexes else observation_schema()
    table = pa.Table.from_pylist(rows, schema=schema)
    return table.append_column("domain", pa.array(["labour"] * len(rows)))


def _trend(territory: str, category: str, start: int) -> dict[str, Any]:
    return {
        "indicator": INDICATOR,
        "territory": territory,
        "start_year": start,
        "end_year": 2023,
        "category": category,
        "break_year": None,
    }


def _stored() -> dict[str, pa.Table]:
    # Rising values would be an improvement: the stored tables say otherwise on purpose.
    trend = pd.DataFrame(
        [
            _trend("096", "clear_worsening", 2020),
            _trend("01", "stable", 2019),
            _trend("096004", "slight_worsening", 2019),
            _trend("096005", "clear_improvement", 2019),  # window holds the hidden value
        ]
    )
    progress = pd.DataFrame(
        [
            {**_trend("096", "slight_worsening", 2018), "horizon": "long", "method": "istat"},
            {**_trend("096", "clear_worsening", 2020), "horizon": "short", "method": "istat"},
        ]
    )
    benchmark = pd.DataFrame(
        [
            {
                "indicator": INDICATOR,
                "territory": "096",
                "against": "01",
                "rank": 3,
                "n_compared": 7,
                "comparison": "lower",
            }
        ]
    )
    warnings = pd.DataFrame(
        [
            {
                "rank": 1,
                "territory": "096004",
                "signals": 2,
                "indicator": INDICATOR,
                "year": 2022,
                "value": 63.5,
                "robust_z": -3.21,
            },
            {
                "rank": 2,
                "territory": "096006",
                "signals": 1,
                "indicator": INDICATOR,
                "year": 2023,  # a peer (096005) is confidential in 2023: hidden
                "value": 65.5,
                "robust_z": -2.77,
            },
        ]
    )
    return {
        "trend": pa.Table.from_pandas(trend, preserve_index=False),
        "progress": pa.Table.from_pandas(progress, preserve_index=False),
        "benchmark": pa.Table.from_pandas(benchmark, preserve_index=False),
        "early_warnings": pa.Table.from_pandas(warnings, preserve_index=False),
    }


def _write(root: Path, analyses: dict[str, pa.Table], sexes: tuple[str, ...] = ()) -> Path:
    manifest = Manifest(
        observatory="stored",
        edition="2025",
        build="b-stored",
        created="2026-01-01T00:00:00",
        library_version="0.1.0",
        config_digest="c" * 64,
        reference_date="2024-01-01",
        territory="096",
        indicators=(INDICATOR,),
    )
    empty = pa.table({"step": pa.array([], pa.string())})
    write_build(
        root,
        manifest,
        observations=_observations(sexes),
        lineage=empty,
        findings=empty,
        analyses=analyses,
    )
    return root


def _text(file: Path) -> str:
    return re.sub(r"\s+", " ", file.read_text(encoding="utf-8"))


def test_the_report_shows_the_stored_analyses_not_its_own(tmp_path: Path) -> None:
    _write(tmp_path / "kb", _stored())
    build_report(tmp_path / "kb", "2025", tmp_path / "site", lang="en")
    site = tmp_path / "site"
    card = _text(site / "indicators" / f"{INDICATOR}.html")
    assert 'clear worsening</span> <span class="note">(window 2020–2023)' in card
    assert 'long term: <span class="mark worsening">slight worsening</span>' in card
    assert "(window 2018–2023)" in card
    assert "3 of 7" in card  # the stored benchmark rank
    home = _text(site / "index.html")
    # The stored robust z and signals of 096004 (the municipality Biella).
    assert '<td class="num">-3.2</td><td class="num">2</td>' in home
    assert "This edition stores no analyses" not in home
    # Worsening is what the stored trend says of the province, so the front page counts it.
    counts = (
        '<td class="num">1</td><td class="num">0</td><td class="num">0</td> <td class="num">1</td>'
    )
    assert f"Labour</a></th> {counts}" in home  # indicators, improving, stable, worsening


def test_a_stored_analysis_built_on_a_confidential_value_is_not_shown(tmp_path: Path) -> None:
    _write(tmp_path / "kb", _stored())
    build_report(tmp_path / "kb", "2025", tmp_path / "site", lang="en")
    site = tmp_path / "site"
    hidden = _text(site / "territories" / "096005.html")
    assert "clear improvement" not in hidden and "not assessable" in hidden
    assert "slight worsening" in _text(site / "territories" / "096004.html")
    home = _text(site / "index.html")
    assert (
        "-2.8" not in home
        and "Brusnengo" not in home.split('id="warnings"')[1].split("</table>")[0]
    )


def test_the_stored_total_is_shown_not_a_breakdown(tmp_path: Path) -> None:
    trend = pd.DataFrame(
        [
            {**_trend("096", "clear_worsening", 2019), "sex": "F"},
            {**_trend("096", "slight_improvement", 2019), "sex": "_T"},
            {**_trend("096", "clear_worsening", 2019), "sex": "M"},
        ]
    )
    _write(tmp_path / "kb", {"trend": pa.Table.from_pandas(trend)}, sexes=("F", "M"))
    build_report(tmp_path / "kb", "2025", tmp_path / "site", lang="en")
    card = _text(tmp_path / "site" / "indicators" / f"{INDICATOR}.html")
    assert "slight improvement" in card and "clear worsening" not in card


def test_without_stored_analyses_the_report_computes_them_and_says_so(tmp_path: Path) -> None:
    _write(tmp_path / "kb", {})
    build_report(tmp_path / "kb", "2025", tmp_path / "site", lang="en")
    home = _text(tmp_path / "site" / "index.html")
    assert "This edition stores no analyses (trend, benchmark, early_warnings)" in home
    card = _text(tmp_path / "site" / "indicators" / f"{INDICATOR}.html")
    # Computed from the data: +0.5 points a year on about 60 is under 1 % a year, stable.
    assert "clear worsening" not in card and 'class="mark stable">stable<' in card


def test_a_stored_trend_of_the_other_method_is_recomputed(tmp_path: Path) -> None:
    _write(tmp_path / "kb", _stored())
    build_report(tmp_path / "kb", "2025", tmp_path / "site", lang="en", progress_method="eurostat")
    home = _text(tmp_path / "site" / "index.html")
    assert "This edition stores no analyses (trend)" in home


# -- a real build ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def brescia(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    pytest.importorskip("osserva_brescia")
    from welfare_observatory.cli.main import cli

    root = tmp_path_factory.mktemp("brescia")
    result = CliRunner().invoke(
        cli, ["build", "brescia", "--offline", "--out", str(root / "kb")], catch_exceptions=False
    )
    assert (root / "kb").is_dir(), result.output
    build_report(root / "kb", None, root / "site", observatory="brescia")
    return root / "kb", root / "site"


def _label(category: object) -> str:
    key = str(category)
    return STRINGS[key][0] if key in STRINGS else STRINGS["not_assessable"][0]


def test_every_analysis_on_the_brescia_cards_equals_the_stored_one(
    brescia: tuple[Path, Path],
) -> None:
    kb_root, site = brescia
    kb = KnowledgeBase.open(kb_root)
    focus = kb.manifest(kb.edition(None).name).territory
    trend = kb.analysis("trend")
    progress = kb.analysis("progress")
    benchmark = kb.analysis("benchmark")
    breakdowns = [c for c in ("sex", "age", "citizenship") if c in trend.columns]
    totals = trend[(trend["territory"] == focus)]
    for column in breakdowns:
        totals = totals[totals[column].isna() | (totals[column] == "_T")]
    checked = 0
    for row in totals.itertuples(index=False):
        page = site / "indicators" / f"{row.indicator}.html"
        if not page.exists():
            continue
        facts = _text(page).split('<dl class="facts">', 1)[1]
        progress_dd = facts.split("</dd>", 1)[0]
        assert f">{_label(row.category)}</span>" in progress_dd, row.indicator
        assert f"(periodo {int(row.start_year)}–{int(row.end_year)})" in progress_dd
        mine = progress[(progress["indicator"] == row.indicator) & (progress["territory"] == focus)]
        for column in breakdowns:
            mine = mine[mine[column].isna() | (mine[column] == "_T")]
        for p in mine.itertuples(index=False):
            word = STRINGS[f"horizon_{p.horizon}"][0]
            assert re.search(
                rf"{word}: <span class=\"mark [a-z_]+\">{re.escape(_label(p.category))}</span>"
                rf" <span class=\"note\">\(periodo {int(p.start_year)}–{int(p.end_year)}\)",
                facts,
            ), (row.indicator, p.horizon)
        checked += 1
    assert checked >= 10
    from welfare_observatory.observatory import load_observatory

    shipped = load_observatory("brescia").catalog  # the baseline plugin's entries too
    if "sex" in benchmark.columns:  # the card ranks the totals (BES series come by sex too)
        benchmark = benchmark[benchmark["sex"].isna() | (benchmark["sex"] == "_T")]
    for row in benchmark.drop_duplicates("indicator").itertuples(index=False):
        card = _text(site / "indicators" / f"{row.indicator}.html")
        rank = re.search(r"<dt>Posizione</dt><dd>([^<]*) <", card)
        if shipped.get(row.indicator).polarity.value == "neutral":
            assert rank is None  # a rank needs a direction
        else:
            assert (
                rank is not None and rank.group(1) == f"{int(row.rank)}ª su {int(row.n_compared)}"
            )
    home = _text(site / "index.html")
    assert "non contiene analisi salvate" not in home


def test_every_brescia_page_stays_under_300_kb(brescia: tuple[Path, Path]) -> None:
    _, site = brescia
    sizes = {p: p.stat().st_size for p in site.rglob("*.html") if p.name != "print.html"}
    heaviest = max(sizes, key=sizes.__getitem__)
    assert sizes[heaviest] < 300_000, heaviest  # a page loads nothing but itself
