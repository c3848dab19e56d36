"""Observatories of real provinces (population baseline) and one shared Dask cluster.

The cluster (2 worker processes, 1 thread each) is started once per module: starting one
takes a few seconds on 2 cores, and the tests that need their own say so.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from welfare_observatory.build.strategies.sample import population_observatory


@pytest.fixture
def observatory_dir(tmp_path: Path) -> Path:
    """Biella's 74 municipalities, resident population on 1 January 2023."""
    return population_observatory(tmp_path / "obs", "096")


@pytest.fixture(scope="module")
def dask_executor() -> Iterator[object]:
    pytest.importorskip("distributed")
    from welfare_observatory.build.strategies import DaskExecutor

    with DaskExecutor(n_workers=2, processes=True) as executor:
        yield executor
