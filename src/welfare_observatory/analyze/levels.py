"""The territorial level of each territory id, from the shape of the id (vectorized).

Shapes (see the territory ids in the design notes): ``IT`` country, three letters starting
with ``IT`` a NUTS 1 area (``ITC``), two digits a region (``01``), three digits a province
(``096``), six digits a municipality (``096004``), ``district:...`` a social or health
district and ``grouping:...`` an observatory's own area. Anything else is ``other``, so
unknown ids are compared only with each other, never with municipalities.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["OTHER", "SHAPES", "territory_levels"]

SHAPES: dict[str, str] = {
    "country": r"^IT$",
    "nuts1": r"^IT[A-Z]$",
    "region": r"^[0-9]{2}$",
    "province": r"^[0-9]{3}$",
    "municipality": r"^[0-9]{6}$",
    "district": r"^district:.+$",
    "grouping": r"^grouping:.+$",
}
"""Level name (the values of ``model.TerritoryLevel``) -> regular expression of its ids."""

OTHER = "other"


def territory_levels(codes: pd.Series) -> pd.Series:
    """The level of each code in ``codes`` (one regex per distinct code, not per row)."""
    if isinstance(codes.dtype, pd.CategoricalDtype):  # its categories are the distinct codes
        factor, uniques = codes.cat.codes.to_numpy(), codes.cat.categories
    else:
        factor, uniques = pd.factorize(codes.astype("string"), use_na_sentinel=True)
    text = pd.Series(uniques, dtype="string")
    level = np.full(len(text), OTHER, dtype=object)
    for name, pattern in SHAPES.items():
        level[text.str.match(pattern).fillna(False).to_numpy(dtype=bool)] = name
    labels = pd.array(np.append(level, OTHER), dtype="string")
    # Position -1 (missing code) reads as "other"; one take, not a string object per row.
    picked = labels.take(np.where(factor < 0, len(labels) - 1, factor))
    return pd.Series(picked, index=codes.index)
