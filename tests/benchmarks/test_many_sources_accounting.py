"""The many-sources benchmark counts as the build's work its stages, not its imports."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

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
