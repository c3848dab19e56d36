"""Time and weigh the report's trend charts: our inline SVG vs. matplotlib vs. altair/vega-lite.

Draws the same N charts (one per indicator card: the territory, its region and Italy over
ten years, the shape of a report card) with each renderer and prints, per renderer: the
import time, the time to draw all N charts, and the mean bytes of SVG one chart adds to a
page (the SVG alone, without the data table ours appends). matplotlib writes SVG with text as
text (``svg.fonttype: none``), its smallest form; vega-lite goes through vl-convert (its
bundled Deno/V8 engine). Libraries that are not installed are reported as skipped.

    .venv/bin/pip install matplotlib altair vl-convert-python   # only for this comparison
    .venv/bin/python benchmarks/report_charts.py [--charts 160]
"""

from __future__ import annotations

import argparse
import importlib
import io
import re
import time
from collections.abc import Callable

import numpy as np

from welfare_observatory.publish.report.charts import Series, line_chart
from welfare_observatory.publish.report.i18n import format_number

YEARS = list(range(2015, 2025))
NAMES = ("Biella", "Piemonte", "Italia")


def dataset(charts: int, seed: int = 3) -> list[list[Series]]:
    """``charts`` charts of three series over ten years (deterministic)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(charts):
        base = rng.uniform(5, 300)
        out.append(
            [
                Series(name, YEARS, (base * (1 + rng.normal(0, 0.03, len(YEARS)))).tolist())
                for name in NAMES
            ]
        )
    return out


def ours(chart: list[Series], number: int) -> str:
    html = str(
        line_chart(
            chart,
            chart_id=f"c{number}",
            title="Andamento",
            desc="Grafico a linee",
            fmt=lambda v: format_number(v, "it", 1),
            table_caption="Dati del grafico",
            year_label="Anno",
        )
    )
    return html[html.index("<svg") : html.index("</svg>") + 6]


def with_matplotlib() -> Callable[[list[Series], int], str]:
    matplotlib = importlib.import_module("matplotlib")
    matplotlib.use("svg")
    matplotlib.rcParams["svg.fonttype"] = "none"
    pyplot = importlib.import_module("matplotlib.pyplot")

    def draw(chart: list[Series], number: int) -> str:
        figure, axes = pyplot.subplots(figsize=(5.6, 2.4))
        for line, style in zip(chart, ("-", "--", ":"), strict=False):
            axes.plot(line.years, line.values, style, marker="o", markersize=3, label=line.name)
        axes.legend(loc="lower left", ncols=3, frameon=False)
        axes.grid(axis="y")
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg")
        pyplot.close(figure)
        return buffer.getvalue()

    return draw


def with_altair() -> Callable[[list[Series], int], str]:
    altair = importlib.import_module("altair")
    vl_convert = importlib.import_module("vl_convert")
    import pandas as pd

    def draw(chart: list[Series], number: int) -> str:
        frame = pd.DataFrame(
            [
                {"year": y, "value": v, "territory": s.name}
                for s in chart
                for y, v in zip(s.years, s.values, strict=True)
            ]
        )
        spec = (
            altair.Chart(frame, width=480, height=180)
            .mark_line(point=True)
            .encode(x="year:O", y="value:Q", color="territory:N", strokeDash="territory:N")
            .to_dict()
        )
        svg: str = vl_convert.vegalite_to_svg(spec)
        return svg

    return draw


def measure(
    name: str, make: Callable[[], Callable[[list[Series], int], str]], charts: list[list[Series]]
) -> None:
    started = time.perf_counter()
    try:
        draw = make()
    except ImportError as exc:
        print(f"{name:<22} skipped: {exc}")
        return
    imported = time.perf_counter() - started
    draw(charts[0], -1)  # first call: lazy set-up (fonts, the V8 engine) counted apart
    first = time.perf_counter() - started - imported
    started = time.perf_counter()
    sizes = [len(draw(chart, n).encode("utf-8")) for n, chart in enumerate(charts)]
    seconds = time.perf_counter() - started
    print(
        f"{name:<22} import {imported:6.2f} s  first {first:5.2f} s  "
        f"{len(charts)} charts {seconds:6.2f} s ({seconds / len(charts) * 1000:6.1f} ms each)  "
        f"{np.mean(sizes) / 1024:6.1f} KiB/chart"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--charts", type=int, default=160)
    args = parser.parse_args()
    charts = dataset(args.charts)
    measure("inline SVG (ours)", lambda: ours, charts)
    measure("matplotlib (svg)", with_matplotlib, charts)
    measure("altair + vl-convert", with_altair, charts)
    sample = ours(charts[0], 0)
    assert re.search(r"<title id=\"c0-t\">", sample)  # ours carries its text alternative


if __name__ == "__main__":
    main()
