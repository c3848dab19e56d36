"""Every Python example in docs/methods.md runs (in order, sharing one namespace)."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "methods.md"


def test_methods_examples_run() -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) >= 6
    namespace: dict[str, object] = {}
    for block in blocks:
        # Our own documentation, from the repository (never from data).
        exec(compile(block, str(DOC), "exec"), namespace)
