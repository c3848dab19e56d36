"""One registry for the territory tests (building it is the slow part, ~0.3 s)."""

from __future__ import annotations

import pytest

from welfare_observatory.territory._registry import TerritoryRegistry


@pytest.fixture(scope="session")
def reg() -> TerritoryRegistry:
    """A fresh registry from the package data (not the process-wide default)."""
    return TerritoryRegistry.load()
