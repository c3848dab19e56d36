"""View models: the plain dicts and charts each page template renders.

Templates stay simple (loops and escaping); numbers, words and charts are made here, once.
"""

from __future__ import annotations

import itertools
import math
import re
from typing import Any

from markupsafe import Markup

from welfare_observatory.model import Indicator, Territory
from welfare_observatory.publish.report.charts import Series, line_chart, sparkline
from welfare_observatory.publish.report.data import EditionData
from welfare_observatory.publish.report.i18n import (
    Translator,
    decimals_for,
    format_number,
    unit_label,
)

__all__ = ["ReportView", "page_slug"]

_NOTE_STATUSES = ("P", "B", "E", "U", "I", "F")


def page_slug(code: str) -> str:
    """A file-name-safe form of a territory code (``district:T01024`` -> ``district_T01024``)."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", code)


class ReportView:
    """Words, numbers and charts of one edition in one language."""

    def __init__(self, data: EditionData, lang: str, sdg_titles: dict[str, str]) -> None:
        self.data = data
        self.lang = lang
        self.t = Translator(lang)
        self.sdg_titles = sdg_titles
        self.indicators = data.indicator_by_id()
        self._ids = itertools.count(1)

    # -- small helpers ---------------------------------------------------------------------
    def chart_id(self) -> str:
        """Unique across the whole build, so the printable page keeps ids unique."""
        return f"chart-{next(self._ids)}"

    def number(self, value: float | None, indicator: Indicator) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return self.t("missing_value")
        return format_number(value, self.lang, decimals_for(indicator.unit))

    def label(self, indicator: Indicator) -> str:
        return indicator.label.get(self.lang)

    def unit(self, indicator: Indicator) -> str:
        return unit_label(indicator.unit, self.lang)

    def domain(self, domain: str) -> str:
        key = f"domain_{domain}"
        return self.t(key) if self.t.has(key) else domain

    def category(self, category: object) -> str:
        if isinstance(category, str) and self.t.has(category):
            return self.t(category)
        return self.t("not_assessable")

    def name(self, code: str) -> str:
        return self.data.names.get(code, code)

    def href_indicator(self, indicator_id: str) -> str:
        return f"indicators/{indicator_id}.html"

    def href_territory(self, code: str) -> str:
        return f"territories/{page_slug(code)}.html"

    def _latest(self, indicator: str, territory: str) -> dict[str, Any] | None:
        try:
            row = self.data.latest.loc[(indicator, territory)]
        except KeyError:
            return None
        value = row["value"]
        return {
            "year": int(row["year"]),
            "value": None if math.isnan(value) else float(value),
            "marker": str(row["marker"]),
            "status": str(row["obs_status"]),
            "suppressed": str(row["marker"]) == "s",
        }

    def _trend(self, indicator: str, territory: str) -> dict[str, Any]:
        try:
            row = self.data.trends.loc[(indicator, territory)]
        except KeyError:
            return {"label": self.t("not_assessable"), "bucket": "not_assessed", "break": None}
        brk = row["break_year"]
        return {
            "label": self.category(row["category"]),
            "bucket": str(row["bucket"]),
            "break": None if brk is None or brk != brk else int(brk),
        }

    # -- charts --------------------------------------------------------------------------
    def trend_chart(self, indicator: Indicator) -> Markup:
        codes = [self.data.focus.code, *(t.code for t in self.data.comparisons)]
        lines = []
        for code in codes:
            found = self.data.series.get((indicator.id, code))
            if found is not None:
                lines.append(Series(self.name(code), found[0], found[1]))
        if not lines:
            return Markup("")
        years = sorted({y for s in lines for y in s.years})
        label = self.label(indicator)
        return line_chart(
            lines,
            chart_id=self.chart_id(),
            title=self.t("chart_of", label=label),
            desc=self.t(
                "chart_desc",
                first=years[0],
                last=years[-1],
                series=", ".join(s.name for s in lines),
            )
            + f" ({self.unit(indicator)})",
            fmt=lambda v: self.number(v, indicator) if v is not None else "",
            table_caption=self.t("data_table"),
            year_label=self.t("year"),
        )

    def spark(self, indicator: Indicator, territory: str) -> Markup:
        found = self.data.series.get((indicator.id, territory))
        if found is None:
            return Markup("")
        years, values = found
        present = [(y, v) for y, v in zip(years, values, strict=True) if v is not None]
        if len(present) < 2:
            return Markup("")
        return sparkline(
            years,
            values,
            label=self.t(
                "sparkline_of",
                label=self.label(indicator),
                first=self.number(present[0][1], indicator),
                y0=present[0][0],
                last=self.number(present[-1][1], indicator),
                y1=present[-1][0],
            ),
        )

    # -- pages ---------------------------------------------------------------------------
    def notes(self, indicator: Indicator, codes: list[str]) -> list[str]:
        """Status notes of the latest values shown on a card."""
        notes = []
        for code in codes:
            latest = self._latest(indicator.id, code)
            if latest is None:
                continue
            where = f"{self.name(code)} {latest['year']}"
            if latest["suppressed"]:
                notes.append(f"{where}: {self.t('status_suppressed')}")
            elif latest["status"] in _NOTE_STATUSES:
                notes.append(f"{where}: {self.t('status_' + latest['status'])}")
            brk = self._trend(indicator.id, code)["break"]
            if brk is not None and not (latest["status"] == "B" and latest["year"] == brk):
                notes.append(f"{self.name(code)} {brk}: {self.t('status_B')}")
        return notes

    def card(self, indicator: Indicator) -> dict[str, Any]:
        focus = self.data.focus.code
        codes = [focus, *(t.code for t in self.data.comparisons)]
        rows = []
        for code in codes:
            latest = self._latest(indicator.id, code)
            if latest is None:
                continue
            rows.append(
                {
                    "name": self.name(code),
                    "year": latest["year"],
                    "value": self.number(latest["value"], indicator),
                    "marker": latest["marker"],
                    "progress": self._trend(indicator.id, code),
                    "focus": code == focus,
                }
            )
        bench = self.data.benchmark
        rank = None
        if not bench.empty:
            mine = bench[bench["indicator"] == indicator.id]
            if not mine.empty and indicator.polarity.value != "neutral":
                first = mine.iloc[0]
                rank = self.t("rank_of", rank=int(first["rank"]), n=int(first["n_compared"]))
        source = indicator.source
        return {
            "id": indicator.id,
            "label": self.label(indicator),
            "unit": self.unit(indicator),
            "domain": self.domain(indicator.domain.value),
            "domain_id": indicator.domain.value,
            "definition": indicator.definition.get(self.lang),
            "how_to_read": indicator.how_to_read.get(self.lang),
            "source": {
                "publisher": source.publisher,
                "dataset": source.dataset,
                "document": source.document,
                "url": source.url if source.url and source.url.startswith(("https://", "http://")) else None,
            },
            "sdg": [
                {"id": link.id, "title": self.sdg_titles.get(link.id, "")} for link in indicator.sdg
            ],
            "rows": rows,
            "progress": self._trend(indicator.id, focus),
            "rank": rank,
            "chart": self.trend_chart(indicator),
            "notes": self.notes(indicator, codes),
        }

    def territory_rows(self, territory: Territory) -> list[dict[str, Any]]:
        """One row per indicator with a value for ``territory``, grouped by domain order."""
        rows = []
        focus = self.data.focus.code
        ranks = self.data.ranks
        for indicator in self.data.indicators:
            latest = self._latest(indicator.id, territory.code)
            if latest is None:
                continue
            reference = self._latest(indicator.id, focus)
            key = (indicator.id, territory.code)
            rank = None
            if key in ranks.index and indicator.polarity.value != "neutral":
                found = ranks.loc[key]
                rank = self.t("rank_of", rank=int(found["rank"]), n=int(found["n"]))
            rows.append(
                {
                    "id": indicator.id,
                    "domain": self.domain(indicator.domain.value),
                    "label": self.label(indicator),
                    "unit": self.unit(indicator),
                    "year": latest["year"],
                    "value": self.number(latest["value"], indicator),
                    "marker": latest["marker"],
                    "reference": (
                        self.number(reference["value"], indicator) if reference else ""
                    ),
                    "rank": rank,
                    "progress": self._trend(indicator.id, territory.code),
                    "spark": self.spark(indicator, territory.code),
                }
            )
        return rows

    def glance(self) -> dict[str, list[dict[str, Any]]]:
        """Counts of improving / stable / worsening indicators by domain and by SDG goal."""
        focus = self.data.focus.code
        buckets = ("improving", "stable", "worsening", "not_assessed")
        by_domain: dict[str, dict[str, int]] = {}
        by_goal: dict[int, dict[str, int]] = {}
        for indicator in self.data.indicators:
            kind = self._trend(indicator.id, focus)["bucket"]
            counts = by_domain.setdefault(indicator.domain.value, dict.fromkeys(buckets, 0))
            counts[kind] += 1
            for goal in sorted(indicator.sdg_goals):
                by_goal.setdefault(goal, dict.fromkeys(buckets, 0))[kind] += 1
        return {
            "domains": [
                {"id": d, "label": self.domain(d), "n": sum(c.values()), **c}
                for d, c in by_domain.items()
            ],
            "goals": [
                {
                    "id": str(g),
                    "label": self.sdg_titles.get(str(g), ""),
                    "n": sum(c.values()),
                    **c,
                }
                for g, c in sorted(by_goal.items())
            ],
        }

    def warnings(self, limit: int = 15) -> list[dict[str, Any]]:
        frame = self.data.warnings
        if frame.empty:
            return []
        rows = []
        for record in frame.head(limit).to_dict("records"):
            indicator = self.indicators.get(str(record["indicator"]))
            if indicator is None:
                continue
            rows.append(
                {
                    "territory": str(record["territory"]),
                    "name": self.name(str(record["territory"])),
                    "indicator": indicator.id,
                    "label": self.label(indicator),
                    "year": int(record["year"]),
                    "value": self.number(float(record["value"]), indicator),
                    "z": format_number(float(record["robust_z"]), self.lang, 1),
                    "signals": int(record["signals"]),
                }
            )
        return rows
