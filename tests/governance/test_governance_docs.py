"""The governance and configuration docs: examples run, every model key is documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from welfare_observatory.config import (
    IndicatorSelection,
    ObservatoryConfig,
    Override,
    ReportSettings,
    SourceConfig,
    TerritorySettings,
)
from welfare_observatory.governance import Governance, load_governance
from welfare_observatory.yamlfile import load_yaml

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"


def blocks(doc: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", (DOCS / doc).read_text("utf-8"), flags=re.S)


def test_the_python_examples_of_governance_md_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    for code in blocks("governance.md", "python"):
        exec(compile(code, "governance.md", "exec"), {})  # our own docs, nothing from data


def test_the_governance_yaml_example_is_valid(tmp_path: Path) -> None:
    [example] = blocks("governance.md", "yaml")
    path = tmp_path / "governance.yaml"
    path.write_text(example, "utf-8")
    governance = load_governance(path)
    assert isinstance(governance, Governance) and governance.actions[0].age_range == (17, 25)


@pytest.mark.parametrize(
    "model",
    [
        ObservatoryConfig,
        TerritorySettings,
        IndicatorSelection,
        SourceConfig,
        Override,
        ReportSettings,
    ],
)
def test_every_key_of_observatory_yaml_is_documented(model: type[BaseModel]) -> None:
    text = (DOCS / "observatory-config.md").read_text("utf-8")
    for name in model.model_fields:
        assert f"| `{name}` |" in text, f"{model.__name__}.{name} is not in observatory-config.md"


def test_the_complete_example_of_observatory_config_md_validates(tmp_path: Path) -> None:
    example = blocks("observatory-config.md", "yaml")[0]
    path = tmp_path / "observatory.yaml"
    path.write_text(example, "utf-8")
    config = ObservatoryConfig.model_validate(load_yaml(path).data)
    assert config.territory.groupings["valle_elvo"][0] == "096017"
