"""Bytes to text: the encoding rules and the separator guess that both table readers use.

The tidy reader (:mod:`.tidy`) and the detecting one (:mod:`.tabular`, through
:mod:`.tabular_grid`) decode a payload and guess its separator the same way. The rules live
here, apart from the detecting reader's own modules, which a clean tidy CSV's read then
never loads.
"""

from __future__ import annotations

import re

from welfare_observatory.errors import Location, ParseError

__all__ = ["SNIFF_CHARACTERS", "decode", "sniff_format", "sniff_separator"]

_BOM = b"\xef\xbb\xbf"
_UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}")
_SEPARATORS = (";", ",", "\t", "|")
SNIFF_CHARACTERS = 65536
"""How much of a file's text (characters) the separator is guessed from."""


def sniff_format(data: bytes) -> str:
    """``"xlsx"`` for a zip container, ``"csv"`` otherwise; legacy ``.xls`` is refused."""
    if data.startswith(b"PK\x03\x04"):
        return "xlsx"
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise ParseError(
            "this is a legacy Excel 97-2003 (.xls) file, which is not read",
            hint="save it as .xlsx or export it as CSV",
        )
    return "csv"


def decode(data: bytes, encoding: str, where: Location) -> tuple[str, str]:
    """The text of ``data`` and the encoding used (``auto``: BOM, then UTF-8, then cp1252).

    cp1252, not latin-1: bytes 0x8A and 0x9E are Š and ž in Italian PA exports. A file that is
    mostly UTF-8 but broken somewhere is an error, never silently re-read as cp1252.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) and encoding == "auto":
        # Excel's "Unicode text" export: UTF-16 with a BOM.
        return _checked(_strict(data, "utf-16", where), where), "utf-16"
    if encoding == "auto":
        if data.startswith(_BOM):
            text = _strict(data[len(_BOM) :], "utf-8", where, offset=len(_BOM))
            return _checked(text, where), "utf-8-sig"
        try:
            return _checked(data.decode("utf-8"), where), "utf-8"
        except UnicodeDecodeError as exc:
            if _UTF8_MULTIBYTE.search(data[: exc.start]) or exc.start >= len(data) - 3:
                raise _decode_error(data, exc, "utf-8", where, mixed=True) from None
        return _checked(_strict(data, "cp1252", where), where), "cp1252"
    if encoding == "utf-8" and data.startswith(_BOM):
        text = _strict(data[len(_BOM) :], "utf-8", where, offset=len(_BOM))
        return _checked(text, where), "utf-8-sig"
    return _checked(_strict(data, encoding, where), where), encoding


def _checked(text: str, where: Location) -> str:
    """Refuse binary content: a NUL character never occurs in a published text table."""
    nul = text.find("\x00")
    if nul >= 0:
        raise ParseError(
            "the file holds NUL characters: it is binary, or UTF-16 without a BOM",
            location=Location(
                source=where.source, file=where.file, line=text.count("\n", 0, nul) + 1
            ),
            hint="export the table as CSV (UTF-8 or Windows-1252) or XLSX",
        )
    return text


def _strict(data: bytes, encoding: str, where: Location, offset: int = 0) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise _decode_error(data, exc, encoding, where, offset=offset) from None


def _decode_error(
    data: bytes,
    exc: UnicodeDecodeError,
    encoding: str,
    where: Location,
    *,
    mixed: bool = False,
    offset: int = 0,
) -> ParseError:
    line = data[: exc.start].count(b"\n") + 1
    bad = data[exc.start + offset : exc.start + offset + 4]
    if mixed:
        hint = (
            "the file is UTF-8 up to here and then breaks (truncated or mixed encodings); "
            "re-export it, or declare encoding: cp1252 if it really is Windows-1252"
        )
    else:
        other = "utf-8" if encoding != "utf-8" else "cp1252"
        hint = f"declare the right encoding (encoding: {other} or auto)"
    return ParseError(
        f"cannot decode the file as {encoding}: bytes {bad!r} are invalid",
        location=Location(source=where.source, file=where.file, line=line),
        hint=hint,
    )


def sniff_separator(text: str) -> str:
    """The separator that splits the most lines of the file's head into the same count."""
    from collections import Counter

    lines = text[:SNIFF_CHARACTERS].splitlines()[:200]
    best, best_score = ",", 0
    for sep in _SEPARATORS:
        # The lines that hold the separator, by how many times: the score is how many
        # share the commonest count (plain counting: a pandas Series per separator cost
        # about 1 ms a file, which a build of many small files paid per file).
        counts = Counter(n for n in (line.count(sep) for line in lines) if n > 0)
        if not counts:
            continue
        score = max(counts.values())
        if score > best_score:
            best, best_score = sep, score
    return best
