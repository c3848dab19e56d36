"""docs/publishing.md, section "The report": its examples run as written, its claims hold."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "publishing.md"
EXAMPLE = re.compile(
    r"<!-- report-example: (?P<name>[\w-]+) -->\n```python\n(?P<code>.*?)```", re.S
)


def section() -> str:
    return DOC.read_text(encoding="utf-8").split("## The report", 1)[1]


def examples() -> dict[str, str]:
    return {m["name"]: m["code"] for m in EXAMPLE.finditer(section())}


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with ``kb/`` holding a small synthetic edition 2025 of Biella."""
    spec = importlib.util.spec_from_file_location(
        "report_bench", ROOT / "benchmarks" / "report_build.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.synthetic_edition(tmp_path / "kb", indicators=6, years=4, seed=11, edition="2025")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_examples_run(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = examples()
    assert set(code) == {"build", "section"}
    exec(compile(code["build"], "docs/publishing.md:build", "exec"), {})
    assert capsys.readouterr().out.startswith("index.html ")
    exec(compile(code["section"], "docs/publishing.md:section", "exec"), {})
    page = (workdir / "site" / "sections" / "sources.html").read_text(encoding="utf-8")
    assert "<li>synthetic</li>" in page and "<h1>Fonti</h1>" in page


def test_every_option_of_the_command_is_documented() -> None:
    from welfare_observatory.cli.report import report

    text = section()
    for option in report.params:
        for flag in getattr(option, "opts", []):
            if flag.startswith("--") and flag != "--json":
                assert flag in text, f"{flag} is not documented"


def test_the_deep_dive_syntax_in_the_doc_is_the_one_the_code_reads() -> None:
    from welfare_observatory.publish.report.deepdive import REFERENCE

    markdown = section().split("```markdown\n", 1)[1].split("```", 1)[0]
    references = re.findall(r"\{\{.*?\}\}", markdown)
    assert len(references) == 3 and all(REFERENCE.fullmatch(r) for r in references)
    assert any("territory=" in r for r in references)  # the filter syntax is shown
