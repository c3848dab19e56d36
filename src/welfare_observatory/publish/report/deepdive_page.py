"""The deep-dive page: the observatory's Markdown with its references rendered from the edition.

A reference without filters shows the indicator's card (figure) or the territory's latest
value (inline). A reference with filters shows the series they pick (see
:mod:`~welfare_observatory.publish.report.references`). A reference that finds nothing says
which filter matched nothing and what the edition holds there.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from welfare_observatory.errors import Location, PublishError
from welfare_observatory.publish.report.charts import Series, line_chart
from welfare_observatory.publish.report.deepdive import Reference, render_deepdive
from welfare_observatory.publish.report.i18n import breakdown_label, decimals_for, format_number
from welfare_observatory.publish.report.references import Picked, Unmatched, pick, view_frame

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from welfare_observatory.model import Indicator
    from welfare_observatory.publish.report.data import EditionData
    from welfare_observatory.publish.report.views import ReportView

__all__ = ["DeepDive"]

_PAGE = "deepdive.html"


class DeepDive:
    """Renders one deep-dive file; ``render(template, path, **values)`` is the page renderer
    and ``view_table()`` returns the publishable view (read when a filter needs it)."""

    def __init__(
        self,
        view: ReportView,
        data: EditionData,
        cards: dict[str, dict[str, Any]],
        render: Callable[..., Markup],
        view_table: Callable[[], pa.Table],
    ) -> None:
        self.view = view
        self.data = data
        self.cards = cards
        self.render = render
        self.view_table = view_table
        self.t = view.t
        self._rows: pd.DataFrame | None = None

    def body(self, file: Path) -> Markup:
        """The rendered Markdown of ``file``; PublishError if it cannot be read."""
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise PublishError(
                f"cannot read the deep-dive: {exc}",
                location=Location(file=str(file)),
                hint="the deep-dive is a UTF-8 Markdown file inside the observatory folder",
            ) from exc
        known = set(self.data.catalog.ids) if self.data.catalog is not None else set()
        return render_deepdive(
            text,
            figure=self.figure,
            value=self.value,
            known=known | set(self.cards),
            source=str(file),
        )

    def _pick(self, ref: Reference) -> Picked | Unmatched:
        if self._rows is None:
            self._rows = view_frame(self.view_table())
        return pick(self._rows, ref.indicator, ref.filters, self.data.focus.code)

    def _indicator(self, indicator: str) -> Indicator | None:
        catalog = self.data.catalog
        if catalog is not None and indicator in catalog:
            return catalog.get(indicator)
        return self.view.indicators.get(indicator)

    def _label(self, indicator: str) -> str:
        found = self._indicator(indicator)
        return found.label.get(self.view.lang) if found is not None else indicator

    def _name(self, code: str) -> str:
        """The territory's name: the report's names, else the registry's (``ITC``)."""
        from welfare_observatory.territory import registry

        if code in self.data.names:
            return self.view.name(code)
        territories = registry()
        return territories.get(code).name if code in territories else code

    def _card(self, indicator: str) -> str | None:
        """The card's path from the site root, when the indicator has a card."""
        return f"indicators/{indicator}.html" if indicator in self.cards else None

    def why(self, found: Unmatched) -> str:
        """Which filter matched nothing, and what the edition holds instead."""
        if found.key == "indicator":
            return self.t("ref_no_data")
        text = f"{found.key}={found.value}"
        if found.default:
            text += f" ({self.t('ref_default')})"
        if not found.available:
            return self.t("ref_no_match", filter=text)
        return self.t("ref_no_match_but", filter=text, available=", ".join(found.available))

    def _format(self, value: float | None, indicator: Indicator | None) -> str:
        if indicator is None:
            return format_number(value, self.view.lang, 1)
        return self.view.number(value, indicator)

    def figure(self, ref: Reference) -> Markup:
        """A figure: the card, the chart of the series the filters pick, or a note."""
        if not ref.filters and ref.indicator in self.cards:
            return self.render("figure.html.j2", _PAGE, card=self.cards[ref.indicator])
        found = self._pick(ref)
        label = self._label(ref.indicator)
        if isinstance(found, Unmatched):
            return self.render("figure_missing.html.j2", _PAGE, label=label, reason=self.why(found))
        indicator = self._indicator(ref.indicator)
        name = self._name(found.territory)
        # The territory is in the title already; breakdowns in the page's words ("donne").
        codes = [
            breakdown_label(k, v, self.view.lang)
            for k, v in ref.filters
            if k not in ("territory", "year")
        ]
        title = f"{label}, {name}" + (f" ({', '.join(codes)})" if codes else "")
        chart = line_chart(
            [Series(name, found.years, found.values)],
            chart_id=self.view.chart_id(),
            title=title,
            desc=title,
            fmt=lambda v: self._format(v, indicator) if v is not None else "",
            table_caption=self.t("data_table"),
            year_label=self.t("year"),
            tick_fmt=lambda v, digits: format_number(v, self.view.lang, digits),
            zero_based=indicator is not None and decimals_for(indicator.unit) == 0,
        )
        return self.render(
            "figure_series.html.j2",
            _PAGE,
            chart=chart,
            title=title,
            href=self._card(ref.indicator),
            unit=self.view.unit(indicator) if indicator is not None else "",
            year=found.years[found.index],
            value=self._format(found.values[found.index], indicator),
            marker=found.markers[found.index],
        )

    def value(self, ref: Reference) -> Markup:
        """A value in a sentence: the latest (or ``year=``) value, unit and year of the
        series the reference picks (by default the territory's total)."""
        label = self._label(ref.indicator)
        found = self._pick(ref)
        if isinstance(found, Unmatched):
            return self.render("value_missing.html.j2", _PAGE, label=label, reason=self.why(found))
        value = found.values[found.index]
        year = found.years[found.index]
        if value is None:
            reason = self.t("ref_suppressed", year=year)
            return self.render("value_missing.html.j2", _PAGE, label=label, reason=reason)
        indicator = self._indicator(ref.indicator)
        return self.render(
            "value.html.j2",
            _PAGE,
            id=ref.indicator,
            href=self._card(ref.indicator),
            value=self._format(value, indicator),
            unit=self.view.unit(indicator) if indicator is not None else "",
            year=year,
            marker=found.markers[found.index],
        )
