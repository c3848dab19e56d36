"""The package's imports point one way: no cycle between subpackages, function-level
imports included; no module imports the top package; the build never climbs back up.

Measured with ``tools/import_graph.py`` (run it for the figures).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "import_graph", ROOT / "tools" / "import_graph.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["import_graph"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def edges(tool: ModuleType) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = tool.graph(ROOT / "src")
    return graph


def test_no_cycle_between_subpackages(tool: ModuleType, edges: dict[str, set[str]]) -> None:
    assert tool.subpackage_cycles(edges) == []


def test_no_module_imports_the_top_package(tool: ModuleType, edges: dict[str, set[str]]) -> None:
    assert tool.top_importers(edges) == []


def test_the_build_never_climbs_back_up(tool: ModuleType, edges: dict[str, set[str]]) -> None:
    reached, climbs = tool.walk(edges, "welfare_observatory.build.orchestrator")
    assert "welfare_observatory.store.edition" in reached  # the walk reaches the store
    assert "welfare_observatory.observatory" not in reached
    assert climbs == []


def test_function_level_and_relative_imports_are_counted(tool: ModuleType, tmp_path: Path) -> None:
    package = tmp_path / "welfare_observatory"
    (package / "low").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "high.py").write_text("from welfare_observatory.low import thing\n")
    (package / "low" / "__init__.py").write_text("")
    (package / "low" / "thing.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from welfare_observatory import high\n"
        "def f():\n    from .. import high\n    return high\n"
    )
    edges = tool.graph(tmp_path)
    assert edges["welfare_observatory.low.thing"] == {"welfare_observatory.high"}
    assert tool.subpackage_cycles(edges) == [["high", "low"]]
