"""Loading the built-in plugins registers their source types without importing the engines
a source needs only when it runs (pyarrow, sdmx1, the HTTP client)."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("pyarrow", "pandas", "duckdb", "sdmx", "pint", "numpy", "welfare_observatory.sources.http")


def test_built_in_plugins_load_without_the_engines() -> None:
    code = (
        "import sys\n"
        "from welfare_observatory.sources.manager import Plugins\n"
        "plugins = Plugins(entry_points=False).load()\n"
        "assert not plugins.problems, plugins.problems\n"
        "print(sorted(plugins.sources()))\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out[-2] == "['ckan', 'sdmx', 'table']"
    assert out[-1] == "[]"
