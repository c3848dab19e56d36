"""The maps of an indicator: its municipalities, and its province among Italy's provinces.

Values come from the prepared edition (the publishable view): a confidential value is never
drawn, only hatched. Each map says the year of its data and the sources it came from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from html import escape

from markupsafe import Markup

from welfare_observatory.model import Indicator, TerritoryLevel
from welfare_observatory.publish.report import geo
from welfare_observatory.publish.report._rows import ByIndicator, Rows
from welfare_observatory.publish.report.data import EditionData
from welfare_observatory.publish.report.maps import MapArea, MapWords, choropleth
from welfare_observatory.publish.report.views import ReportView

__all__ = ["MapMaker"]

_COLUMNS = ("territory", "year", "value", "marker", "source")
"""The columns a map reads."""


class MapMaker:
    """Builds the maps of one edition in one language (boundaries are read once)."""

    def __init__(self, view: ReportView, data: EditionData) -> None:
        self.view, self.data, self.t = view, data, view.t
        self._municipal_layer: geo.Layer | str | None = "unread"
        self._by_indicator: ByIndicator | None = None
        self._provinces: ByIndicator | None = None
        self.missing_shapes = False
        """True once a municipal map was left out for want of boundaries (the builder
        tells whoever builds the report how to add them; readers see a neutral note)."""

    def _municipal_rows(self) -> ByIndicator:
        """The municipal rows of ``data.frame`` by indicator (split once for all maps)."""
        if self._by_indicator is None:
            frame = self.data.frame
            codes = [m.code for m in self.data.municipalities]
            mine = frame[frame["territory"].isin(codes)]
            self._by_indicator = ByIndicator(mine, _COLUMNS)
        return self._by_indicator

    def _province_rows(self) -> ByIndicator:
        """The rows of ``data.provinces`` by indicator (split once for all maps)."""
        if self._provinces is None:
            self._provinces = ByIndicator(self.data.provinces, _COLUMNS)
        return self._provinces

    def municipal_layer(self) -> geo.Layer | None:
        """The shapes of the observatory's municipalities (None: not available)."""
        if isinstance(self._municipal_layer, str):
            self._municipal_layer = self._read_municipal_layer()
        return self._municipal_layer

    def _read_municipal_layer(self) -> geo.Layer | None:
        codes = [m.code for m in self.data.municipalities]
        if not codes:
            return None
        layers = [geo.municipalities(p) for p in sorted({c[:3] for c in codes})]
        if any(layer is None for layer in layers):
            return None
        found = [layer for layer in layers if layer is not None]
        shapes = tuple(s for layer in found for s in layer.shapes)
        if self.data.focus.level is not TerritoryLevel.PROVINCE:
            # A grouping or district: only its own municipalities are drawn.
            wanted = set(codes)
            shapes = tuple(s for s in shapes if s.code in wanted)
        credits = " · ".join(dict.fromkeys(layer.credit for layer in found))
        return replace(found[0], shapes=shapes, credit=credits)

    def _words(
        self,
        title: str,
        indicator: Indicator,
        areas: dict[str, MapArea],
        year: int,
        sources: list[str],
    ) -> MapWords:
        """The map's words; ``areas`` counts the areas drawn and the values classed."""
        t = self.t
        fresh = t("data_as_of", years=year)
        if sources:
            fresh += ", " + t("data_from", sources=", ".join(sources))
        return MapWords(
            title=title,
            desc=t("map_desc", n=len(areas), unit=self.view.unit(indicator)),
            missing=t("map_missing"),
            suppressed=t("map_suppressed"),
            breaks=t("map_breaks", n=sum(a.value is not None for a in areas.values()), year=year),
            table=t("map_values"),
            territory=t("territory"),
            value=f"{t('value')} ({self.view.unit(indicator)})",
            klass=t("map_class"),
            credit="",
            freshness=fresh + ".",
        )

    def _areas(
        self,
        indicator: Indicator,
        rows: Rows,
        names: dict[str, str],
        root: str,
        links: set[str],
    ) -> dict[str, MapArea]:
        view = self.view
        areas = {}
        by_code: dict[str, tuple[float, str]] = {
            str(t): (float(v), str(m))
            for t, v, m in zip(rows["territory"], rows["value"], rows["marker"], strict=True)
        }
        for code, name in names.items():
            found = by_code.get(code)
            href = f"{root}{view.href_territory(code)}" if code in links else None
            if found is None:
                areas[code] = MapArea(code, name, None, self.t("map_missing"), href=href)
                continue
            number, marker = found
            value = None if number != number else number  # NaN -> None
            suppressed = marker == "s"
            if suppressed:
                text = self.t("map_suppressed")
            elif value is None:
                text = self.t("map_missing")
            else:
                text = view.number(value, indicator) + (f" {marker}" if marker else "")
            areas[code] = MapArea(code, name, value, text, suppressed, href)
        return areas

    def _sources(self, rows: Rows) -> list[str]:
        if "source" not in rows:
            return []
        present = rows["source"][rows.notna("source")]
        return sorted({self.view.source_name(str(s)) for s in present if str(s)})

    def municipal(self, indicator: Indicator, *, root: str, links: bool = False) -> Markup:
        """The choropleth of the municipalities at the latest year with municipal values;
        a note when the boundaries are not available; empty when there are no values."""
        data = self.data
        codes = {m.code for m in data.municipalities}
        rows = self._municipal_rows().get(indicator.id)
        if rows is None:
            return Markup("")
        layer = self.municipal_layer()
        if layer is None:
            self.missing_shapes = True
            return Markup(f'<p class="note map-missing">{escape(self.t("map_no_shapes"))}</p>')  # noqa: S704
        year = int(rows["year"].max())
        rows = rows.where(rows["year"] == year)
        names = {m.code: self.view.name(m.code) for m in data.municipalities}
        if data.focus.level is TerritoryLevel.PROVINCE:
            names |= {s.code: s.name for s in layer.shapes if s.code not in names}
        areas = self._areas(indicator, rows, names, root, codes if links else set())
        title = self.t("map_municipal", label=self.view.label(indicator), year=year)
        words = self._words(title, indicator, areas, year, self._sources(rows))
        shaped = {s.code for s in layer.shapes}
        unshaped = [areas[c].name for c in sorted(codes - shaped)]
        words = replace(words, credit=self.t("map_credit", credit=layer.credit))
        drawn = choropleth(
            layer, areas, words, map_id=self.view.chart_id(), fmt=self._fmt(indicator)
        )
        if unshaped:
            note = self.t("map_unshaped", n=len(unshaped), names=", ".join(unshaped))
            drawn = Markup(f'{drawn}<p class="note">{escape(note)}</p>')  # noqa: S704
        return drawn

    def provinces(self, indicator: Indicator) -> Markup:
        """The focus among Italy's provinces (empty when fewer than two provinces have a
        value in the edition)."""
        data = self.data
        rows = self._province_rows().get(indicator.id)
        if rows is None or len(set(rows["territory"][rows.notna("territory")].tolist())) < 2:
            return Markup("")
        focus = data.focus.code
        mine = rows.where(rows["territory"] == focus)
        year = int(mine["year"].max()) if not mine.empty else int(rows["year"].max())
        rows = rows.where(rows["year"] == year)
        layer = geo.provinces()
        names = {s.code: s.name for s in layer.shapes}
        areas = self._areas(indicator, rows, names, "", set())
        label = self.view.label(indicator)
        title = self.t("map_provinces", label=label, focus=self.view.name(focus), year=year)
        words = self._words(title, indicator, areas, year, self._sources(rows))
        words = replace(words, credit=self.t("map_credit", credit=layer.credit))
        return choropleth(
            layer,
            areas,
            words,
            map_id=self.view.chart_id(),
            fmt=self._fmt(indicator),
            focus=focus,
            overlay=geo.regions(),
        )

    def _fmt(self, indicator: Indicator) -> Callable[[float], str]:
        return lambda v: self.view.number(v, indicator)

    def overview_indicator(self) -> Indicator | None:
        """The indicator the territory overview maps: the one with values for the most
        municipalities in its latest year (the first in domain order on a tie)."""
        codes = [m.code for m in self.data.municipalities]
        frame = self.data.frame
        rows = frame[frame["territory"].isin(codes) & frame["value"].notna()]
        if rows.empty:
            return None
        latest = rows[rows["year"] == rows.groupby("indicator")["year"].transform("max")]
        counts = latest.groupby("indicator")["territory"].nunique()
        best = None
        for indicator in self.data.indicators:
            n = int(counts.get(indicator.id, 0))
            if n and (best is None or n > best[1]):
                best = (indicator, n)
        return best[0] if best else None
