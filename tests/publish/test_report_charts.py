"""The report's building blocks: SVG charts, numbers in two languages, the deep-dive Markdown."""

from __future__ import annotations

import math
import time

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from markupsafe import Markup

from welfare_observatory.errors import PublishError
from welfare_observatory.publish.report.charts import (
    Bar,
    Series,
    bar_chart,
    line_chart,
    nice_ticks,
    sparkline,
    stack_bar,
)
from welfare_observatory.publish.report.deepdive import Reference, render_deepdive
from welfare_observatory.publish.report.i18n import Translator, format_number


def fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def chart(series: list[Series]) -> str:
    return str(
        line_chart(
            series,
            chart_id="c1",
            title="Trend of <NEET>",
            desc="Line chart",
            fmt=fmt,
            table_caption="Chart data",
            year_label="Year",
        )
    )


finite = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False)


@given(finite, finite)
@example(0.0, 5e-324)  # a span that underflows to 0 when divided into steps
def test_ticks_are_increasing_and_cover_the_range(a: float, b: float) -> None:
    low, high = min(a, b), max(a, b)
    ticks = nice_ticks(low, high)
    assert ticks == sorted(ticks) and len(set(ticks)) == len(ticks)
    assert ticks[0] <= low + 1e-9 * max(1.0, abs(low))
    assert ticks[-1] >= high - 1e-9 * max(1.0, abs(high))
    assert 2 <= len(ticks) <= 12


def test_a_line_chart_has_a_title_a_description_and_its_data_as_a_table() -> None:
    svg = chart([Series("Biella", [2020, 2021, 2022], [10.0, 11.0, 12.5])])
    assert 'role="img"' in svg and 'aria-labelledby="c1-t c1-d"' in svg
    assert '<title id="c1-t">Trend of &lt;NEET&gt;</title>' in svg
    assert "<polyline" in svg and svg.count("<circle") == 3
    assert '<th scope="row">2022</th><td>12.5</td>' in svg


def test_text_from_data_is_escaped() -> None:
    svg = chart([Series('<script>alert("x")</script>', [2020, 2021], [1.0, 2.0])])
    assert "<script>" not in svg and "&lt;script&gt;" in svg


def test_a_missing_year_breaks_the_line_instead_of_drawing_a_zero() -> None:
    svg = chart([Series("A", [2019, 2020, 2021, 2022], [5.0, None, 6.0, 7.0])])
    assert svg.count("<polyline") == 1  # 2021-2022; 2019 stands alone as a point
    assert svg.count("<circle") == 3
    assert '<th scope="row">2020</th><td></td>' in svg


def test_no_values_no_chart() -> None:
    assert chart([Series("A", [2020], [None])]) == ""
    assert sparkline([2020], [1.0], label="one point") == Markup("")


def test_a_sparkline_says_what_it_shows() -> None:
    svg = str(sparkline([2019, 2020, 2021], [1.0, math.nan, 3.0], label="NEET: 1 in 2019"))
    assert 'aria-label="NEET: 1 in 2019"' in svg and "<title>NEET: 1 in 2019</title>" in svg


def test_bars_start_at_the_reference_when_one_is_given() -> None:
    bars = [Bar("Biella", 100.0, True), Bar("Ailoche", 90.0), Bar("Benna", None)]
    svg = str(
        bar_chart(
            bars,
            chart_id="b1",
            title="AMPI",
            fmt=fmt,
            table_caption="Data",
            label_header="Territory",
            value_header="Score",
            baseline=100.0,
        )
    )
    assert 'class="baseline"' in svg and svg.count("<rect") == 2
    assert "<td>Benna</td><td></td>" in svg  # no score: an empty cell, not a zero bar


def test_a_stacked_bar_splits_by_count_and_says_the_counts() -> None:
    svg = str(stack_bar([3, 1, 0, 0], label="Labour: 3 improving, 1 stable"))
    assert svg.count("<rect") == 2 and 'width="90.0"' in svg and 'width="30.0"' in svg
    assert 'aria-label="Labour: 3 improving, 1 stable"' in svg
    assert stack_bar([0, 0, 0, 0], label="none") == Markup("")


def test_charts_are_fast_enough_for_thousands_per_report() -> None:
    years = list(range(2010, 2024))
    values: list[float | None] = [float(v) for v in range(14)]
    started = time.perf_counter()
    for _ in range(2000):
        sparkline(years, values, label="x")
    assert time.perf_counter() - started < 2.0  # ~0.1 ms each on the development machine


@pytest.mark.parametrize(
    ("lang", "value", "decimals", "text"),
    [("it", 1234.56, 1, "1.234,6"), ("en", 1234.56, 1, "1,234.6"), ("it", 3.0, 0, "3")],
)
def test_numbers_follow_the_language(lang: str, value: float, decimals: int, text: str) -> None:
    assert format_number(value, lang, decimals) == text
    assert format_number(math.nan, lang) == ""


def test_an_unknown_language_is_an_error() -> None:
    with pytest.raises(PublishError, match="no language 'de'"):
        Translator("de")


def figure(ref: Reference) -> Markup:
    return Markup(f'<figure data-id="{ref.indicator}"></figure>')


def value(ref: Reference) -> Markup:
    return Markup(f'<a data-id="{ref.indicator}">12,5 %</a>')


def test_a_deep_dive_reference_becomes_a_figure_between_paragraphs() -> None:
    html = str(
        render_deepdive(
            "Intro *text*.\n\n{{ indicator: NEET }}\n\n| a | b |\n|---|---|\n| 1 | 2 |\n",
            figure=figure,
            value=value,
            known={"NEET"},
        )
    )
    assert html.index("<em>text</em>") < html.index('data-id="NEET"') < html.index("<table>")


def test_a_reference_inside_a_sentence_becomes_the_value() -> None:
    html = str(
        render_deepdive(
            "The share is {{ indicator: NEET }}, up from last year.\n\n"
            "```\n{{ indicator: NEET }}\n```\n",
            figure=figure,
            value=value,
            known={"NEET"},
        )
    )
    assert '<p>The share is <a data-id="NEET">12,5 %</a>, up from last year.</p>' in html
    assert "<code>{{ indicator: NEET }}\n</code>" in html  # code stays code


def test_a_reference_in_an_image_alt_or_a_link_title_is_its_value_as_text() -> None:
    # In an attribute the value's markup would break the tag: its text goes there instead.
    html = str(
        render_deepdive(
            "![Share {{ indicator: NEET }}](chart.png) and "
            '[a link](x.html "was {{ indicator: NEET }}")',
            figure=figure,
            value=value,
            known={"NEET"},
        )
    )
    assert 'alt="Share 12,5 %"' in html
    assert 'title="was 12,5 %"' in html
    assert "<a data-id" not in html.split("<img", 1)[1].split(">", 1)[0]


def test_a_misspelled_reference_inside_a_sentence_is_an_error() -> None:
    with pytest.raises(PublishError, match="unknown directive"):
        render_deepdive("See {{ indicatr: NEET }}.", figure=figure, value=value, known={"NEET"})


def test_raw_html_and_script_links_are_not_rendered() -> None:
    html = str(
        render_deepdive(
            '<img src=x onerror="alert(1)">\n\n[click](javascript:alert(1))\n\ue0000\ue001',
            figure=figure,
            value=value,
            known=set(),
        )
    )
    assert "<img" not in html and "&lt;img" in html
    assert 'href="javascript' not in html
    assert "\ue000" not in html  # the text cannot forge an inline-value marker


def test_unknown_references_name_the_file_and_line() -> None:
    with pytest.raises(PublishError) as info:
        render_deepdive(
            "# T\n\nIt is {{ indicator: NET }}.\n",
            figure=figure,
            value=value,
            known={"NEET"},
            source="dd.md",
        )
    assert info.value.location is not None
    assert (info.value.location.file, info.value.location.line) == ("dd.md", 3)
    assert "NEET" in (info.value.hint or "")
