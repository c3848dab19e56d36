"""Fixtures of the plugin's tests: the real Eurostat excerpt, when the shared data is there."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SHARED_DATA = Path(os.environ.get("WELFARE_OBSERVATORY_SHARED", REPO.parent / "shared")) / "data"
EXCERPT = "eurostat_demo_r_gind3_JAN_italy_excerpt.tsv"


@pytest.fixture(scope="session")
def excerpt() -> Path:
    """The real demo_r_gind3 excerpt; skips the test when ../shared/data is absent."""
    path = SHARED_DATA / EXCERPT
    if not path.is_file():
        pytest.skip(f"real Eurostat excerpt not available ({path} is absent)")
    return path
