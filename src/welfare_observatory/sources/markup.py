"""Screening XML for markup that is not data: DOCTYPEs and entity declarations.

No data format the sources read (SDMX-ML, the XML parts of an XLSX workbook) needs a
DOCTYPE, and entity declarations live only there: expanding them is how "billion laughs"
and external-entity (file or URL disclosure) attacks work. The whole text is searched, not
only its head, because a comment or a processing instruction can push a DOCTYPE past any
fixed prefix; the search is one regular expression pass over the bytes.
"""

from __future__ import annotations

import re

__all__ = ["find_markup"]

_MARKUP = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.I)


def find_markup(data: bytes) -> str | None:
    """``"DOCTYPE"`` or ``"ENTITY"`` when ``data`` declares one, else None (UTF-16 too)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or data[:2] in (b"<\x00", b"\x00<"):
        encoding = (
            "utf-16"
            if data.startswith((b"\xff\xfe", b"\xfe\xff"))
            else ("utf-16-le" if data[:1] == b"<" else "utf-16-be")
        )
        data = data.decode(encoding, "replace").encode("utf-8")
    found = _MARKUP.search(data)
    return found.group(1).decode("ascii").upper() if found else None
