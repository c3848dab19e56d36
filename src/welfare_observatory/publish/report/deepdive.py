"""The thematic deep-dive: the observatory's Markdown, with figures and values from the edition.

``{{ indicator: OLD_AGE_INDEX }}`` on a line of its own becomes a figure of that indicator
(chart of the territory and its comparisons, latest values, link to its card); inside a
sentence it becomes the territory's latest value with its unit and year, linked to the card.
Filters pick another series: ``{{ indicator: EMPLOYMENT_RATE_15_64 territory=ITC
citizenship=FOR year=2023 }}`` (``territory``, ``year`` and any breakdown; see
:mod:`~welfare_observatory.publish.report.references`). An indicator of the catalogue
without data in the edition reads "not available", naming the filter that matched
nothing; an id the
catalogue does not know, or a ``{{ ... }}`` that is not a reference, is an error naming the
line. Markdown is rendered by markdown-it-py (CommonMark plus tables) with raw HTML disabled,
so the text cannot inject markup or scripts; ``javascript:`` links are refused by
markdown-it's link validation. References inside fenced code blocks are left as text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass

from markdown_it import MarkdownIt
from markupsafe import Markup, escape

from welfare_observatory.errors import Location, PublishError, closest

__all__ = ["BLOCK", "REFERENCE", "Reference", "render_deepdive"]

_FILTER = r"[A-Za-z_][A-Za-z0-9_]*\s*=\s*[A-Za-z0-9_:.\-]+"
REFERENCE = re.compile(
    r"\{\{\s*indicator\s*:\s*(?P<id>[A-Za-z0-9_]+)"
    r"(?P<filters>(?:\s+" + _FILTER + r")*)\s*\}\}"
)
BLOCK = re.compile(r"^\s*" + REFERENCE.pattern + r"\s*$")
_BRACES = re.compile(r"\{\{.*?\}\}")
_FENCE = re.compile(r"^\s{0,3}(```|~~~)")
# Private-use characters mark where inline values go; they are removed from the author's
# text first, so the text cannot forge a marker.
_OPEN, _CLOSE = "\ue000", "\ue001"
_MARK = re.compile(f"{_OPEN}([0-9]+){_CLOSE}")


@dataclass(frozen=True)
class Reference:
    """An indicator reference: the id and its ``key=value`` filters, in the order written."""

    indicator: str
    filters: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, match: re.Match[str]) -> Reference:
        pairs = re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*=\s*([A-Za-z0-9_:.\-]+)", match["filters"])
        return cls(match["id"], tuple((k, v) for k, v in pairs))

    def text(self) -> str:
        """The filters as written (``territory=ITC citizenship=FOR``), empty without any."""
        return " ".join(f"{k}={v}" for k, v in self.filters)


Render = Callable[[Reference], Markup]


def _markdown() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False}).enable("table")


def render_deepdive(
    text: str,
    *,
    figure: Render,
    value: Render,
    known: Collection[str],
    source: str = "deepdive.md",
) -> Markup:
    """``text`` as HTML. ``figure(reference)`` renders a reference on a line of its own,
    ``value(reference)`` one inside a sentence; ``known`` are the ids a reference may name
    (the catalogue's).

    Raises PublishError (with file and line) for an unknown id or a malformed reference.
    """
    md = _markdown()
    parts: list[str] = []
    chunk: list[str] = []
    inline: list[Markup] = []
    fence: str | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.replace(_OPEN, "").replace(_CLOSE, "")
        opening = _FENCE.match(line)
        if opening:
            marker = opening.group(1)
            fence = marker if fence is None else (None if marker == fence else fence)
        if fence is not None or opening:
            chunk.append(line)
            continue
        _check(line, number, known, source)
        block = BLOCK.match(line)
        if block:
            parts.append(md.render("\n".join(chunk)))
            chunk = []
            parts.append(str(figure(Reference.parse(block))))
            continue

        def mark(match: re.Match[str]) -> str:
            inline.append(value(Reference.parse(match)))
            return f"{_OPEN}{len(inline) - 1}{_CLOSE}"

        chunk.append(REFERENCE.sub(mark, line))
    parts.append(md.render("\n".join(chunk)))
    rendered = "".join(parts)

    def fill(match: re.Match[str]) -> str:
        # A reference inside an image's alt text or a link's title lands in an attribute:
        # its value goes there as text, not as the markup of a value.
        markup = inline[int(match.group(1))]
        tag = rendered.rfind("<", 0, match.start()) > rendered.rfind(">", 0, match.start())
        return str(escape(markup.striptags())) if tag else str(markup)

    html = _MARK.sub(fill, rendered)
    # markdown-it escapes text and drops raw HTML (html=False); the values are our markup.
    return Markup(html)  # noqa: S704


def _check(line: str, number: int, known: Collection[str], source: str) -> None:
    for braces in _BRACES.finditer(line):
        match = REFERENCE.fullmatch(braces.group(0))
        where = Location(file=source, line=number)
        if match is None:
            raise PublishError(
                f"unknown directive {braces.group(0)!r} in the deep-dive",
                location=where,
                hint="write {{ indicator: INDICATOR_ID }} or "
                "{{ indicator: INDICATOR_ID territory=CODE year=YYYY BREAKDOWN=CODE }}",
            )
        keys = [key for key, _ in Reference.parse(match).filters]
        if len(set(keys)) < len(keys):
            raise PublishError(
                f"a filter appears twice in {braces.group(0)!r}",
                location=where,
                hint="give each of territory, year and every breakdown at most once",
            )
        indicator = match.group("id")
        if indicator not in known:
            suggestions = closest(indicator, known)
            raise PublishError(
                f"the deep-dive refers to {indicator!r}, which is not in the catalogue",
                location=where,
                hint=(
                    "did you mean " + ", ".join(repr(s) for s in suggestions) + "?"
                    if suggestions
                    else "refer to an indicator of the observatory's catalogue"
                ),
            )
