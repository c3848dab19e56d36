"""Shared fixtures. Tests that read the real public data in ../shared/data skip without it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=30, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("WELFARE_OBSERVATORY_SHARED", REPO.parent / "shared")) / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of real public data files; skips the test when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real public data not available ({SHARED_DATA} is absent)")
    return SHARED_DATA
