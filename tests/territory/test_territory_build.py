"""The package data is what tools/build_territory_data.py makes from the shared files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from welfare_observatory.territory import _store

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_package_data_rebuilds_identically(shared_data: Path, tmp_path: Path) -> None:
    script = REPO / "tools" / "build_territory_data.py"
    subprocess.run(
        [sys.executable, str(script), "--shared", str(shared_data), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    for name in _store.FILES:
        assert pq.read_table(tmp_path / name).equals(pq.read_table(_store.DATA_DIR / name)), name


def test_data_folder_names_its_sources() -> None:
    readme = (_store.DATA_DIR / "README.md").read_text(encoding="utf-8")
    for needle in ("Istat", "ANPR", "CC BY 4.0", "earlier Istat release"):
        assert needle in readme
