"""Built-in code lists for breakdowns: sex, age classes and citizenship, SDMX-style.

Codes: sex ``M``/``F``/``_T``; ages ``Y0T14``, ``Y65T74``, ``Y_GE75``, ``Y_LT5`` or single
years ``Y23``; citizenship ``NAT`` (nationals), ``FOR`` (foreigners, stateless included),
``_T``. Applied to distinct source values only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from welfare_observatory.model.observation import TOTAL

__all__ = ["CODELISTS", "translate"]

_TOTAL_WORDS = {"t", "_t", "tot", "total", "totale", "all", "totals", "y_t", "tutte le età"}

_SEX = {
    "9": TOTAL,
    "1": "M",
    "m": "M",
    "male": "M",
    "males": "M",
    "maschi": "M",
    "maschio": "M",
    "uomini": "M",
    "2": "F",
    "f": "F",
    "female": "F",
    "females": "F",
    "femmine": "F",
    "femmina": "F",
    "donne": "F",
}

_CITIZENSHIP = {
    "nat": "NAT",
    "itl": "NAT",
    "ita": "NAT",
    "it": "NAT",
    "italian": "NAT",
    "italiana": "NAT",
    "italiani": "NAT",
    "for": "FOR",
    "frg": "FOR",
    "frgapo": "FOR",
    "foreign": "FOR",
    "foreigners": "FOR",
    "straniera": "FOR",
    "stranieri": "FOR",
    "estera": "FOR",
}

_AGE_RANGE = re.compile(r"^y?(\d{1,3})\s*(?:-|t|–|to|a)\s*y?(\d{1,3})(?:\s*(?:anni|years))?$")
_AGE_GE = re.compile(
    r"^(?:y_ge\s*(\d{1,3})|(\d{1,3})\s*"
    r"(?:\+|e\s+più|e\s+oltre|anni\s+e\s+più|and\s+over|or\s+over|years\s+and\s+over))$"
)
_AGE_LT = re.compile(
    r"^(?:y_lt\s*(\d{1,3})|(?:meno\s+di|under|less\s+than|<)\s*(\d{1,3})(?:\s*anni)?)$"
)
_AGE_ONE = re.compile(r"^y?(\d{1,3})(?:\s*(?:anni|years))?$")


def _age(key: str) -> str | None:
    if m := _AGE_RANGE.match(key):
        low, high = int(m.group(1)), int(m.group(2))
        return f"Y{low}T{high}" if low <= high else None
    if m := _AGE_GE.match(key):
        return f"Y_GE{int(m.group(1) or m.group(2))}"
    if m := _AGE_LT.match(key):
        return f"Y_LT{int(m.group(1) or m.group(2))}"
    if m := _AGE_ONE.match(key):
        return f"Y{int(m.group(1))}"
    return None


CODELISTS = ("sex", "age", "citizenship")


def translate(
    value: str,
    codelist: str | None,
    overrides: Mapping[str, str],
    plugin_list: Mapping[str, str] | None = None,
) -> str | None:
    """The SDMX-style code for one source value, or None when it is not recognised.

    ``overrides`` (the rule's ``map``) win; they are matched exactly, then case-insensitively.
    ``plugin_list`` is a plugin's code list (``{code: label}``) named by ``codelist``: a
    value that is one of its codes, or one of its labels in any case, gives the code.
    """
    text = value.strip()
    if text in overrides:
        return overrides[text]
    key = text.casefold()
    for source, code in overrides.items():
        if source.casefold() == key:
            return code
    if plugin_list is not None:
        if text in plugin_list:
            return text
        labels = {str(label).casefold(): code for code, label in plugin_list.items()}
        return TOTAL if key in _TOTAL_WORDS else labels.get(key)
    if codelist in (None, "none"):
        return TOTAL if key in ("_t",) else None
    if key in _TOTAL_WORDS:
        return TOTAL
    if codelist == "sex":
        return _SEX.get(key)
    if codelist == "citizenship":
        return _CITIZENSHIP.get(key)
    if codelist == "age":
        if re.fullmatch(r"y\d+t\d+|y_ge\d+|y_lt\d+", key):
            return text.upper()
        return _age(" ".join(key.split()))
    return None
