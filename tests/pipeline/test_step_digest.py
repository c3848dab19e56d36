"""A source's saved step is not fsynced (issue 19: a build of 160 sources paid 320 fsyncs
for them); its record holds the digest of its data file, so a step a crash cut short or
zeroed is rebuilt, never read."""

from __future__ import annotations

from pathlib import Path

import pytest

from welfare_observatory.build.strategies.sample import population_observatory
from welfare_observatory.observatory import load_observatory


def statuses(folder: Path, kb: Path) -> tuple[list[str], str]:
    result = load_observatory(folder).build(out=kb, offline=True)
    return [s.status for s in result.report.sources], result.report.build


@pytest.mark.parametrize("damage", ["zeros", "cut"])
def test_a_damaged_step_is_rebuilt_with_the_same_result(tmp_path: Path, damage: str) -> None:
    folder = population_observatory(tmp_path / "obs", "096")
    kb = tmp_path / "kb"
    first, build = statuses(folder, kb)
    assert set(first) == {"ok"}
    assert statuses(folder, kb) == (["reused"] * len(first), build)
    [step] = sorted((kb / ".steps").glob("source-*.arrows"))[:1]
    raw = step.read_bytes()
    step.write_bytes(b"\0" * len(raw) if damage == "zeros" else raw[: len(raw) // 2])
    again, rebuilt = statuses(folder, kb)
    assert "ok" in again and rebuilt == build
    assert statuses(folder, kb) == (["reused"] * len(first), build)
