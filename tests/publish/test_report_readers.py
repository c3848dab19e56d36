"""What readers see: axes that do not exaggerate, words instead of codes, grouped notes,
a governance page that says what to fill in, and a PDF whose headings keep their content."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from welfare_observatory.governance import governance_section
from welfare_observatory.governance.models import Governance
from welfare_observatory.governance.report_section import render_governance
from welfare_observatory.publish.report.charts import (
    MIN_RELATIVE_SPAN,
    Series,
    axis_range,
    line_chart,
    nice_ticks,
    tick_decimals,
)
from welfare_observatory.publish.report.i18n import breakdown_label, format_number

REPO = Path(__file__).resolve().parents[2]
STYLE = REPO / "src" / "welfare_observatory" / "publish" / "report" / "templates" / "style.css"


def ticks_of(svg: str) -> list[str]:
    return re.findall(r'<text class="tick" x="58" y="[^"]+" text-anchor="end">([^<]+)</text>', svg)


def share_female_chart(lang: str = "it") -> str:
    # Vercelli's SHARE_FEMALE (province) 2019-2023 moves by 0.1-0.2 points a year
    values = [51.41, 51.30, 51.24, 51.18, 51.12]
    return str(
        line_chart(
            [Series("Vercelli", [2019, 2020, 2021, 2022, 2023], values)],
            chart_id="c",
            title="t",
            desc="d",
            fmt=lambda v: format_number(v, lang, 1),
            table_caption="c",
            year_label="y",
            tick_fmt=lambda v, digits: format_number(v, lang, digits),
        )
    )


def test_a_small_change_is_drawn_on_an_axis_that_does_not_exaggerate_it() -> None:
    svg = share_female_chart()
    ticks = ticks_of(svg)
    assert len(ticks) >= 3 and len(set(ticks)) == len(ticks), ticks
    low, high = (float(t.replace(".", "").replace(",", ".")) for t in (ticks[0], ticks[-1]))
    assert high - low >= MIN_RELATIVE_SPAN * 51.41
    # the line's points: the whole 0.3-point fall takes well under a third of the plot height
    ys = [float(y) for y in re.findall(r'<circle cx="[^"]+" cy="([^"]+)"', svg)]
    assert max(ys) - min(ys) < 176 / 3


def test_ticks_print_with_the_decimals_they_need_in_each_language() -> None:
    assert tick_decimals([51.0, 51.5, 52.0]) == 1
    assert tick_decimals([0.25, 0.5, 0.75]) == 2
    assert tick_decimals([100.0, 200.0]) == 0
    english = ticks_of(share_female_chart("en"))
    assert all("," not in t for t in english)


def test_counts_start_at_zero_and_rates_near_zero_do_not_cross_it() -> None:
    assert axis_range([168_000.0, 170_000.0], zero_based=True) == (0.0, 170_000.0)
    low, high = axis_range([0.5, 0.51])
    assert low >= 0 and high - low >= MIN_RELATIVE_SPAN * 0.51
    low, high = axis_range([-3.0, -2.99])
    assert high <= 0


@given(st.lists(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), min_size=1, max_size=8))
def test_the_axis_covers_the_data_with_the_minimum_span(values: list[float]) -> None:
    low, high = axis_range(values)
    assert low <= min(values) and high >= max(values)
    assert high - low >= MIN_RELATIVE_SPAN * max(abs(v) for v in values) * (1 - 1e-9)
    ticks = nice_ticks(low, high)
    assert ticks[0] <= min(values) + 1e-6 * max(1.0, abs(min(values)))


@pytest.mark.parametrize(
    ("dimension", "code", "it", "en"),
    [
        ("sex", "F", "donne", "women"),
        ("citizenship", "FOR", "stranieri", "foreigners"),
        ("age", "Y65T74", "65-74 anni", "aged 65-74"),
        ("age", "Y_GE75", "75 anni e oltre", "aged 75 and over"),
        ("age", "Y_LT5", "meno di 5 anni", "under 5"),
    ],
)
def test_breakdown_codes_are_said_in_words(dimension: str, code: str, it: str, en: str) -> None:
    assert breakdown_label(dimension, code, "it") == it
    assert breakdown_label(dimension, code, "en") == en


def test_the_governance_table_names_the_territory() -> None:
    governance = Governance.model_validate(
        {
            "actions": [
                {
                    "id": "a1",
                    "title": {"it": "Azione"},
                    "target_group": {"it": "giovani"},
                    "started": "2024",
                    "indicators": [
                        {
                            "indicator": "NEET_15_29",
                            "territory": "01",
                            "baseline": {"value": 14.0, "period": "2022", "edition": "2023"},
                            "target": {"value": 10.0, "year": 2027},
                        }
                    ],
                }
            ]
        }
    )
    monitoring = pa.table(
        {
            "action": ["a1"],
            "indicator": ["NEET_15_29"],
            "territory": ["01"],
            "baseline_value": [14.0],
            "baseline_period": ["2022"],
            "target_value": [10.0],
            "target_year": [2027],
            "latest_value": [13.0],
            "latest_period": ["2023"],
            "expected_value": [13.2],
            "status": ["on track"],
        }
    ).to_pandas()
    html = render_governance(governance, monitoring, lang="it")
    assert "<td>Piemonte</td>" in html and "<td>01</td>" not in html


def test_an_empty_governance_page_says_what_to_fill_in_and_where(tmp_path: Path) -> None:
    (tmp_path / "governance.yaml").write_text("# nothing yet\n", "utf-8")
    for lang, words in (("it", "soggetti aderenti"), ("en", "stakeholders")):
        html = governance_section(
            SimpleNamespace(
                lang=lang,
                config=SimpleNamespace(governance="governance.yaml"),
                folder=str(tmp_path),
                observations=None,
            )
        )
        assert "governance.yaml" in html and words in html
        assert "<h3>" not in html  # no headings over empty lists


def test_print_css_lets_tables_flow_and_keeps_headings_with_them() -> None:
    css = STYLE.read_text("utf-8")
    printing = css[css.index("@media print {") :]
    avoid = re.search(r"([^{}]+)\{\s*break-inside:\s*avoid;\s*\}", printing)
    assert avoid is not None and "table" not in avoid.group(1).split(",")[0:10]
    assert re.search(r"thead\s*\{\s*display:\s*table-header-group", printing)
    assert re.search(r"h1, h2, h3[^{]*\{[^}]*break-after:\s*avoid", printing)


def test_in_chromium_no_page_holds_only_a_heading(tmp_path: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None or shutil.which("pdftotext") is None:
        pytest.skip("needs Chromium and pdftotext (poppler-utils)")
    from welfare_observatory.publish.report.pdf import print_pdf

    rows = "".join(f"<tr><th>Indicatore {i}</th><td>{i}</td></tr>" for i in range(45))
    pages = "".join(
        f"<section class='print-page'><h1>Comune {n}</h1><p class='meta'>Comune · 0960{n:02}</p>"
        f"<h2>Demografia</h2><table><thead><tr><th>Indicatore</th><th>Valore</th></tr></thead>"
        f"<tbody>{rows}</tbody></table></section>"
        for n in range(3)
    )
    filler = "<p>" + "testo " * 900 + "</p>"
    html = tmp_path / "print.html"
    html.write_text(
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><style>{STYLE.read_text('utf-8')}"
        f"</style></head><body><main><section class='print-page'>{filler}</section>{pages}"
        "</main></body></html>",
        "utf-8",
    )
    pdf = print_pdf(html, tmp_path / "out.pdf", chromium=chromium)
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    for page in text.split("\f"):
        lines = [line.strip() for line in page.splitlines() if line.strip()]
        if lines and lines[-1].startswith(("Comune", "Demografia")):
            pytest.fail(f"a page ends with a heading: {lines[-3:]}")
        if 0 < len(lines) <= 3:
            pytest.fail(f"a page holds only {lines}")


def test_the_example_deep_dives_send_readers_to_pages_not_configuration_files() -> None:
    texts = sorted((REPO / "examples").glob("*/src/*/deepdive/*.md"))
    assert texts
    for text in texts:
        body = text.read_text("utf-8")
        assert not re.search(r"`[\w./-]+\.ya?ml`", body), f"{text.name} names a config file"


def test_a_note_that_applies_to_several_territories_is_given_once() -> None:
    from welfare_observatory.publish.report.i18n import Translator
    from welfare_observatory.publish.report.views import ReportView

    names = {"096": "Biella", "01": "Piemonte", "IT": "Italia"}
    latest = {"096": ("P", 2023), "01": ("P", 2023), "IT": ("A", 2023)}
    fake = SimpleNamespace(
        latest=lambda _i, code: {
            "year": latest[code][1],
            "suppressed": False,
            "status": latest[code][0],
        },
        _trend=lambda _i, _code: {"break": 2019},
        name=names.__getitem__,
        t=Translator("it"),
    )
    notes = ReportView.notes(fake, SimpleNamespace(id="X"), ["096", "01", "IT"])  # type: ignore[arg-type]
    assert notes == [
        "2023, provvisorio: Biella, Piemonte",
        "2019, interruzione di serie: Biella, Piemonte, Italia",
    ]


def test_a_chromium_profile_still_in_use_does_not_fail_a_finished_print(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chromium's helpers can write into the profile after the printing process exits
    ('Directory not empty' on removal): the PDF was printed, so that is no error."""
    import tempfile

    from welfare_observatory.publish.report import pdf as pdf_module

    def fake_run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        out = next(a for a in command if a.startswith("--print-to-pdf=")).split("=", 1)[1]
        Path(out).write_bytes(b"%PDF-1.4 printed")
        return subprocess.CompletedProcess(command, 0, "", "")

    real_rmtree = tempfile.TemporaryDirectory._rmtree  # type: ignore[attr-defined]

    def busy_rmtree(name: str, ignore_errors: bool = False, **kwargs: object) -> None:
        real_rmtree(name, ignore_errors=True)
        if not ignore_errors:
            raise OSError(39, "Directory not empty", "Default")

    monkeypatch.setattr(pdf_module, "find_chromium", lambda chromium: "chromium")
    monkeypatch.setattr(pdf_module.subprocess, "run", fake_run)
    monkeypatch.setattr(tempfile.TemporaryDirectory, "_rmtree", staticmethod(busy_rmtree))
    html = tmp_path / "print.html"
    html.write_text("<p>x</p>", "utf-8")
    printed = pdf_module.print_pdf(html, tmp_path / "out.pdf")
    assert printed.read_bytes().startswith(b"%PDF")
