"""The thematic deep-dive: the observatory's Markdown, with figures from the edition.

A line holding only ``{{ indicator: OLD_AGE_INDEX }}`` becomes a figure of that indicator
(chart of the territory and its comparisons, latest values, link to its card). Markdown is
rendered by markdown-it-py (CommonMark plus tables) with raw HTML disabled, so the text cannot
inject markup or scripts; ``javascript:`` links are refused by markdown-it's link validation.
Directive lines inside fenced code blocks are left as text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection

from markdown_it import MarkdownIt
from markupsafe import Markup

from welfare_observatory.errors import Location, PublishError, closest

__all__ = ["DIRECTIVE", "render_deepdive"]

DIRECTIVE = re.compile(r"^\s*\{\{\s*indicator\s*:\s*(?P<id>[A-Za-z0-9_]+)\s*\}\}\s*$")
_LOOKS_LIKE = re.compile(r"^\s*\{\{.*\}\}\s*$")
_FENCE = re.compile(r"^\s{0,3}(```|~~~)")


def _markdown() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False}).enable("table")


def render_deepdive(
    text: str,
    *,
    figure: Callable[[str], Markup],
    known: Collection[str],
    source: str = "deepdive.md",
) -> Markup:
    """``text`` as HTML; ``figure(id)`` renders a referenced indicator.

    Raises PublishError (with file and line) for a reference to an indicator that is not
    in the edition, or a ``{{ ... }}`` line that is not a valid directive.
    """
    md = _markdown()
    parts: list[str] = []
    chunk: list[str] = []
    fence: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        opening = _FENCE.match(line)
        if opening:
            marker = opening.group(1)
            fence = marker if fence is None else (None if marker == fence else fence)
        if fence is None and not opening and _LOOKS_LIKE.match(line):
            match = DIRECTIVE.match(line)
            if match is None:
                raise PublishError(
                    f"unknown directive {line.strip()!r} in the deep-dive",
                    location=Location(file=source, line=number),
                    hint="write {{ indicator: INDICATOR_ID }} on a line of its own",
                )
            indicator = match.group("id")
            if indicator not in known:
                suggestions = closest(indicator, known)
                raise PublishError(
                    f"the deep-dive refers to {indicator!r}, which has no data in this edition",
                    location=Location(file=source, line=number),
                    hint=(
                        "did you mean " + ", ".join(repr(s) for s in suggestions) + "?"
                        if suggestions
                        else "refer to an indicator selected by the observatory"
                    ),
                )
            parts.append(md.render("\n".join(chunk)))
            chunk = []
            parts.append(str(figure(indicator)))
            continue
        chunk.append(line)
    parts.append(md.render("\n".join(chunk)))
    # markdown-it escapes text and drops raw HTML (html=False): its output is safe markup.
    return Markup("".join(parts))  # noqa: S704
