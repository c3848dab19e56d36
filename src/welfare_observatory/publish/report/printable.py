"""The printable page's maps draw each shape once.

Every indicator's card has a map of the same municipalities (and of Italy's provinces), so
the one printable page repeats the same outlines hundreds of times: most of its bytes. Here
each outline drawn more than once becomes one ``<path id>`` in a hidden ``<defs>``, and each
map draws it with ``<use href>``, keeping its own fill, link and title. The pages look the
same; the separate pages (one map each) are left as they are.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

from markupsafe import Markup

__all__ = ["SHAPE_PREFIX", "SharedShapes", "share_shapes"]

SHAPE_PREFIX = "wo-shape-"
"""Ids of the shared outlines (no other id of the report starts with it)."""

_MIN_LENGTH = 64
"""Shorter path data is left inline: a reference would save little."""

_TAG = re.compile(r"<path\b([^>]*?)(/?)>|</path>|<svg\b[^>]*>")
_DATA = re.compile(r'(?:^|\s)d="([^"]*)"')
_PATH_DATA = re.compile(r'<path\b[^>]*?\sd="([^"]*)"')
_HOVER = (
    "<style>.map-svg a:focus use, .map-svg a:hover use { stroke: #000; stroke-width: 2; }</style>"
)
"""The maps' hover outline, for the ``<use>`` that replace their ``<path>`` (a ``<style>``
inside an inline ``<svg>`` applies to the whole document)."""


class SharedShapes:
    """The outlines a set of fragments repeats, and their ``<defs>``.

    Made from every fragment first (:meth:`of`); then :meth:`apply` each fragment, in
    document order, once: the definitions go in the first one that draws a shared outline.
    """

    def __init__(self, shared: dict[str, str]) -> None:
        self.shared = shared
        """Path data -> the id it is defined under."""
        defs = "".join(f'<path id="{ref}" d="{data}"/>' for data, ref in shared.items())
        self._pending = f"<defs>{_HOVER}{defs}</defs>" if shared else ""

    @classmethod
    def of(cls, fragments: Iterable[str]) -> SharedShapes:
        """The path data (``d``) of 64 characters or more found twice or more."""
        counts: Counter[str] = Counter()
        for fragment in fragments:
            if "<path" in fragment:
                counts.update(m.group(1) for m in _PATH_DATA.finditer(fragment))
        shared: dict[str, str] = {}
        for data, n in counts.items():  # first-seen order: the same report, the same ids
            if n > 1 and len(data) >= _MIN_LENGTH:
                shared[data] = f"{SHAPE_PREFIX}{len(shared) + 1}"
        return cls(shared)

    def apply(self, fragment: str) -> Markup:
        """``fragment`` with its shared outlines drawn by ``<use>``."""
        if not self.shared or "<path" not in fragment:  # most pages: no outline at all
            return Markup(fragment)  # noqa: S704 - the report's own pages
        drawn, placed = _use_shared(fragment, self.shared, self._pending)
        if placed:
            self._pending = ""
        return Markup(drawn)  # noqa: S704 - the report's own pages, escaped before


def share_shapes(fragments: Sequence[str]) -> list[Markup]:
    """``fragments`` (the printable page's parts, in order) with every path data (``d``)
    of 64 characters or more that occurs twice or more defined once and drawn by ``<use>``
    elements keeping the path's other attributes and content. The definitions go in a
    ``<defs>`` right after the ``<svg>`` tag of the first shape drawn; a path outside an
    ``<svg>`` tag of its own fragment is left as it is."""
    shapes = SharedShapes.of(fragments)
    return [shapes.apply(fragment) for fragment in fragments]


def _use_shared(fragment: str, shared: dict[str, str], defs: str) -> tuple[str, bool]:
    """``fragment`` with its shared paths drawn by ``<use>``; ``defs`` (if not empty) go
    after the ``<svg>`` tag before the first of them. Also says whether they were placed."""
    parts: list[str] = []
    done = 0
    svg_at: int | None = None  # index in ``parts`` just after the last <svg> tag
    placed = not defs
    open_use: list[bool] = []
    for tag in _TAG.finditer(fragment):
        text = tag.group(0)
        parts.append(fragment[done : tag.start()])
        done = tag.end()
        if text.startswith("<svg"):
            parts.append(text)
            svg_at = len(parts)
            continue
        if text == "</path>":
            parts.append("</use>" if open_use and open_use.pop() else text)
            continue
        attributes, closed = tag.group(1), tag.group(2)
        found = _DATA.search(attributes)
        ref = shared.get(found.group(1)) if found is not None and svg_at is not None else None
        if not closed:
            open_use.append(ref is not None)
        if ref is None or found is None or svg_at is None:
            parts.append(text)
            continue
        if not placed:
            parts.insert(svg_at, defs)
            placed = True
        rest = (attributes[: found.start()] + attributes[found.end() :]).strip()
        parts.append(f'<use href="#{ref}"{" " if rest else ""}{rest}{closed}>')
    if done == 0:
        return fragment, False
    parts.append(fragment[done:])
    return "".join(parts), placed and bool(defs)
