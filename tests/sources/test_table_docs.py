"""The examples in docs/sources.md run: Python blocks execute, YAML options validate."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from welfare_observatory.sdk import Source
from welfare_observatory.sources.ckan import CkanSource
from welfare_observatory.sources.table import TableSource

DOC = Path(__file__).resolve().parents[2] / "docs" / "sources.md"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def test_python_examples_run() -> None:
    blocks = _blocks("python")
    assert blocks
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), {})


def test_yaml_examples_are_valid_options() -> None:
    classes: dict[str, type[Source]] = {"table": TableSource, "ckan": CkanSource}
    try:
        from welfare_observatory_eurostat_tsv import EurostatTsvSource
    except ImportError:
        pass
    else:
        classes["eurostat_tsv"] = EurostatTsvSource
    checked = 0
    for block in _blocks("yaml"):
        for source_id, spec in yaml.safe_load(block)["sources"].items():
            options = dict(spec)
            kind = options.pop("type")
            if kind not in classes:
                continue  # the plugin is not installed here
            classes[kind](source_id, options)
            checked += 1
    assert checked >= 3
