"""Small inline SVG charts: line charts, sparklines and horizontal bars.

Drawn as text when the report is built (no JavaScript, no fonts to fetch, works from file://).
Every chart carries a text alternative: ``<title>``/``<desc>`` referenced by ``aria-labelledby``
and, for full charts, a table of the plotted data. All text is escaped here; the result is
``Markup`` ready for the templates. Values are in the indicator's unit; ``None`` or NaN is a
gap in a line, never a zero.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

__all__ = [
    "Bar",
    "Series",
    "axis_range",
    "bar_chart",
    "line_chart",
    "nice_ticks",
    "sparkline",
    "stack_bar",
    "tick_decimals",
]

# Colour plus a dash pattern per series, so lines differ without colour too.
_STYLES = (
    ("#1b5e9a", ""),
    ("#c2571a", "6 3"),
    ("#4d7c2a", "2 3"),
    ("#7a3b8f", "8 3 2 3"),
)

Formatter = Callable[[float | None], str]


@dataclass(frozen=True, slots=True)
class Series:
    """One line: its name and values by year (``None`` for a gap)."""

    name: str
    years: Sequence[int]
    values: Sequence[float | None]


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: float | None
    highlight: bool = False


def _safe(html: str) -> Markup:
    """Markup built here from numbers and ``escape``d text only."""
    return Markup(html)  # noqa: S704 - every text part was escaped above


def _present(values: Iterable[float | None]) -> list[float]:
    """The values that are there (no None, no NaN)."""
    return [float(v) for v in values if v is not None and not math.isnan(v)]


def _ok(value: float | None) -> bool:
    return value is not None and not math.isnan(value)


def nice_ticks(low: float, high: float, count: int = 4) -> list[float]:
    """About ``count`` round tick values covering [low, high] (1, 2, 2.5 or 5 x 10^k steps)."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return [0.0]
    # Equal ends, or ends so close (subnormal) that the step underflows to 0: pad them.
    if (high - low) / max(count, 1) == 0:
        pad = abs(high) * 0.1 or 1.0
        low, high = low - pad, high + pad
    raw = (high - low) / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    # Whole multiples of the step, from the last one at or below ``low`` to the first one at
    # or above ``high``; rounded so 0.1 * 3 prints as 0.3.
    digits = max(0, 2 - math.floor(math.log10(step)))
    first, last = math.floor(low / step), math.ceil(high / step)
    return [round(i * step, digits) for i in range(first, last + 1)]


# The y axis spans at least this share of the largest value shown, so that a change of 0.1 on
# a share of 51 is not drawn as a steep slope (statistical offices do not fit the axis to the
# data either).
MIN_RELATIVE_SPAN = 0.05


def axis_range(values: Sequence[float], *, zero_based: bool = False) -> tuple[float, float]:
    """The (low, high) a y axis covers: every value, 0 for counts (``zero_based``), and a span
    of at least ``MIN_RELATIVE_SPAN`` of the largest absolute value, centred on the data and
    never crossing 0 when the data do not."""
    low, high = min(values), max(values)
    if zero_based:
        return min(0.0, low), max(0.0, high)
    need = MIN_RELATIVE_SPAN * max(abs(low), abs(high))
    if high - low < need:
        middle = (low + high) / 2
        low, high = middle - need / 2, middle + need / 2
        if min(values) >= 0 > low:
            low, high = 0.0, need
        elif max(values) <= 0 < high:
            low, high = -need, 0.0
    return low, high


def tick_decimals(ticks: Sequence[float]) -> int:
    """The fewest decimals that print every tick exactly, so no two ticks read the same."""
    for digits in range(10):
        if all(abs(round(t, digits) - t) <= 1e-9 * max(1.0, abs(t)) for t in ticks):
            return digits
    return 10


def line_chart(
    series: Sequence[Series],
    *,
    chart_id: str,
    title: str,
    desc: str,
    fmt: Formatter,
    table_caption: str,
    year_label: str,
    tick_fmt: Callable[[float, int], str] | None = None,
    zero_based: bool = False,
    width: int = 560,
    height: int = 240,
) -> Markup:
    """A line chart with a y grid, year labels, a legend and the data as a table.

    ``tick_fmt(value, decimals)`` prints the y ticks with as many decimals as they need
    (default: ``fmt``); ``zero_based`` starts the axis at 0, for counts."""
    years = sorted({y for s in series for y in s.years})
    values = _present(v for s in series for v in s.values)
    if not years or not values:
        return Markup("")
    left, right, top, bottom = 64, 24, 12, 52
    plot_w, plot_h = width - left - right, height - top - bottom
    ticks = nice_ticks(*axis_range(values, zero_based=zero_based))
    digits = tick_decimals(ticks)

    def tick_text(value: float) -> str:
        return fmt(value) if tick_fmt is None else tick_fmt(value, digits)

    y_low, y_high = ticks[0], ticks[-1]
    span_x = (years[-1] - years[0]) or 1

    def x_of(year: int) -> float:
        if len(years) == 1:
            return left + plot_w / 2
        return left + (year - years[0]) / span_x * plot_w

    def y_of(value: float) -> float:
        return top + plot_h - (value - y_low) / ((y_high - y_low) or 1) * plot_h

    parts = [
        f'<svg class="chart-svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{chart_id}-t {chart_id}-d" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{chart_id}-t">{escape(title)}</title>',
        f'<desc id="{chart_id}-d">{escape(desc)}</desc>',
    ]
    for tick in ticks:
        y = y_of(tick)
        parts.append(
            f'<line class="grid" x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="tick" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(tick_text(tick))}</text>"
        )
    label_every = max(1, math.ceil(len(years) / 8))
    for index, year in enumerate(years):
        if index % label_every == 0 or index == len(years) - 1:
            parts.append(
                f'<text class="tick" x="{x_of(year):.1f}" y="{top + plot_h + 16}" '
                f'text-anchor="middle">{year}</text>'
            )
    for number, line in enumerate(series):
        colour, dash = _STYLES[number % len(_STYLES)]
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        for segment in _segments(line):
            points = " ".join(f"{x_of(y):.1f},{y_of(v):.1f}" for y, v in segment)
            if len(segment) > 1:
                parts.append(
                    f'<polyline fill="none" stroke="{colour}" stroke-width="2.5"{dash_attr} '
                    f'points="{points}"/>'
                )
            for year, value in segment:
                parts.append(
                    f'<circle cx="{x_of(year):.1f}" cy="{y_of(value):.1f}" r="3" fill="{colour}"/>'
                )
        legend_x = left + number * (plot_w // max(len(series), 1))
        legend_y = height - 10
        parts.append(
            f'<line x1="{legend_x}" x2="{legend_x + 22}" y1="{legend_y - 4}" '
            f'y2="{legend_y - 4}" stroke="{colour}" stroke-width="2.5"{dash_attr}/>'
            f'<text class="legend" x="{legend_x + 26}" y="{legend_y}">{escape(line.name)}</text>'
        )
    parts.append("</svg>")
    return _safe(
        f'<figure class="chart">{"".join(parts)}'
        + _data_table(series, years, fmt, table_caption, year_label)
        + "</figure>"
    )


def _segments(line: Series) -> list[list[tuple[int, float]]]:
    """Runs of consecutive present values: a missing year breaks the line."""
    segments: list[list[tuple[int, float]]] = [[]]
    for year, value in zip(line.years, line.values, strict=True):
        if _ok(value):
            assert value is not None
            segments[-1].append((year, value))
        elif segments[-1]:
            segments.append([])
    return [s for s in segments if s]


def _data_table(
    series: Sequence[Series], years: list[int], fmt: Formatter, caption: str, year_label: str
) -> str:
    head = "".join(f'<th scope="col">{escape(s.name)}</th>' for s in series)
    lookup = [dict(zip(s.years, s.values, strict=True)) for s in series]
    rows = "".join(
        f'<tr><th scope="row">{year}</th>'
        + "".join(f"<td>{escape(fmt(values.get(year)))}</td>" for values in lookup)
        + "</tr>"
        for year in years
    )
    return (
        f'<details class="chart-data"><summary>{escape(caption)}</summary>'
        f'<table><thead><tr><th scope="col">{escape(year_label)}</th>{head}</tr></thead>'
        f"<tbody>{rows}</tbody></table></details>"
    )


def sparkline(
    years: Sequence[int], values: Sequence[float | None], *, label: str, width: int = 84
) -> Markup:
    """A tiny line without axes; ``label`` (first and last values in words) is its alt text."""
    # ``v == v``: not NaN. Thousands of sparklines per report: one comprehension each.
    points = [(y, v) for y, v in zip(years, values, strict=True) if v is not None and v == v]
    if len(points) < 2:
        return Markup("")
    height = 22
    low = min(v for _, v in points)
    high = max(v for _, v in points)
    y0, y1 = points[0][0], points[-1][0]
    span_y = (high - low) or 1.0
    span_x = (y1 - y0) or 1
    # The same arithmetic, in the same order, as a point at a time: the same text.
    xs = [2 + (year - y0) / span_x * (width - 4) for year, _ in points]
    ys = [height - 3 - (value - low) / span_y * (height - 6) for _, value in points]
    pairs = [f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys, strict=True)]
    coords = " ".join(pairs)
    last_x, last_y = pairs[-1].split(",")
    return _safe(
        f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(label)}</title>"
        f'<polyline fill="none" stroke="#1b5e9a" stroke-width="1.5" points="{coords}"/>'
        f'<circle cx="{last_x}" cy="{last_y}" r="2" fill="#1b5e9a"/></svg>'
    )


def bar_chart(
    bars: Sequence[Bar],
    *,
    chart_id: str,
    title: str,
    fmt: Formatter,
    table_caption: str,
    label_header: str,
    value_header: str,
    baseline: float | None = None,
    width: int = 560,
) -> Markup:
    """Horizontal bars, one per label, highlighted ones darker. Bars start at 0, or at
    ``baseline`` when given (for AMPI: 100, the reference), drawn as a dashed rule."""
    present = _present(b.value for b in bars)
    if not present:
        return Markup("")
    row_h, left, right, top = 18, 170, 56, 6
    height = top * 2 + row_h * len(bars)
    origin = 0.0 if baseline is None else baseline
    low = min(origin, *present)
    high = max(origin, *present)
    if baseline is not None:  # room on both sides of the reference
        reach = (max(high - baseline, baseline - low) or 1.0) * 1.15
        low, high = baseline - reach, baseline + reach
    scale = (width - left - right) / ((high - low) or 1)
    parts = [
        f'<svg class="chart-svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{chart_id}-t" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{chart_id}-t">{escape(title)}</title>',
    ]
    for index, bar in enumerate(bars):
        y = top + index * row_h
        name = bar.label if len(bar.label) <= 26 else bar.label[:25] + "…"
        parts.append(
            f'<text class="tick" x="{left - 6}" y="{y + 13}" text-anchor="end">'
            f"{escape(name)}</text>"
        )
        if _ok(bar.value):
            assert bar.value is not None
            fill = "#1b5e9a" if bar.highlight else "#8fb3d6"
            start = left + (min(bar.value, origin) - low) * scale
            length = abs(bar.value - origin) * scale
            label_x = left + (bar.value - low) * scale + (4 if bar.value >= origin else -4)
            anchor = "start" if bar.value >= origin else "end"
            parts.append(
                f'<rect x="{start:.1f}" y="{y + 3}" width="{length:.1f}" height="{row_h - 6}" '
                f'fill="{fill}"/><text class="tick" x="{label_x:.1f}" y="{y + 13}" '
                f'text-anchor="{anchor}">{escape(fmt(bar.value))}</text>'
            )
    if baseline is not None:
        x = left + (origin - low) * scale
        parts.append(f'<line class="baseline" x1="{x:.1f}" x2="{x:.1f}" y1="0" y2="{height}"/>')
    parts.append("</svg>")
    rows = "".join(
        f"<tr><td>{escape(b.label)}</td><td>{escape(fmt(b.value))}</td></tr>" for b in bars
    )
    table = (
        f'<details class="chart-data"><summary>{escape(table_caption)}</summary><table><thead>'
        f'<tr><th scope="col">{escape(label_header)}</th><th scope="col">'
        f"{escape(value_header)}</th></tr></thead><tbody>{rows}</tbody></table></details>"
    )
    return _safe(f'<figure class="chart">{"".join(parts)}{table}</figure>')


_STACK_COLOURS = ("#2e7d32", "#9e9e9e", "#b3261e", "#e0e0e0")


def stack_bar(counts: Sequence[int], *, label: str, width: int = 120) -> Markup:
    """One bar split in proportion to ``counts`` (improving, stable, worsening, not assessed);
    ``label`` says the counts in words."""
    total = sum(counts)
    if total <= 0:
        return Markup("")
    height, x = 12, 0.0
    rects = []
    for count, colour in zip(counts, _STACK_COLOURS, strict=False):
        if count <= 0:
            continue
        length = count / total * width
        rects.append(
            f'<rect x="{x:.1f}" y="0" width="{length:.1f}" height="{height}" fill="{colour}"/>'
        )
        x += length
    return _safe(
        f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(label)}</title>{''.join(rects)}</svg>"
    )
