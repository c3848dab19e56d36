"""Every link of a real report resolves: the Biella example, built offline, walked page by page.

No browser: every ``.html`` file of the site is parsed, and every relative ``href`` and
``src`` must name a file of the site (and its ``#fragment`` an id of that page). Absolute
links may only be ``https://``/``http://`` references to sources (never loaded: the site has
no scripts, stylesheets or images from outside) or ``mailto:``.
"""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlsplit

import pytest

from welfare_observatory.observatory import load_observatory
from welfare_observatory.publish.report import build_report

BIELLA = Path(__file__).resolve().parents[2] / "examples" / "biella" / "src" / "osserva_biella"


class _Refs(HTMLParser):
    """Links (``a href``), loaded resources (any other ``href``/``src``) and element ids."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.loads: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v for k, v in attrs if v is not None}
        if "id" in found:
            self.ids.add(found["id"])
        if tag == "a" and "href" in found:
            self.links.append(found["href"])
        elif "href" in found or "src" in found:
            self.loads.append(found.get("href") or found["src"])


def _parse(page: Path) -> _Refs:
    refs = _Refs()
    refs.feed(page.read_text(encoding="utf-8"))
    return refs


def broken_links(site: Path) -> list[str]:
    """``page: reference`` for every relative link or resource that does not resolve."""
    pages = {p: _parse(p) for p in sorted(site.rglob("*.html"))}
    broken = []
    for page, refs in pages.items():
        for ref in [*refs.links, *refs.loads]:
            where = f"{page.relative_to(site)}: {ref}"
            if urlsplit(ref).scheme:
                if ref in refs.loads or urlsplit(ref).scheme not in ("https", "http", "mailto"):
                    broken.append(where + " (external resource or scheme)")
                continue
            path, fragment = urldefrag(ref)
            target = (page.parent / unquote(path)).resolve() if path else page
            if not target.is_file() or site.resolve() not in target.parents:
                broken.append(where)
            elif fragment and target.suffix == ".html":
                ids = pages[target].ids if target in pages else _parse(target).ids
                if fragment not in ids:
                    broken.append(where + " (no such id)")
    return broken


@pytest.fixture(scope="module")
def biella_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("biella")
    observatory = load_observatory(BIELLA)
    observatory.build(out=root / "kb", offline=True)
    build_report(root / "kb", None, root / "site", observatory=observatory)
    return root / "site"


def test_every_relative_link_of_every_page_of_the_biella_report_resolves(
    biella_site: Path,
) -> None:
    pages = list(biella_site.rglob("*.html"))
    assert len(pages) > 50  # home, cards, domains, municipalities, sections, print.html
    assert broken_links(biella_site) == []


def test_the_walk_finds_a_broken_link(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "index.html").write_text(
        '<a href="sub/a.html#top">a</a> <a href="missing.html">m</a>'
        '<a href="#nowhere">n</a><img src="https://cdn.example/x.png" alt="x">',
        encoding="utf-8",
    )
    (tmp_path / "sub" / "a.html").write_text('<h1 id="top">A</h1><a href="../index.html">')
    assert broken_links(tmp_path) == [
        "index.html: missing.html",
        "index.html: #nowhere (no such id)",
        "index.html: https://cdn.example/x.png (external resource or scheme)",
    ]
