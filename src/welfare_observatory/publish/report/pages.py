"""The pages of the report: each page's content rendered once from the view models.

The layout (header, navigation, footer) and the printable one-page version both reuse the
rendered content, so a page is rendered a single time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    StrictUndefined,
)
from markupsafe import Markup

from welfare_observatory.errors import Location, PublishError, UnknownIdError
from welfare_observatory.model import Territory
from welfare_observatory.observatory import Observatory
from welfare_observatory.publish.report.changes import edition_changes
from welfare_observatory.publish.report.charts import Bar, bar_chart
from welfare_observatory.publish.report.composite import (
    MIN_INDICATORS,
    DomainComposite,
    domain_composites,
    stored_composites,
)
from welfare_observatory.publish.report.data import EditionData, read_observations
from welfare_observatory.publish.report.deepdive_page import DeepDive
from welfare_observatory.publish.report.i18n import Translator, format_number
from welfare_observatory.publish.report.map_views import MapMaker
from welfare_observatory.publish.report.sections import (
    ReportSection,
    SectionInput,
    SectionRegistry,
)
from welfare_observatory.publish.report.territory_pages import (
    territories_values,
    territory_values,
)
from welfare_observatory.publish.report.views import ReportView, page_slug
from welfare_observatory.store import KnowledgeBase

__all__ = ["Page", "Renderer", "environment", "site_title", "template_folder"]


@dataclass
class Page:
    path: str
    title: str
    content: Markup
    toc: bool = True

    @property
    def anchor(self) -> str:
        return "p-" + re.sub(r"[^A-Za-z0-9_-]", "-", self.path.removesuffix(".html"))


def template_folder(obs: Observatory | None) -> Path | None:
    """The observatory's ``report.templates`` folder (inside its folder), if it sets one."""
    if obs is None or not obs.config.report.templates:
        return None
    folder = obs.path(obs.config.report.templates, what="report.templates")
    if not folder.is_dir():
        raise PublishError(
            f"report.templates: {folder} is not a folder",
            location=Location(file=str(obs.folder / "observatory.yaml"), field="report.templates"),
            hint="a folder inside the observatory with the templates to override",
        )
    return folder


def environment(templates: Path | None = None) -> Environment:
    """Jinja2 with autoescape on: ``templates`` (an observatory's overrides) is searched
    before the package's templates, so a file there replaces the one of the same name.

    Overrides come with the observatory folder, which may be someone else's: they are
    rendered in Jinja2's sandbox (no attribute of Python's internals, so no code of their
    own runs), and a template that is a symbolic link, or lies outside the folder, is an
    error (a link would publish whatever file it points at)."""
    package = PackageLoader("welfare_observatory.publish.report", "templates")
    loaders: list[BaseLoader] = [package]
    if templates is None:
        return Environment(
            loader=ChoiceLoader(loaders),
            autoescape=True,
            undefined=StrictUndefined,
            keep_trailing_newline=True,
        )
    from jinja2.sandbox import SandboxedEnvironment

    loaders.insert(0, _ContainedLoader(templates))
    return SandboxedEnvironment(
        loader=ChoiceLoader(loaders),
        autoescape=True,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )


class _ContainedLoader(FileSystemLoader):
    """A folder of templates whose files are its own: a symbolic link among them (file or
    subfolder), or a path that resolves outside the folder, is a PublishError, never read."""

    def __init__(self, folder: Path) -> None:
        import os

        super().__init__(folder)
        self._folder = os.path.normpath(folder)

    def get_source(self, environment: Environment, template: str) -> tuple[str, str, Any]:
        import os

        from jinja2.loaders import split_template_path

        # Checked before it is read: a link to a large file is never read whole.
        filename = os.path.join(self._folder, *split_template_path(template))  # noqa: PTH118
        if os.path.lexists(filename):
            self._check(template, filename)
        return super().get_source(environment, template)

    def _check(self, template: str, filename: str) -> None:
        """Refuse ``filename`` when it, or a folder between it and the templates folder, is
        a symbolic link (``split_template_path`` already refused ``..``; the folder itself
        was checked when observatory.yaml loaded)."""
        import os

        parts = Path(os.path.relpath(filename, self._folder)).parts
        steps = [Path(self._folder).joinpath(*parts[: i + 1]) for i in range(len(parts))]
        if any(map(os.path.islink, steps)):
            raise PublishError(
                f"report template {template!r} is a symbolic link or lies outside the "
                "templates folder",
                location=Location(file=filename, field="report.templates"),
                hint="copy the template into the folder: links are not followed",
            )


def site_title(view: ReportView, data: EditionData, obs: Observatory | None) -> str:
    """The report title: the observatory's report title, its name, or a default."""
    config = obs.config if obs is not None else None
    title = config.report.title.get(view.lang) if config and config.report.title else ""
    if not title and config is not None:
        title = config.name.get(view.lang)
    return title or f"{view.t('report')} {data.focus.name}"


class Renderer:
    """Renders every page's content once; the layout and the printable page reuse it."""

    def __init__(
        self,
        kb: KnowledgeBase,
        data: EditionData,
        view: ReportView,
        obs: Observatory | None,
        sections: SectionRegistry,
    ) -> None:
        self.kb = kb
        self.data = data
        self.view = view
        self.obs = obs
        self.sections = sections
        self.t: Translator = view.t
        self.env = environment(template_folder(obs))
        self.site_title = site_title(view, data, obs)
        self.method_note = view.t(f"progress_method_{data.method}")
        self.cards: dict[str, dict[str, Any]] = {}
        self._view_table: pa.Table | None = None
        self.maps = MapMaker(view, data)

    def render(self, template: str, path: str, **values: Any) -> Markup:
        root = "../" * path.count("/")
        context = {
            "t": self.t,
            "root": root,
            "lang": self.view.lang,
            "site_title": self.site_title,
            "edition": self.data.info.name,
            "focus": self.view.name(self.data.focus.code),
            "method_note": self.method_note,
            **values,
        }
        html = self.env.get_template(template).render(context).strip()
        return Markup(html)  # noqa: S704 - autoescaped template output

    def pages(self) -> list[Page]:
        view, data, t = self.view, self.data, self.t
        pages = [self._home()]
        groups: dict[str, list[Any]] = {}
        for indicator in data.indicators:
            groups.setdefault(indicator.domain.value, []).append(indicator)
        pages.append(
            Page(
                "indicators/index.html",
                t("indicators"),
                self.render(
                    "indicators.html.j2",
                    "indicators/index.html",
                    groups=[
                        {
                            "id": d,
                            "label": view.domain(d),
                            "indicators": [{"id": i.id, "label": view.label(i)} for i in items],
                        }
                        for d, items in groups.items()
                    ],
                ),
            )
        )
        for domain, items in groups.items():
            pages.append(self._domain(domain, items))
        self.cards = {i.id: view.card(i) for i in data.indicators}
        for indicator in data.indicators:
            path = f"indicators/{indicator.id}.html"
            card = self.cards[indicator.id]
            root = "../" * path.count("/")
            drawn = [
                self.maps.municipal(indicator, root=root, links=True),
                self.maps.provinces(indicator),
            ]
            # The deep-dive and the printable page reuse the card: maps go on a copy.
            card = {**card, "maps": [m for m in drawn if m]}
            pages.append(
                Page(path, card["label"], self.render("indicator.html.j2", path, card=card))
            )
        pages.append(self._territories())
        for territory in [*data.municipalities, *data.districts, *data.groupings]:
            pages.append(self._territory(territory))
        pages.append(self._composite())
        pages.append(self._deepdive())
        for section in self.sections:
            pages.append(self._section(section))
        return pages

    def _home(self) -> Page:
        view, data = self.view, self.data
        changes = edition_changes(self.kb, data)
        shown = None
        if changes is not None:
            rows = []
            for row in changes.rows:
                indicator = view.indicators[str(row["indicator"])]
                before, after = row["before"], row["after"]
                rows.append(
                    {
                        "id": indicator.id,
                        "label": view.label(indicator),
                        "year": row["year"],
                        "change": self.t(f"change_{row['change']}"),
                        "before": "" if before is None else view.number(float(before), indicator),  # type: ignore[arg-type]
                        "after": "" if after is None else view.number(float(after), indicator),  # type: ignore[arg-type]
                    }
                )
            shown = {"previous": changes.previous, "counts": changes.counts, "rows": rows}
        warnings = view.warnings()
        for warning in warnings:
            warning["href"] = view.href_territory(warning["territory"])
        content = self.render(
            "home.html.j2",
            "index.html",
            glance=view.glance(),
            changes=shown,
            warnings=warnings,
            n_municipalities=len(data.municipalities),
            n_districts=len(data.districts),
            municipalities_year=self._municipalities_year(),
            computed=", ".join(data.computed),
        )
        return Page("index.html", self.t("home"), content)

    def _domain(self, domain: str, items: list[Any]) -> Page:
        view, data = self.view, self.data
        rows = []
        for indicator in items:
            card_rows = {r["name"]: r for r in view.card_rows(indicator)}
            focus_row = card_rows.get(view.name(data.focus.code))
            rows.append(
                {
                    "id": indicator.id,
                    "label": view.label(indicator),
                    "unit": view.unit(indicator),
                    "year": focus_row["year"] if focus_row else "",
                    "value": focus_row["value"] if focus_row else "",
                    "marker": focus_row["marker"] if focus_row else "",
                    "comparisons": [
                        card_rows.get(view.name(c.code), {"value": "", "marker": ""})
                        for c in data.comparisons
                    ],
                    "spark": view.spark(indicator, data.focus.code),
                    "progress": focus_row["progress"] if focus_row else view.no_progress(),
                }
            )
        path = f"domains/{domain}.html"
        content = self.render(
            "domain.html.j2",
            path,
            domain_label=view.domain(domain),
            comparisons=[view.name(c.code) for c in data.comparisons],
            rows=rows,
        )
        return Page(path, view.domain(domain), content)

    def _municipalities_year(self) -> str:
        """The year of the latest municipal values (the count of municipalities is of
        those with data)."""
        codes = [m.code for m in self.data.municipalities]
        years = self.data.frame.loc[self.data.frame["territory"].isin(codes), "year"]
        return "" if years.empty else str(int(years.max()))

    def _territories(self) -> Page:
        path = "territories/index.html"
        maps: list[Markup] = []
        headline = self.maps.overview_indicator()
        if headline is not None:
            root = "../" * path.count("/")
            drawn = [
                self.maps.municipal(headline, root=root, links=True),
                self.maps.provinces(headline),
            ]
            maps = [m for m in drawn if m]
        content = self.render(
            "territories.html.j2",
            path,
            maps=maps,
            map_indicator=headline.id if headline is not None else "",
            map_label=self.view.label(headline) if headline is not None else "",
            **territories_values(self.view, self.data),
        )
        return Page(path, self.t("territories"), content)

    def _territory(self, territory: Territory) -> Page:
        path = f"territories/{page_slug(territory.code)}.html"
        values = territory_values(self.view, self.data, territory)
        content = self.render("territory.html.j2", path, **values)
        return Page(path, values["name"], content, toc=False)

    def _composite(self) -> Page:
        view, data = self.view, self.data
        composites = []
        years: set[int] = set()
        for found in self._composites():
            item: dict[str, Any] = {
                "domain": view.domain(found.domain),
                "domain_id": found.domain,
                "chart": None,
                "reference": None,
            }
            if found.computed:
                if found.year is not None and found.reference is None:
                    years.add(found.year)
                bars = [Bar(view.name(data.focus.code), found.scores.get(data.focus.code), True)]
                bars += [
                    Bar(m.name, found.scores.get(m.code))
                    for m in sorted(data.municipalities, key=lambda m: m.name)
                ]
                item["chart"] = bar_chart(
                    bars,
                    chart_id=view.chart_id(),
                    title=f"AMPI {view.domain(found.domain)} {found.year}",
                    fmt=lambda v: format_number(v, view.lang, 1) if v is not None else "",
                    table_caption=self.t("data_table"),
                    label_header=self.t("territory"),
                    value_header=self.t("score"),
                    baseline=100.0,
                )
                item["indicators"] = [
                    {
                        "id": i,
                        "label": view.label(view.indicators[i]) if i in view.indicators else i,
                        "href": view.href_indicator(i) if i in view.indicators else None,
                    }
                    for i in found.indicators
                ]
                item["year"] = found.year
                if found.reference is not None:
                    code, base = found.reference
                    item["reference"] = self.t(
                        "composite_reference", territory=self._place(code), year=base
                    )
            else:
                key = "composite_too_few" if found.candidates else "composite_none"
                item["message"] = found.problem or self.t(
                    key, n=found.candidates, min=MIN_INDICATORS
                )
            composites.append(item)
        # No index computed: say "the domain's reference year", never "in -".
        year_text = ", ".join(str(y) for y in sorted(years)) if years else None
        content = self.render(
            "composite.html.j2",
            "composite.html",
            composites=composites,
            year_text=year_text,
            per_domain=any(c["reference"] for c in composites),
        )
        return Page("composite.html", self.t("composite"), content)

    def _place(self, code: str) -> str:
        from welfare_observatory.territory import registry

        if code in self.data.names:
            return self.view.name(code)
        return registry().get(code).name if code in registry() else code

    def _composites(self) -> list[DomainComposite]:
        """The build's stored ``composite`` analysis if present, else computed here."""
        try:
            stored = self.kb.analysis("composite", self.data.info.name)
        except UnknownIdError:
            stored = None
        found = stored_composites(stored, self.data) if stored is not None else None
        return found if found is not None else domain_composites(self.data)

    def _deepdive(self) -> Page:
        config = self.obs.config if self.obs is not None else None
        relative = config.report.deepdive_for(self.view.lang) if config is not None else None
        body = None
        if self.obs is not None and relative:
            file = self.obs.path(relative, what="report.deepdive")
            body = DeepDive(self.view, self.data, self.cards, self.render, self._view).body(file)
        content = self.render("deepdive.html.j2", "deepdive.html", body=body)
        return Page("deepdive.html", self.t("deepdive"), content)

    def _view(self) -> pa.Table:
        """The publishable view (read once, for the deep-dive and the sections)."""
        if self._view_table is None:
            self._view_table = (
                self.data.view
                if self.data.view is not None
                else read_observations(
                    self.kb, self.data.info.name, self.data.rule, self.data.catalog
                )
            )
        return self._view_table

    def _section(self, section: ReportSection) -> Page:
        path = f"sections/{section.id}.html"
        config = self.obs.config if self.obs is not None else None
        given = SectionInput(
            edition=self.data.info.name,
            lang=self.view.lang,
            observations=self._view(),
            manifest=self.data.manifest,
            config=config,
            folder=str(self.obs.folder) if self.obs is not None else None,
        )
        try:
            fragment = section.render(given)
        except Exception as exc:
            raise PublishError(
                f"report section {section.id!r} failed: {type(exc).__name__}: {exc}",
                location=Location(key=self.sections.origin(section.id)),
                hint="the plugin that registered the section must be fixed",
            ) from exc
        if not isinstance(fragment, str):
            raise PublishError(
                f"report section {section.id!r} returned {type(fragment).__name__}, not a string",
                location=Location(key=self.sections.origin(section.id)),
            )
        if re.search(r"<\s*script", fragment, re.IGNORECASE):
            raise PublishError(
                f"report section {section.id!r} returned a <script>: the report runs no scripts",
                location=Location(key=self.sections.origin(section.id)),
            )
        title = section.title.get(self.view.lang)
        content = self.render(
            "section.html.j2",
            path,
            title=title,
            section_id=section.id,
            body=Markup(fragment),  # noqa: S704 - the section contract: an escaped fragment
        )
        return Page(path, title, content)
