"""Name keys: accent-, case-, apostrophe- and abbreviation-insensitive matching of names.

``normalize_name`` is pure string work (no heavy imports), so the CLI and other stages can
use it freely. The key is for matching only, never for display.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["display_case", "normalize_name"]

# Every separator that official lists use inside names: apostrophes (straight, typographic,
# grave, acute), hyphens and dashes, slashes between bilingual forms, dots of abbreviations.
_SEPARATORS = re.compile(r"[\s'’`´‘\-‐‑–—/\\.,;:()\"]+")
_NOT_WORD = re.compile(r"[^0-9a-z ]+")

# Saints' titles are abbreviated in many registers ("S. Antonino", "S.Maria", "SS. Trinità"):
# every form becomes one token so "Sant'Antonino", "S. Antonino" and "SANT ANTONINO" agree.
_SAINT = {"s": "s", "san": "s", "santo": "s", "santa": "s", "sant": "s", "santi": "ss", "ss": "ss"}


def normalize_name(text: str) -> str:
    """A matching key for a place name: ``"Sant'Antonino"`` and ``"S. Antonino"`` agree.

    Lower case, accents and other diacritics dropped (``Nabrežina`` -> ``nabrezina``),
    apostrophes, hyphens, slashes and dots become single spaces, and ``San``/``Santo``/
    ``Santa``/``Sant'``/``S.`` become one token. The function is idempotent:
    ``normalize_name(normalize_name(x)) == normalize_name(x)``.
    """
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    folded = stripped.casefold()
    # German sharp s folds to "ss" above; keep other letters the fold produced
    spaced = _SEPARATORS.sub(" ", folded)
    cleaned = _NOT_WORD.sub("", spaced)
    tokens = [_SAINT.get(token, token) for token in cleaned.split()]
    return " ".join(tokens)


_LOWER_WORDS = frozenset(
    [
        "a",
        "al",
        "all",
        "alla",
        "alle",
        "ai",
        "d",
        "da",
        "dal",
        "dall",
        "dalla",
        "de",
        "de'",
        "dei",
        "del",
        "dell",
        "della",
        "delle",
        "degli",
        "di",
        "e",
        "ed",
        "in",
        "l",
        "la",
        "le",
        "nel",
        "nell",
        "nella",
        "nelle",
        "sul",
        "sull",
        "sulla",
        "sulle",
        "sui",
        "su",
        "con",
        "per",
        "sopra",
        "sotto",
        "an",
        "am",
        "im",
        "in",
        "der",
        "die",
        "das",
        "bei",
    ]
)


def display_case(text: str) -> str:
    """Title case for names that a source writes in capitals (``"SÈN JAN DI FASSA"``).

    Articles and prepositions stay lower case after the first word (``"Sèn Jan di Fassa"``);
    a letter after an apostrophe is upper case (``"Sant'Antonino"``, ``"Valle d'Aosta"`` keeps
    ``d'`` lower). It is a best effort for display, not an official spelling.
    """
    words = re.split(r"(\s+|-|/)", text.strip().lower())
    out: list[str] = []
    first = True
    for word in words:
        if not word or word.isspace() or word in {"-", "/"}:
            out.append(word)
            continue
        head, sep, tail = word.partition("'")
        if sep:
            head_cased = head if (head in _LOWER_WORDS and not first) else head.capitalize()
            piece = head_cased + sep + tail.capitalize()
        else:
            piece = word if (word in _LOWER_WORDS and not first) else word.capitalize()
        out.append(piece)
        first = False
    return "".join(out)
