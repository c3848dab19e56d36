"""The many-sources benchmark counts as the build's work its stages, not its imports."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "many_sources.py"


def _module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("many_sources", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("many_sources", module)  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_work_is_the_stages_without_imports_or_the_reused_count() -> None:
    work_of = _module().work_of
    stages = {"imports": 0.3, "load": 0.1, "fetch": 0.05, "store": 0.2, "reused": 159.0}
    assert abs(work_of(stages) - 0.35) < 1e-9
    assert work_of({"load": 0.1}) == 0.1
    assert work_of({}) == 0


def test_work_under_no_stage_timer_counts_as_work() -> None:
    work_of = _module().work_of
    assert abs(work_of({"imports": 0.3, "store": 0.2, "other": 0.15}) - 0.35) < 1e-9


def test_the_least_build_is_the_stack_plus_the_floor_above_its_imports() -> None:
    least_build = _module().least_build
    floor, reader, stack = (0.30, 0.40, 150.0), (0.10, 0.10, 60.0), (0.50, 0.60, 165.0)
    wall, rss = least_build(floor, reader, stack)
    assert abs(wall - 0.70) < 1e-9
    assert abs(rss - 255.0) < 1e-9
    # A reader measured above the floor (noise) adds nothing, never takes away.
    assert least_build((0.1, 0.1, 50.0), (0.2, 0.2, 60.0), stack) == (0.50, 165.0)


def _imported(script: str, *args: str) -> set[str]:
    """The modules a benchmark process imports (``-X importtime``, on its stderr)."""
    import subprocess

    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", script, *args],
        capture_output=True,
        text=True,
        check=True,
    )
    lines = [line.split("|")[-1] for line in done.stderr.splitlines() if "|" in line]
    return {line.strip() for line in lines}


def test_the_stack_has_pandas_through_pyarrow_and_none_of_the_library() -> None:
    module = _module()
    stack = _imported(module.STACK)
    # The script never imports pandas itself: pyarrow does, on its first array.
    assert "import pandas" not in module.STACK
    assert "pandas" in stack
    assert {"pyarrow", "duckdb", "pydantic"} <= stack
    assert not any(name.startswith("welfare_observatory") for name in stack)


def test_the_floor_reads_and_writes_without_pandas(tmp_path: Path) -> None:
    module = _module()
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.csv").write_text("Year,Territory,GeoCode,Sex,Value\n2020,Brescia,017029,Total,1.5\n")
    floor = _imported(module.FLOOR, str(data), str(tmp_path / "floor.parquet"))
    assert (tmp_path / "floor.parquet").is_file()
    assert "pyarrow.parquet" in floor
    assert "pandas" not in floor
    assert "pandas" not in _imported(module.READER)


def test_the_stack_has_the_console_scripts_native_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The stack sets the native libraries' settings by hand (it imports nothing of the
    library): the same ones the console script sets, or its figures are another process's."""
    import os
    import re

    from welfare_observatory.cli._process import set_native_defaults

    written = dict(re.findall(r'os\.environ\.setdefault\("(\w+)", "([^"]*)"\)', _module().STACK))
    settings: dict[str, str] = {}
    monkeypatch.setattr(os, "environ", settings)
    set_native_defaults()
    assert written == settings
    assert written  # the pattern found them
