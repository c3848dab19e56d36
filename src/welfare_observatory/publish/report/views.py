"""View models: the plain dicts and charts each page template renders.

Templates stay simple (loops and escaping); numbers, words and charts are made here, once.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Hashable, Mapping
from typing import Any

import pandas as pd
from markupsafe import Markup

from welfare_observatory.model import Indicator, Territory
from welfare_observatory.publish.report._rows import ByIndicator
from welfare_observatory.publish.report.charts import Series, line_chart, sparkline, stack_bar
from welfare_observatory.publish.report.data import EditionData
from welfare_observatory.publish.report.data import bucket as _bucket
from welfare_observatory.publish.report.i18n import (
    Translator,
    decimals_for,
    format_number,
    unit_label,
)

__all__ = ["ReportView", "page_slug"]

_NOTE_STATUSES = ("P", "B", "E", "U", "I", "F")


def _years(frame: Any, column: str) -> Any:
    """A year column as int64 (-1 where absent)."""
    if column not in frame.columns:
        return [-1] * len(frame)
    return frame[column].astype("Float64").fillna(-1).astype("int64")


def _listed(values: Any) -> list[Any]:
    """A column's values as a list (``tolist`` is far faster than iterating a Series of
    text; the values are the same)."""
    return values.tolist() if hasattr(values, "tolist") else list(values)


def _span(years: list[int]) -> str:
    """``2023`` or ``2019–2023`` (empty when no year)."""
    if not years:
        return ""
    low, high = min(years), max(years)
    return str(high) if low == high else f"{low}–{high}"


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
        self._splits: dict[str, dict[str, pd.DataFrame]] = {}
        self._provinces: ByIndicator | None = None
        self._horizons: dict[object, list[dict[Hashable, Any]]] | None = None
        self._names = dict(data.names)
        self._names |= {code: text.get(lang) for code, text in data.grouping_names.items()}
        for code in list(self._names):
            if self.t.has(f"territory_{code}"):
                self._names[code] = self.t(f"territory_{code}")
        focus = data.focus
        if any(t.name == focus.name for t in (*data.municipalities, *data.districts)):
            # Biella the province and Biella the municipality: say which is which.
            level = f"level_{focus.level.value}"
            if self.t.has(level):
                self._names[focus.code] = f"{focus.name} ({self.t(level)})"
        self._build_maps()

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
        return self._names.get(code, code)

    def href_indicator(self, indicator_id: str) -> str:
        return f"indicators/{indicator_id}.html"

    def href_territory(self, code: str) -> str:
        return f"territories/{page_slug(code)}.html"

    def latest(self, indicator: str, territory: str) -> dict[str, Any] | None:
        """``year``, ``value`` (None when suppressed), ``marker``, ``status`` of the latest
        row of a series, or None when the series is absent."""
        return self._latest_map.get((indicator, territory))

    def _trend(self, indicator: str, territory: str) -> dict[str, Any]:
        return self._trend_map.get((indicator, territory)) or self.no_progress()

    def _build_maps(self) -> None:
        """Dicts keyed by (indicator, territory): page rendering looks up thousands of keys,
        and a dict lookup is far cheaper than a pandas ``.loc``."""
        latest = self.data.latest.reset_index()
        self._latest_map: dict[tuple[str, str], dict[str, Any]] = {
            (i, t): {
                "year": int(y),
                "value": None if v != v else float(v),  # NaN -> None
                "marker": m,
                "status": s,
                "suppressed": m == "s",
                "source": src,
            }
            for i, t, y, v, m, s, src in zip(
                _listed(latest["indicator"]),
                _listed(latest["territory"]),
                _listed(latest["year"]),
                _listed(latest["value"]),
                _listed(latest["marker"]),
                _listed(latest["obs_status"]),
                _listed(latest["source"]) if "source" in latest.columns else [""] * len(latest),
                strict=True,
            )
        }
        trends = self.data.trends.reset_index()
        breaks = trends["break_year"].astype("Float64").fillna(-1).astype("int64")
        self._trend_map: dict[tuple[str, str], dict[str, Any]] = {
            (i, t): {
                "label": self.category(c),
                "bucket": str(b),
                "break": None if k < 0 else int(k),
                "window": self.t("trend_window", start=int(y0), end=int(y1)) if y0 >= 0 else "",
            }
            for i, t, c, b, k, y0, y1 in zip(
                _listed(trends["indicator"]),
                _listed(trends["territory"]),
                _listed(trends["category"]),
                _listed(trends["bucket"]),
                _listed(breaks),
                _listed(_years(trends, "start_year")),
                _listed(_years(trends, "end_year")),
                strict=True,
            )
        }
        ranks = self.data.ranks.reset_index()
        self._rank_map: dict[tuple[str, str], tuple[int, int]] = {
            (i, t): (int(r), int(n))
            for i, t, r, n in zip(
                _listed(ranks["indicator"]),
                _listed(ranks["territory"]),
                _listed(ranks["rank"]),
                _listed(ranks["n"]),
                strict=True,
            )
        }

    def _rows_of(self, name: str, frame: pd.DataFrame, indicator: str) -> pd.DataFrame | None:
        """The rows of ``frame`` (``data.<name>``) for ``indicator``, in frame order; None
        when it has none. The frame is split by indicator once, not filtered per card."""
        split = self._splits.get(name)
        if split is None:
            split = (
                {}
                if frame.empty or "indicator" not in frame.columns
                else {str(k): v for k, v in frame.groupby("indicator", sort=False)}
            )
            self._splits[name] = split
        return split.get(indicator)

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
            tick_fmt=lambda v, digits: format_number(v, self.lang, digits),
            zero_based=decimals_for(indicator.unit) == 0,
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
        """Status notes of the latest values shown on a card, one per year and status with
        the territories it applies to ("2019, break in series: Biella, Piemonte")."""
        grouped: dict[tuple[object, str], list[str]] = {}
        for code in codes:
            latest = self.latest(indicator.id, code)
            if latest is None:
                continue
            name = self.name(code)
            if latest["suppressed"]:
                grouped.setdefault((latest["year"], "status_suppressed"), []).append(name)
            elif latest["status"] in _NOTE_STATUSES:
                key = "status_" + latest["status"]
                grouped.setdefault((latest["year"], key), []).append(name)
            brk = self._trend(indicator.id, code)["break"]
            if brk is not None and not (latest["status"] == "B" and latest["year"] == brk):
                grouped.setdefault((brk, "status_B"), []).append(name)
        return [
            f"{year}, {self.t(key)}: {', '.join(dict.fromkeys(names))}"
            for (year, key), names in grouped.items()
        ]

    def no_progress(self) -> dict[str, Any]:
        return {
            "label": self.t("not_assessable"),
            "bucket": "not_assessed",
            "break": None,
            "window": "",
        }

    def source_name(self, source: str) -> str:
        """A source id as the page says it (``derive``: computed by the build from others)."""
        return self.t("source_derive") if source == "derive" else source

    def freshness(self, indicator: Indicator, codes: list[str]) -> str:
        """The years of the latest values shown for ``codes`` and the sources they came
        from: every number says how fresh it is."""
        years = []
        sources: set[str] = set()
        for code in codes:
            latest = self.latest(indicator.id, code)
            if latest is None:
                continue
            years.append(latest["year"])
            if latest.get("source"):
                sources.add(self.source_name(latest["source"]))
        if not years:
            return ""
        text = self.t("data_as_of", years=_span(years))
        if sources:
            text += ", " + self.t("data_from", sources=", ".join(sorted(sources)))
        return text

    def horizons(self, indicator: Indicator) -> list[dict[str, Any]]:
        """The stored progress assessments of the territory, one per horizon, each with
        its window (years)."""
        if self._horizons is None:
            # One conversion of the whole frame, then grouped (a small frame's ``to_dict``
            # costs milliseconds, once per card).
            frame = self.data.progress
            self._horizons = {}
            if not frame.empty:
                frame = frame[frame["territory"] == self.data.focus.code]
                for key, record in zip(frame["indicator"], frame.to_dict("records"), strict=True):
                    self._horizons.setdefault(key, []).append(record)
        out = []
        for record in self._horizons.get(indicator.id, []):
            horizon = str(record.get("horizon", ""))
            start, end = record.get("start_year"), record.get("end_year")
            window = ""
            if start is not None and end is not None and start == start and end == end:
                window = self.t("trend_window", start=int(start), end=int(end))
            category = record.get("category")
            out.append(
                {
                    "horizon": self.t(f"horizon_{horizon}")
                    if self.t.has(f"horizon_{horizon}")
                    else horizon,
                    "label": self.category(category),
                    "bucket": _bucket(category),
                    "window": window,
                }
            )
        return out

    def card_rows(self, indicator: Indicator) -> list[dict[str, Any]]:
        """Latest value of the territory and each comparison territory present."""
        focus = self.data.focus.code
        rows = []
        for code in [focus, *(t.code for t in self.data.comparisons)]:
            latest = self.latest(indicator.id, code)
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
        return rows

    def card(self, indicator: Indicator) -> dict[str, Any]:
        focus = self.data.focus.code
        codes = [focus, *(t.code for t in self.data.comparisons)]
        rows = self.card_rows(indicator)
        rank = None
        mine = self._rows_of("benchmark", self.data.benchmark, indicator.id)
        if mine is not None and not mine.empty and indicator.polarity.value != "neutral":
            first = mine.iloc[0]
            rank = self.t("rank_of", rank=int(first["rank"]), n=int(first["n_compared"]))
        source = indicator.source
        return {
            "rank_provinces": self._province_rank(indicator),
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
                "url": source.url
                if source.url and source.url.startswith(("https://", "http://"))
                else None,
            },
            "sdg": [
                {"id": link.id, "title": self.sdg_titles.get(link.id, "")} for link in indicator.sdg
            ],
            "rows": rows,
            "progress": self._trend(indicator.id, focus),
            "rank": rank,
            "chart": self.trend_chart(indicator),
            "notes": self.notes(indicator, codes),
            "freshness": self.freshness(indicator, codes),
            "coverage": None
            if indicator.coverage.complete
            else self.t(f"coverage_{indicator.coverage.value}"),
            "horizons": self.horizons(indicator),
            "maps": [],
        }

    def territory_rows(
        self, territory: Territory, comparisons: list[str] | None = None
    ) -> list[dict[str, Any]]:
        """One row per indicator with a value for ``territory``, grouped by domain order:
        the value, the observatory territory's (``reference``) and each of ``comparisons``
        (territory codes; ``compared``: their latest values, empty text when absent)."""
        rows = []
        focus = self.data.focus.code
        comparisons = comparisons or []
        for indicator in self.data.indicators:
            latest = self.latest(indicator.id, territory.code)
            if latest is None:
                continue
            reference = self.latest(indicator.id, focus)
            against = [self.latest(indicator.id, c) for c in comparisons]
            found = self._rank_map.get((indicator.id, territory.code))
            rank = None
            if found is not None and indicator.polarity.value != "neutral":
                rank = self.t("rank_of", rank=found[0], n=found[1])
            rows.append(
                {
                    "id": indicator.id,
                    "domain": self.domain(indicator.domain.value),
                    "label": self.label(indicator),
                    "unit": self.unit(indicator),
                    "year": latest["year"],
                    "value": self.number(latest["value"], indicator),
                    "marker": latest["marker"],
                    "reference": (self.number(reference["value"], indicator) if reference else ""),
                    "compared": [self.number(a["value"], indicator) if a else "" for a in against],
                    "rank": rank,
                    "progress": self._trend(indicator.id, territory.code),
                    "spark": self.spark(indicator, territory.code),
                }
            )
        return rows

    def glance(self) -> dict[str, Any]:
        """Counts of improving / stable / worsening indicators by domain and by SDG goal."""
        focus = self.data.focus.code
        buckets = ("improving", "stable", "worsening", "not_assessed")
        by_domain: dict[str, dict[str, int]] = {}
        by_goal: dict[int, dict[str, int]] = {}
        years: dict[str, list[int]] = {}
        for indicator in self.data.indicators:
            kind = self._trend(indicator.id, focus)["bucket"]
            counts = by_domain.setdefault(indicator.domain.value, dict.fromkeys(buckets, 0))
            counts[kind] += 1
            latest = self.latest(indicator.id, focus)
            year = [latest["year"]] if latest is not None else []
            years.setdefault(indicator.domain.value, []).extend(year)
            for goal in sorted(indicator.sdg_goals):
                by_goal.setdefault(goal, dict.fromkeys(buckets, 0))[kind] += 1
                years.setdefault(f"goal:{goal}", []).extend(year)
        return {
            "domains": [
                self._glance_row(d, self.domain(d), c, years.get(d, []))
                for d, c in by_domain.items()
            ],
            "goals": [
                self._glance_row(
                    str(g), self.sdg_titles.get(str(g), ""), c, years.get(f"goal:{g}", [])
                )
                for g, c in sorted(by_goal.items())
            ],
            "years": _span(sorted({y for ys in years.values() for y in ys})),
        }

    def _glance_row(
        self, key: str, label: str, counts: dict[str, int], years: list[int]
    ) -> dict[str, Any]:
        words = ", ".join(
            f"{counts[b]} {self.t(w).lower()}"
            for b, w in (
                ("improving", "improving"),
                ("stable", "stable_or_mixed"),
                ("worsening", "worsening"),
                ("not_assessed", "not_assessed"),
            )
        )
        bar = stack_bar(
            [counts["improving"], counts["stable"], counts["worsening"], counts["not_assessed"]],
            label=f"{label}: {words}",
        )
        return {
            "id": key,
            "label": label,
            "n": sum(counts.values()),
            "bar": bar,
            "years": _span(years),
            **counts,
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
                    "why": self._warning_reason(record, indicator),
                }
            )
        return rows

    def _province_rank(self, indicator: Indicator) -> str | None:
        """The province's rank among Italy's provinces with a value in its latest year (1 =
        best; the direction from the polarity; low-reliability values left out)."""
        focus = self.data.focus.code
        if indicator.polarity.value == "neutral" or len(focus) != 3:
            return None
        if self._provinces is None:
            columns = ("territory", "year", "value", "obs_status")
            self._provinces = ByIndicator(self.data.provinces, columns)
        rows = self._provinces.get(indicator.id)
        if rows is None:
            return None
        keep = rows.notna("value")
        if "obs_status" in rows:
            keep &= rows["obs_status"] != "U"
        rows = rows.where(keep)
        mine = rows.where(rows["territory"] == focus)
        if mine.empty:
            return None
        year = int(mine["year"].max())
        rows = rows.where(rows["year"] == year)
        if len(rows) < 3:
            return None
        sign = -1.0 if indicator.polarity.value == "negative" else 1.0
        score = rows["value"].astype("float64") * sign
        own = float(mine["value"][mine["year"] == year][0]) * sign
        rank = int((score > own).sum()) + 1
        return self.t("rank_provinces", rank=rank, n=len(rows), year=year)

    def _warning_reason(self, record: Mapping[Hashable, Any], indicator: Indicator) -> str:
        """Why a municipality is flagged: its peers' median, and its own change a year."""
        peer = record.get("peer_median")
        if peer is None or math.isnan(float(peer)):
            return ""  # a table without the evidence (written by other tools): no reason
        median = self.number(float(peer), indicator)
        cagr = record.get("cagr")
        start = record.get("start_year")
        if cagr is None or start is None or math.isnan(float(cagr)):
            return self.t("warning_why_level", median=median)
        rate = format_number(100 * float(cagr), self.lang, 1)
        sign = "+" if float(cagr) > 0 else ""
        return self.t(
            "warning_why",
            median=median,
            start=int(start),
            end=int(record["year"]),
            rate=f"{sign}{rate}",
        )
