"""Fixtures for the SDG tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib import resources

import pytest

from welfare_observatory.sdg import Framework


def _without_italian(*ids: str) -> Framework:
    """The shipped framework with the Italian title (and its origin) of ``ids`` removed.

    Every UN indicator now ships with an Italian title, so the English fallback is tested
    on a framework built here rather than on a shipped gap that no longer exists.
    """
    text = (
        resources.files("welfare_observatory.sdg")
        .joinpath("data", "framework_2023.json")
        .read_text(encoding="utf-8")
    )
    data = json.loads(text)
    found: set[str] = set()
    for goal in data["goals"]:
        for target in goal["targets"]:
            for node in (target, *target["indicators"]):
                if node["id"] in ids:
                    node["title"].pop("it", None)
                    node.pop("origin", None)
                    found.add(node["id"])
    assert found == set(ids), f"not in the framework: {set(ids) - found}"
    return Framework.model_validate(data)


@pytest.fixture
def framework_without_italian() -> Callable[..., Framework]:
    """Build a framework in which the given indicators or targets lack an Italian title."""
    return _without_italian
