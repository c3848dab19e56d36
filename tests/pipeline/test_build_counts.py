"""The build report's step counts, and the sources' tables the in-memory layout gives back
once derived (they are not part of what a build returns)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from welfare_observatory.build.strategies import in_memory
from welfare_observatory.observatory import load_observatory

from .test_pipeline_environment import write_observatory


def test_a_fresh_build_computes_its_steps_and_an_unchanged_one_reuses_them(
    tmp_path: Path,
) -> None:
    folder = write_observatory(tmp_path / "obs")
    first = load_observatory(folder).build(out=tmp_path / "kb", offline=True).report
    # One source parsed, then derive and analyze as one step.
    assert (first.computed_steps, first.reused_steps) == (2, 0)
    again = load_observatory(folder).build(out=tmp_path / "kb", offline=True).report
    assert (again.computed_steps, again.reused_steps) == (0, 2)


@pytest.mark.parametrize("rebuild", [False, True])
def test_the_sources_tables_are_given_back_once_derived(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rebuild: bool
) -> None:
    """Analyze and store read derive's output, not the sources' tables: the layout drops
    them (part of a build's peak memory) when derive is done or its result reused."""
    folder = write_observatory(tmp_path / "obs")
    if rebuild:
        load_observatory(folder).build(out=tmp_path / "kb", offline=True)
    held: list[Any] = []
    real = in_memory._release_tables

    def spy(outputs: Any) -> None:
        assert any(o.table is not None for o in outputs)
        real(outputs)
        held.extend(outputs)

    monkeypatch.setattr(in_memory, "_release_tables", spy)
    report = load_observatory(folder).build(out=tmp_path / "kb", offline=True).report
    assert held and all(o.table is None for o in held)
    assert report.observations > 0
