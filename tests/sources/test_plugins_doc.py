"""docs/plugins.md: the reference plugin and its tests run as written; every hook is documented."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from welfare_observatory.sources import hookspecs
from welfare_observatory.sources.collectors import COLLECTORS
from welfare_observatory.sources.manager import Plugins

DOC = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"
BLOCK = re.compile(r"<!-- file: (?P<name>[\w.]+) -->\n```python\n(?P<code>.*?)```", re.S)


def doc_files() -> dict[str, str]:
    return {m["name"]: m["code"] for m in BLOCK.finditer(DOC.read_text(encoding="utf-8"))}


@pytest.fixture
def reference_plugin(tmp_path, monkeypatch) -> Path:
    for name, code in doc_files().items():
        (tmp_path / name).write_text(code, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_the_doc_holds_the_plugin_and_its_tests():
    assert set(doc_files()) == {"asl_beds.py", "test_asl_beds.py"}


def test_the_reference_plugin_registers_through_every_documented_hook(reference_plugin):
    plugins = Plugins(builtins=("asl_beds",), entry_points=False)
    assert list(plugins.sources()) == ["asl_beds"] and plugins.problems == []
    assert plugins.units() == ("hospital_bed = bed = hospital_beds",)
    assert plugins.unit_registry().Quantity(2, "hospital_beds").to("bed").magnitude == 2
    assert plugins.codelists()["CL_ASL_PIEMONTE"]["203"] == "ASL BI (Biella)"


def test_the_reference_plugins_tests_pass(reference_plugin):
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_asl_beds.py"],
        cwd=reference_plugin,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "10 passed, 1 skipped" in run.stdout  # no harmonize_rules: ASL codes


def test_every_hook_is_documented_with_its_signature():
    text = DOC.read_text(encoding="utf-8")
    for name in COLLECTORS:
        assert f"`{name}(register)`" in text, f"{name} is not documented"
        assert getattr(hookspecs, name).__doc__


@pytest.mark.parametrize(
    "command", ["welfare-observatory plugins", "source preview", "source record", "new-plugin"]
)
def test_every_author_command_is_documented(command):
    assert command in DOC.read_text(encoding="utf-8")


def test_every_name_of_the_sdk_is_documented():
    from welfare_observatory import sdk

    text = DOC.read_text(encoding="utf-8")
    missing = [name for name in sdk.__all__ if f"`{name}" not in text]
    assert missing == []
