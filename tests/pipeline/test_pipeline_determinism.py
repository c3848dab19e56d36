"""Two builds of the same multi-source observatory give the same edition, findings included."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from welfare_observatory.observatory import load_observatory
from welfare_observatory.store import KnowledgeBase

BRESCIA = Path(__file__).resolve().parents[2] / "examples" / "brescia" / "src" / "osserva_brescia"


@pytest.mark.skipif(not BRESCIA.is_dir(), reason="the Brescia example is not in this checkout")
def test_two_builds_of_brescia_store_identical_findings_and_observations(tmp_path: Path) -> None:
    # Separate knowledge bases: nothing is reused, every stage runs twice.
    first = load_observatory(BRESCIA).build(out=tmp_path / "a", offline=True)
    second = load_observatory(BRESCIA).build(out=tmp_path / "b", offline=True)
    assert len(first.report.sources) > 1  # the point: several sources meet in derive
    assert first.report.build == second.report.build
    a, b = KnowledgeBase.open(tmp_path / "a"), KnowledgeBase.open(tmp_path / "b")
    pd.testing.assert_frame_equal(a.findings(), b.findings())
    pd.testing.assert_frame_equal(a.observations(), b.observations())
    pd.testing.assert_frame_equal(a.analysis("coverage"), b.analysis("coverage"))
    assert [f.model_dump() for f in first.report.findings] == [
        f.model_dump() for f in second.report.findings
    ]
