"""A frame split by indicator once, as numpy columns: the cards and maps look up one
indicator's rows 160 times or more, and a pandas mask over the whole frame each time costs
far more than slicing arrays."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["ByIndicator", "Rows"]


@dataclass(frozen=True)
class Rows:
    """Rows of a frame, in frame order, as one numpy array per column."""

    columns: dict[str, np.ndarray]

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    def __contains__(self, name: object) -> bool:
        return name in self.columns

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0

    @property
    def empty(self) -> bool:
        return len(self) == 0

    def where(self, mask: np.ndarray) -> Rows:
        """The rows where ``mask`` (booleans, one per row) is true."""
        return Rows({name: values[mask] for name, values in self.columns.items()})

    def notna(self, name: str) -> np.ndarray:
        """True where column ``name`` has a value (what ``Series.notna`` says)."""
        return np.asarray(~pd.isna(self.columns[name]), dtype=bool)


class ByIndicator:
    """``frame``'s rows of each indicator (``frame["indicator"] == id``), split once."""

    def __init__(self, frame: pd.DataFrame, columns: Iterable[str]) -> None:
        names = [c for c in columns if c in frame.columns]
        self._columns = {c: frame[c].to_numpy() for c in names}
        self._positions: dict[object, np.ndarray] = (
            {}
            if frame.empty or "indicator" not in frame.columns
            else {
                key: np.asarray(positions)
                for key, positions in frame.groupby("indicator", sort=False).indices.items()
            }
        )

    def get(self, indicator: str) -> Rows | None:
        """The indicator's rows, or None when it has none."""
        positions = self._positions.get(indicator)
        if positions is None or len(positions) == 0:
            return None
        return Rows({name: values[positions] for name, values in self._columns.items()})
