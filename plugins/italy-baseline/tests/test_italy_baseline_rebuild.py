"""tools/build_baseline_data.py remakes the shipped files byte for byte from ../shared."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from welfare_observatory_italy_baseline import DATASETS, data_path

REPO = Path(__file__).resolve().parents[3]
MORE = Path(os.environ.get("WELFARE_OBSERVATORY_SHARED", REPO.parent / "shared")) / "data" / "more"


def test_the_tool_rebuilds_the_shipped_data(tmp_path: Path) -> None:
    if not (MORE / "SOURCES.md").is_file():
        pytest.skip(f"real public data not available ({MORE} is absent)")
    subprocess.run(
        [
            sys.executable,
            str(REPO / "tools" / "build_baseline_data.py"),
            "--more",
            str(MORE),
            "--out",
            str(tmp_path),
        ],
        check=True,
        capture_output=True,
    )
    for dataset in DATASETS:
        shipped = data_path(dataset)
        rebuilt = tmp_path / shipped.name
        assert rebuilt.read_bytes() == shipped.read_bytes(), dataset
        sidecar = shipped.name + ".meta.yaml"
        assert (tmp_path / sidecar).read_text() == shipped.with_name(sidecar).read_text()
