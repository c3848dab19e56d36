"""The thematic deep-dive: the observatory's Markdown, with figures and values from the edition.

``{{ indicator: OLD_AGE_INDEX }}`` on a line of its own becomes a figure of that indicator
(chart of the territory and its comparisons, latest values, link to its card); inside a
sentence it becomes the territory's latest value with its unit and year, linked to the card.
An indicator of the catalogue without data in the edition reads "not available"; an id the
catalogue does not know, or a ``{{ ... }}`` that is not a reference, is an error naming the
line. Markdown is rendered by markdown-it-py (CommonMark plus tables) with raw HTML disabled,
so the text cannot inject markup or scripts; ``javascript:`` links are refused by
markdown-it's link validation. References inside fenced code blocks are left as text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection

from markdown_it import MarkdownIt
from markupsafe import Markup

from welfare_observatory.errors import Location, PublishError, closest

__all__ = ["BLOCK", "REFERENCE", "render_deepdive"]

REFERENCE = re.compile(r"\{\{\s*indicator\s*:\s*(?P<id>[A-Za-z0-9_]+)\s*\}\}")
BLOCK = re.compile(r"^\s*" + REFERENCE.pattern + r"\s*$")
_BRACES = re.compile(r"\{\{.*?\}\}")
_FENCE = re.compile(r"^\s{0,3}(```|~~~)")
# Private-use characters mark where inline values go; they are removed from the author's
# text first, so the text cannot forge a marker.
_OPEN, _CLOSE = "\ue000", "\ue001"
_MARK = re.compile(f"{_OPEN}([0-9]+){_CLOSE}")

Render = Callable[[str], Markup]


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
    """``text`` as HTML. ``figure(id)`` renders a reference on a line of its own, ``value(id)``
    one inside a sentence; ``known`` are the ids a reference may name (the catalogue's).

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
            parts.append(str(figure(block.group("id"))))
            continue

        def mark(match: re.Match[str]) -> str:
            inline.append(value(match.group("id")))
            return f"{_OPEN}{len(inline) - 1}{_CLOSE}"

        chunk.append(REFERENCE.sub(mark, line))
    parts.append(md.render("\n".join(chunk)))
    html = _MARK.sub(lambda m: str(inline[int(m.group(1))]), "".join(parts))
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
                hint="write {{ indicator: INDICATOR_ID }}",
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
