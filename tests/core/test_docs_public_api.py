"""Everything the documentation tells a user or plugin author to import is public: a
module the API reference documents (``::: module`` or ``::: module.name``), never a
private one, and the name exists there. Examples import the public API only."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).parents[2]
DOCS = ROOT / "docs"
REFERENCE = DOCS / "reference"
FENCE = re.compile(r"```python\n(.*?)```", re.DOTALL)
DIRECTIVE = re.compile(r"^::: ([\w.]+)", re.MULTILINE)


def _resolve(path: str) -> object | None:
    """The object a reference directive names (a module, or a name inside one)."""
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attribute in parts[cut:]:
            obj = getattr(obj, attribute, None)
        return obj
    return None


def documented() -> list[object]:
    """Every object the API reference documents: named ones, and the public names of the
    modules it documents whole."""
    found: list[object] = []
    for page in REFERENCE.glob("*.md"):
        for path in DIRECTIVE.findall(page.read_text(encoding="utf-8")):
            obj = _resolve(path)
            found.append(obj)
            if isinstance(obj, ModuleType):
                found += [getattr(obj, n) for n in getattr(obj, "__all__", ())]
    return found


def doc_imports() -> list[tuple[str, str, str]]:
    """``(page, module, name)`` for each ``from welfare_observatory... import name``."""
    out = []
    for page in sorted(DOCS.glob("*.md")):
        for block in FENCE.findall(page.read_text(encoding="utf-8")):
            try:
                tree = ast.parse(block)
            except SyntaxError:
                continue
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                    "welfare_observatory"
                ):
                    out += [(page.name, str(node.module), a.name) for a in node.names]
    return out


IMPORTS = doc_imports()
DOCUMENTED = documented()


def test_the_docs_import_something() -> None:
    assert len(IMPORTS) > 30


@pytest.mark.parametrize(("page", "module", "name"), IMPORTS)
def test_each_name_the_docs_import_is_public_and_in_the_reference(
    page: str, module: str, name: str
) -> None:
    assert not any(part.startswith("_") for part in module.split(".")), (page, module)
    assert hasattr(importlib.import_module(module), name), (page, module, name)
    obj = getattr(importlib.import_module(module), name)
    assert any(obj is known for known in DOCUMENTED), f"{page}: {module}.{name} not in reference"


def test_the_example_data_script_uses_the_public_api_only() -> None:
    public = {
        "welfare_observatory",
        "welfare_observatory.sdk",
        "welfare_observatory.analyze",
        "welfare_observatory.sdg",
        "welfare_observatory.testing",
        "welfare_observatory.territory",
    }
    tree = ast.parse((ROOT / "examples" / "make_example_data.py").read_text(encoding="utf-8"))
    used = {
        str(node.module)
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("welfare_")
    }
    assert used <= public, used - public
